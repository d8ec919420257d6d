// The `accord` CLI as operators and scripts use it: the real bin/accord.js in its own process,
// against a fresh database, checking stdout, stderr, exit codes and what reached the database.
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadServerSecret } from '../../src/db/server-secrets.js';
import { verifyPassword } from '../../src/services/passwords.js';
import { coveredChildEnv, sourceCommand } from '../support/child-env.js';
import { createTestDatabase, repoRoot, type TestDatabase } from '../support/database.js';
import { startTestServer } from '../support/server.js';

// Each run is a process of its own under the test runner's TypeScript loader (~1.5 s of CPU each,
// for its coverage): more than the default two minutes for the file on a busy machine.
// Each command is a process of its own (~1.5 s of CPU under the runner's loader), several hundred in all.
t.setTimeout(600_000);

const bin = path.join(repoRoot, 'bin/accord.js');
const underRunner = path.join(repoRoot, 'test/fixtures/accord-cli.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The CLI in its own process, with stdin a pipe, never a terminal, so it must not wait for a
 * prompt. By default its entry point under the test runner's loader, so that its coverage counts
 * (test/fixtures/accord-cli.ts); `{ bin: true }` runs bin/accord.js exactly as an operator does.
 */
function accord(
  db: TestDatabase,
  args: string[],
  stdin = '',
  env: Record<string, string> = {},
  options: { bin?: boolean } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _runnerHooks, ...inherited } = process.env;
    // bin/accord.js loads the sources through tsx: its coverage is left out (coverage merged from
    // two transpilers misreports); the same command lines run under the runner's loader count.
    const child = options.bin
      ? spawn(process.execPath, [bin, ...args], {
          cwd: repoRoot,
          env: { ...inherited, DATABASE_URL: db.url, ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
        })
      : spawn(process.execPath, sourceCommand(underRunner, args), {
          cwd: repoRoot,
          env: coveredChildEnv({ ...inherited, DATABASE_URL: db.url, ...env }),
        });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // the CLI may exit before reading stdin
    child.stdin.end(stdin);
  });
}

/** The one JSON object a successful --json run prints. */
function json<T = Record<string, any>>(run: Run): T {
  if (run.code !== 0) throw new Error(`accord exited with ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

async function count(db: TestDatabase, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) x`, params);
  return Number(rows[0]!.n);
}

const db = await createTestDatabase();
t.teardown(() => db.drop());
const run = (args: string[], stdin?: string) => accord(db, args, stdin);

t.test('--help lists every command of the interface, without touching the database', async (t) => {
  const badDatabase = { DATABASE_URL: 'mysql://localhost/accord' };
  const [help, bare, group, badConfig, binHelp, binBadConfig] = await Promise.all([
    run(['--help']),
    run([]),
    run(['app', '--help']),
    accord(db, ['tenant', 'list'], '', badDatabase),
    // The same through bin/accord.js itself, as an operator runs it.
    accord(db, ['--help'], '', {}, { bin: true }),
    accord(db, ['tenant', 'list'], '', badDatabase, { bin: true }),
  ]);
  t.same(binHelp, help, 'bin/accord.js prints the same help');
  t.same(binBadConfig, badConfig, 'and the same configuration error, with the same exit code');
  t.equal(help.code, 0);
  for (const command of [
    'migrate',
    'seed --demo',
    'tenant create',
    'tenant list',
    'tenant show',
    'tenant set-integrated-apps',
    'user create',
    'user list',
    'user set-role',
    'user set-password',
    'user disable',
    'user unlock',
    'app create',
    'app list',
    'app show',
    'app update',
    'app rotate-secret',
    'app add-secret',
    'app remove-secret',
    'app delete',
    'app verify-publisher',
    'keys rotate',
    'audit list',
  ]) {
    t.match(help.stdout, `accord ${command}`, `lists ${command}`);
  }
  t.match(help.stdout, '--json');
  t.match(help.stdout, /--password-stdin/);
  t.equal(bare.code, 2, 'no command is a usage error');
  t.match(bare.stderr, 'accord tenant create');
  t.equal(group.code, 0);
  t.match(group.stdout, 'accord app verify-publisher <client_id> on|off');
  t.equal(badConfig.code, 78, 'a configuration error is EX_CONFIG, as for the server');
  t.equal(badConfig.stderr, 'accord: configuration error: DATABASE_URL must be a postgres:// URL\n');
});

