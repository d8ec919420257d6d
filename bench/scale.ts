// `BENCH_SCALE=1 npm run bench`: the consent decision's one query (loadAccess, src/db/consents.ts)
// on a database seeded with 100k tenants, 1M users and 10M user_consents rows, against the same
// query on a small database. Both live on a PostgreSQL of the bench's own (embedded, pinned like
// the machine's), configured as a server holding such a database would be: shared_buffers large
// enough for the consent tables and their indexes, in huge pages when the OS has them reserved
// (see startScalePostgres), and the tables loaded into it (pg_prewarm) before the timing.
// Also runnable alone, on that server or on one given by its admin URL:
//   node --import tsx bench/scale.ts [admin database url]
// The seeding is plain SQL (INSERT … SELECT generate_series), ids zero-padded so that every index
// is filled in key order (appends to the right edge, no random page splits). Nobody signs in as
// these users: password_hash is a placeholder, and grant_id is NULL.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadAccess, loadAccessOfUser, type UserKey } from '../src/db/consents.js';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { adminQuery, withDatabase } from './support.js';

export interface ScaleSizes {
  tenants: number;
  usersPerTenant: number;
  apps: number;
}

export const SCALE: ScaleSizes = {
  tenants: Number(process.env.BENCH_SCALE_TENANTS ?? 100_000),
  usersPerTenant: Number(process.env.BENCH_SCALE_USERS_PER_TENANT ?? 10),
  apps: Number(process.env.BENCH_SCALE_APPS ?? 10),
};

/**
 * The same seed at two tenants: 20 users, 200 user_consents, every index a single page. The
 * decision's query finds what it finds at scale (a user consent for every pair, the admin consent
 * for app 1, the block of app 2), so the ratio is the price of the database's size alone. The
 * bench's own seed (bench/support.ts), the comparison until session 13, has no user consent rows:
 * there every call found none, and so read fewer pages and returned less (bench/README.md).
 */
export const TINY: ScaleSizes = { ...SCALE, tenants: 2 };

export interface LatencyStats {
  calls: number;
  perSecond: number;
  p50: number;
  p99: number;
  mean: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function stats(latencies: number[], seconds: number): LatencyStats {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    calls: sorted.length,
    perSecond: sorted.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length),
  };
}

const CONSENT_TABLES = `ARRAY['users', 'tenants', 'tenant_apps', 'admin_consents', 'user_consents']::regclass[]`;
const pad = (width: number) => (expr: string) => `lpad((${expr})::text, ${width}, '0')`;

/** The digits of tenant, user and app ids: as wide as the full scale's numbers. */
const WIDTHS = {
  tenant: String(SCALE.tenants).length,
  user: String(SCALE.tenants * SCALE.usersPerTenant).length,
  app: String(SCALE.apps).length,
};
/** SQL that pads a tenant, user or app number to its width. */
const PAD = { t: pad(WIDTHS.tenant), u: pad(WIDTHS.user), a: pad(WIDTHS.app) };
const appId = (n: number) => `scale-app-${String(n).padStart(WIDTHS.app, '0')}`;

/** A random (user, app) pair of a database seeded with `sizes`. */
function pairsOf(sizes: ScaleSizes): () => [UserKey, string] {
  const users = sizes.tenants * sizes.usersPerTenant;
  return () => {
    const i = 1 + Math.floor(Math.random() * users);
    const user = {
      tenantId: `t${String(1 + Math.floor((i - 1) / sizes.usersPerTenant)).padStart(WIDTHS.tenant, '0')}`,
      id: `u${String(i).padStart(WIDTHS.user, '0')}`,
    };
    return [user, appId(1 + Math.floor(Math.random() * sizes.apps))];
  };
}

// The seeded consent tables and indexes take ~2.2 GB; a server that holds them keeps them in shared_buffers.
const SHARED_BUFFERS = process.env.BENCH_SCALE_SHARED_BUFFERS ?? '3GB';
const HUGE_PAGE_MB = 2;

export interface ScalePostgres {
  adminUrl: string;
  /** For the header: the server's settings, and whether shared_buffers are in huge pages. */
  summary: string;
  stop(): Promise<void>;
}

