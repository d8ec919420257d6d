// What every command works on: the database chosen exactly as the server chooses it (DATABASE_URL,
// else the embedded PostgreSQL in DATA_DIR), migrated, and the Directory over it.
import { type Config, loadConfig } from '../config.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import type { Pool } from '../db/pool.js';
import { openDatabase } from '../services/database.js';
import type { Directory } from '../services/directory.js';
import { loadPermissionCatalogue } from '../services/permission-catalogue.js';

/** The actor the audit trail records for everything done through the CLI. */
export const OPERATOR = 'operator';

export interface Context {
  config: Config;
  pool: Pool;
  /** Loaded on first use: read-only commands skip loading it (it brings the password hasher). */
  directory(): Promise<Directory>;
  catalogue: PermissionCatalogue;
  /** The migrations this run applied (every command migrates first; usually none). */
  appliedMigrations: number[];
  /** The highest migration applied. */
  schemaVersion(): Promise<number>;
}

export interface OpenContext extends Context {
  close(): Promise<void>;
}

export async function openContext(): Promise<OpenContext> {
  const config = loadConfig();
  const { pool, appliedMigrations, schemaVersion, close } = await openDatabase(config);
  try {
    const catalogue = await loadPermissionCatalogue(pool);
    let directory: Promise<Directory> | undefined;
    const loadDirectory = async () => {
      const { Directory } = await import('../services/directory.js');
      return new Directory(pool, catalogue);
    };
    return {
      config,
      pool,
      directory: () => (directory ??= loadDirectory()),
      catalogue,
      appliedMigrations,
      schemaVersion,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
