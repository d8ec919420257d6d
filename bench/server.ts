// The server side of `npm run bench` (bench/run.ts starts it pinned to one core):
//   node --import tsx bench/server.ts accord <database url> <port>
//     Accord as `npm start` builds it (buildApp), plus one bench-only route scope,
//     /bench/no-revocation/data/v1, serving the same data API with the same token checks but no
//     revocation lookup, so the cost of that lookup can be measured in the same process; and
//     GET /bench/stats: the SQL statements the server has sent so far, its GC pauses, and with
//     BENCH_SERVER_TIMING=1 the requests' time inside it (see below).
//   node --import tsx bench/server.ts bare <database url> <port>
//     The same oidc-provider configuration (configuredProvider, same keys and adapter) served by
//     node:http with no Fastify around it: the baseline for discovery, /jwks and /token; with
//     GET /bench/stats as in accord mode. An optional fourth argument sets its issuer: given
//     Accord's, it redeems the codes and refresh tokens Accord minted (the flows' bare rows).
//   node --import tsx bench/server.ts fastify <database url> <port>
//     That provider served ahead of a plain Fastify (protocolServerFactory, no logger, none of
//     Accord's plugins or routes; GET /bench/stats as in accord mode): separates the cost of
//     Fastify itself from the cost of what Accord adds.
// SIGN_IN_RATE_LIMIT defaults to 1000000 here (the bench signs in far more often than a person).
// Prints `ready` on stdout once listening; exits on SIGTERM.

import { createServer } from 'node:http';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { buildApp, configuredProvider } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { resourceIndicators } from '../src/provider/create-provider.js';
import { createLocalKeyResolver } from '../src/provider/local-jwks.js';
import { protocolServerFactory } from '../src/provider/protocol-server.js';
import { dataApiRoutes } from '../src/routes/data-api.js';
import { SampleData } from '../src/services/sample-data.js';
import { percentile } from './scale.js';

const [mode, databaseUrl, portArg, issuerArg] = process.argv.slice(2);
if ((mode !== 'accord' && mode !== 'bare' && mode !== 'fastify') || !databaseUrl || !portArg) {
  process.stderr.write('usage: bench/server.ts accord|bare|fastify <database url> <port> [issuer]\n');
  process.exit(64);
}
const port = Number(portArg);
const config = loadConfig({
  PORT: String(port),
  HOST: '127.0.0.1',
  ISSUER: issuerArg ?? `http://127.0.0.1:${port}`,
  LOG_LEVEL: 'silent',
  DATABASE_URL: databaseUrl,
  // The full-flow case signs in ~50 times a second from one address.
  SIGN_IN_RATE_LIMIT: process.env.SIGN_IN_RATE_LIMIT ?? '1000000',
});
const pool = createPool(databaseUrl, () => undefined);

// Counts the SQL statements the server sends (every pool.query and transaction statement goes
// through Client#query); `GET /bench/stats` returns the count, so the bench can report
// statements per request. Counted by the statement's exact text (the same string object
// each time), and shortened only when read: the count must cost the server next to nothing.
const timing = process.env.BENCH_SERVER_TIMING === '1';
const statementTimes: [text: string, ms: number][] = [];
let statements = 0;
const byText = new Map<string, number>();
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  statements++;
  const first = args[0];
  const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '?');
  byText.set(text, (byText.get(text) ?? 0) + 1);
  if (!timing) return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  // BENCH_SERVER_TIMING: how long each statement took, from sending it to its result.
  const sent = performance.now();
  const done = () => statementTimes.push([text, performance.now() - sent]);
  const callback = args.at(-1);
  if (typeof callback === 'function')
    args[args.length - 1] = (...result: unknown[]) => {
      done();
      return (callback as (...a: unknown[]) => unknown)(...result);
    };
  const returned = (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  if (returned instanceof Promise) returned.then(done, done);
  return returned;
} as typeof clientQuery;

