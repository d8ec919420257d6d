// `npm run bench`: load figures for Accord's hot endpoints. Creates a fresh database from the
// admin DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), seeds a tenant, a user
// and a confidential app, starts the server (bench/server.ts) in a child process pinned to core
// 0, drives it with autocannon from this process pinned to core 1 (PostgreSQL too, for the run:
// bench/pin-postgres.ts), and prints requests/s, p50,
// p99 and the server's peak RSS per endpoint, for Accord, for the same provider in a plain
// Fastify, and for that provider served bare. Then the user-facing flows on Accord (bench/flows.ts:
// code exchange, refresh rotation, silent re-authorization, full sign-in flow) and, with
// BENCH_SCALE=1, the consent decision's query on a 10M-row database (bench/scale.ts).
// Never part of `npm test`. Figures are noisy (±25 % on a shared 2-core machine).

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { UserKey } from '../src/db/consents.js';
import { createPool } from '../src/db/pool.js';
import { relyingParty } from '../test/support/flows.js';
import type { TestServer } from '../test/support/server.js';
import {
  codeExchange,
  type FlowContext,
  details as flowDetails,
  fullSignInFlow,
  type Redeemer,
  type Row,
  refreshRotation,
  type StatementCount,
  silentReauthorization,
  silentTakingTurns,
} from './flows.js';
import { pinPostgres } from './pin-postgres.js';
import {
  type LatencyStats,
  runScale,
  type ScalePostgres,
  type ScaleResult,
  type ServerSideStats,
  type SilentAuthAt,
  startScalePostgres,
  stats,
} from './scale.js';
import { storageCase } from './storage.js';
import {
  adminQuery,
  beginRun,
  cpuSeconds,
  freePort,
  inTurns,
  LOAD_CORE,
  npmStartNodeFlags,
  rssMb,
  SERVER_CORE,
  seedBenchDatabase,
  stopServer,
  userAccessToken,
  withDatabase,
} from './support.js';

const DURATION_SECONDS = Number(process.env.BENCH_DURATION ?? 5);
// Which groups to run: `endpoints` (autocannon, the three servers), `flows` (code exchange,
// refresh rotation, silent re-authorization, full sign-in flow; Accord only), `storage` (the
// expiry purge, bench/storage.ts; not by default). BENCH_SCALE=1 adds
// the consent-decision query on a 10M-row database (bench/scale.ts; seeding takes ~1 minute here).
const GROUPS = new Set((process.env.BENCH_CASES ?? 'endpoints,flows').split(',').map((group) => group.trim()));
const SCALE = process.env.BENCH_SCALE === '1' || process.env.BENCH_SCALE === 'true';
const CODES = Number(process.env.BENCH_CODES ?? 3000);
// BENCH_FLOWS=silent1,code: only these flow cases (code, refresh, silent10, silent10x10, silent1,
// full); code and refresh redeem at Accord and at the bare provider, taking turns.
const FLOW_FILTER = process.env.BENCH_FLOWS?.split(',').map((name) => name.trim());
// BENCH_ENDPOINTS=token,jwks: only the endpoint cases whose name contains one of these words.
const ENDPOINT_FILTER = process.env.BENCH_ENDPOINTS?.split(',')
  .map((word) => word.trim().toLowerCase())
  .filter(Boolean);
const selected = (test: { name: string }) =>
  !ENDPOINT_FILTER || ENDPOINT_FILTER.some((word) => test.name.toLowerCase().includes(word));
const SCALE_CALLS = Number(process.env.BENCH_SCALE_CALLS ?? 5000);
const WARMUP_SECONDS = 2;
const CONNECTIONS = 10;
// BENCH_ROUNDS: how many turns the servers of one endpoint take (see measure).
// Six by default: with three servers, each takes each place in the order twice (measure).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const ROUND_SECONDS = Math.max(1, DURATION_SECONDS / ROUNDS);
// BENCH_PROCESSES: how many processes of each server (accord, fastify, bare) the endpoints are
// measured on. Two identical processes differ by up to ±8 % here, for their whole life and alike
// for processes started one after the other (bench/README.md, session 10): each server's figure
// is over several processes, started in turns with the others'.
const PROCESSES = Math.max(1, Number(process.env.BENCH_PROCESSES ?? 3));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Case {
  name: string;
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

/** Starts bench/server.ts pinned to SERVER_CORE; resolves once it prints `ready`. */
async function startServer(
  mode: 'accord' | 'bare' | 'fastify',
  databaseUrl: string,
  issuer?: string,
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  // taskset execs node in place, so child.pid is the server's own pid.
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each server, written to <dir>/<mode> when it stops.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF, mode)}`]
    : [];
  const child = spawn(
    'taskset',
    [
      '-c',
      SERVER_CORE,
      process.execPath,
      ...npmStartNodeFlags(),
      ...profile,
      '--import',
      'tsx',
      path.join(root, 'bench/server.ts'),
      mode,
      databaseUrl,
      String(port),
      ...(issuer ? [issuer] : []),
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bench server (${mode}) exited with ${code} before it was ready`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/**
 * CPU time of every `postgres` process on the machine (the bench's backends, and anyone else's),
 * with that of the backends that have exited (a postmaster's reaped children, cutime and cstime):
 * a pool closing idle connections during a case would otherwise take their CPU out of the sum.
 */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

