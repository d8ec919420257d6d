// `accord api …` as operators script it (issue 13, the public CLI contract): the real CLI in its
// own process against a fresh database; exit codes, JSON on stdout, errors on stderr, and what
// reached the database. A running server sees the CLI's changes (the catalogue is announced).
import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { coveredChildEnv, sourceCommand } from '../support/child-env.js';
import { createTestDatabase, repoRoot } from '../support/database.js';
import { startTestServer } from '../support/server.js';

// Each run is a process under the runner's loader (~1.5 s of CPU): many minutes on a busy machine.
t.setTimeout(900_000);

const underRunner = path.join(repoRoot, 'test/fixtures/accord-cli.ts');
const db = await createTestDatabase();
t.teardown(() => db.drop());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function accord(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _runnerHooks, ...inherited } = process.env;
    const child = spawn(process.execPath, sourceCommand(underRunner, args), {
      cwd: repoRoot,
      env: coveredChildEnv({ ...inherited, DATABASE_URL: db.url, ISSUER: 'https://accord.example', ...env }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

function json(run: Run): any {
  if (run.code !== 0) throw new Error(`accord exited with ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

const IDENTIFIER = 'api://contoso-crm';

t.test('create, add scopes, list and show, as the contract says', async (t) => {
  json(await accord(['tenant', 'create', 'contoso', '--name', 'Contoso', '--json']));
  const created = json(
    await accord(['api', 'create', '--tenant', 'contoso', '--name', 'CRM', '--identifier', IDENTIFIER, '--json']),
  );
  t.match(created, { identifier: IDENTIFIER, name: 'CRM', tenant: 'contoso', multi_tenant: false, scopes: [] });

  const user = json(
    await accord(['api', 'add-scope', IDENTIFIER, 'contacts.read', '--description', 'Read your contacts', '--json']),
  );
  t.same(user, {
    identifier: IDENTIFIER,
    scope: `${IDENTIFIER}/contacts.read`,
    name: 'contacts.read',
    description: 'Read your contacts',
    admin_description: 'Read your contacts',
    admin_consent_required: false,
    impact: 'low',
  });
  const admin = await accord([
    'api',
    'add-scope',
    IDENTIFIER,
    'contacts.export',
    '--description',
    'Export contacts',
    '--admin-description',
    "Export every user's contacts",
    '--admin',
    '--impact',
    'medium',
  ]);
  t.equal(admin.code, 0);
  t.match(admin.stdout, /added admin scope api:\/\/contoso-crm\/contacts\.export \(impact medium\)/);

  const app = json(
    await accord([
      'app',
      'create',
      '--tenant',
      'contoso',
      '--name',
      'Contacts app',
      '--redirect-uri',
      'https://contacts.example/cb',
      '--permissions',
      `openid ${IDENTIFIER}/contacts.read`,
      '--json',
    ]),
  );
  t.same(app.permissions ?? app.scopes, ['openid', `${IDENTIFIER}/contacts.read`]);

  const list = json(await accord(['api', 'list', '--json']));
  t.same(
    list.value.map((api: { identifier: string }) => api.identifier),
    ['/data/v1', '/api/v1', IDENTIFIER],
    "Accord's own APIs are records of the same kind",
  );
  const shown = json(await accord(['api', 'show', IDENTIFIER, '--json']));
  t.match(shown.scopes, [
    { name: 'contacts.read', apps: [{ client_id: app.client_id }], users: 0 },
    { name: 'contacts.export', admin_consent_required: true, apps: [] },
  ]);
});

t.test('bad input: exit 1 or 2 with a message on stderr, nothing changed', async (t) => {
  const count = async () => Number((await db.pool.query('SELECT count(*) FROM api_scopes')).rows[0].count);
  const before = await count();
  const cases: Array<[string[], number, RegExp]> = [
    [['api', 'create', '--tenant', 'contoso', '--name', 'Again', '--identifier', IDENTIFIER], 1, /exists already/],
    [
      ['api', 'create', '--tenant', 'contoso', '--name', 'Own', '--identifier', 'https://accord.example/x'],
      1,
      /own origin/,
    ],
    [['api', 'add-scope', IDENTIFIER, 'a b', '--description', 'x'], 1, /no spaces or slashes/],
    [['api', 'add-scope', IDENTIFIER, 'ok', '--description', 'x', '--impact', 'huge'], 2, /--impact must be/],
    [
      [
        'app',
        'create',
        '--tenant',
        'contoso',
        '--name',
        'Bad',
        '--redirect-uri',
        'https://bad.example/cb',
        '--permissions',
        `openid ${IDENTIFIER}/nope`,
      ],
      1,
      /not in the catalogue/,
    ],
  ];
  for (const [args, code, message] of cases) {
    const run = await accord(args);
    t.equal(run.code, code, args.join(' '));
    t.match(run.stderr, message, args.join(' '));
  }
  t.equal(await count(), before);
});

t.test('a running server sees the CLI’s changes at once', async (t) => {
  const server = await startTestServer({}, db);
  t.teardown(() => server.close());
  await new Promise((resolve) => setTimeout(resolve, 200)); // the listener connects at onReady
  t.ok(server.accord.services.catalogue.has(`${IDENTIFIER}/contacts.read`));
  json(await accord(['api', 'add-scope', IDENTIFIER, 'deals.read', '--description', 'Read your deals', '--json']));
  for (let i = 0; i < 50 && !server.accord.services.catalogue.has(`${IDENTIFIER}/deals.read`); i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  t.ok(server.accord.services.catalogue.has(`${IDENTIFIER}/deals.read`), 'reloaded on the notification');

  const preview = json(await accord(['api', 'remove-scope', IDENTIFIER, 'contacts.read', '--dry-run', '--json']));
  t.match(preview, { scopes: [`${IDENTIFIER}/contacts.read`], apps: [{ name: 'Contacts app' }], removed: false });
  t.ok(server.accord.services.catalogue.has(`${IDENTIFIER}/contacts.read`), 'a dry run changes nothing');
  const removed = json(await accord(['api', 'remove-scope', IDENTIFIER, 'contacts.read', '--json']));
  t.equal(removed.removed, true);
  const deleted = json(await accord(['api', 'delete', IDENTIFIER, '--json']));
  t.same(deleted.scopes.sort(), [`${IDENTIFIER}/contacts.export`, `${IDENTIFIER}/deals.read`]);
  for (let i = 0; i < 50 && server.accord.services.catalogue.has(`${IDENTIFIER}/deals.read`); i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  t.notOk(server.accord.services.catalogue.has(`${IDENTIFIER}/deals.read`), 'gone from the running server');
  const { rows } = await db.pool.query(
    `SELECT action FROM audit_events WHERE tenant_id = 'contoso' AND action LIKE 'api.%' ORDER BY id`,
  );
  t.same(
    rows.map((row) => row.action),
    ['api.created', 'api.scope.added', 'api.scope.added', 'api.scope.added', 'api.scope.removed', 'api.deleted'],
  );
});
