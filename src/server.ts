// The only file that listens: configuration, database (embedded when DATABASE_URL is unset),
// migrations, then the app; graceful shutdown on SIGTERM/SIGINT.

import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { purgeExpiredDpopProofs } from './db/dpop-proofs.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded-postgres.js';
import { migrate } from './db/migrate.js';
import { purgeExpiredModels } from './db/oidc-models.js';
import { createPool, type Pool } from './db/pool.js';
import { purgeEndedRateLimitWindows } from './db/rate-limits.js';
import { seedDemoIfEmpty } from './services/demo-seed.js';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;

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

  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir });
    databaseUrl = embedded.url; // stopped last by the shutdown below, after in-flight requests
  }
  // An idle connection the database drops (a restart: 57P01) is logged by the app's logger, as
  // JSON, once the app exists; during the migrations before it, as one line on stderr.
  let log: FastifyBaseLogger | undefined;
  const pool: Pool = createPool(databaseUrl, (error) => {
    if (log) log.warn({ err: error }, 'idle database connection lost');
    else process.stderr.write(`accord: idle database client error: ${error.message}\n`);
  });
  await migrate(pool);
  if (config.seedDemo || embedded) {
    const seeded = await seedDemoIfEmpty(pool, config);
    if (seeded) process.stdout.write(seeded);
  }

  const { app, drain } = await buildApp(config, { pool });
  log = app.log;
  const purge = setInterval(() => {
    Promise.all([purgeExpiredModels(pool), purgeExpiredDpopProofs(pool), purgeEndedRateLimitWindows(pool)]).catch(
      (error: unknown) => app.log.warn({ err: error }, 'purging expired rows failed'),
    );
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

  await app.listen({ port: config.port, host: config.host });
  app.log.info(
    { issuer: config.issuer, database: embedded ? `embedded (${config.dataDir})` : 'DATABASE_URL' },
    'Accord is ready',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`accord: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