/**
 * Starts the scale comparison's own PostgreSQL (the embedded one, in a temporary folder) with
 * shared_buffers = BENCH_SCALE_SHARED_BUFFERS and huge_pages = try. Huge pages matter on a virtual
 * machine: a lookup touches ~18 pages scattered over gigabytes of buffers, and with 4 KiB pages
 * nearly every touch misses the TLB (here: p50 0.18 ms per call with 4 KiB pages, 0.12 with 2 MiB).
 * The OS must reserve them (`sysctl vm.nr_hugepages`); without, PostgreSQL falls back to 4 KiB
 * pages and the summary says how many to reserve.
 */
export async function startScalePostgres(log: (line: string) => void): Promise<ScalePostgres> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'accord-bench-scale-'));
  await chmod(dataDir, 0o755); // as root, PostgreSQL runs as `postgres`, who must enter it
  const removeDataDir = () => rm(dataDir, { recursive: true, force: true });
  const database = await startEmbeddedPostgres({
    dataDir,
    settings: { shared_buffers: SHARED_BUFFERS, huge_pages: 'try' },
  }).catch(async (error: unknown) => {
    await removeDataDir();
    throw error;
  });
  const stop = async () => {
    await database.stop();
    await removeDataDir();
  };
  const settings = await serverSettings(database.url).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  const pagesNeeded = Math.ceil((Number(settings.bytes) * 1.05) / (HUGE_PAGE_MB * 2 ** 20));
  const hugePages =
    settings.huge_pages_status === 'on'
      ? 'in huge pages'
      : `NOT in huge pages (the OS has too few reserved: as root, \`sysctl -w vm.nr_hugepages=${pagesNeeded}\` before the run; without, the scale database's lookups took 1.5× as long here)`;
  const summary = `the scale comparison's own PostgreSQL ${settings.version} (embedded), shared_buffers ${settings.shared_buffers} ${hugePages}`;
  log(`${summary}; data in ${dataDir}\n`);
  return { adminUrl: database.url, summary, stop };
}

async function serverSettings(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{
      shared_buffers: string;
      bytes: string;
      huge_pages_status: string;
      version: string;
    }>(
      `SELECT current_setting('shared_buffers') AS shared_buffers, pg_size_bytes(current_setting('shared_buffers'))::text AS bytes,
              current_setting('huge_pages_status') AS huge_pages_status, current_setting('server_version') AS version`,
    );
    return rows[0]!;
  } finally {
    await client.end();
  }
}

/**
 * Seeds the scale rows into a migrated database; returns the seconds each step took. Uses its own
 * connection: the application pool's query timeout is far shorter than a 10M-row insert.
 */
