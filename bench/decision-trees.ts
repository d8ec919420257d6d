// The consent decision (Consents.evaluate: the app and loadAccess, then the pure decision) in
// several checkouts of Accord, in alternating rounds in one process: a before/after of the decision
// in the same minutes. Each tree migrates and seeds a database of its own with its own code
// (bench/support.ts), and its decision is built as buildApp builds it (with the per-process policy
// cache where the tree has one).
//   node --import tsx bench/decision-trees.ts <tree>... [calls per round] [rounds]
// e.g. git worktree add --detach ../before <commit> && (cd ../before && npm ci), then
//   node --import tsx bench/decision-trees.ts "$PWD/../before" "$PWD" 3000 5
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { percentile } from './scale.js';
import { DEFAULT_ADMIN_URL, withDatabase } from './support.js';

const args = process.argv.slice(2);
const trees = args.filter((arg) => arg.startsWith('/'));
const [calls = 3000, rounds = 5] = args.filter((arg) => !arg.startsWith('/')).map(Number);
const adminUrl = process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client(adminUrl);
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

async function side(tree: string) {
  const { createPool } = await import(`${tree}/src/db/pool.ts`);
  const { seedBenchDatabase } = await import(`${tree}/bench/support.ts`);
  const { Consents } = await import(`${tree}/src/services/consents.ts`);
  const { loadPermissionCatalogue } = await import(`${tree}/src/services/permission-catalogue.ts`);
  const database = `accord_bench_trees_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`);
  const pool = createPool(withDatabase(adminUrl, database), () => undefined);
  const seeded = await seedBenchDatabase(pool, 0);
  const catalogue = await loadPermissionCatalogue(pool);
  let consents: { evaluate(...args: unknown[]): Promise<{ decision: { outcome: string } } | undefined> };
  if (existsSync(`${tree}/src/services/consent-policy-cache.ts`)) {
    const { ConsentPolicyCache } = await import(`${tree}/src/services/consent-policy-cache.ts`);
    const cache = new ConsentPolicyCache(pool);
    consents = new Consents(pool, catalogue, undefined, (tenantId: string) => cache.forTenant(tenantId));
  } else consents = new Consents(pool, catalogue);
  const { rows } = await pool.query(`SELECT id FROM users WHERE tenant_id = 'contoso' AND username = 'alice'`);
  const evaluate = () => consents.evaluate(rows[0].id, seeded.flowsApp.clientId, ['openid', 'User.Read'], false);
  const first = await evaluate();
  if (first?.decision.outcome !== 'proceed') throw new Error(`${tree}: ${JSON.stringify(first?.decision)}`);
  return {
    tree,
    evaluate,
    samples: [] as number[],
    close: async () => {
      await pool.end();
      await admin(`DROP DATABASE ${database} WITH (FORCE)`);
    },
  };
}

if (trees.length === 0) {
  process.stderr.write('usage: bench/decision-trees.ts <absolute tree path>... [calls per round] [rounds]\n');
  process.exit(64);
}
const sides = [];
for (const tree of trees) sides.push(await side(tree));
try {
  for (const s of sides) for (let i = 0; i < 500; i++) await s.evaluate(); // warm-up
  for (let round = 0; round < rounds; round++)
    for (const s of sides)
      for (let i = 0; i < calls; i++) {
        const started = performance.now();
        await s.evaluate();
        s.samples.push(performance.now() - started);
      }
  for (const s of sides) {
    const sorted = [...s.samples].sort((a, b) => a - b);
    const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
    process.stdout.write(
      `${s.tree}: ${sorted.length} calls, mean ${mean.toFixed(3)} ms, p50 ${percentile(sorted, 50).toFixed(3)}, p99 ${percentile(sorted, 99).toFixed(3)}\n`,
    );
  }
} finally {
  for (const s of sides) await s.close();
}