t.test('bin/accord.js runs a command against the database', async (t) => {
  const migrated = json(await accord(db, ['migrate', '--json'], '', {}, { bin: true }));
  t.same(migrated.applied, [], 'the cloned database is migrated already');
  t.type(migrated.schema_version, 'number');
  t.equal(await count(db, 'SELECT 1 FROM schema_migrations'), migrated.schema_version);
});

t.test('tenants: create, list, show, set Integrated Apps, with audit events', async (t) => {
  const created = json(await run(['tenant', 'create', 'contoso', '--name', 'Contoso Ltd', '--json']));
  t.same(Object.keys(created).sort(), ['created_at', 'id', 'integrated_apps_enabled', 'name']);
  t.match(created, { id: 'contoso', name: 'Contoso Ltd', integrated_apps_enabled: true });

  const [off, list, show, missing, badSetting] = await Promise.all([
    run(['tenant', 'create', 'fabrikam', '--name', 'Fabrikam', '--integrated-apps', 'off', '--json']),
    run(['tenant', 'list', '--json']),
    run(['tenant', 'show', 'contoso']),
    run(['tenant', 'show', 'nowhere']),
    run(['tenant', 'set-integrated-apps', 'contoso', 'maybe']),
  ]);
  t.equal(json(off).integrated_apps_enabled, false);
  t.ok(
    json<{ value: { id: string }[] }>(list).value.some((tenant) => tenant.id === 'contoso'),
    'list is {"value": [...]}',
  );
  t.equal(show.code, 0);
  t.match(show.stdout, /integrated apps:\s+on/);
  t.equal(missing.code, 1);
  t.equal(missing.stderr, 'accord: tenant "nowhere" not found\n');
  t.equal(badSetting.code, 2, 'on|off is checked as usage');

  t.match(json(await run(['tenant', 'set-integrated-apps', 'contoso', 'off', '--json'])), {
    id: 'contoso',
    integrated_apps_enabled: false,
  });
  t.equal(
    (await db.pool.query(`SELECT integrated_apps_enabled FROM tenants WHERE id = 'contoso'`)).rows[0]
      .integrated_apps_enabled,
    false,
  );
  const { rows } = await db.pool.query(
    `SELECT actor, action, details FROM audit_events WHERE tenant_id = 'contoso' ORDER BY id`,
  );
  t.same(rows, [
    { actor: 'operator', action: 'tenant.created', details: { integratedAppsEnabled: true } },
    { actor: 'operator', action: 'tenant.integrated_apps.changed', details: { from: true, to: false } },
  ]);
});

t.test('a duplicate or reserved tenant id is refused and nothing is written', async (t) => {
  const eventsBefore = await count(db, 'SELECT 1 FROM audit_events');
  const [duplicate, reserved, badId, noName] = await Promise.all([
    run(['tenant', 'create', 'contoso', '--name', 'Another Contoso']),
    run(['tenant', 'create', 'api', '--name', 'API']),
    run(['tenant', 'create', 'Not A Slug', '--name', 'X']),
    run(['tenant', 'create', 'acme']),
  ]);
  t.equal(duplicate.code, 1);
  t.equal(duplicate.stderr, 'accord: tenant "contoso" already exists\n');
  t.equal(duplicate.stdout, '');
  t.equal(reserved.code, 1);
  t.match(reserved.stderr, 'tenant id "api" is reserved');
  t.equal(badId.code, 1);
  t.match(badId.stderr, 'tenant id must be');
  t.equal(noName.code, 2);
  t.match(noName.stderr, /--name is required\nusage: accord tenant create/);
  t.equal(await count(db, `SELECT 1 FROM tenants WHERE id IN ('api', 'acme') OR name = 'Another Contoso'`), 0);
  t.equal(await count(db, 'SELECT 1 FROM audit_events'), eventsBefore, 'no audit event either');
});