/** Resets the process's peak RSS (Linux ≥ 4.0), so each case reports its own peak. */
function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not permitted: peaks then accumulate over the run (the table says so).
    peakResettable = false;
  }
}
let peakResettable = true;
const endpointDetails: string[] = [];

interface Target {
  server: string;
  base: string;
  pid: number;
  test: Case;
}

/** The server's garbage-collection pauses so far, in ms (bench/server.ts's `GET /bench/stats`). */
async function gcMsOf(base: string): Promise<number> {
  const stats = (await (await fetch(`${base}/bench/stats`)).json()) as { gc: { totalMs: number } };
  return stats.gc.totalMs;
}

/**
 * Loads each target in turn for BENCH_ROUNDS rounds of BENCH_DURATION / rounds seconds, after a
 * warm-up each: servers compared in one group (accord, fastify, bare) take turns, so a change in
 * the machine's speed during the group (this shared machine's varies by 2× within minutes) hits
 * them alike. Targets with the same server and case (the server's processes) make one row: req/s
 * per process and CPU per request are over all their rounds; p50 is the median of the rounds',
 * p99 the highest.
 */
async function measure(targets: Target[]): Promise<Row[]> {
  const options = ({ base, test }: Target) => ({
    url: `${base}${test.path}`,
    connections: CONNECTIONS,
    method: test.method ?? 'GET',
    ...(test.headers ? { headers: test.headers } : {}),
    ...(test.body ? { body: test.body } : {}),
  });
  const totals = targets.map(() => ({
    requests: 0,
    seconds: 0,
    cpu: 0,
    failed: 0,
    p50s: [] as number[],
    p99: 0,
    peakRssMb: 0,
    gcMs: 0,
    /** Wall-clock seconds of the rounds, autocannon's start and end included: what the CPU was measured over. */
    wall: 0,
  }));
  for (const target of targets) {
    resetPeakRss(target.pid);
    await autocannon({ ...options(target), duration: WARMUP_SECONDS });
  }
  // bench/support.ts, inTurns: each server takes each place in the order equally often.
  await inTurns(targets.length, ROUNDS, async (i) => {
    const target = targets[i]!;
    const total = totals[i]!;
    const gcBefore = await gcMsOf(target.base);
    const cpuBefore = cpuSeconds(target.pid);
    const started = performance.now();
    const result = await autocannon({ ...options(target), duration: ROUND_SECONDS });
    total.wall += (performance.now() - started) / 1000;
    total.cpu += cpuSeconds(target.pid) - cpuBefore;
    total.gcMs += (await gcMsOf(target.base)) - gcBefore;
    total.requests += result.requests.total;
    total.seconds += ROUND_SECONDS;
    total.failed += result.non2xx + result.errors + result.timeouts;
    total.p50s.push(result.latency.p50);
    total.p99 = Math.max(total.p99, result.latency.p99);
  });
  // One row per server and case: a server's processes are loaded with the same case.
  const rowOf = (target: Target) => `${target.server} ${target.test.name}`;
  return [...new Set(targets.map(rowOf))].map((key) => {
    const own = targets.flatMap((target, i) => (rowOf(target) === key ? [{ ...target, ...totals[i]! }] : []));
    const { server } = own[0]!;
    const sum = (of: (one: (typeof own)[number]) => number) => own.reduce((all, one) => all + of(one), 0);
    const total = {
      requests: sum((one) => one.requests),
      seconds: sum((one) => one.seconds),
      cpu: sum((one) => one.cpu),
      gcMs: sum((one) => one.gcMs),
      wall: sum((one) => one.wall),
    };
    const cpuMs = (1000 * total.cpu) / Math.max(1, total.requests);
    const perProcess = own.map((one) => Math.round(one.requests / one.seconds));
    endpointDetails.push(
      `${key}: server CPU ${cpuMs.toFixed(3)} ms per request, of which garbage collection's pauses ` +
        `${((1000 * total.gcMs) / Math.max(1, total.requests)).toFixed(1)} µs; server core busy ${Math.round((100 * total.cpu) / total.wall)} %` +
        (own.length > 1 ? `; req/s of its ${own.length} processes ${perProcess.join(' / ')}` : ''),
    );
    const p50s = own.flatMap((one) => one.p50s).sort((a, b) => a - b);
    const row: Row = {
      server,
      name: own[0]!.test.name,
      rps: total.requests / total.seconds,
      p50: p50s[Math.floor(p50s.length / 2)]!,
      p99: Math.max(...own.map((one) => one.p99)),
      peakRssMb: Math.max(...own.map((one) => rssMb(one.pid))),
      failed: sum((one) => one.failed),
      cpuMs,
    };
    process.stderr.write(
      `  ${server.padEnd(7)} ${row.name}: ${Math.round(row.rps)} req/s${row.failed ? ` (${row.failed} failed)` : ''}\n`,
    );
    return row;
  });
}