export async function seedScale(
  databaseUrl: string,
  log: (line: string) => void,
  sizes: ScaleSizes = SCALE,
): Promise<Record<string, number>> {
  const { tenants, usersPerTenant, apps } = sizes;
  const users = tenants * usersPerTenant;
  // Ids as wide as at full scale whatever the sizes, so that keys are alike in every seed.
  const { t, u, a } = PAD;
  const tenantOfUser = `1 + (i - 1) / ${usersPerTenant}`;
  const steps: [string, string][] = [
    [
      'tenants',
      `INSERT INTO tenants (id, name) SELECT 't' || ${t('i')}, 'Tenant ' || i FROM generate_series(1, ${tenants}) i`,
    ],
    [
      'apps',
      `INSERT INTO apps (client_id, publisher_tenant_id, name, publisher_name, multi_tenant, client_type, redirect_uris, scopes)
       SELECT 'scale-app-' || ${a('n')}, 't' || ${t('1')}, 'Scale App ' || n, 'Tenant 1', true, 'public',
              ARRAY['https://app.example.test/callback'], ARRAY['openid', 'User.Read', 'Calendars.Read']
         FROM generate_series(1, ${apps}) n`,
    ],
    [
      'users',
      `INSERT INTO users (tenant_id, id, username, display_name, role, password_hash)
       SELECT 't' || ${t(tenantOfUser)}, 'u' || ${u('i')}, 'user' || ${u('i')}, 'User ' || i,
              CASE WHEN i % ${usersPerTenant} = 1 THEN 'admin' ELSE 'user' END, 'not-a-hash'
         FROM generate_series(1, ${users}) i`,
    ],
    [
      // Each sub's tenant (migration 0015): loadAccess finds the user's tenant here first, and
      // without the row it finds no user and sends no query at all.
      'user_ids',
      'INSERT INTO user_ids (id, tenant_id) SELECT id, tenant_id FROM users',
    ],
    [
      'user_consents',
      `INSERT INTO user_consents (tenant_id, user_id, client_id, scopes)
       SELECT 't' || ${t(tenantOfUser)}, 'u' || ${u('i')}, 'scale-app-' || ${a('n')}, ARRAY['openid', 'User.Read']
         FROM generate_series(1, ${users}) i, generate_series(1, ${apps}) n`,
    ],
    // Every tenant has admin-consented app 1 and blocked app 2 (so those LEFT JOINs find rows too).
    [
      'admin_consents',
      `INSERT INTO admin_consents (tenant_id, client_id, scopes, granted_by)
       SELECT 't' || ${t('i')}, 'scale-app-' || ${a('1')}, ARRAY['openid', 'User.Read', 'Calendars.Read'], 'u' || ${u(`(i - 1) * ${usersPerTenant} + 1`)}
         FROM generate_series(1, ${tenants}) i`,
    ],
    [
      'tenant_apps',
      `INSERT INTO tenant_apps (tenant_id, client_id, blocked, updated_by)
       SELECT 't' || ${t('i')}, 'scale-app-' || ${a(String(Math.min(2, apps)))}, true, 'bench' FROM generate_series(1, ${tenants}) i`,
    ],
    // As autovacuum would leave it (hint bits set, visibility map built), and so that autovacuum
    // does not start on these 10M fresh rows during the timing.
    ['vacuum', 'VACUUM (ANALYZE)'],
    // What loadAccess reads, into shared_buffers: a server that has run a while has its hot set there.
    [
      'prewarm',
      `CREATE EXTENSION IF NOT EXISTS pg_prewarm;
       SELECT sum(pg_prewarm(relation)) FROM (
         SELECT unnest(${CONSENT_TABLES}) AS relation
         UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid = ANY (${CONSENT_TABLES})
       ) consent_relations`,
    ],
  ];
  const timings: Record<string, number> = {};
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // Bench data only: skip the FK triggers (the rows are consistent by construction) and the
    // WAL flush per commit.
    await client.query("SET session_replication_role = 'replica'");
    await client.query('SET synchronous_commit = off');
    await client.query("SET maintenance_work_mem = '256MB'");
    for (const [name, sql] of steps) {
      const started = performance.now();
      await client.query(sql);
      timings[name] = (performance.now() - started) / 1000;
      log(`  ${sizes === SCALE ? 'scale' : `${tenants}-tenant`} seed: ${name} ${timings[name]!.toFixed(1)} s\n`);
    }
  } finally {
    await client.end();
  }
  return timings;
}

interface Samples {
  latencies: number[];
  seconds: number;
  found: number;
}

/**
 * Calls loadAccess `calls` times, one at a time, for pairs from `pair()`; latencies in ms. With
 * `byIdAlone`, as for a user this process has not met: the tenant is looked up first (user_ids,
 * issue 19), as the account lookup of a request does before the decision (provider/request-memo.ts).
 */
async function sampleLoadAccess(
  target: Target,
  calls: number,
  into: Samples = { latencies: [], seconds: 0, found: 0 },
): Promise<Samples> {
  const { pool, pair, byIdAlone } = target;
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const [user, clientId] = pair();
    const t0 = performance.now();
    const access = byIdAlone ? await loadAccessOfUser(pool, user.id, clientId) : await loadAccess(pool, user, clientId);
    into.latencies.push(performance.now() - t0);
    if (access && access.userScopes.length > 0) into.found++;
  }
  into.seconds += (performance.now() - started) / 1000;
  return into;
}

export interface Target {
  pool: Pool;
  pair: () => [UserKey, string];
  byIdAlone?: boolean;
}

/**
 * Times loadAccess on each target, `calls` calls each, in `rounds` alternating rounds (so drift
 * in the machine's load hits both alike), after a warm-up of `calls / rounds` calls each.
 */