t.test('users: create with --password-stdin, refuse duplicates, set role, password, disable', async (t) => {
  const alice = json(
    await run(
      [
        'user',
        'create',
        'contoso',
        'alice',
        '--email',
        'alice@contoso.example',
        '--name',
        'Alice',
        '--password-stdin',
        '--json',
      ],
      'correct horse battery\nignored\n',
    ),
  );
  t.same(Object.keys(alice).sort(), ['id', 'role', 'tenant', 'username'], 'exactly the shape of docs/interfaces.md');
  t.match(alice, { id: String, tenant: 'contoso', username: 'alice', role: 'user' });
  const stored = await db.pool.query(`SELECT password_hash, display_name, email FROM users WHERE id = $1`, [alice.id]);
  t.ok(
    await verifyPassword(stored.rows[0].password_hash, 'correct horse battery'),
    'the first line of stdin is the password',
  );
  t.match(stored.rows[0], { display_name: 'Alice', email: 'alice@contoso.example' });

  const usersBefore = await count(db, 'SELECT 1 FROM users');
  const [noSource, onCommandLine, duplicate, shortPassword, admin] = await Promise.all([
    run(['user', 'create', 'contoso', 'bob']),
    run(['user', 'create', 'contoso', 'bob', '--password', 'hunter2hunter2']),
    run(['user', 'create', 'contoso', 'ALICE', '--password-stdin'], 'another password\n'),
    run(['user', 'create', 'contoso', 'bob', '--password-stdin'], 'short\n'),
    run(['user', 'create', 'fabrikam', 'root', '--admin', '--password-stdin', '--json'], 'admin password 1\n'),
  ]);
  t.equal(noSource.code, 2, 'no --password-stdin and no terminal');
  t.match(noSource.stderr, 'no password given');
  t.equal(onCommandLine.code, 2);
  t.match(onCommandLine.stderr, 'never taken on the command line');
  t.equal(duplicate.code, 1);
  t.equal(duplicate.stderr, 'accord: user "alice" already exists in tenant "contoso"\n');
  t.equal(shortPassword.code, 1);
  t.match(shortPassword.stderr, 'at least 8 characters');
  t.equal(json(admin).role, 'admin');
  t.equal(await count(db, 'SELECT 1 FROM users'), usersBefore + 1, 'only the admin was written');

  const [promoted, badRole, nobody] = await Promise.all([
    run(['user', 'set-role', 'contoso', 'alice', 'admin', '--json']),
    run(['user', 'set-role', 'contoso', 'alice', 'owner']),
    run(['user', 'disable', 'contoso', 'nobody']),
  ]);
  t.match(json(promoted), { id: alice.id, role: 'admin' });
  t.equal(badRole.code, 2);
  t.equal(nobody.code, 1);
  t.equal(nobody.stderr, 'accord: user "nobody" not found in tenant "contoso"\n');

  t.equal((await run(['user', 'set-password', 'contoso', 'alice', '--password-stdin'], 'a new passphrase\n')).code, 0);
  t.equal(json(await run(['user', 'disable', 'contoso', 'alice', '--json'])).disabled, true);
  const after = await db.pool.query(`SELECT role, disabled, password_hash FROM users WHERE id = $1`, [alice.id]);
  t.match(after.rows[0], { role: 'admin', disabled: true });
  t.ok(await verifyPassword(after.rows[0].password_hash, 'a new passphrase'));
  const users = json<{ value: { username: string; disabled: boolean }[] }>(
    await run(['user', 'list', 'contoso', '--json']),
  ).value;
  t.same(
    users.map((user) => [user.username, user.disabled]),
    [['alice', true]],
  );
  const { rows } = await db.pool.query(
    `SELECT action FROM audit_events WHERE tenant_id = 'contoso' AND target = $1 ORDER BY id`,
    [alice.id],
  );
  t.same(
    rows.map((row) => row.action),
    ['user.created', 'user.role.changed', 'user.password.changed', 'user.disabled'],
  );
});

