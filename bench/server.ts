// The server side of `npm run bench` (bench/run.ts starts it pinned to one core):
//   node --import tsx bench/server.ts accord <database url> <port>
//     Accord as `npm start` builds it (buildApp), plus one bench-only route scope,
//     /bench/no-revocation/data/v1, serving the same data API with the same token checks but no
//     revocation lookup, so the cost of that lookup can be measured in the same process; and
//     GET /bench/stats, the number of SQL statements the server has sent so far.
//   node --import tsx bench/server.ts bare <database url> <port>
//     The same oidc-provider configuration (configuredProvider, same keys and adapter) served by
//     node:http with no Fastify around it: the baseline for discovery, /jwks and /token; with
//     GET /bench/stats as in accord mode. An optional fourth argument sets its issuer: given
//     Accord's, it redeems the codes and refresh tokens Accord minted (the flows' bare rows).
//   node --import tsx bench/server.ts fastify <database url> <port>
//     That provider served ahead of a plain Fastify (protocolServerFactory, no logger, none of Accord's plugins
//     or routes): separates the cost of Fastify itself from the cost of what Accord adds.
// SIGN_IN_RATE_LIMIT defaults to 1000000 here (the bench signs in far more often than a person).
// Prints `ready` on stdout once listening; exits on SIGTERM.

import { createServer } from 'node:http';
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
// through Client#query); `GET /bench/stats` (accord mode) returns the count, so the bench can
// report statements per request.
let statements = 0;
const byText = new Map<string, number>();
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  statements++;
  const first = args[0];
  const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '?');
  const key = text.replace(/\s+/g, ' ').trim().slice(0, 90);
  byText.set(key, (byText.get(key) ?? 0) + 1);
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof clientQuery;

const stats = () => ({ statements, byText: Object.fromEntries(byText) });

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
    await app.listen({ port, host: '127.0.0.1' });
    close = () => app.close();
  } else {
    const callback = provider.callback();
    const server = createServer((request, response) => {
      if (request.url !== '/bench/stats') return callback(request, response);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(stats()));
    });
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
