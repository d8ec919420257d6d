// The Citus suite: tests that run against a real Citus cluster when ACCORD_CITUS_URL is set
// (citus-cluster.ts), skipped with the reason shown otherwise. A test file of the plain suite runs
// on the cluster through `onCitusCluster`, and ends with the routing check: every statement it
// ran, EXPLAINed on the cluster, reaches one shard unless listed in CROSS_SHARD_STATEMENTS.
import t, { type Test } from 'tap';
import { CROSS_SHARD_STATEMENTS } from '../../src/db/distribution.js';
import {
  CITUS_URL_VARIABLE,
  citusClusterUrl,
  ON_CITUS_VARIABLE,
  onNode,
  PLANNABLE,
  recorded,
  taskCounts,
} from './citus-cluster.js';

/**
 * Runs a test file of the plain suite (or this file's own tests) against the Citus cluster:
 * every database it creates through test/support/database.ts is a fresh Citus database. Skips the
 * file, saying why, when no cluster is configured.
 */
export async function onCitusCluster(load?: () => Promise<unknown>): Promise<boolean> {
  if (!citusClusterUrl()) {
    t.plan(0, `no Citus cluster: set ${CITUS_URL_VARIABLE} (see .ci/run and ../shared/citus/README.md)`);
    return false;
  }
  process.env[ON_CITUS_VARIABLE] = '1';
  // Every statement crosses the coordinator and a database is made on every node: slower than the
  // plain suite, more so on a shared machine.
  t.setTimeout(900_000);
  if (!load) return true;
  await load();
  t.test('every statement run on the cluster reaches one shard, but the deliberate cross-shard ones', (t) =>
    checkRouting(t),
  );
  return true;
}

async function checkRouting(t: Test): Promise<void> {
  const statements = [...recorded.values()].filter((statement) => PLANNABLE.test(statement.text));
  t.ok(statements.length > 0, `${statements.length} statements recorded`);
  const crossShardSeen = new Set<string>();
  for (const statement of statements) {
    await onNode(statement.url, async (client) => {
      for (const values of statement.values) {
        const { rows } = await client.query<{ 'QUERY PLAN': unknown }>(
          `EXPLAIN (FORMAT JSON) ${statement.text}`,
          values,
        );
        const counts = taskCounts(rows[0]!['QUERY PLAN']);
        const multiShard = counts.some((count) => count > 1);
        if (!multiShard) continue;
        const why = statement.name && CROSS_SHARD_STATEMENTS[statement.name];
        if (why) {
          crossShardSeen.add(statement.name!);
          continue;
        }
        t.fail(`a statement reaches ${Math.max(...counts)} shards: ${statement.name ?? '(unnamed)'}`, {
          statement: statement.text,
          values,
        });
      }
    });
  }
  t.pass(
    `${statements.length} statements EXPLAINed; deliberately cross-shard among them: ${[...crossShardSeen].join(', ') || 'none'}`,
  );
}