t.test('apps: create, show without the secret, refuse bad input, verify, rotate, delete', async (t) => {
  const create = [
    'app',
    'create',
    '--tenant',
    'fabrikam',
    '--name',
    'Planner',
    '--redirect-uri',
    'https://planner.example/cb',
  ];
  const created = json(
    await run([
      ...create,
      '--redirect-uri',
      'http://localhost:8080/cb',
      '--multi-tenant',
      '--permissions',
      'openid profile User.Read',
      '--json',
    ]),
  );
  t.match(created, {
    client_id: String,
    client_secret: String,
    name: 'Planner',
    publisher_tenant: 'fabrikam',
    publisher_verified: false,
    multi_tenant: true,
    client_type: 'confidential',
    redirect_uris: ['https://planner.example/cb', 'http://localhost:8080/cb'],
    permissions: ['openid', 'profile', 'User.Read'],
  });
  // The printed secret is the registered one: the token endpoint of a server on this database
  // takes it, and not another.
  const server = await startTestServer({}, db);
  t.teardown(() => server.close());
  const tokenWith = async (secret: string) => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${created.client_id}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }),
    });
    return `${response.status} ${((await response.json()) as { error?: string }).error ?? 'token'}`;
  };
  t.match(created.client_secret, /^[A-Za-z0-9_-]{43}$/, 'the secret is 256 bits, base64url');
  t.equal(await tokenWith(created.client_secret), '200 token', 'the printed secret authenticates the app');
  t.equal(await tokenWith(`${created.client_secret}x`), '401 invalid_client', 'control: another secret does not');
  // Stored as a keyed hash (HMAC-SHA256 under the server's client_secret_key), computed here
  // without the code under test: neither the secret nor an unkeyed hash of it is in the database.
  const secretKey = await loadServerSecret(db.pool, 'client_secret_key');
  const hashOf = async (clientId: string) =>
    (await db.pool.query('SELECT secret_hash FROM app_secrets WHERE client_id = $1', [clientId])).rows[0].secret_hash;
  const stored = await hashOf(created.client_id);
  t.equal(stored, createHmac('sha256', secretKey).update(created.client_secret).digest('base64url'), 'keyed hash');
  t.not(stored, createHash('sha256').update(created.client_secret).digest('base64url'), 'not an unkeyed hash');
  t.notMatch(stored, created.client_secret, 'not the secret');

  const appsBefore = await count(db, 'SELECT 1 FROM apps');
  const [showJson, showText, publicApp, javascript, fragment, plainHttp, wildcard, unknownScope] = await Promise.all([
    run(['app', 'show', created.client_id, '--json']),
    run(['app', 'show', created.client_id]),
    run([
      'app',
      'create',
      '--tenant',
      'fabrikam',
      '--name',
      'Mobile',
      '--redirect-uri',
      'com.example.mobile:/cb',
      '--public',
      '--permissions',
      'openid',
      '--json',
    ]),
    run([...create.slice(0, -1), 'javascript:alert(1)', '--permissions', 'openid']),
    run([...create.slice(0, -1), 'https://planner.example/cb#frag', '--permissions', 'openid']),
    run([...create.slice(0, -1), 'http://planner.example/cb', '--permissions', 'openid']),
    run([...create.slice(0, -1), 'https://*.planner.example/cb', '--permissions', 'openid']),
    run([...create, '--permissions', 'openid Mail.ReadEverything']),
  ]);
  t.notOk('client_secret' in json(showJson), 'show never has the secret');
  t.notMatch(showText.stdout, created.client_secret);
  const mobile = json(publicApp);
  t.notOk('client_secret' in mobile, 'a public client has no secret');
  t.equal(mobile.client_type, 'public');
  for (const [refused, why] of [
    [javascript, 'scheme "javascript"'],
    [fragment, 'fragment'],
    [plainHttp, 'https unless the host is loopback'],
    [wildcard, 'wildcard'],
  ] as const) {
    t.equal(refused.code, 1, `refused: ${why}`);
    t.match(refused.stderr, why);
  }
  t.equal(unknownScope.code, 1);
  t.equal(unknownScope.stderr, 'accord: permissions not in the catalogue: Mail.ReadEverything\n');
  t.equal(await count(db, 'SELECT 1 FROM apps'), appsBefore + 1, 'only the public app was written');

  const [verified, updated, wrongPublisher, nothing] = await Promise.all([
    run(['app', 'verify-publisher', created.client_id, 'on', '--json']),
    run([
      'app',
      'update',
      created.client_id,
      '--name',
      'Planner 2',
      '--multi-tenant',
      'off',
      '--homepage-url',
      'https://planner.example',
      '--json',
    ]),
    run(['app', 'update', created.client_id, '--tenant', 'contoso', '--name', 'Stolen']),
    run(['app', 'update', created.client_id]),
  ]);
  t.equal(json(verified).publisher_verified, true);
  t.match(json(updated), { name: 'Planner 2', multi_tenant: false, homepage_url: 'https://planner.example' });
  t.equal(wrongPublisher.code, 1);
  t.match(wrongPublisher.stderr, 'not published by tenant "contoso"');
  t.equal(nothing.code, 2);

  // A rotation without an outage: add a second secret, both work, remove the first.
  const added = json(await run(['app', 'add-secret', created.client_id, '--expires-in-days', '30', '--json']));
  t.equal(added.client_id, created.client_id);
  t.match(added.client_secret, /^[A-Za-z0-9_-]{43}$/);
  t.equal(added.hint, added.client_secret.slice(0, 3), 'the hint is the first three characters');
  t.equal(
    Math.round((Date.parse(added.expires_at) - Date.parse(added.created_at)) / 86_400_000),
    30,
    'expires after the days asked',
  );
  t.equal(await tokenWith(added.client_secret), '200 token', 'the added secret works');
  t.equal(await tokenWith(created.client_secret), '200 token', 'and so does the first one');
  const [third, badDays, showRun] = await Promise.all([
    run(['app', 'add-secret', created.client_id]),
    run(['app', 'add-secret', created.client_id, '--expires-in-days', '731']),
    run(['app', 'show', created.client_id, '--json']),
  ]);
  t.equal(third.code, 1, 'a third live secret is refused');
  t.match(third.stderr, 'already has 2 client secrets');
  t.equal(badDays.code, 1);
  t.match(badDays.stderr, 'from 1 to 730');
  const shown = json<{ secrets: Array<{ id: string; hint: string; expires_at: string }> }>(showRun);
  t.equal(shown.secrets.length, 2, 'app show lists both secrets (never their values)');
  t.notMatch(JSON.stringify(shown), created.client_secret);
  const first = shown.secrets.find((secret) => secret.id !== added.secret_id)!;
  const removedFirst = json(await run(['app', 'remove-secret', created.client_id, first.id, '--json']));
  t.same(removedFirst, { client_id: created.client_id, secret_id: first.id, removed: true });
  t.equal(await tokenWith(created.client_secret), '401 invalid_client', 'the removed secret no longer works');
  t.equal(await tokenWith(added.client_secret), '200 token', 'the other one still does');
  const removedAgain = await run(['app', 'remove-secret', created.client_id, first.id]);
  t.equal(removedAgain.code, 1, 'an unknown secret id');
  t.match(removedAgain.stderr, 'no client secret with this id');

  const rotated = json(await run(['app', 'rotate-secret', created.client_id, '--json']));
  t.equal(rotated.client_id, created.client_id);
  t.not(rotated.client_secret, created.client_secret);
  t.equal(await tokenWith(rotated.client_secret), '200 token', 'the new secret authenticates the app');
  t.equal(await tokenWith(added.client_secret), '401 invalid_client', 'the old one no longer does');
  const publicRotate = await run(['app', 'rotate-secret', mobile.client_id]);
  t.equal(publicRotate.code, 1);
  t.match(publicRotate.stderr, 'a public app has no secret');

  t.equal((await run(['app', 'delete', created.client_id])).code, 0);
  const gone = await run(['app', 'show', created.client_id]);
  t.equal(gone.code, 1);
  t.equal(gone.stderr, `accord: app "${created.client_id}" not found\n`);
  const listed = json<{ value: { client_id: string }[] }>(
    await run(['app', 'list', '--tenant', 'fabrikam', '--json']),
  ).value;
  t.same(
    listed.map((app) => app.client_id),
    [mobile.client_id],
  );
  const { rows } = await db.pool.query(`SELECT actor, action FROM audit_events WHERE target = $1 ORDER BY id`, [
    created.client_id,
  ]);
  const actions = rows.map((row) => row.action);
  t.equal(actions[0], 'app.registered');
  t.equal(actions.at(-1), 'app.deleted');
  // verify-publisher and update ran at the same time: either order.
  t.same(actions.slice(1, -1).sort(), [
    'app.publisher.verified',
    'app.secret.added',
    'app.secret.removed',
    'app.secret.rotated',
    'app.updated',
  ]);
  t.ok(rows.every((row) => row.actor === 'operator'));
});

