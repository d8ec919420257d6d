// A real Citus cluster for tests and benchmarks (test/citus/, bench/citus.ts): a fresh database on
// every node of the cluster ACCORD_CITUS_URL names (a database on its coordinator that has the
// `citus` extension and its workers registered: what `../shared/citus/cluster.sh createdb`
// prints; `.ci/run` sets it), migrated — and so distributed — by Accord; and the statements
// Accord's src/db/ runs on it, recorded for the routing check (citus.ts).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import type { TestDatabase } from './database.js';

export const CITUS_URL_VARIABLE = 'ACCORD_CITUS_URL';
/** Set by `onCitusCluster` for the test files it runs: createTestDatabase then creates Citus databases. */
export const ON_CITUS_VARIABLE = 'ACCORD_TEST_ON_CITUS';

export function citusClusterUrl(): string | undefined {
  return process.env[CITUS_URL_VARIABLE] || undefined;
}

export function testsRunOnCitus(): boolean {
  return process.env[ON_CITUS_VARIABLE] === '1' && citusClusterUrl() !== undefined;
}

// ---- routing: every statement the file ran, through EXPLAIN ---------------------------------------

export interface RecordedStatement {
  name: string | undefined;
  text: string;
  /** Distinct parameter sets seen (a few): whether a statement reaches one shard can depend on them. */
  values: unknown[][];
  /** The database it ran on (still there while the file's tests run). */
  url: string;
}

export const recorded = new Map<string, RecordedStatement>();
const VALUE_SETS_KEPT = 4;

/**
 * Records each statement Accord's own code (src/db/) runs through the pool or one of its
 * connections, whoever called it (the file's tests or the app they start); a test's own SQL is left out.
 */
// A frame in a file of src/db/ other than the pool's own wrapper (pool.ts), which every query passes.
const ACCORD_SQL = /[/\\]src[/\\]db[/\\](?!pool\.ts)[^/\\]+\.ts/;

function recordStatements(pool: Pool, url: string): void {
  const record = (args: unknown[]) => {
    if (!ACCORD_SQL.test(new Error().stack ?? '')) return;
    const [first, second] = args;
    const config =
      typeof first === 'string' ? { text: first, values: second, name: undefined } : (first as QueryConfig | undefined);
    if (typeof config?.text !== 'string') return;
    const values = Array.isArray(config.values) ? config.values : Array.isArray(second) ? second : [];
    const entry = recorded.get(config.text) ?? { name: config.name, text: config.text, values: [], url };
    const key = JSON.stringify(values);
    if (entry.values.length < VALUE_SETS_KEPT && !entry.values.some((seen) => JSON.stringify(seen) === key))
      entry.values.push(values);
    recorded.set(config.text, entry);
  };
  type Method = (...args: unknown[]) => unknown;
  const recording =
    (method: Method): Method =>
    (...args) => {
      record(args);
      return method(...args);
    };
  pool.query = recording(pool.query.bind(pool) as Method) as typeof pool.query;
  pool.on('connect', (client) => {
    client.query = recording(client.query.bind(client) as Method) as typeof client.query;
  });
}

interface QueryConfig {
  name?: string;
  text?: string;
  values?: unknown;
}

/** The statements EXPLAIN can plan: queries and data changes (not BEGIN, LISTEN, SET, DDL). */
export const PLANNABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;

/** Every "Task Count" in an EXPLAIN (FORMAT JSON) plan: Citus's tasks (shards) per distributed step. */
export function taskCounts(plan: unknown): number[] {
  if (Array.isArray(plan)) return plan.flatMap(taskCounts);
  if (typeof plan !== 'object' || plan === null) return [];
  return Object.entries(plan).flatMap(([key, value]) =>
    key === 'Task Count' && typeof value === 'number' ? [value] : taskCounts(value),
  );
}

interface ClusterNode {
  host: string;
  port: number;
  coordinator: boolean;
}

function urlOf(base: string, node: ClusterNode, database: string): string {
  const url = new URL(base);
  url.hostname = node.host;
  url.port = String(node.port);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function onNode<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function clusterNodes(clusterUrl: string): Promise<ClusterNode[]> {
  return onNode(clusterUrl, async (client) => {
    const { rows } = await client.query<{ nodename: string; nodeport: number; groupid: number }>(
      `SELECT nodename, nodeport, groupid FROM pg_dist_node WHERE isactive AND noderole = 'primary' ORDER BY groupid`,
    );
    if (!rows.some((row) => row.groupid === 0) || rows.length < 2)
      throw new Error(`${CITUS_URL_VARIABLE}: the database has no coordinator host set or no worker registered`);
    return rows.map((row) => ({ host: row.nodename, port: row.nodeport, coordinator: row.groupid === 0 }));
  });
}

/**
 * A fresh database on every node of the cluster, with citus in each and the workers registered,
 * then migrated (which distributes every table). Dropped on every node by `drop()`.
 */
export async function createCitusDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const clusterUrl = citusClusterUrl();
  if (!clusterUrl) throw new Error(`${CITUS_URL_VARIABLE} is not set`);
  const nodes = await clusterNodes(clusterUrl);
  const name = `accord_citus_${randomBytes(6).toString('hex')}`;
  for (const node of nodes) {
    await onNode(urlOf(clusterUrl, node, 'postgres'), (client) => client.query(`CREATE DATABASE ${name}`));
    await onNode(urlOf(clusterUrl, node, name), (client) => client.query('CREATE EXTENSION citus'));
  }
  const coordinator = nodes.find((node) => node.coordinator)!;
  const url = urlOf(clusterUrl, coordinator, name);
  await onNode(url, async (client) => {
    await client.query('SELECT citus_set_coordinator_host($1::text, $2::integer)', [
      coordinator.host,
      coordinator.port,
    ]);
    for (const worker of nodes.filter((node) => !node.coordinator))
      await client.query('SELECT citus_add_node($1::text, $2::integer)', [worker.host, worker.port]);
  });
  if (options.migrated !== false) {
    const migrating = createPool(url, () => undefined);
    await migrate(migrating);
    await migrating.end();
  }
  // A pool of its own after the migrations, so that every statement it runs is recorded.
  const pool = createPool(url, () => undefined);
  recordStatements(pool, url);
  return {
    url,
    pool,
    drop: async () => {
      await pool.end().catch(() => undefined);
      for (const node of nodes)
        await onNode(urlOf(clusterUrl, node, 'postgres'), (client) =>
          client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
        );
    },
  };
}
