// The only file that listens: configuration, database (embedded when DATABASE_URL is unset),
// migrations, then the app; graceful shutdown on SIGTERM/SIGINT. Until the app is ready, a
// holding server on the same port answers 503 (so a database that is not up yet is waited for,
// with /readyz saying so, rather than ending the process).

import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { DatabaseUnavailable, RETRY_AFTER_SECONDS } from './core/errors.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded-postgres.js';
import { migrate } from './db/migrate.js';
import { createPool, type Pool, retryWhileUnavailable } from './db/pool.js';
import { pickLocale } from './plugins/i18n.js';
import { createEta, pageRenderer } from './plugins/views.js';
import { seedDemoIfEmpty } from './services/demo-seed.js';
import { ExpiryPurge } from './services/expiry-purge.js';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;

const STARTING = {
  error: 'temporarily_unavailable',
  error_description: 'Accord is starting: the database is not reachable yet.',
};

/**
 * Listens at once, before the database is reached: liveness (`/healthz`) is 200, everything else
 * is 503 with Retry-After — readiness, the protocol endpoints and the APIs as JSON, a browser's
 * page as the `unavailable` page in its language. Closed when the app takes over the port.
 */
async function listenWhileStarting(config: Config): Promise<Server> {
  const renderPage = pageRenderer(createEta());
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    response.setHeader('cache-control', 'no-store');
    response.setHeader('x-content-type-options', 'nosniff');
    response.setHeader('connection', 'close'); // the app, once up, is a new listener
    if (request.method === 'GET' && path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify({ status: 'ok' }));
      return;
    }
    response.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
    if (path !== '/readyz' && /\btext\/html\b/.test(request.headers.accept ?? '')) {
      const locale = pickLocale({ acceptLanguage: request.headers['accept-language'] });
      renderPage('unavailable', { retry: request.method === 'GET' }, locale).then(
        (html) => {
          response.writeHead(503, {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': "default-src 'none'; style-src 'self'; frame-ancestors 'none'",
          });
          response.end(html);
        },
        () => response.writeHead(503).end(),
      );
      return;
    }
    response.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
    response.end(JSON.stringify(STARTING));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  return server;
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`accord: configuration error: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }

  // The app's logger exists once the app does; until then, the same JSON lines through pino.
  const startLog: FastifyBaseLogger = pino({ level: config.logLevel });
  const starting = await listenWhileStarting(config);
  // Where the app listens: the port the holding server got (PORT=0 picks one).
  const port = (starting.address() as AddressInfo).port;
  // A signal while starting ends the wait and the process.
  const startAborted = new AbortController();
  const stopStarting = () => startAborted.abort();
  process.once('SIGTERM', stopStarting);
  process.once('SIGINT', stopStarting);

  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir });
    databaseUrl = embedded.url; // stopped last by the shutdown below, after in-flight requests
  }
  // An idle connection the database drops (a restart: 57P01) is logged by the app's logger, as
  // JSON, once the app exists; during the start, by the start's logger.
  let log: FastifyBaseLogger = startLog;
  const pool: Pool = createPool(databaseUrl, (error) => log.warn({ err: error }, 'idle database connection lost'));
  try {
    // Migrating is the first use of the database: tried again while it is not up yet.
    await retryWhileUnavailable(() => migrate(pool), {
      timeoutMs: config.databaseStartupTimeoutMs,
      signal: startAborted.signal,
      onRetry: (error, attempt, delayMs) =>
        startLog.warn({ err: error.cause, attempt, retryInMs: delayMs }, 'database not reachable yet; retrying'),
    });
  } catch (error) {
    await Promise.all([closeServer(starting), pool.end().catch(() => undefined)]);
    await embedded?.stop();
    if (startAborted.signal.aborted) process.exit(0);
    if (error instanceof DatabaseUnavailable) {
      const seconds = config.databaseStartupTimeoutMs / 1000;
      throw new Error(
        `the database did not answer within ${seconds} s (DATABASE_STARTUP_TIMEOUT_MS): ${(error.cause as Error).message}`,
      );
    }
    throw error;
  }
  if (config.seedDemo || embedded) {
    const seeded = await seedDemoIfEmpty(pool, config);
    if (seeded) process.stdout.write(seeded);
  }

  const { app, drain } = await buildApp(config, { pool });
  log = app.log;
  process.off('SIGTERM', stopStarting);
  process.off('SIGINT', stopStarting);
  // The expiry purge, one round at a time (a round still running when the next is due is left to
  // finish); a shutdown stops it between batches.
  const expiryPurge = new ExpiryPurge(pool);
  const stopPurge = new AbortController();
  let purging = false;
  const purge = setInterval(() => {
    if (purging) return;
    purging = true;
    expiryPurge
      .run(stopPurge.signal)
      .then((round) => {
        if (round.lockedOut.length > 0)
          app.log.info({ lockedOut: round.lockedOut }, 'expiry purge: rows locked, left for the next round');
      })
      .catch((error: unknown) => app.log.warn({ err: error }, 'purging expired rows failed'))
      .finally(() => {
        purging = false;
      });
  }, PURGE_INTERVAL_MS);
  purge.unref();

  // Every open connection, so that the shutdown can end those that never sent a byte (a browser's
  // preconnect, a balancer's warm pool): Node's closeIdleConnections() leaves them open, and they
  // would hold the close up for as long as their client keeps them.
  const connections = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  const closeUnusedConnections = () => {
    app.server.closeIdleConnections();
    for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
  };

  let stopping = false;
  const graceCut = new AbortController();
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) {
      graceCut.abort(); // a second signal ends the grace at once
      return;
    }
    stopping = true;
    clearInterval(purge);
    stopPurge.abort();
    // SIGTERM (an orchestrator, a load balancer's drain): /readyz answers 503 for the grace while
    // every request is still served, so that the balancer stops sending before the listener
    // closes. SIGINT (Ctrl-C) stops at once.
    drain();
    const graceMs = signal === 'SIGTERM' ? config.shutdownGraceMs : 0;
    app.log.info({ signal, graceMs }, 'shutting down: not ready (503 at /readyz), still serving for the grace');
    await sleep(graceMs, undefined, { signal: graceCut.signal }).catch(() => undefined);
    app.log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    // app.close() closes idle keep-alive connections once, when it starts; a connection whose
    // request is still in flight would stay open after its response until the keep-alive timeout
    // (72 s) and hold up the exit. Close each one as soon as its response has been sent, and every
    // connection that has sent nothing.
    const closeIdle = setInterval(closeUnusedConnections, 100);
    try {
      await app.close(); // stops accepting, waits for in-flight requests
      clearInterval(closeIdle);
      await pool.end();
      await embedded?.stop();
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // The holding server hands the port over: between its close and the app's listen (a moment),
  // a connection is refused, as before any start.
  await closeServer(starting);
  if (startAborted.signal.aborted) return shutdown('SIGINT'); // signalled while the app was being built
  await app.listen({ port, host: config.host });
  app.log.info(
    { issuer: config.issuer, database: embedded ? `embedded (${config.dataDir})` : 'DATABASE_URL' },
    'Accord is ready',
  );
}

main().catch((error: unknown) => {
  const reason = error instanceof Error ? error.message : String(error);
  process.stderr.write(`accord: failed to start: ${reason}\n`);
  process.exit(1);
});