t.test(
  'apps: optional permissions are a subset of --permissions without openid; refusals change nothing',
  async (t) => {
    const create = [
      'app',
      'create',
      '--tenant',
      'fabrikam',
      '--name',
      'Optional',
      '--redirect-uri',
      'https://o.example/cb',
    ];
    const [created, openid, unregistered] = await Promise.all([
      run([
        ...create,
        '--permissions',
        'openid User.Read Calendars.Read',
        '--optional-permissions',
        'Calendars.Read',
        '--json',
      ]),
      run([...create, '--permissions', 'openid User.Read', '--optional-permissions', 'openid', '--json']),
      run([...create, '--permissions', 'openid User.Read', '--optional-permissions', 'Files.Read']),
    ]);
    const app = json(created);
    t.same(app.optional_permissions, ['Calendars.Read']);
    t.equal(openid.code, 1, 'openid optional');
    t.match(JSON.parse(openid.stderr), { error: 'invalid_request', field: 'optional_permissions' });
    t.equal(unregistered.code, 1, 'an optional permission not registered');
    t.match(unregistered.stderr, "optional_permissions must be among the app's permissions: Files.Read");
    const { rows } = await db.pool.query(`SELECT 1 FROM apps WHERE name = 'Optional'`);
    t.equal(rows.length, 1, 'only the valid registration was written');
    const cleared = json(await run(['app', 'update', app.client_id, '--optional-permissions', '', '--json']));
    t.same(cleared.optional_permissions, [], '"" makes every permission required again');
  },
);

