// Accord on a Citus cluster beside single-node PostgreSQL, in one run: the consent decision
// (Consents.evaluate: the app and what the user and the organisation granted) and a silent
// /auth (a signed-in user, an admin-consented app: a code with no page), each measured in
// alternating rounds on both, with the statements each request runs counted and, on the cluster,
// every one EXPLAINed to show that it reaches one shard. In-process servers (buildApp), so the
// figures compare the two databases, not two machines: read the ratios.
//
//   ACCORD_CITUS_URL=postgres://postgres@127.0.0.1:5601/accord_citus node --import tsx bench/citus.ts
//   (DATABASE_URL: the single-node server, default postgres://postgres@127.0.0.1:5432/postgres)
//   BENCH_CITUS_REQUESTS=300 BENCH_CITUS_ROUNDS=5
import { performance } from 'node:perf_hooks';
import { PermissionCatalogue } from '../src/core/permission-catalogue.js';
import { listPermissions } from '../src/db/permissions.js';
import type { Pool } from '../src/db/pool.js';
import { Consents } from '../src/services/consents.js';
import { citusClusterUrl, createCitusDatabase, taskCounts } from '../test/support/citus-cluster.js';
import { createPlainTestDatabase, type TestDatabase } from '../test/support/database.js';
import { relyingParty } from '../test/support/flows.js';
import { startTestServer } from '../test/support/server.js';
import { signedInBrowser, silentAuthorization } from './flows.js';
import { basicOf, seedBenchDatabase } from './support.js';

if (!process.env.DATABASE_URL) process.env.DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
if (!citusClusterUrl()) {
  process.stderr.write(
    'bench/citus.ts: set ACCORD_CITUS_URL to a database on a Citus coordinator (../shared/citus/cluster.sh createdb)\n',
  );
  process.exit(2);
}
const REQUESTS = Number(process.env.BENCH_CITUS_REQUESTS ?? 300);
const ROUNDS = Number(process.env.BENCH_CITUS_ROUNDS ?? 5);
const SCOPE = 'openid User.Read';

/** Counts the statements run through the pool (and its connections) while `counting` is on. */
function countStatements(pool: Pool) {
  const state = { counting: false, count: 0, texts: new Map<string, unknown[]>() };
  type Method = (...args: unknown[]) => unknown;
  const counted =
    (method: Method): Method =>
    (...args) => {
      if (state.counting) {
        state.count++;
        const first = args[0] as string | { text?: string; values?: unknown[] };
        const text = typeof first === 'string' ? first : first?.text;
        const values = typeof first === 'string' ? (args[1] as unknown[]) : first?.values;
        if (text && !state.texts.has(text)) state.texts.set(text, values ?? []);
      }
      return method(...args);
    };
  // Only the clients: pool.query runs on one of them too, so each statement is counted once.
  pool.on('connect', (client) => {
    client.query = counted(client.query.bind(client) as Method) as typeof client.query;
  });
  return state;
}

interface Deployment {
  name: string;
  database: TestDatabase;
  counter: ReturnType<typeof countStatements>;
  evaluate: () => Promise<unknown>;
  silentAuth: () => Promise<unknown>;
  close: () => Promise<void>;
  samples: { decision: number[]; silent: number[] };
  statements: { decision: number; silent: number };
}

async function deploy(name: string, database: TestDatabase): Promise<Deployment> {
  const counter = countStatements(database.pool);
  // A fresh pool connection for every later query is counted: drain the ones made while seeding.
  const data = await seedBenchDatabase(database.pool, 0);
  const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000000' }, database);
  const app = await relyingParty(server, data.flowsApp.clientId, data.flowsApp.clientSecret);
  const target = { url: server.url, app, basic: basicOf(data.flowsApp.clientId, data.flowsApp.clientSecret) };
  const browser = await signedInBrowser(target, data.alice, SCOPE);
  const consents = new Consents(database.pool, new PermissionCatalogue(await listPermissions(database.pool)));
  const { rows } = await database.pool.query<{ id: string }>(
    `SELECT id FROM users WHERE tenant_id = 'contoso' AND username = 'alice'`,
  );
  const aliceId = rows[0]!.id;
  return {
    name,
    database,
    counter,
    evaluate: () => consents.evaluate(aliceId, data.flowsApp.clientId, ['openid', 'User.Read']),
    silentAuth: () => silentAuthorization(target, browser, SCOPE),
    close: () => server.close(),
    samples: { decision: [], silent: [] },
    statements: { decision: 0, silent: 0 },
  };
}

async function measure(deployment: Deployment, kind: 'decision' | 'silent'): Promise<void> {
  const run = kind === 'decision' ? deployment.evaluate : deployment.silentAuth;
  await run(); // warm: prepared statements, the tenant of the user remembered
  deployment.counter.count = 0;
  deployment.counter.counting = true;
  for (let i = 0; i < REQUESTS; i++) {
    const start = performance.now();
    await run();
    deployment.samples[kind].push(performance.now() - start);
  }
  deployment.counter.counting = false;
  deployment.statements[kind] = deployment.counter.count / REQUESTS;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

const single = await deploy('single-node PostgreSQL', await createPlainTestDatabase());
const cluster = await deploy('Citus (coordinator + 2 workers)', await createCitusDatabase());
try {
  for (let round = 0; round < ROUNDS; round++)
    for (const kind of ['decision', 'silent'] as const)
      for (const deployment of round % 2 === 0 ? [single, cluster] : [cluster, single]) await measure(deployment, kind);

  // Every statement the cluster ran for these requests, through EXPLAIN.
  const multiShard: string[] = [];
  const client = await cluster.database.pool.connect();
  try {
    for (const [text, values] of cluster.counter.texts) {
      if (!/^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(text)) continue;
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${text}`, values as unknown[]);
      if (taskCounts(rows[0]['QUERY PLAN']).some((count) => count > 1)) multiShard.push(text.slice(0, 80));
    }
  } finally {
    client.release();
  }

  const line = (kind: 'decision' | 'silent', label: string) => {
    const [s, c] = [single, cluster].map((d) => ({
      p50: percentile(d.samples[kind], 50),
      p99: percentile(d.samples[kind], 99),
      statements: d.statements[kind],
    }));
    return `| ${label} | ${s!.statements.toFixed(1)} / ${c!.statements.toFixed(1)} | ${s!.p50.toFixed(2)} / ${c!.p50.toFixed(2)} ms | ${s!.p99.toFixed(2)} / ${c!.p99.toFixed(2)} ms | ${(c!.p50 / s!.p50).toFixed(2)}× |`;
  };
  process.stdout.write(
    `${new Date().toISOString()}: ${ROUNDS} alternating rounds of ${REQUESTS} sequential requests each\n\n` +
      '| request | statements per request (single / cluster) | p50 (single / cluster) | p99 (single / cluster) | p50 ratio |\n|---|---|---|---|---|\n' +
      `${line('decision', 'consent decision (Consents.evaluate)')}\n${line('silent', 'silent /auth → code (admin-consented)')}\n\n` +
      `statements the cluster ran for them: ${cluster.counter.texts.size}; reaching more than one shard: ${multiShard.length === 0 ? 'none' : multiShard.join('; ')}\n`,
  );
} finally {
  await single.close();
  await cluster.close();
  await single.database.drop();
  await cluster.database.drop();
}
