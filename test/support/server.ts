// Starts the real app on a random loopback port against a fresh database cloned from the
// migrated template.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Accord, buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { Clock } from '../../src/core/clock.js';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { listPermissions } from '../../src/db/permissions.js';
import type { Pool } from '../../src/db/pool.js';
import { Directory } from '../../src/services/directory.js';
import { coveredChildEnv, sourceCommand } from './child-env.js';
import { createTestDatabase, repoRoot, type TestDatabase } from './database.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface TestServer {
  url: string;
  config: Config;
  pool: Pool;
  database: TestDatabase;
  accord: Accord;
  directory: Directory;
  close(): Promise<void>;
}

export async function startTestServer(
  env: Record<string, string> = {},
  database?: TestDatabase,
  /** A clock of the test's own, for grant expiry and last use (issue 15). */
  options: { clock?: Clock } = {},
): Promise<TestServer> {
  const db = database ?? (await createTestDatabase());
  // A PORT of the caller's: a server that takes over another's issuer (the same database moved).
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.url,
    ...env,
  });
  const accord = await buildApp(config, { pool: db.pool, ...(options.clock ? { clock: options.clock } : {}) });
  await accord.app.listen({ port, host: '127.0.0.1' });
  const directory = new Directory(db.pool, new PermissionCatalogue(await listPermissions(db.pool)));
  return {
    url: config.issuer,
    config,
    pool: db.pool,
    database: db,
    accord,
    directory,
    close: async () => {
      await accord.app.close();
      if (!database) await db.drop();
    },
  };
}

export interface ServerProcess {
  child: ChildProcess;
  origin: string;
  /** What the process has printed so far (stdout and stderr). */
  output(): string;
  /** Resolves when the process exits, with its code and the time. */
  exited: Promise<{ code: number | null; at: number }>;
  /**
   * Stops it if it still runs, as an operator would (SIGTERM, so that its coverage is written),
   * and waits for it to exit; SIGKILL if it has not exited after `graceMs`.
   */
  kill(graceMs?: number): Promise<void>;
}

/**
 * The real server process (src/server.ts), as an operator starts it, on `databaseUrl` and a free
 * port, with `env` added to its environment; resolves once /readyz answers 200 (or, with
 * `until: 'live'`, once /healthz does: the process listens, its database may not answer yet).
 */
export async function startServerProcess(
  databaseUrl: string,
  env: Record<string, string> = {},
  { until = 'ready' }: { until?: 'ready' | 'live' } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, sourceCommand('src/server.ts'), {
    cwd: repoRoot,
    env: coveredChildEnv({
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, at: Date.now() })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  const kill = async (graceMs = 10_000) => {
    if (running()) child.kill('SIGTERM');
    const timer = setTimeout(() => running() && child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  // Generous: under the test runner's TypeScript loader a start on a busy machine takes a while.
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      await kill(0);
      throw new Error(`server not ready after 90 s:\n${output}`);
    }
    try {
      const probe = until === 'ready' ? '/readyz' : '/healthz';
      if ((await fetch(`${origin}${probe}`, { signal: AbortSignal.timeout(2_000) })).status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return { child, origin, output: () => output, exited, kill };
}