export async function compareLoadAccess(
  targets: Target[],
  calls: number,
  rounds = 5,
): Promise<{ stats: LatencyStats; found: number }[]> {
  const perRound = Math.ceil(calls / rounds);
  for (const target of targets) await sampleLoadAccess(target, perRound);
  const samples = targets.map((): Samples => ({ latencies: [], seconds: 0, found: 0 }));
  for (let round = 0; round < rounds; round++) {
    for (const [i, target] of targets.entries()) await sampleLoadAccess(target, perRound, samples[i]);
  }
  return samples.map((sample) => ({ stats: stats(sample.latencies, sample.seconds), found: sample.found }));
}

/** The SQL and parameters loadAccess sends (captured, so EXPLAIN runs exactly that query). */
async function loadAccessQuery(user: UserKey, clientId: string): Promise<{ text: string; values: unknown[] }> {
  let captured: { text: string; values: unknown[] } | undefined;
  const spy = {
    // loadAccess sends a named query config ({ name, text, values }); plain (text, values) too.
    query: async (textOrConfig: string | { text: string; values: unknown[] }, values?: unknown[]) => {
      captured =
        typeof textOrConfig === 'string'
          ? { text: textOrConfig, values: values ?? [] }
          : { text: textOrConfig.text, values: textOrConfig.values };
      return { rows: [] };
    },
  };
  await loadAccess(spy as unknown as Pool, user, clientId);
  if (!captured) throw new Error('loadAccess sent no query');
  return captured;
}

export interface ServerSideStats {
  /** Execution and planning time as PostgreSQL reports them (EXPLAIN ANALYZE), p50/p99 in ms. */
  execution: LatencyStats;
  planning: LatencyStats;
  /** Mean shared buffers touched (hit + read) per execution, and the mean read from outside shared_buffers. */
  buffers: number;
  reads: number;
}

/** EXPLAIN (ANALYZE, BUFFERS) of loadAccess for `calls` random pairs: the database's own time, without the round trip. */
export async function serverSideLoadAccess(
  pool: Pool,
  calls: number,
  pair: () => [UserKey, string],
): Promise<ServerSideStats> {
  const execution: number[] = [];
  const planning: number[] = [];
  let buffers = 0;
  let reads = 0;
  const client = await pool.connect();
  try {
    for (let i = 0; i < calls; i++) {
      const query = await loadAccessQuery(...pair());
      const { rows } = await client.query<{ 'QUERY PLAN': Record<string, unknown>[] }>(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query.text}`,
        query.values,
      );
      const top = rows[0]!['QUERY PLAN'][0]! as {
        'Execution Time': number;
        'Planning Time': number;
        Plan: Record<string, number>;
      };
      execution.push(top['Execution Time']);
      planning.push(top['Planning Time']);
      buffers += (top.Plan['Shared Hit Blocks'] ?? 0) + (top.Plan['Shared Read Blocks'] ?? 0);
      reads += top.Plan['Shared Read Blocks'] ?? 0;
    }
  } finally {
    client.release();
  }
  return {
    execution: stats(execution, 1),
    planning: stats(planning, 1),
    buffers: buffers / calls,
    reads: reads / calls,
  };
}

/** EXPLAIN (ANALYZE, BUFFERS) of one loadAccess call, as text. */
export async function explainLoadAccess(pool: Pool, user: UserKey, clientId: string): Promise<string> {
  const captured = await loadAccessQuery(user, clientId);
  const client = await pool.connect();
  try {
    // Warm once so the plan shows the steady state, not the first read from disk.
    await client.query(captured.text, captured.values);
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${captured.text}`,
      captured.values,
    );
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    client.release();
  }
}

export interface ScaleResult {
  database: string;
  seedSeconds: Record<string, number>;
  rows: Record<string, number>;
  sizeMb: number;
  /** loadAccess on the scale database, and on the others in alternation with it. */
  scale: LatencyStats;
  /** The same on the scale database for users this process has not met: the tenant looked up first. */
  unmet: LatencyStats;
  /** The same seed at two tenants (TINY): the comparison issue 17's target is judged on. */
  tiny: LatencyStats;
  tinyRows: Record<string, number>;
  /** The bench's own seed, when given (no user consent rows): the comparison until session 13. */
  small?: LatencyStats;
  /** Calls that found a user consent row, on each. */
  found: { scale: number; tiny: number; small?: number };
  plan: string;
  /** Silent /auth at an Accord server on each database (when asked): the decision through a request. */
  silent?: SilentAtScale;
  /** The database's own time for the query (EXPLAIN ANALYZE), on each database. */
  scaleServer: ServerSideStats;
  tinyServer: ServerSideStats;
  smallServer?: ServerSideStats;
}

