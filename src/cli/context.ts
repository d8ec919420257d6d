// What every command works on: the database chosen exactly as the server chooses it (DATABASE_URL,
// else the embedded PostgreSQL in DATA_DIR), migrated, and the Directory over it.
import { type Config, loadConfig } from '../config.js';
import { PermissionCatalogue } from '../core/permission-catalogue.js';
import { type EmbeddedDatabase, findRunningEmbeddedPostgres, startEmbeddedPostgres } from '../db/embedded-postgres.js';
import { migrate } from '../db/migrate.js';
import { listPermissions } from '../db/permissions.js';
import { createPool, type Pool } from '../db/pool.js';
import type { Directory } from '../services/directory.js';

/** The actor the audit trail records for everything done through the CLI. */
export const OPERATOR = 'operator';

export interface Context {
  config: Config;
  pool: Pool;
  /** Loaded on first use: read-only commands skip loading it (it brings oidc-provider). */
  directory(): Promise<Directory>;
  catalogue: PermissionCatalogue;
  /** The migrations this run applied (every command migrates first; usually none). */
  appliedMigrations: number[];
}

export interface OpenContext extends Context {
  close(): Promise<void>;
}

export async function openContext(): Promise<OpenContext> {
  const config = loadConfig();
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    // A server already running on DATA_DIR owns its PostgreSQL (one per data folder): share it.
    url = await findRunningEmbeddedPostgres(config.dataDir);
    if (!url) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir });
      url = embedded.url;
    }
  }
  const where = config.databaseUrl ? 'the database at DATABASE_URL' : `the embedded database in ${config.dataDir}`;
  const pool = createPool(url, () => undefined);
  const close = async () => {
    await pool.end().catch(() => undefined);
    await embedded?.stop();
  };
  try {
    const appliedMigrations = await migrate(pool).catch((error: unknown) => {
      throw new Error(`cannot use ${where}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    });
    const catalogue = new PermissionCatalogue(await listPermissions(pool));
    let directory: Promise<Directory> | undefined;
    const loadDirectory = async () => {
      const { Directory } = await import('../services/directory.js');
      return new Directory(pool, catalogue);
    };
    return { config, pool, directory: () => (directory ??= loadDirectory()), catalogue, appliedMigrations, close };
  } catch (error) {
    await close();
    throw error;
  }
}
