// Test databases: one migrated template per set of migrations, cloned per test file
// (CREATE DATABASE … TEMPLATE is a file copy: fast, and every test starts from the same state).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createCitusDatabase, testsRunOnCitus } from './citus-cluster.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * Where the embedded test database keeps its data and writes its URL when DATABASE_URL is unset:
 * under the system temp folder, which the `postgres` OS user can enter even when the checkout
 * sits in a folder it cannot (running as root).
 */
export const embeddedUrlFile = path.join(
  os.tmpdir(),
  `accord-test-pg-${createHash('sha256').update(repoRoot).digest('hex').slice(0, 8)}`,
  'url',
);

/** The server tests create databases on: DATABASE_URL, else the embedded one started by before.ts. */
export function adminDatabaseUrl(): string {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  if (existsSync(embeddedUrlFile)) return readFileSync(embeddedUrlFile, 'utf8').trim();
  throw new Error(
    'No test database: set DATABASE_URL or run the tests through `npm test` (which starts an embedded PostgreSQL)',
  );
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function templateName(): Promise<string> {
  const migrations = await loadMigrations();
  const hash = createHash('sha256');
  for (const migration of migrations) hash.update(`${migration.version}:${migration.sql}`);
  return `accord_tpl_${hash.digest('hex').slice(0, 12)}`;
}

/** Creates and migrates the template once (serialised by an advisory lock across test processes). */
export async function ensureTemplate(): Promise<string> {
  const adminUrl = adminDatabaseUrl();
  const name = await templateName();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock(7242023)');
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [name]);
    if (rowCount === 0) {
      const building = `${name}_build`;
      await admin.query(`DROP DATABASE IF EXISTS ${building}`);
      await admin.query(`CREATE DATABASE ${building}`);
      const pool = createPool(withDatabase(adminUrl, building), () => undefined);
      try {
        await migrate(pool);
      } finally {
        await pool.end();
      }
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    }
    await admin.query('SELECT pg_advisory_unlock(7242023)');
  } finally {
    await admin.end();
  }
  return name;
}

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** A fresh migrated database: a clone of the template, or on the Citus cluster for the Citus suite (citus.ts). */
export async function createTestDatabase(): Promise<TestDatabase> {
  return testsRunOnCitus() ? createCitusDatabase() : createPlainTestDatabase();
}

/** A fresh migrated database on plain PostgreSQL, whichever suite runs. */
export async function createPlainTestDatabase(): Promise<TestDatabase> {
  const template = await ensureTemplate();
  const adminUrl = adminDatabaseUrl();
  const name = `accord_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const pool = createPool(url, () => undefined);
  return {
    url,
    pool,
    drop: async () => {
      await pool.end().catch(() => undefined);
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
