import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { adminDatabaseUrl } from '../support/database.js';

const adminUrl = adminDatabaseUrl();
const allVersions = (await loadMigrations()).map((migration) => migration.version);

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database (not from the template), dropped when the test ends. */
async function emptyDatabase(t: Test): Promise<{ pool: () => Pool }> {
  const name = `accord_migrate_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pools: Pool[] = [];
  t.teardown(async () => {
    await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
    await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });
  return {
    pool: () => {
      const pool = createPool(url.toString(), () => undefined);
      pools.push(pool);
      return pool;
    },
  };
}

async function recorded(pool: Pool): Promise<number[]> {
  const { rows } = await pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  return rows.map((row) => row.version);
}

async function tableExists(pool: Pool, table: string): Promise<boolean> {
  const { rows } = await pool.query<{ found: string | null }>('SELECT to_regclass($1::text)::text AS found', [table]);
  return rows[0]?.found !== null;
}

async function migrationDir(t: Test, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'accord-migrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [file, sql] of Object.entries(files)) await writeFile(path.join(dir, file), sql);
  return dir;
}

t.test('on an empty database every migration is applied once; a second run applies none', async (t) => {
  t.ok(allVersions.length > 0, 'there are migrations');
  t.same(
    allVersions,
    [...allVersions].sort((a, b) => a - b),
    'versions are in order',
  );
  const pool = (await emptyDatabase(t)).pool();

  t.same(await migrate(pool), allVersions, 'first run applies all');
  t.same(await recorded(pool), allVersions, 'each recorded');
  t.ok(await tableExists(pool, 'oidc_models'));
  t.ok(await tableExists(pool, 'apps'));

  t.same(await migrate(pool), [], 'second run applies none');
  t.same(await recorded(pool), allVersions, 'nothing recorded twice');
});

t.test('two processes migrating at once both succeed and each migration is applied once', async (t) => {
  const database = await emptyDatabase(t);
  const [first, second] = [database.pool(), database.pool()];
  const results = await Promise.allSettled([migrate(first), migrate(second)]);
  t.same(
    results.map((result) => result.status),
    ['fulfilled', 'fulfilled'],
    'neither fails',
  );
  const applied = results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
  t.same(
    [...applied].sort((a, b) => a - b),
    allVersions,
    'between them every migration was applied exactly once',
  );
  t.same(await recorded(first), allVersions);
});

t.test('a failing migration is rolled back, recorded nowhere, and named in the error', async (t) => {
  const pool = (await emptyDatabase(t)).pool();
  const dir = await migrationDir(t, {
    '0001_broken_thing.sql': '-- Why: to fail.\nCREATE TABLE half_done (id integer);\nSELECT 1 / 0;\n',
  });

  await t.rejects(migrate(pool, dir), /migration 0001_broken_thing\.sql failed/, 'the error names the file');
  await t.rejects(migrate(pool, dir), /division by zero/, "and says PostgreSQL's reason");
  t.same(await recorded(pool), [], 'nothing recorded');
  t.notOk(await tableExists(pool, 'half_done'), 'its table was rolled back');
});

t.test('earlier migrations stay applied when a later one fails, and a fixed run continues', async (t) => {
  const database = await emptyDatabase(t);
  const pool = database.pool();
  const broken = await migrationDir(t, {
    '0001_first.sql': '-- Why: applies.\nCREATE TABLE first_table (id integer);\n',
    '0002_second.sql':
      "-- Why: fails.\nCREATE TABLE second_table (id integer);\nINSERT INTO second_table VALUES ('x');\n",
  });
  await t.rejects(migrate(pool, broken), /0002_second\.sql.*invalid input syntax/);
  t.same(await recorded(pool), [1], 'the first is recorded, the failed one is not');
  t.ok(await tableExists(pool, 'first_table'));
  t.notOk(await tableExists(pool, 'second_table'));

  // The advisory lock was released on failure: another pool can migrate at once.
  const fixed = await migrationDir(t, {
    '0001_first.sql': '-- Why: applies.\nCREATE TABLE first_table (id integer);\n',
    '0002_second.sql': '-- Why: fixed.\nCREATE TABLE second_table (id integer);\n',
  });
  t.same(await migrate(database.pool(), fixed), [2], 'only the missing one runs');
  t.same(await recorded(pool), [1, 2]);
});

t.test('a migration file with a bad name is refused before anything runs', async (t) => {
  const pool = (await emptyDatabase(t)).pool();
  const dir = await migrationDir(t, { '1_no_padding.sql': 'CREATE TABLE nope (id integer);' });
  await t.rejects(migrate(pool, dir), /1_no_padding\.sql/);
  t.notOk(await tableExists(pool, 'nope'));
});