// Garbage collection's pauses, as V8 reports them: how many, how long in all, the longest, and
// how many took 10 ms or more (a pause stops every request in flight); the longest since the
// previous read of the stats, so that a bench case reads its own.
const gc = { pauses: 0, totalMs: 0, longestMs: 0, atLeast10Ms: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.pauses++;
    gc.totalMs += entry.duration;
    gc.longestMs = Math.max(gc.longestMs, entry.duration);
    if (entry.duration >= 10) gc.atLeast10Ms++;
  }
}).observe({ entryTypes: ['gc'] });

// BENCH_SERVER_TIMING=1: each request's time inside this server (from its arrival to the last
// byte of its answer handed to the socket) and the event loop's delays, since the previous read of
// the stats. They tell a latency tail that is the server's own (its work, a pause, a statement it
// waits for) from one that is outside it (the load generator, the network, the scheduler).
// Off by default: the listener costs every request a little.
const serverTimes: number[] = [];
const loopDelay = timing ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
loopDelay?.enable();
function timeRequests(server: import('node:http').Server): void {
  if (!loopDelay) return;
  server.prependListener('request', (request, response) => {
    if (request.url === '/bench/stats') return;
    const arrived = performance.now();
    response.once('finish', () => serverTimes.push(performance.now() - arrived));
  });
}
function timingSinceLastRead() {
  if (!loopDelay) return undefined;
  const sorted = serverTimes.splice(0).sort((a, b) => a - b);
  const at = (p: number) => (sorted.length > 0 ? percentile(sorted, p) : 0);
  // The statements whose slowest took 10 ms or more: how many of them did, and the slowest.
  const slowStatements: Record<string, { over10Ms: number; maxMs: number; count: number }> = {};
  for (const [text, ms] of statementTimes.splice(0)) {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 60);
    const entry = slowStatements[key] ?? { over10Ms: 0, maxMs: 0, count: 0 };
    slowStatements[key] = entry;
    entry.count++;
    entry.maxMs = Math.max(entry.maxMs, ms);
    if (ms >= 10) entry.over10Ms++;
  }
  for (const [key, entry] of Object.entries(slowStatements)) if (entry.over10Ms === 0) delete slowStatements[key];
  const read = {
    requests: sorted.length,
    p50Ms: at(50),
    p99Ms: at(99),
    maxMs: sorted.at(-1) ?? 0,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    slowStatements,
  };
  loopDelay.reset();
  return read;
}

function stats() {
  const shortened: Record<string, number> = {};
  for (const [text, n] of byText) {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 90);
    shortened[key] = (shortened[key] ?? 0) + n;
  }
  const read = { statements, byText: shortened, gc: { ...gc }, timing: timingSinceLastRead() };
  gc.longestMs = 0;
  return read;
}

let close: () => Promise<void>;
if (mode === 'accord') {
  const { app } = await buildApp(config, { pool });
  const resources = resourceIndicators(config.issuer);
  await app.register(dataApiRoutes, {
    prefix: '/bench/no-revocation/data/v1',
    sampleData: new SampleData(pool),
    resourceServer: { issuer: config.issuer, audience: resources.data, keys: await createLocalKeyResolver(pool) },
  });
  app.get('/bench/stats', async () => stats());
  timeRequests(app.server);
  await app.listen({ port, host: '127.0.0.1' });
  close = () => app.close();
} else {
  // The provider exactly as buildApp configures it.
  const { provider } = await configuredProvider(config, pool);
  if (mode === 'fastify') {
    const app = Fastify({
      logger: false,
      serverFactory: protocolServerFactory(provider, (): FastifyBaseLogger => app.log),
    });
    app.get('/bench/stats', async () => stats());
    await app.listen({ port, host: '127.0.0.1' });
    close = () => app.close();
  } else {
    const callback = provider.callback();
    const server = createServer((request, response) => {
      if (request.url !== '/bench/stats') return callback(request, response);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(stats()));
    });
    timeRequests(server);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    close = () => new Promise((resolve) => server.close(() => resolve()));
  }
}

process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void close()
    .then(() => pool.end())
    .finally(() => process.exit(0));
});
