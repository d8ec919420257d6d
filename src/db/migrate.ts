// Forward-only migration runner: migrations/NNNN_name.sql, each applied and recorded in one
// transaction, serialised by an advisory lock so processes starting together do not race. On a
// Citus coordinator it then distributes the tables not distributed yet (distribution.ts).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { type DistributedTable, distributeTables, isCitus } from './distribution.js';
import type { Queryable } from './pool.js';

export const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

// Any constant works; it only has to be the same in every process of this application.
const MIGRATION_LOCK_KEY = 7_242_021;

export interface Migration {
  version: number;
  name: string;
  /** The file name, so an error points at the file to fix. */
  file: string;
  sql: string;
}

export async function loadMigrations(dir = migrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (file) => {
      const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!match) throw new Error(`migration file name must look like 0001_name.sql: ${file}`);
      return { version: Number(match[1]), name: match[2]!, file, sql: await readFile(path.join(dir, file), 'utf8') };
    }),
  );
}

/** Applies every migration not yet recorded; returns the versions it applied. */
export async function migrate(pool: pg.Pool, dir = migrationsDir): Promise<number[]> {
  return (await migrateAndDistribute(pool, dir)).applied;
}

/**
 * Applies every migration not yet recorded, then, on a Citus coordinator, distributes every table
 * not distributed yet, in one transaction; returns both.
 */
export async function migrateAndDistribute(
  pool: pg.Pool,
  dir = migrationsDir,
): Promise<{ applied: number[]; distributed: DistributedTable[] }> {
  const migrations = await loadMigrations(dir);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((row) => row.version));
      const done: number[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2::text)', [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${migration.file} failed: ${(error as Error).message}`);
        }
        done.push(migration.version);
      }
      let distributed: DistributedTable[] = [];
      if (await isCitus(client)) {
        await client.query('BEGIN');
        try {
          distributed = await distributeTables(client);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(`distributing the tables on Citus failed: ${(error as Error).message}`);
        }
      }
      return { applied: done, distributed };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/** The highest migration applied (0 before any). */
export async function schemaVersion(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
  return rows[0]?.version ?? 0;
}