export interface SilentAtScale {
  scale: LatencyStats;
  tiny: LatencyStats;
}

/** Measures silent /auth at an Accord server on each of the two databases (bench/run.ts starts them). */
export type SilentAuthAt = (databases: { scale: string; tiny: string }) => Promise<SilentAtScale>;

/** A migrated database seeded with `sizes`: its pool, its row counts and size, and the seed's timings. */
async function seededDatabase(adminUrl: string, sizes: ScaleSizes, log: (line: string) => void) {
  const database = `accord_bench_scale_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${database}`);
  const databaseUrl = withDatabase(adminUrl, database);
  const pool = createPool(databaseUrl, () => undefined);
  const drop = async () => {
    await pool.end();
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  };
  try {
    await migrate(pool);
    const seedSeconds = await seedScale(databaseUrl, log, sizes);
    const { rows: counts } = await pool.query<Record<string, string>>(
      `SELECT (SELECT count(*) FROM tenants) AS tenants, (SELECT count(*) FROM users) AS users,
              (SELECT count(*) FROM user_consents) AS user_consents, (SELECT count(*) FROM admin_consents) AS admin_consents,
              (SELECT count(*) FROM tenant_apps) AS tenant_apps, pg_database_size(current_database()) AS size`,
    );
    const { size, ...rest } = counts[0]!;
    const rows = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, Number(value)]));
    return { database, url: databaseUrl, pool, drop, seedSeconds, rows, sizeMb: Number(size) / 2 ** 20 };
  } catch (error) {
    await drop();
    throw error;
  }
}

/** Creates, seeds and measures the scale database and the tiny one; drops them at the end. */
export async function runScale(
  adminUrl: string,
  calls: number,
  log: (line: string) => void,
  small?: Target,
  silentAuthAt?: SilentAuthAt,
): Promise<ScaleResult> {
  const scaled = await seededDatabase(adminUrl, SCALE, log);
  try {
    const tiny = await seededDatabase(adminUrl, TINY, log);
    try {
      const pool = scaled.pool;
      const pair = pairsOf(SCALE);
      const tinyTarget = { pool: tiny.pool, pair: pairsOf(TINY) };
      const [scale, unmet, tinyResult, smallResult] = await compareLoadAccess(
        [{ pool, pair }, { pool, pair, byIdAlone: true }, tinyTarget, ...(small ? [small] : [])],
        calls,
      );
      const plan = await explainLoadAccess(pool, pair()[0], appId(1));
      const explainCalls = Math.min(calls, 2000);
      const scaleServer = await serverSideLoadAccess(pool, explainCalls, pair);
      const tinyServer = await serverSideLoadAccess(tiny.pool, explainCalls, tinyTarget.pair);
      const smallServer = small ? await serverSideLoadAccess(small.pool, explainCalls, small.pair) : undefined;
      const silent = await silentAuthAt?.({ scale: scaled.url, tiny: tiny.url });
      return {
        database: scaled.database,
        seedSeconds: scaled.seedSeconds,
        rows: scaled.rows,
        sizeMb: scaled.sizeMb,
        scale: scale!.stats,
        unmet: unmet!.stats,
        tiny: tinyResult!.stats,
        tinyRows: tiny.rows,
        ...(smallResult ? { small: smallResult.stats } : {}),
        found: { scale: scale!.found, tiny: tinyResult!.found, ...(smallResult ? { small: smallResult.found } : {}) },
        plan,
        scaleServer,
        tinyServer,
        ...(smallServer ? { smallServer } : {}),
        ...(silent ? { silent } : {}),
      };
    } finally {
      await tiny.drop();
    }
  } finally {
    await scaled.drop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const log = (line: string) => process.stderr.write(line);
  const own = process.argv[2] ? undefined : await startScalePostgres(log);
  try {
    const result = await runScale(process.argv[2] ?? own!.adminUrl, Number(process.env.BENCH_SCALE_CALLS ?? 5000), log);
    process.stdout.write(`${JSON.stringify({ ...result, plan: undefined }, null, 2)}\n${result.plan}\n`);
  } finally {
    await own?.stop();
  }
}