/** Checks a case answers 200 once before loading it, so a broken case fails loudly. */
async function check(base: string, test: Case): Promise<void> {
  const response = await fetch(`${base}${test.path}`, {
    method: test.method ?? 'GET',
    ...(test.headers ? { headers: test.headers } : {}),
    ...(test.body ? { body: test.body } : {}),
  });
  if (response.status !== 200)
    throw new Error(`${test.name}: expected 200, got ${response.status} ${await response.text()}`);
}

const ms = (stats: LatencyStats) => `${stats.p50.toFixed(3)}/${stats.p99.toFixed(3)} ms`;
const fmt = (n: number) =>
  n >= 1e6 ? `${+(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${+(n / 1e3).toFixed(1)}k` : String(n);

function printTable(rows: Row[]): void {
  const header = ['server', 'endpoint', 'req/s', 'p50 ms', 'p99 ms', 'peak RSS MB', 'failed'];
  const lines = rows.map((row) => [
    row.server,
    row.name,
    String(Math.round(row.rps)),
    String(row.p50),
    String(row.p99),
    Number.isFinite(row.peakRssMb) ? row.peakRssMb.toFixed(0) : '-',
    String(row.failed),
  ]);
  const widths = header.map((cell, i) => Math.max(cell.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  process.stdout.write(
    `${format(header)}\n|${widths.map((width, i) => (i < 2 ? `${'-'.repeat(width + 1)}-` : `${'-'.repeat(width + 1)}:`)).join('|')}|\n`,
  );
  for (const line of lines) process.stdout.write(`${format(line)}\n`);
}

/**
 * Silent /auth (1 in flight) at an Accord server on the scale database and at one on the tiny one,
 * taking turns: the consent decision at scale through a request. Each database gets the bench's
 * seed too (Contoso, its flows app admin-consented, a user to sign in), beside the scale rows: the
 * request reads the user among 1M and looks the consent up among 10M rows.
 */
const silentAuthAt: SilentAuthAt = async (databases) => {
  const started: ChildProcess[] = [];
  try {
    const servers = [];
    for (const databaseUrl of [databases.scale, databases.tiny]) {
      const pool = createPool(databaseUrl, () => undefined);
      const seeded = await seedBenchDatabase(pool, 1).finally(() => pool.end());
      const server = await startServer('accord', databaseUrl);
      started.push(server.child);
      const app = await relyingParty(
        { url: server.url } as TestServer,
        seeded.flowsApp.clientId,
        seeded.flowsApp.clientSecret,
      );
      servers.push({ target: { url: server.url, app, basic: seeded.flowsApp.basic }, user: seeded.users[0]! });
    }
    const [scale, tiny] = await silentTakingTurns(servers, ROUNDS, DURATION_SECONDS, WARMUP_SECONDS);
    return { scale: stats(scale!, DURATION_SECONDS), tiny: stats(tiny!, DURATION_SECONDS) };
  } finally {
    for (const child of started) await stopServer(child);
  }
};

/** One latency figure over another: p50, p99 and mean, and the two means. */
function ratios(over: LatencyStats, under: LatencyStats): string {
  return (
    `p50 ${(over.p50 / under.p50).toFixed(2)}×, p99 ${(over.p99 / under.p99).toFixed(2)}×, ` +
    `mean ${(over.mean / under.mean).toFixed(2)}× (means ${over.mean.toFixed(3)} / ${under.mean.toFixed(3)} ms)`
  );
}

/** The flows whose tokens are redeemed at the bare provider too (bench/flows.ts, takingTurns). */
const REDEEMING_FLOWS = ['POST /token authorization_code', 'POST /token refresh_token (rotation)'];

/**
 * The code exchange and the refresh at Accord beside the same requests at the bare provider (what
 * Accord minted, redeemed by the same configuration, keys, adapter and database without Fastify
 * and Accord's hooks): the provider's own ceiling, and how far below it Accord is.
 */
function printFlowCeiling(rows: Row[]): void {
  const lines = rows
    .filter((row) => row.server === 'bare' && REDEEMING_FLOWS.includes(row.name))
    .flatMap((bare) => {
      const accord = rows.find((row) => row.server === 'accord' && row.name === bare.name);
      if (!accord?.cpuMs || !bare.cpuMs) return [];
      return [
        `- ${bare.name}: accord ${Math.round(accord.rps)}/s, bare ${Math.round(bare.rps)}/s ` +
          `(accord at ${((100 * accord.rps) / bare.rps).toFixed(0)} % of bare); server CPU per request ` +
          `accord ${accord.cpuMs.toFixed(2)} ms, bare ${bare.cpuMs.toFixed(2)} ms (${(1000 / bare.cpuMs).toFixed(0)}/s per core at the bare provider's cost)`,
      ];
    });
  if (lines.length > 0)
    process.stdout.write(
      `\nFlows at the bare provider (the provider's own ceiling, taking turns with Accord in the same rounds):\n${lines.join('\n')}\n`,
    );
}

const judge = (met: boolean) => (met ? 'met' : '**missed**');

/**
 * Issue 17's targets for the flows and the consent decision at scale, each judged on this run:
 * the code exchange and the refresh at ≥ 1,000/s or within 5 % of the bare provider, silent
 * `/auth`'s p99 under 25 ms at 10 in flight and under 15 ms at 1, the decision's query at 1M
 * users / 10M grants within 1.2× of a tiny database's (mean). (The wrapper overhead is judged in
 * its own lines; the storage case judges its own.)
 */
function printTargets(rows: Row[], scale: ScaleResult | undefined): void {
  const lines: string[] = [];
  for (const name of REDEEMING_FLOWS) {
    const accord = rows.find((row) => row.server === 'accord' && row.name === name);
    const bare = rows.find((row) => row.server === 'bare' && row.name === name);
    if (!accord) continue;
    const ofBare = bare ? (100 * accord.rps) / bare.rps : undefined;
    lines.push(
      `- ${name}: accord ${Math.round(accord.rps)}/s${ofBare === undefined ? ' (no bare row)' : `, ${ofBare.toFixed(0)} % of bare's ${Math.round(bare!.rps)}/s`} ` +
        `(target ≥ 1000/s or ≥ 95 % of bare: ${judge(accord.rps >= 1000 || (ofBare ?? 0) >= 95)})`,
    );
  }
  for (const [label, limit] of [
    ['10 in flight, 1 session', 25],
    ['1 in flight', 15],
  ] as const) {
    const row = rows.find(
      (row) => row.server === 'accord' && row.name.startsWith('GET /auth silent') && row.name.endsWith(`(${label})`),
    );
    if (row)
      lines.push(`- silent /auth, ${label}: p99 ${row.p99} ms (target < ${limit} ms: ${judge(row.p99 < limit)})`);
  }
  if (scale) {
    const ratio = scale.scale.mean / scale.tiny.mean;
    lines.push(
      `- the consent decision's query at scale: ${ratio.toFixed(2)}× its mean on the same seed at ${fmt(scale.tinyRows.users!)} users (target ≤ 1.2×: ${judge(ratio <= 1.2)})`,
    );
    if (scale.silent) {
      const throughRequest = scale.silent.scale.mean / scale.silent.tiny.mean;
      lines.push(
        `- the consent decision at scale through silent /auth (1 in flight): ${throughRequest.toFixed(2)}× the mean on ${fmt(scale.tinyRows.users!)} users (target ≤ 1.2×: ${judge(throughRequest <= 1.2)})`,
      );
    }
  }
  if (lines.length > 0) process.stdout.write(`\nTargets (issue 17), this run:\n${lines.join('\n')}\n`);
}

/**
 * The overhead of the wrapper on the provider's own endpoints: how many fewer requests/s Accord
 * and the plain-Fastify server serve than the same provider bare, and how much more server CPU
 * each request takes (the steadier figure on a shared machine). Target (issue 17): ≤ 5 % on both.
 */
function printOverhead(rows: Row[], fastifyRows: Row[], bareRows: Row[]): void {
  const percent = (value: number, sign = false) => `${sign && value > 0 ? '+' : ''}${value.toFixed(1)} %`;
  const lines = bareRows.map((bare) => {
    const accord = rows.find((row) => row.server === 'accord' && row.name === bare.name)!;
    const fastify = fastifyRows.find((row) => row.name === bare.name)!;
    const overhead = (row: Row) => (100 * (bare.rps - row.rps)) / bare.rps;
    const cpu = (row: Row) =>
      row.cpuMs && bare.cpuMs ? percent((100 * (row.cpuMs - bare.cpuMs)) / bare.cpuMs, true) : '-';
    const cpuOverhead = accord.cpuMs && bare.cpuMs ? (100 * (accord.cpuMs - bare.cpuMs)) / bare.cpuMs : Infinity;
    const target = ` (target ≤ 5 % in req/s and in CPU per request: ${judge(overhead(accord) <= 5 && cpuOverhead <= 5)})`;
    return (
      `- ${bare.name}: accord ${percent(overhead(accord))}${target}, fastify ${percent(overhead(fastify))} ` +
      `(req/s: accord ${Math.round(accord.rps)}, fastify ${Math.round(fastify.rps)}, bare ${Math.round(bare.rps)}); ` +
      `server CPU per request against bare: accord ${cpu(accord)}, fastify ${cpu(fastify)}`
    );
  });
  process.stdout.write(
    `\nWrapper overhead: requests/s below the same provider served bare (node:http), taking turns in the same rounds (negative: more than bare):\n${lines.join('\n')}\n`,
  );
}

async function main(): Promise<void> {
  const cores = os.availableParallelism(); // before pinning: afterwards this process sees one core
  const loadBefore = os.loadavg()[0]!;
  if (cores < 2)
    throw new Error(
      `bench needs 2 cores: the server on core ${SERVER_CORE}, autocannon and PostgreSQL on core ${LOAD_CORE}`,
    );
  // The load generator and PostgreSQL get the other core.
  const { cleanup, adminUrl, postgres } = await beginRun();

  const database = `accord_bench_${randomBytes(4).toString('hex')}`;
  const children: ChildProcess[] = [];
  try {
    await adminQuery(adminUrl, `CREATE DATABASE ${database}`);
    cleanup.add(`drop database ${database}`, () =>
      adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
    );
    const databaseUrl = withDatabase(adminUrl, database);
    const pool = createPool(databaseUrl, () => undefined);
    cleanup.add('close the pool', () => pool.end());
    cleanup.add('stop the servers', async () => {
      for (const child of children) await stopServer(child);
    });
    const seeded = await seedBenchDatabase(pool, CONNECTIONS);

    // All three servers run at once on the server core (an idle one costs nothing), so each
    // endpoint is measured on Accord, plain Fastify and the bare provider taking turns (measure):
    // drift in the machine's speed then hits the figures of a group alike.
    // Accord: Fastify + oidc-provider + the data API.
    const accord = await startServer('accord', databaseUrl);
    children.push(accord.child);
    // The same provider configuration, bare: node:http, no Fastify.
    const bare = await startServer('bare', databaseUrl);
    children.push(bare.child);
    // And mounted in a plain Fastify, without Accord's plugins and routes.
    const fastify = await startServer('fastify', databaseUrl);
    children.push(fastify.child);
    // For the endpoints, PROCESSES processes of each server (these first), started in turns.
    type Started = Awaited<ReturnType<typeof startServer>>;
    const processes: Record<'accord' | 'fastify' | 'bare', Started>[] = [{ accord, fastify, bare }];
    for (let i = 1; GROUPS.has('endpoints') && i < PROCESSES; i++) {
      const moreAccord = await startServer('accord', databaseUrl);
      const moreBare = await startServer('bare', databaseUrl);
      const moreFastify = await startServer('fastify', databaseUrl);
      children.push(moreAccord.child, moreBare.child, moreFastify.child);
      processes.push({ accord: moreAccord, fastify: moreFastify, bare: moreBare });
    }
    const idle = [accord, bare, fastify].map(
      (server, i) => `${['accord', 'bare', 'fastify'][i]} ${rssMb(server.child.pid!, 'VmRSS').toFixed(0)} MB`,
    );

    const protocolCases = (issuer: string): Case[] => [
      { name: 'GET discovery', path: '/.well-known/openid-configuration' },
      { name: 'GET /jwks', path: '/jwks' },
      {
        name: 'POST /token client_credentials (JWT AT)',
        path: '/token',
        method: 'POST',
        headers: { authorization: seeded.app.basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: `${issuer}/data/v1`,
          scope: 'User.Read',
        }).toString(),
      },
    ];
    // A user's access token through the real flow: sign-in, consent, code exchange.
    const bearer = { authorization: `Bearer ${await userAccessToken(accord.url, seeded.app, seeded.alice)}` };
    const dataCases: Case[] = [
      { name: 'GET /data/v1/me (revocation check)', path: '/data/v1/me', headers: bearer },
      { name: 'GET /data/v1/me (no revocation check)', path: '/bench/no-revocation/data/v1/me', headers: bearer },
    ];

    const accordProtocol = protocolCases(accord.url);
    for (const test of dataCases) await check(accord.url, test);
    for (const trio of processes)
      for (const server of Object.values(trio))
        for (const test of protocolCases(server.url)) await check(server.url, test);
    const rows: Row[] = [];
    const bareRows: Row[] = [];
    const fastifyRows: Row[] = [];
    if (GROUPS.has('endpoints')) {
      for (const [i, test] of accordProtocol.entries()) {
        if (!selected(test)) continue;
        // Each server's processes in turns with the others' (each with its own issuer in the case).
        const [accordRow, fastifyRow, bareRow] = await measure(
          processes.flatMap((trio) =>
            (['accord', 'fastify', 'bare'] as const).map((server) => ({
              server,
              base: trio[server].url,
              pid: trio[server].child.pid!,
              test: protocolCases(trio[server].url)[i]!,
            })),
          ),
        );
        rows.push(accordRow!);
        fastifyRows.push(fastifyRow!);
        bareRows.push(bareRow!);
      }
      // With and without the revocation check, taking turns like the servers above.
      const dataRows = await measure(
        dataCases
          .filter(selected)
          .map((test) => ({ server: 'accord', base: accord.url, pid: accord.child.pid!, test })),
      );
      rows.push(...dataRows);
    }

    if (GROUPS.has('flows')) {
      const redeemerOf = (server: 'accord' | 'bare', started: Started): Redeemer => {
        const pid = started.child.pid!;
        return {
          server,
          url: started.url,
          resetPeak: () => resetPeakRss(pid),
          peakMb: () => rssMb(pid),
          serverCpuSeconds: () => cpuSeconds(pid),
          statements: async () => (await (await fetch(`${started.url}/bench/stats`)).json()) as StatementCount,
        };
      };
      // The code exchange and the refresh redeem at PROCESSES processes of Accord (the first is
      // this one) and of the bare provider, all under Accord's issuer (so that the sample API's
      // identifier, and with it every grant's resource, is the same), started in turns.
      const accordRedeemer = redeemerOf('accord', accord);
      const redeemers: Redeemer[] = [accordRedeemer];
      const redeeming = ['code', 'refresh'].filter((name) => !FLOW_FILTER || FLOW_FILTER.includes(name));
      const onlyRedeeming: ChildProcess[] = [];
      for (let i = 0; redeeming.length > 0 && i < PROCESSES; i++) {
        const bareFlows = await startServer('bare', databaseUrl, accord.url);
        onlyRedeeming.push(bareFlows.child);
        redeemers.push(redeemerOf('bare', bareFlows));
        if (i === PROCESSES - 1) break;
        const moreAccord = await startServer('accord', databaseUrl, accord.url);
        onlyRedeeming.push(moreAccord.child);
        redeemers.push(redeemerOf('accord', moreAccord));
      }
      children.push(...onlyRedeeming);
      const ctx: FlowContext = {
        ...accordRedeemer,
        app: await relyingParty(
          { url: accord.url } as TestServer,
          seeded.flowsApp.clientId,
          seeded.flowsApp.clientSecret,
        ),
        basic: seeded.flowsApp.basic,
        users: seeded.users,
        concurrency: CONNECTIONS,
        warmupSeconds: WARMUP_SECONDS,
        durationSeconds: DURATION_SECONDS,
        rounds: ROUNDS,
        codes: CODES,
        postgresCpuSeconds,
        log: (line) => process.stderr.write(line),
        redeemers,
      };
      const flows: Record<string, () => Promise<Row | Row[]>> = {
        code: () => codeExchange(ctx), // accord and bare taking turns
        refresh: () => refreshRotation(ctx), // accord and bare taking turns
        silent10: () => silentReauthorization(ctx), // 10 in flight in one session, as asked
        silent10x10: () => silentReauthorization(ctx, CONNECTIONS, CONNECTIONS), // 10 users, a session each
        silent1: () => silentReauthorization(ctx, 1),
        full: () => fullSignInFlow(ctx),
      };
      for (const [name, flow] of Object.entries(flows)) {
        if (!FLOW_FILTER || FLOW_FILTER.includes(name)) rows.push(...[await flow()].flat());
        // The other redeeming processes are stopped once the last case that redeems is done: the
        // silent and full flows then share the server core with no more processes than before
        // session 13 (an idle server still runs its timers, and V8 collects its heap on its own).
        if (name === redeeming.at(-1)) for (const child of onlyRedeeming) await stopServer(child);
      }
    }

    // The expiry purge under silent /auth (bench/storage.ts, its own PostgreSQL and server): only when asked (BENCH_CASES=storage).
    const storage = GROUPS.has('storage') ? await storageCase((line) => process.stderr.write(line)) : undefined;

    let scale: ScaleResult | undefined;
    let scalePostgres: ScalePostgres | undefined;
    if (SCALE) {
      // On the comparison's own PostgreSQL, pinned like the machine's: the scale database, and a
      // small one seeded as the bench's, queried in alternating rounds with random (user, app)
      // pairs among its users and apps (every user exists; few pairs have a consent row).
      const log = (line: string) => process.stderr.write(line);
      scalePostgres = await startScalePostgres(log);
      cleanup.add('stop the scale PostgreSQL', scalePostgres.stop);
      const pinning = await pinPostgres(scalePostgres.adminUrl, LOAD_CORE);
      cleanup.add('restore the scale PostgreSQL affinity', pinning.restore);
      if (!pinning.pinned) log(`scale comparison: ${pinning.summary}\n`);
      const smallDatabase = `accord_bench_small_${randomBytes(4).toString('hex')}`;
      await adminQuery(scalePostgres.adminUrl, `CREATE DATABASE ${smallDatabase}`);
      const smallPool = createPool(withDatabase(scalePostgres.adminUrl, smallDatabase), () => undefined);
      cleanup.add('close the small database pool', () => smallPool.end());
      await seedBenchDatabase(smallPool, CONNECTIONS);
      const { rows: smallUsers } = await smallPool.query<UserKey>('SELECT tenant_id AS "tenantId", id FROM users');
      const { rows: smallApps } = await smallPool.query<{ client_id: string }>('SELECT client_id FROM apps');
      const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
      const smallPair = (): [UserKey, string] => [pick(smallUsers), pick(smallApps).client_id];
      scale = await runScale(
        scalePostgres.adminUrl,
        SCALE_CALLS,
        log,
        { pool: smallPool, pair: smallPair },
        silentAuthAt,
      );
      const scaleRow = (name: string, stats: LatencyStats): Row => ({
        server: 'pg',
        name,
        rps: stats.perSecond,
        p50: Number(stats.p50.toFixed(2)),
        p99: Number(stats.p99.toFixed(2)),
        peakRssMb: NaN,
        failed: 0,
      });
      const { users, user_consents: consents } = scale.rows;
      const tiny = scale.tinyRows;
      rows.push(
        scaleRow(
          `loadAccess, the bench's seed (${smallUsers.length} users, ${smallApps.length} apps, no user consents)`,
          scale.small!,
        ),
        scaleRow(
          `loadAccess, the scale seed at ${fmt(tiny.users!)} users, ${fmt(tiny.user_consents!)} user_consents`,
          scale.tiny,
        ),
        scaleRow(`loadAccess, ${fmt(users!)} users, ${fmt(consents!)} user_consents`, scale.scale),
        scaleRow(`same, users this process has not met (tenant looked up first)`, scale.unmet),
      );
      if (scale.silent)
        rows.push(
          {
            ...scaleRow(`silent /auth, 1 in flight, on the scale seed at ${fmt(tiny.users!)} users`, scale.silent.tiny),
            server: 'accord',
          },
          {
            ...scaleRow(
              `silent /auth, 1 in flight, on ${fmt(users!)} users, ${fmt(consents!)} user_consents`,
              scale.silent.scale,
            ),
            server: 'accord',
          },
        );
    }
    rows.push(...fastifyRows, ...bareRows);

    const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.arch();
    process.stdout.write(
      `\nAccord bench: ${cores} cores (${cpu}), Node ${process.version}; 1-min load average before the run ${loadBefore.toFixed(1)} ` +
        `(above ~0.5, other processes shared the cores and the figures are low), after ${os.loadavg()[0]!.toFixed(1)}\n` +
        `Cores: servers (accord, fastify, bare) pinned to core ${SERVER_CORE}, load generator (this process) to core ${LOAD_CORE}; ${postgres.summary}\n` +
        `Servers: node ${npmStartNodeFlags().join(' ')} (npm start's V8 flags) --import tsx bench/server.ts\n` +
        `${CONNECTIONS} connections (or workers), ${ROUNDS * ROUND_SECONDS} s per endpoint and server process after ${WARMUP_SECONDS} s warm-up, ` +
        `in ${ROUNDS} rounds in which the servers of an endpoint take turns, each round started by the next; ` +
        `${PROCESSES} process${PROCESSES === 1 ? '' : 'es'} of each server for the protocol endpoints` +
        `${peakResettable ? '; peak RSS per endpoint' : '; peak RSS accumulates over the run (clear_refs not permitted)'}\n` +
        (GROUPS.has('flows')
          ? `Flows: req/s is requests (flows for the full flow) per second, p50/p99 per request (per flow) in ms, from loops of ${CONNECTIONS} in flight; ` +
            `code exchange over ${CODES} pre-minted codes; the full flow runs ${Math.max(DURATION_SECONDS, 10)} s\n`
          : '') +
        (scale
          ? `pg rows: loadAccess (src/db/consents.ts) called ${SCALE_CALLS} times on each database, one at a time from the bench process, ` +
            `in 5 alternating rounds after a warm-up; "req/s" is calls/s; both databases on ${scalePostgres!.summary}. ` +
            `loadAccess names the user's tenant, as a request has it from the account it read; "not met" adds that account's ` +
            `tenant lookup (user_ids), which a request pays once for a user the process does not remember\n`
          : '') +
        '\n',
    );
    printTable(rows);
    if (bareRows.length > 0) printOverhead(rows, fastifyRows, bareRows);
    printFlowCeiling(rows);
    printTargets(rows, scale);
    process.stdout.write(`\nServer RSS when ready, before any load (node --import tsx): ${idle.join(', ')}\n`);
    if (endpointDetails.length > 0)
      process.stdout.write(`\nEndpoints, server CPU:\n${endpointDetails.map((line) => `- ${line}`).join('\n')}\n`);
    if (flowDetails.length > 0)
      process.stdout.write(`\nFlows, measured part:\n${flowDetails.map((line) => `- ${line}`).join('\n')}\n`);
    if (scale) {
      const onEach = (figure: (server: ServerSideStats) => string) =>
        [scale!.scaleServer, scale!.tinyServer, scale!.smallServer]
          .map((server) => (server ? figure(server) : '-'))
          .join(' vs ');
      process.stdout.write(
        `\nScale database: ${Object.entries(scale.rows)
          .map(([table, n]) => `${table} ${fmt(n)}`)
          .join(', ')}; ${scale.sizeMb.toFixed(0)} MB; ` +
          `seeded in ${Object.values(scale.seedSeconds)
            .reduce((a, b) => a + b, 0)
            .toFixed(0)} s (${Object.entries(scale.seedSeconds)
            .map(([step, sec]) => `${step} ${sec.toFixed(1)}`)
            .join(', ')}); ` +
          `calls that found a user consent row: ${scale.found.scale}/${scale.scale.calls} (${fmt(scale.tinyRows.users!)} users: ${scale.found.tiny}/${scale.tiny.calls}; the bench's seed: ${scale.found.small}/${scale.small?.calls})\n` +
          `loadAccess scale/${fmt(scale.tinyRows.users!)} users: ${ratios(scale.scale, scale.tiny)}; ` +
          `scale/the bench's seed: ${scale.small ? ratios(scale.scale, scale.small) : '-'}\n` +
          `PostgreSQL's own time for the query (EXPLAIN ANALYZE of ${scale.scaleServer.execution.calls} random pairs on each), ` +
          `on the scale database, on ${fmt(scale.tinyRows.users!)} users and on the bench's seed: ` +
          `execution p50/p99 ${onEach((server) => ms(server.execution))}; planning ${onEach((server) => ms(server.planning))}; ` +
          `shared buffers per execution ${onEach((server) => server.buffers.toFixed(1))} ` +
          `(read from outside shared_buffers: ${onEach((server) => server.reads.toFixed(2))})\n` +
          `EXPLAIN (ANALYZE, BUFFERS) of one loadAccess on the scale database:\n${scale.plan}\n`,
      );
    }
    if (storage) process.stdout.write(`\n${storage.report}\n`);
    if (rows.some((row) => row.failed > 0)) process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

await main();
