// The RSS soak (issue #7: "RSS during the runs < 200 MB, flat over a 10-minute soak"):
//   node --import tsx bench/soak.ts          BENCH_SOAK_SECONDS (default 600) of load
// Builds the server (`npm run build`; BENCH_SOAK_BUILD=0 uses the dist/ already there), creates a
// fresh database as bench/run.ts does, starts the production entry `node dist/server.js` pinned to
// core 0 (the node process itself, so /proc/<pid> is the server's), and drives a mixed load from
// this process on core 1 (PostgreSQL pinned there too): client_credentials tokens, the data API's
// /me with a user's token, discovery and /jwks, silent /auth with the code exchanged, and a full
// sign-in flow every few seconds. Samples the server's VmRSS every 5 s and prints a verdict
// against the target. Cleans up (server, database, PostgreSQL's affinity) on the way out, Ctrl-C
// included. Never part of `npm test`.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool } from '../src/db/pool.js';
import type { Browser } from '../test/support/browser.js';
import { REDIRECT_URI, relyingParty } from '../test/support/flows.js';
import type { TestServer } from '../test/support/server.js';
import { signedInBrowser, signInAndRedeem, silentAuthorization, type Target, tokenRequest } from './flows.js';
import { percentile } from './scale.js';
import {
  adminQuery,
  beginRun,
  cpuSeconds,
  freePort,
  LOAD_CORE,
  npmStartNodeFlags,
  rssMb,
  SERVER_CORE,
  seedBenchDatabase,
  stopServer,
  userAccessToken,
  withDatabase,
} from './support.js';

const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const BUILD = process.env.BENCH_SOAK_BUILD !== '0';
const SAMPLE_SECONDS = 5;
const WORKERS = 10;
/** Silent /auth runs in this many signed-in sessions (users user0…). */
const SESSIONS = 2;
// Full sign-in flows: 15 a minute, under the production default of 30 sign-ins per minute per
// client address (SIGN_IN_RATE_LIMIT; everything here comes from 127.0.0.1).
const FLOW_INTERVAL_MS = 4_000;
const RSS_LIMIT_MB = 200;
const FLAT_SLOPE_MB_PER_MIN = 1;
const FLAT_FINAL_WITHIN = 0.1;
const SCOPE = 'openid User.Read';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The closed-loop mix, per round of 9: what a deployment mostly serves is tokens and API calls. */
const MIX = [
  ['client_credentials', 3],
  ['me', 3],
  ['discovery', 1],
  ['jwks', 1],
  ['silent', 1],
] as const;
type MixKind = (typeof MIX)[number][0];
const SCHEDULE: MixKind[] = MIX.flatMap(([kind, weight]) => Array<MixKind>(weight).fill(kind));

const LABELS = {
  client_credentials: 'POST /token client_credentials',
  me: 'GET /data/v1/me (user token)',
  discovery: 'GET discovery',
  jwks: 'GET /jwks',
  silent: 'GET /auth silent → 303 with code',
  exchange: 'POST /token authorization_code',
  flow: 'full sign-in flow (/auth, login, code, /token)',
} as const;
type Kind = keyof typeof LABELS;

interface Tally {
  latencies: number[];
  failed: number;
  firstError?: string;
}

interface Sample {
  minutes: number;
  mb: number;
}

const tallies = Object.fromEntries(
  Object.keys(LABELS).map((kind) => [kind, { latencies: [], failed: 0 } as Tally]),
) as Record<Kind, Tally>;

/** Times one request (or flow); any error — a status other than the expected one included — is a failure. */
async function timed<T>(kind: Kind, work: () => Promise<T>): Promise<T | undefined> {
  const t0 = performance.now();
  try {
    const result = await work();
    tallies[kind].latencies.push(performance.now() - t0);
    return result;
  } catch (error) {
    tallies[kind].failed++;
    tallies[kind].firstError ??= error instanceof Error ? error.message : String(error);
    return undefined;
  }
}

async function expectOk(response: Response, what: string): Promise<string> {
  const body = await response.text();
  if (response.status !== 200) throw new Error(`${what}: ${response.status} ${body.slice(0, 200)}`);
  return body;
}

