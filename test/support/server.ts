// Starts the real app on a random loopback port against a fresh database cloned from the
// migrated template.
import { createServer } from 'node:net';
import { buildApp, type Accord } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { listPermissions } from '../../src/db/permissions.js';
import type { Pool } from '../../src/db/pool.js';
import { Directory } from '../../src/services/directory.js';
import { createTestDatabase, type TestDatabase } from './database.js';

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

export async function startTestServer(env: Record<string, string> = {}, database?: TestDatabase): Promise<TestServer> {
  const db = database ?? (await createTestDatabase());
  const port = await freePort();
  const config = loadConfig({ PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`, LOG_LEVEL: 'silent', DATABASE_URL: db.url, ...env });
  const accord = await buildApp(config, { pool: db.pool });
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
