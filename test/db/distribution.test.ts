// The table of kinds (src/db/distribution.ts) names every table the migrations create, and each
// tenant-owned table is shaped for sharding by tenant: tenant_id leads its primary key and every
// unique index (Citus can enforce uniqueness only with the shard key in it). On plain PostgreSQL.
import t from 'tap';
import { CROSS_SHARD_STATEMENTS, TABLE_KINDS } from '../../src/db/distribution.js';
import { createTestDatabase } from '../support/database.js';

const database = await createTestDatabase();
t.teardown(() => database.drop());
const { pool } = database;

t.test('every table of the schema has a kind, and every kind names a table', async (t) => {
  const { rows } = await pool.query<{ table: string }>(
    `SELECT relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY relname`,
  );
  t.same(
    rows.map((row) => row.table),
    Object.keys(TABLE_KINDS).sort(),
  );
});

t.test("each table's unique indexes include its shard key", async (t) => {
  const { rows } = await pool.query<{ table: string; index: string; columns: string[] }>(
    `SELECT c.relname AS table, i.relname AS index,
            ARRAY(SELECT a.attname FROM unnest(x.indkey) k JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k)::text[] AS columns
       FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND x.indisunique`,
  );
  for (const row of rows) {
    const kind = TABLE_KINDS[row.table];
    if (kind?.kind === 'tenant') t.equal(row.columns[0], 'tenant_id', `${row.index} leads with tenant_id`);
    if (kind?.kind === 'keyed') t.ok(row.columns.includes(kind.column), `${row.index} includes ${kind.column}`);
  }
});

t.test('a user id is unique across tenants without a global index on users', async (t) => {
  await pool.query(`INSERT INTO tenants (id, name) VALUES ('one', 'One'), ('two', 'Two')`);
  await pool.query(`INSERT INTO user_ids (id, tenant_id) VALUES ('same-id', 'one')`);
  await t.rejects(pool.query(`INSERT INTO user_ids (id, tenant_id) VALUES ('same-id', 'two')`), { code: '23505' });
});

t.test('each deliberately cross-shard statement says why', async (t) => {
  for (const [name, why] of Object.entries(CROSS_SHARD_STATEMENTS)) t.ok(why.length > 20, name);
});