t.test('keys rotate activates a key per algorithm, makes the next ones and retires the previous ones', async (t) => {
  const kidsWhere = async (condition: string) =>
    (
      await db.pool.query<{ kid: string }>(`SELECT kid FROM signing_keys WHERE ${condition} ORDER BY alg DESC`)
    ).rows.map((row) => row.kid);
  const signing = 'retire_after IS NULL AND activated_at IS NOT NULL';
  // A first rotation, so that keys sign before the one under test (on an empty key table it
  // creates them).
  const first = json(await run(['keys', 'rotate', '--json']));
  const before = await kidsWhere(signing);
  t.same(
    before,
    first.keys.map((key: { kid: string }) => key.kid),
    'an RS256 and an ES256 key sign',
  );
  t.equal(before.length, 2);
  const publishedAhead = await kidsWhere('activated_at IS NULL');
  const rotated = json(await run(['keys', 'rotate', '--json']));
  t.same(
    rotated.keys.map((key: { alg: string }) => key.alg),
    ['RS256', 'ES256'],
  );
  t.same(
    rotated.keys.map((key: { kid: string }) => key.kid),
    publishedAhead,
    'the keys published ahead are the ones activated',
  );
  t.same(
    rotated.next_keys.map((key: { alg: string }) => key.alg),
    ['RS256', 'ES256'],
  );
  t.same(
    await kidsWhere(signing),
    rotated.keys.map((key: { kid: string }) => key.kid),
    'the keys that sign',
  );
  t.same(
    await kidsWhere('activated_at IS NULL'),
    rotated.next_keys.map((key: { kid: string }) => key.kid),
    'the keys published ahead',
  );
  t.equal(rotated.previous_keys_published_for_seconds, 24 * 60 * 60);
  const { rows } = await db.pool.query<{ kid: string; hours: number }>(
    `SELECT kid, round(extract(epoch FROM retire_after - now()) / 3600)::int AS hours FROM signing_keys
      WHERE kid = ANY($1::text[]) ORDER BY alg DESC`,
    [before],
  );
  t.same(
    rows,
    before.map((kid) => ({ kid, hours: 24 })),
    'the previous keys stay published for a day',
  );
});

t.test('keys rotate refuses while a running server does not publish the keys it would activate', async (t) => {
  const activeKids = async () =>
    (
      await db.pool.query<{ kid: string }>(
        'SELECT kid FROM signing_keys WHERE retire_after IS NULL AND activated_at IS NOT NULL ORDER BY kid',
      )
    ).rows.map((row) => row.kid);
  // The server loads (and publishes) the current next keys: the first rotation may activate them.
  const server = await startTestServer({}, db);
  let running = true;
  const stop = async () => {
    if (running) await server.close();
    running = false;
  };
  t.teardown(stop);
  t.equal((await run(['keys', 'rotate'])).code, 0, 'a rotation to keys every server publishes');

  // Without a restart the server lacks the next keys that rotation created.
  const before = await activeKids();
  const refused = await run(['keys', 'rotate']);
  t.equal(refused.code, 1, 'refused');
  t.match(
    refused.stderr,
    new RegExp(
      `^accord: not rotated: a running server does not publish the keys this rotation would activate, having started before the previous rotation: \\S+ pid ${process.pid} \\(started `,
    ),
  );
  t.match(refused.stderr, /Restart them first \(or rotate with --force\)/);
  t.same(await activeKids(), before, 'no key changed');

  const forced = json(await run(['keys', 'rotate', '--force', '--json']));
  t.notSame(forced.keys.map((key: { kid: string }) => key.kid).sort(), before, '--force rotates anyway');

  // A stopped server no longer counts; one silent past the heartbeat's limit neither (a crash).
  await stop();
  t.equal(await count(db, 'SELECT 1 FROM server_instances'), 0, 'a server that stops takes itself off the list');
  await db.pool.query(
    `INSERT INTO server_instances (id, description, published_kids, seen_at) VALUES ('crashed', 'gone pid 1', '{}', now() - interval '91 seconds')`,
  );
  t.equal((await run(['keys', 'rotate'])).code, 0, 'a server not seen for 90 s is taken as gone');
});