/** Least-squares slope of MB against minutes. */
function slope(samples: Sample[]): number {
  const n = samples.length;
  const mx = samples.reduce((sum, s) => sum + s.minutes, 0) / n;
  const my = samples.reduce((sum, s) => sum + s.mb, 0) / n;
  const sxy = samples.reduce((sum, s) => sum + (s.minutes - mx) * (s.mb - my), 0);
  const sxx = samples.reduce((sum, s) => sum + (s.minutes - mx) ** 2, 0);
  return sxx === 0 ? NaN : sxy / sxx;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Starts `node dist/server.js` on SERVER_CORE with the production entry's environment; resolves
 * once /readyz answers 200 (/healthz is 200 from the first moment, while the database is still
 * being reached and everything else answers 503).
 */
async function startServer(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // taskset execs node in place: child.pid is the server's own pid (checked below).
  const child = spawn('taskset', ['-c', SERVER_CORE, process.execPath, ...npmStartNodeFlags(), 'dist/server.js'], {
    cwd: root,
    env: {
      ...process.env,
      // No loader (tsx) in the server under test; BENCH_SOAK_NODE_OPTIONS (e.g. V8 heap flags) instead.
      NODE_OPTIONS: process.env.BENCH_SOAK_NODE_OPTIONS,
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: url,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      SEED_DEMO: 'false',
      // The drain before closing (default 5 s) would meet stopServer's SIGKILL at 5 s.
      SHUTDOWN_GRACE_MS: '1000',
    },
    // The server's log (warnings and errors only) goes to this process's stderr.
    stdio: ['ignore', 2, 2],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`node dist/server.js exited with ${child.exitCode} before it was ready`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error('node dist/server.js was not ready (/readyz) within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const exe = readlinkSync(`/proc/${child.pid}/exe`);
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  if (exe !== realpathSync(process.execPath) || !cmdline.includes('dist/server.js')) {
    throw new Error(
      `pid ${child.pid} is \`${cmdline}\` (${exe}), not node dist/server.js: its RSS would not be the server's`,
    );
  }
  return { child, url };
}

function build(): void {
  if (!BUILD) {
    if (!existsSync(path.join(root, 'dist/server.js')))
      throw new Error('dist/server.js is missing: run `npm run build` first (or leave BENCH_SOAK_BUILD unset)');
    process.stderr.write('BENCH_SOAK_BUILD=0: using dist/ as it is\n');
    return;
  }
  process.stderr.write('npm run build (BENCH_SOAK_BUILD=0 skips it)…\n');
  try {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  } catch {
    throw new Error('`npm run build` failed (above): the soak measures the compiled server, dist/server.js');
  }
}

async function main(): Promise<void> {
  const cores = os.availableParallelism(); // before pinning: afterwards this process sees one core
  if (cores < 2)
    throw new Error(
      `the soak needs 2 cores: the server on core ${SERVER_CORE}, the load and PostgreSQL on core ${LOAD_CORE}`,
    );
  build();
  const loadBefore = os.loadavg()[0]!;
  const { cleanup, adminUrl, postgres } = await beginRun();

  const database = `accord_bench_${randomBytes(4).toString('hex')}`;
  let server: { child: ChildProcess; url: string } | undefined;
  try {
    await adminQuery(adminUrl, `CREATE DATABASE ${database}`);
    cleanup.add(`drop database ${database}`, () =>
      adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
    );
    const databaseUrl = withDatabase(adminUrl, database);
    // Seeded before the server starts (its own migration run is then a no-op).
    const pool = createPool(databaseUrl, () => undefined);
    let seeded: Awaited<ReturnType<typeof seedBenchDatabase>>;
    try {
      seeded = await seedBenchDatabase(pool, Math.max(SESSIONS, 10));
    } finally {
      await pool.end();
    }

    let exit: string | undefined;
    cleanup.add('stop the server', async () => {
      if (!server) return;
      const started = performance.now();
      await stopServer(server.child);
      exit ??= `server stopped (SIGTERM) in ${((performance.now() - started) / 1000).toFixed(1)} s, exit code ${server.child.exitCode ?? server.child.signalCode}`;
    });
    server = await startServer(databaseUrl);
    const { url } = server;
    const pid = server.child.pid!;
    const readyMb = rssMb(pid, 'VmRSS');

    // A user's token through the real flow (as bench/run.ts); renewed by every code exchange of
    // the mix below, since an access token lives 10 minutes.
    let userToken = await userAccessToken(url, seeded.app, seeded.alice);
    const target: Target = {
      url,
      app: await relyingParty({ url } as TestServer, seeded.flowsApp.clientId, seeded.flowsApp.clientSecret),
      basic: seeded.flowsApp.basic,
    };
    const browsers: Browser[] = [];
    for (let i = 0; i < SESSIONS; i++) browsers.push(await signedInBrowser(target, seeded.users[i]!, SCOPE));
    const clientCredentials = new URLSearchParams({
      grant_type: 'client_credentials',
      resource: `${url}/data/v1`,
      scope: 'User.Read',
    }).toString();

    const run: Record<MixKind, () => Promise<unknown>> = {
      client_credentials: () =>
        timed('client_credentials', async () => {
          const body = await expectOk(
            await fetch(`${url}/token`, {
              method: 'POST',
              headers: { authorization: seeded.app.basic, 'content-type': 'application/x-www-form-urlencoded' },
              body: clientCredentials,
            }),
            '/token client_credentials',
          );
          if (!(JSON.parse(body) as { access_token?: string }).access_token)
            throw new Error('/token client_credentials: no access_token');
        }),
      me: () =>
        timed('me', async () =>
          expectOk(
            await fetch(`${url}/data/v1/me`, { headers: { authorization: `Bearer ${userToken}` } }),
            '/data/v1/me',
          ),
        ),
      discovery: () =>
        timed('discovery', async () => expectOk(await fetch(`${url}/.well-known/openid-configuration`), 'discovery')),
      jwks: () => timed('jwks', async () => expectOk(await fetch(`${url}/jwks`), '/jwks')),
      silent: async () => {
        const minted = await timed('silent', () =>
          silentAuthorization(target, browsers[Math.floor(Math.random() * SESSIONS)]!, SCOPE),
        );
        if (!minted) return;
        const tokens = await timed('exchange', () =>
          tokenRequest(target, {
            grant_type: 'authorization_code',
            code: minted.code,
            redirect_uri: REDIRECT_URI,
            code_verifier: minted.verifier,
          }),
        );
        if (typeof tokens?.access_token === 'string') userToken = tokens.access_token;
      },
    };

    // The load, and the RSS samples every SAMPLE_SECONDS from its start.
    const samples: Sample[] = [];
    const started = performance.now();
    const minutes = () => (performance.now() - started) / 60_000;
    const sample = () => samples.push({ minutes: minutes(), mb: rssMb(pid, 'VmRSS') });
    const served = () => Object.values(tallies).reduce((sum, tally) => sum + tally.latencies.length + tally.failed, 0);
    const cpuBefore = cpuSeconds(pid);
    const ownCpuBefore = process.cpuUsage();
    sample();
    const sampler = setInterval(() => {
      sample();
      if (samples.length % 6 === 1) {
        const last = samples[samples.length - 1]!;
        process.stderr.write(
          `  ${last.minutes.toFixed(1)} min: RSS ${last.mb.toFixed(0)} MB, ${served()} requests/flows so far, load average ${os.loadavg()[0]!.toFixed(1)}\n`,
        );
      }
    }, SAMPLE_SECONDS * 1000);
    const deadline = started + SOAK_SECONDS * 1000;
    let next = 0;
    const worker = async () => {
      while (performance.now() < deadline) await run[SCHEDULE[next++ % SCHEDULE.length]!]();
    };
    let flowUser = 0;
    const flows = async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await timed('flow', () => signInAndRedeem(target, seeded.users[flowUser++ % seeded.users.length]!));
        await new Promise((resolve) =>
          setTimeout(
            resolve,
            Math.max(0, Math.min(FLOW_INTERVAL_MS - (performance.now() - t0), deadline - performance.now())),
          ),
        );
      }
    };
    await Promise.all([...Array.from({ length: WORKERS }, worker), flows()]);
    clearInterval(sampler);
    sample();
    const seconds = (performance.now() - started) / 1000;
    const serverCpu = cpuSeconds(pid) - cpuBefore;
    const ownCpu = process.cpuUsage(ownCpuBefore);
    const peakMb = rssMb(pid, 'VmHWM');
    const loadAfter = os.loadavg()[0]!;
    await cleanup.run();

    // The report.
    const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.arch();
    const out: string[] = [];
    out.push(
      `\nAccord RSS soak: ${cores} cores (${cpu}), Node ${process.version}; 1-min load average before ${loadBefore.toFixed(1)}, after ${loadAfter.toFixed(1)}`,
      `Cores: server (node dist/server.js, pid ${pid}) pinned to core ${SERVER_CORE}, load generator (this process) to core ${LOAD_CORE}; ${postgres.summary}`,
      `Load: ${seconds.toFixed(0)} s; ${WORKERS} workers, one request in flight each, round robin over ${SCHEDULE.length}: ` +
        `${MIX.map(([kind, weight]) => `${weight}× ${kind}`).join(', ')} (silent = /auth in one of ${SESSIONS} signed-in sessions, then the code exchanged; ` +
        `its access token becomes /me's); plus one full sign-in flow every ${FLOW_INTERVAL_MS / 1000} s (argon2id), users round robin`,
      '',
      '| kind | served | per s | p50 ms | p99 ms | failed |',
      '|------|-------:|------:|-------:|-------:|-------:|',
    );
    for (const [kind, label] of Object.entries(LABELS) as [Kind, string][]) {
      const tally = tallies[kind];
      const sorted = [...tally.latencies].sort((a, b) => a - b);
      out.push(
        `| ${label} | ${sorted.length} | ${(sorted.length / seconds).toFixed(1)} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${tally.failed} |`,
      );
    }
    const failures = Object.entries(tallies).filter(([, tally]) => tally.failed > 0);
    for (const [kind, tally] of failures) out.push(`  ${LABELS[kind as Kind]}: first failure: ${tally.firstError}`);
    const total = served();
    out.push(
      `Total: ${total} requests/flows (${(total / seconds).toFixed(0)}/s); server core busy ${Math.round((100 * serverCpu) / seconds)} %, ` +
        `load generator ${Math.round((ownCpu.user + ownCpu.system) / 1e4 / seconds)} % of its core (shared with PostgreSQL); ${exit ?? 'server not stopped'}`,
    );

    const all = samples.map((s) => s.mb);
    const secondHalf = samples.filter((s) => s.minutes >= seconds / 60 / 2);
    const halfSlope = slope(secondHalf);
    const halfMedian = median(secondHalf.map((s) => s.mb));
    const final = samples[samples.length - 1]!.mb;
    const finalOff = (final - halfMedian) / halfMedian;
    out.push(
      '',
      `RSS (VmRSS of pid ${pid}, every ${SAMPLE_SECONDS} s): when ready ${readyMb.toFixed(0)} MB; at the start of the load ${samples[0]!.mb.toFixed(0)} MB; ` +
        `min ${Math.min(...all).toFixed(0)}, max ${Math.max(...all).toFixed(0)}, final ${final.toFixed(0)} MB; peak over the process's life (VmHWM) ${peakMb.toFixed(0)} MB`,
      `Second half (from ${(seconds / 60 / 2).toFixed(1)} min, ${secondHalf.length} samples): slope ${halfSlope >= 0 ? '+' : ''}${halfSlope.toFixed(2)} MB/min (least squares), ` +
        `median ${halfMedian.toFixed(0)} MB, final ${finalOff >= 0 ? '+' : ''}${(100 * finalOff).toFixed(1)} % of the median`,
      `Samples (MB, one line a minute):`,
    );
    for (let i = 0; i < samples.length; i += 60 / SAMPLE_SECONDS) {
      out.push(
        `  ${samples[i]!.minutes.toFixed(1).padStart(4)} min: ${samples
          .slice(i, i + 60 / SAMPLE_SECONDS)
          .map((s) => s.mb.toFixed(0))
          .join(' ')}`,
      );
    }
    const under = peakMb < RSS_LIMIT_MB;
    const flat = halfSlope < FLAT_SLOPE_MB_PER_MIN && Math.abs(finalOff) <= FLAT_FINAL_WITHIN;
    const reasons = [
      ...(under ? [] : [`peak ${peakMb.toFixed(0)} MB ≥ ${RSS_LIMIT_MB} MB`]),
      ...(halfSlope < FLAT_SLOPE_MB_PER_MIN
        ? []
        : [`second-half slope ${halfSlope.toFixed(2)} ≥ ${FLAT_SLOPE_MB_PER_MIN} MB/min`]),
      ...(Math.abs(finalOff) <= FLAT_FINAL_WITHIN
        ? []
        : [`final ${(100 * finalOff).toFixed(1)} % off the second half's median`]),
    ];
    out.push(
      `Rule: RSS < ${RSS_LIMIT_MB} MB (the peak, VmHWM) and flat: over the second half of the load, least-squares slope < ${FLAT_SLOPE_MB_PER_MIN} MB/min ` +
        `and the final sample within ${100 * FLAT_FINAL_WITHIN} % of the second half's median` +
        (SOAK_SECONDS < 600 ? ` (the target is for a 10-minute soak; this one ran ${SOAK_SECONDS} s)` : ''),
      `Verdict: ${under && flat ? 'PASS' : `FAIL (${reasons.join('; ')})`}${failures.length ? `; ${failures.length} kind(s) had failed requests` : ''}`,
    );
    process.stdout.write(`${out.join('\n')}\n`);
    if (!(under && flat) || failures.length > 0) process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

await main();
