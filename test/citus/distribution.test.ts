// Accord's schema on a real Citus cluster: `migrate` distributes every table by its kind, foreign
// keys and the uniqueness of a user id hold across shards, a multi-row change is one transaction,
// a new table without a kind stops the migration, and a single-node database converts with
// `accord distribute` (pg_dump onto the coordinator), its tokens still good afterwards.
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import t from 'tap';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { TABLE_KINDS } from '../../src/db/distribution.js';
import { migrate, migrationsDir } from '../../src/db/migrate.js';
import { listPermissions } from '../../src/db/permissions.js';
import { inTransaction } from '../../src/db/pool.js';
import { Directory } from '../../src/services/directory.js';
import { onCitusCluster } from '../support/citus.js';
import { createCitusDatabase } from '../support/citus-cluster.js';
import { createPlainTestDatabase, repoRoot, type TestDatabase } from '../support/database.js';
import { exchangeCode, fullFlow, registerApp, relyingParty } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

if (await onCitusCluster()) {
  const database = await createCitusDatabase();
  t.teardown(() => database.drop());
  const { pool } = database;
  const directory = new Directory(pool, new PermissionCatalogue(await listPermissions(pool)));

  t.test('every table is laid out by its kind; tenant tables share one colocation group', async (t) => {
    const { rows } = await pool.query<{
      table: string;
      method: string;
      repmodel: string;
      column: string | null;
      colocation: number;
    }>(
      `SELECT logicalrelid::regclass::text AS table, partmethod AS method, repmodel,
              CASE WHEN partmethod = 'h' THEN column_to_column_name(logicalrelid, partkey) END AS column,
              colocationid AS colocation
         FROM pg_dist_partition`,
    );
    const layout = new Map(rows.map((row) => [row.table, row]));
    const tenantGroups = new Set<number>();
    for (const [table, kind] of Object.entries(TABLE_KINDS)) {
      const row = layout.get(table);
      if (kind.kind === 'coordinator') t.notOk(row, `${table} stays on the coordinator`);
      if (kind.kind === 'reference') t.equal(row?.repmodel, 't', `${table} is a reference table`);
      if (kind.kind === 'tenant') {
        t.equal(row?.column, 'tenant_id', `${table} is sharded by tenant_id`);
        tenantGroups.add(row!.colocation);
      }
      if (kind.kind === 'keyed') t.equal(row?.column, kind.column, `${table} is sharded by ${kind.column}`);
    }
    t.equal(tenantGroups.size, 1, 'one colocation group for every tenant-owned table');
    t.same(await migrate(pool), [], 'migrating again changes nothing');
  });

  t.test('foreign keys hold across shards, and a tenant takes its rows with it', async (t) => {
    const as = await seedPeople(directory, [['contoso', 'alice', 'user']]);
    const app = await directory.createApp(
      {
        publisherTenantId: 'contoso',
        name: 'Notes',
        multiTenant: false,
        public: true,
        redirectUris: ['https://notes.example.test/cb'],
        scopes: ['openid'],
      },
      'operator',
    );
    await t.rejects(
      pool.query(`INSERT INTO user_consents (tenant_id, user_id, client_id) VALUES ('contoso', 'nobody', $1::text)`, [
        app.app.clientId,
      ]),
      { code: '23503' },
      'a consent of an unknown user is refused',
    );
    await pool.query(
      `INSERT INTO user_consents (tenant_id, user_id, client_id) VALUES ('contoso', $1::text, $2::text)`,
      [as('alice@contoso').id, app.app.clientId],
    );
    await pool.query(`DELETE FROM apps WHERE client_id = $1::text`, [app.app.clientId]);
    const { rowCount } = await pool.query('SELECT 1 FROM user_consents WHERE client_id = $1::text', [app.app.clientId]);
    t.equal(rowCount, 0, 'deleting an app (a reference table) deletes its consents on the shards');
  });

  t.test('a user id is unique across every tenant, and a refused user leaves nothing behind', async (t) => {
    await directory.createTenant({ id: 'northwind', name: 'Northwind' }, 'operator');
    const bob = await directory.createUser(
      { tenantId: 'northwind', username: 'bob', password: PASSWORD, role: 'user' },
      'operator',
    );
    await t.rejects(
      inTransaction(pool, (tx) =>
        tx.query(`INSERT INTO user_ids (id, tenant_id) VALUES ($1::text, 'contoso')`, [bob.id]),
      ),
      { code: '23505' },
      "another tenant's user cannot take the id",
    );
    const before = (await pool.query('SELECT count(*)::int AS n FROM user_ids')).rows[0].n;
    await t.rejects(
      directory.createUser({ tenantId: 'northwind', username: 'bob', password: PASSWORD, role: 'user' }, 'operator'),
      /already exists/,
    );
    t.equal((await pool.query('SELECT count(*)::int AS n FROM user_ids')).rows[0].n, before, 'no id claimed');
  });

  t.test('a migration that adds a table without a kind stops, naming the table', async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'accord-migrations-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await cp(migrationsDir, dir, { recursive: true });
    await writeFile(
      path.join(dir, '9999_unkinded.sql'),
      '-- Why: a test.\nCREATE TABLE unkinded (id text PRIMARY KEY);\n',
    );
    await t.rejects(migrate(pool, dir), /unkinded has no distribution kind: add it to TABLE_KINDS/);
    const { rowCount } = await pool.query(
      `SELECT 1 FROM pg_dist_partition WHERE logicalrelid::regclass::text = 'unkinded'`,
    );
    t.equal(rowCount, 0, 'nothing distributed');
  });

  t.test(
    'a single-node database converts: restored onto the coordinator, `accord distribute`, tokens still good',
    async (t) => {
      // Single node: a user signs in and the app keeps a refresh token.
      const plain = await createPlainTestDatabase();
      t.teardown(() => plain.drop());
      const single = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' }, plain);
      const as = await seedPeople(single.directory, [['contoso', 'alice', 'user']]);
      const app = await registerApp(single, { tenant: 'contoso', scopes: ['openid', 'offline_access', 'User.Read'] });
      const flow = await fullFlow(single, app, as('alice@contoso'), {
        scope: 'openid offline_access User.Read',
        prompt: 'consent',
      });
      const tokens = await exchangeCode(app, flow.callback, flow.auth);
      t.ok(tokens.refresh_token, 'a refresh token on the single node');
      await single.close();

      // Onto a Citus coordinator with no tables yet, then converted.
      const cluster = await createCitusDatabase({ migrated: false });
      t.teardown(() => cluster.drop());
      // Through a file, so that a failed dump fails here (pg_dump must be the single node's major
      // version: this machine's PostgreSQL at DATABASE_URL, as CI runs it).
      await run('sh', [
        '-ec',
        `dump=$(mktemp); trap 'rm -f "$dump"' EXIT
         pg_dump --no-owner --no-acl -f "$dump" "${plain.url}"
         psql -q -v ON_ERROR_STOP=1 -f "$dump" "${cluster.url}"`,
      ]);
      const converted = await run(process.execPath, [path.join(repoRoot, 'bin/accord.js'), 'distribute', '--json'], {
        DATABASE_URL: cluster.url,
      });
      t.equal(converted.code, 0, converted.stderr);
      const layout = JSON.parse(converted.stdout) as {
        workers: number;
        tables: Array<{ table: string; layout: string }>;
      };
      t.equal(layout.workers, 2);
      t.same(
        Object.fromEntries(layout.tables.map((table) => [table.table, table.layout])),
        Object.fromEntries(
          Object.entries(TABLE_KINDS).map(([table, kind]) => [
            table,
            kind.kind === 'coordinator' ? 'local' : kind.kind,
          ]),
        ),
        'every table laid out by its kind',
      );

      // The same issuer (so the same port): the grant's resource indicators are the issuer's.
      const onCluster = await startTestServer(
        { SIGN_IN_RATE_LIMIT: '1000', PORT: String(single.config.port) },
        cluster,
      );
      t.teardown(() => onCluster.close());
      const sameApp = await relyingParty(onCluster, app.clientId, app.clientSecret);
      const refreshed = await oidc.refreshTokenGrant(sameApp.config, tokens.refresh_token!);
      t.ok(refreshed.access_token, 'the refresh token issued on the single node works on the cluster');
      t.equal(refreshed.claims()?.sub, as('alice@contoso').id, 'for the same user');
    },
  );

  t.test('`accord distribute` refuses a database without Citus', async (t) => {
    const plain: TestDatabase = await createPlainTestDatabase();
    t.teardown(() => plain.drop());
    const refused = await run(process.execPath, [path.join(repoRoot, 'bin/accord.js'), 'distribute'], {
      DATABASE_URL: plain.url,
    });
    t.equal(refused.code, 1);
    t.match(refused.stderr, /no citus extension/);
  });
}

function run(command: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const { NODE_OPTIONS: _runnerHooks, ...inherited } = process.env;
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...inherited, ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 || command !== 'sh' ? resolve({ code, stdout, stderr }) : reject(new Error(stderr)),
    );
  });
}
