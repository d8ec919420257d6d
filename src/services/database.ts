// The database a command works on, chosen exactly as the server chooses it — DATABASE_URL, else
// the embedded PostgreSQL in DATA_DIR, shared with a server already running on it — and migrated.
import type { Config } from '../config.js';
import { type EmbeddedDatabase, findRunningEmbeddedPostgres, startEmbeddedPostgres } from '../db/embedded-postgres.js';
import { migrate, schemaVersion } from '../db/migrate.js';
import { createPool, type Pool } from '../db/pool.js';

export interface OpenDatabase {
  pool: Pool;
  /** The migrations this opening applied (usually none). */
  appliedMigrations: number[];
  /** The highest migration applied. */
  schemaVersion(): Promise<number>;
  /** Ends the pool, and stops the embedded PostgreSQL if this opening started it. */
  close(): Promise<void>;
}

export async function openDatabase(config: Config): Promise<OpenDatabase> {
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
    const appliedMigrations = await migrate(pool);
    return { pool, appliedMigrations, schemaVersion: () => schemaVersion(pool), close };
  } catch (error) {
    await close();
    throw new Error(`cannot use ${where}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