t.test('audit list pages newest first', async (t) => {
  const all = json(await run(['audit', 'list', 'contoso', '--json']));
  const ids = all.value.map((event: { id: string }) => Number(event.id));
  t.ok(ids.length >= 6);
  t.same(
    ids,
    [...ids].sort((a, b) => b - a),
    'newest first',
  );
  t.equal(all.value.at(-1).action, 'tenant.created');
  t.equal(all.next_before, null, 'one page holds them all');
  const [page, badLimit, unknown, dashedId] = await Promise.all([
    run(['audit', 'list', 'contoso', '--limit', '2', '--json']),
    run(['audit', 'list', 'contoso', '--limit', 'ten']),
    run(['audit', 'list', 'nowhere']),
    run(['app', 'show', '-Starts-with-a-dash']),
  ]);
  const first = json(page);
  t.same(
    first.value.map((event: { id: string }) => Number(event.id)),
    ids.slice(0, 2),
  );
  t.equal(first.next_before, String(ids[1]));
  const second = json(await run(['audit', 'list', 'contoso', '--limit', '2', '--before', first.next_before, '--json']));
  t.same(
    second.value.map((event: { id: string }) => Number(event.id)),
    ids.slice(2, 4),
  );
  t.equal(badLimit.code, 2);
  t.equal(unknown.code, 1);
  t.equal(dashedId.stderr, 'accord: app "-Starts-with-a-dash" not found\n', 'a base64url id may start with "-"');
});

t.test('seed --demo creates the demo and prints its credentials; a second run changes nothing', async (t) => {
  const fresh = await createTestDatabase();
  t.teardown(() => fresh.drop());
  // Where the seed keeps the demo app's credentials (test/services/demo-seed.test.ts): not the checkout.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'accord-cli-seed-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const seed = json(await accord(fresh, ['seed', '--demo', '--json'], '', { DATA_DIR: dataDir }));
  t.same(
    seed.tenants.map((tenant: { id: string }) => tenant.id),
    ['contoso', 'fabrikam'],
  );
  t.equal(seed.users.length, 6);
  for (const tenant of ['contoso', 'fabrikam']) {
    const people = seed.users.filter((user: { tenant: string }) => user.tenant === tenant);
    t.same(
      people.map((user: { role: string }) => user.role).sort(),
      ['admin', 'user', 'user'],
      `an admin and two users in ${tenant}`,
    );
  }
  for (const user of seed.users) {
    t.match(user, { id: String, username: String, sign_in: `${user.username}@${user.tenant}`, password: String });
    const { rows } = await fresh.pool.query('SELECT password_hash FROM users WHERE id = $1', [user.id]);
    t.ok(
      await verifyPassword(rows[0].password_hash, user.password),
      `${user.sign_in} signs in with the printed password`,
    );
  }
  t.match(seed.app, { client_id: String, client_secret: String, publisher: String });
  t.same(seed.app.permissions, [
    'openid',
    'profile',
    'offline_access',
    'User.Read',
    'Calendars.Read',
    'Files.ReadWrite',
    'Mail.Send',
  ]);
  const { rows } = await fresh.pool.query('SELECT publisher_tenant_id, multi_tenant FROM apps WHERE client_id = $1', [
    seed.app.client_id,
  ]);
  t.same(rows, [{ publisher_tenant_id: 'fabrikam', multi_tenant: true }]);

  const users = await count(fresh, 'SELECT 1 FROM users');
  const again = await accord(fresh, ['seed', '--demo']);
  t.equal(again.code, 1);
  t.match(again.stderr, 'tenant "contoso" already exists');
  t.equal(await count(fresh, 'SELECT 1 FROM users'), users);
  t.equal((await accord(fresh, ['seed'])).code, 2, 'seed needs --demo');
});
