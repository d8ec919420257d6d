// The tenant's users through the admin API: create (409 on a duplicate, 400 naming the field on
// bad input, nothing written), read, and change role, disabled state and password.
import t from 'tap';
import { signIn } from '../../src/services/sign-in.js';
import { startTestServer } from '../support/server.js';
import { adminApiToken, callApi, PASSWORD, registerAdminClient } from './support.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;

await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
const carol = await directory.createUser(
  { tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin', displayName: 'Carol' },
  'operator',
);
await directory.createUser({ tenantId: 'fabrikam', username: 'henry', password: PASSWORD, role: 'user' }, 'operator');
const token = (await adminApiToken(server, await registerAdminClient(server, 'contoso'), 'carol@contoso')).accessToken;
const users = '/tenants/contoso/users';

async function userCount(): Promise<number> {
  const { rows } = await pool.query<{ count: string }>('SELECT count(*) FROM users');
  return Number(rows[0]!.count);
}

async function storedUser(id: string) {
  const { rows } = await pool.query('SELECT * FROM users WHERE id = $1::text', [id]);
  return rows[0];
}

t.test('an admin creates a user, reads it back, and finds it in the list and the audit trail', async (t) => {
  const created = await callApi(server, token, users, {
    body: {
      username: 'Henry',
      password: 'a long enough password',
      displayName: 'Henry Ford',
      email: 'henry@contoso.example',
    },
  });
  t.equal(created.status, 201);
  t.match(created.body, {
    id: /^[A-Za-z0-9_-]{22}$/,
    tenant: 'contoso',
    username: 'henry',
    displayName: 'Henry Ford',
    email: 'henry@contoso.example',
    role: 'user',
    disabled: false,
    createdAt: /^\d{4}-\d\d-\d\dT.*Z$/,
  });
  t.same(
    Object.keys(created.body).sort(),
    ['createdAt', 'disabled', 'displayName', 'email', 'id', 'role', 'signInFailures', 'tenant', 'username'],
    'no password hash',
  );
  t.equal(created.headers.get('location'), `${server.url}/api/v1/tenants/contoso/users/${created.body.id}`);

  const read = await callApi(server, token, `${users}/${created.body.id}`);
  t.same(read.body, created.body);
  const list = await callApi(server, token, users);
  t.same(
    list.body.value.map((user: { username: string }) => user.username),
    ['carol', 'henry'],
    'only contoso, by username',
  );
  t.notMatch(JSON.stringify(list.body), /argon2|password/i);

  const audit = await callApi(server, token, '/tenants/contoso/audit-events?limit=200');
  t.match(
    audit.body.value.find(
      (event: { action: string; target: string }) =>
        event.action === 'user.created' && event.target === created.body.id,
    ),
    { actor: carol.id, details: { username: 'henry', role: 'user' } },
  );
  t.ok((await signIn(pool, 'henry@contoso', 'a long enough password', '127.0.0.1')).ok, 'the user can sign in');

  const admin = await callApi(server, token, users, {
    body: { username: 'ivy', password: 'a long enough password', role: 'admin', email: null },
  });
  t.equal(admin.status, 201);
  t.match(admin.body, { username: 'ivy', displayName: 'ivy', role: 'admin', email: null });
});

t.test('a duplicate username is 409, whatever its case, and nothing is written', async (t) => {
  const count = await userCount();
  for (const username of ['carol', 'CAROL', 'henry']) {
    const response = await callApi(server, token, users, { body: { username, password: 'a long enough password' } });
    t.equal(response.status, 409, username);
    t.equal(response.body.error, 'conflict');
    t.match(response.body.error_description, /already exists/);
  }
  t.equal(await userCount(), count);
  const fabrikamName = await callApi(server, token, users, {
    body: { username: 'henry2', password: 'a long enough password' },
  });
  t.equal(fabrikamName.status, 201, 'usernames are unique per tenant only (henry exists in fabrikam too)');
});

t.test('bad user input is refused with 400 naming the field, and no user is created', async (t) => {
  const ok = { username: 'newbie', password: 'a long enough password' };
  const cases: [string, unknown, RegExp][] = [
    ['no username', { password: ok.password }, /^body\.username is required$/],
    ['no password', { username: 'newbie' }, /^body\.password is required$/],
    ['username with a space', { ...ok, username: 'new bie' }, /^username must be/],
    ['username with an @', { ...ok, username: 'new@contoso' }, /^username must be/],
    [
      'username too long',
      { ...ok, username: 'n'.repeat(65) },
      /^body\.username must NOT have more than 64 characters$/,
    ],
    ['empty username', { ...ok, username: '' }, /^body\.username must NOT have fewer than 1 characters$/],
    ['username not a string', { ...ok, username: 42 }, /^body\.username must be string$/],
    ['unknown field', { ...ok, isAdmin: true }, /^body\.isAdmin is not a known field$/],
    ['unknown field (tenant)', { ...ok, tenant: 'fabrikam' }, /^body\.tenant is not a known field$/],
    [
      'name too long',
      { ...ok, displayName: 'N'.repeat(201) },
      /^body\.displayName must NOT have more than 200 characters$/,
    ],
    ['blank name', { ...ok, displayName: '   ' }, /^name must be 1–200 characters$/],
    ['bad role', { ...ok, role: 'owner' }, /^body\.role must be one of: user, admin$/],
    ['bad email', { ...ok, email: 'not an address' }, /^email is not a valid address$/],
    ['empty email', { ...ok, email: '' }, /^body\.email must NOT have fewer than 3 characters$/],
    [
      'email too long',
      { ...ok, email: `${'e'.repeat(250)}@x.example` },
      /^body\.email must NOT have more than 254 characters$/,
    ],
    [
      'password over 1 KiB (characters)',
      { ...ok, password: 'p'.repeat(1025) },
      /^body\.password must NOT have more than 1024 characters$/,
    ],
    ['password over 1 KiB (bytes)', { ...ok, password: 'é'.repeat(600) }, /^password must be at most 1024 bytes$/],
    ['password too short', { ...ok, password: 'short' }, /^password must be at least 8 characters$/],
    ['an array', [ok], /^body must be object$/],
  ];
  const count = await userCount();
  for (const [name, body, description] of cases) {
    const response = await callApi(server, token, users, { body });
    t.equal(response.status, 400, name);
    t.equal(response.body.error, 'invalid_request', name);
    t.match(response.body.error_description, description, name);
  }
  t.equal(await userCount(), count, 'no user was created');
});

t.test('an admin promotes, disables and re-enables a user, and sets their password', async (t) => {
  const jack = (await callApi(server, token, users, { body: { username: 'jack', password: 'the first password' } }))
    .body;
  const path = `${users}/${jack.id}`;

  const promoted = await callApi(server, token, path, { method: 'PATCH', body: { role: 'admin' } });
  t.equal(promoted.status, 200);
  t.match(promoted.body, { id: jack.id, role: 'admin', disabled: false });

  const disabled = await callApi(server, token, path, { method: 'PATCH', body: { disabled: true } });
  t.match(disabled.body, { role: 'admin', disabled: true });
  t.notOk((await signIn(pool, 'jack@contoso', 'the first password', '127.0.0.1')).ok, 'a disabled user cannot sign in');
  t.match((await callApi(server, token, path, { method: 'PATCH', body: { disabled: false, role: 'user' } })).body, {
    role: 'user',
    disabled: false,
  });

  const password = await callApi(server, token, path, { method: 'PATCH', body: { password: 'the second password' } });
  t.equal(password.status, 200);
  t.notOk('password' in password.body);
  t.notOk(
    (await signIn(pool, 'jack@contoso', 'the first password', '127.0.0.1')).ok,
    'the old password no longer works',
  );
  t.ok((await signIn(pool, 'jack@contoso', 'the second password', '127.0.0.1')).ok, 'the new one does');

  const audit = (await callApi(server, token, '/tenants/contoso/audit-events?limit=200')).body.value as {
    action: string;
    target: string;
    actor: string;
    details: unknown;
  }[];
  const jacks = audit.filter((event) => event.target === jack.id);
  t.same(
    jacks.map((event) => event.action).sort(),
    [
      'user.created',
      'user.disabled',
      'user.enabled',
      'user.password.changed',
      'user.role.changed',
      'user.role.changed',
    ].sort(),
  );
  t.ok(jacks.every((event) => event.actor === carol.id));
  t.match(
    jacks.find((event) => event.action === 'user.role.changed' && (event.details as { to?: string }).to === 'admin'),
    { details: { from: 'user', to: 'admin' } },
    'who, old and new role',
  );
});

t.test('bad changes are refused whole: nothing is half-written', async (t) => {
  const kate = (await callApi(server, token, users, { body: { username: 'kate', password: 'the first password' } }))
    .body;
  const path = `${users}/${kate.id}`;
  const before = await storedUser(kate.id);
  for (const [name, body, description] of [
    ['empty', {}, /^body must contain at least one field$/],
    ['unknown field', { role: 'admin', username: 'kate2' }, /^body\.username is not a known field$/],
    ['publisher-style field', { role: 'admin', tenant: 'fabrikam' }, /^body\.tenant is not a known field$/],
    [
      'a weak password with a role change',
      { role: 'admin', password: 'short' },
      /^password must be at least 8 characters$/,
    ],
    [
      'a too long password with a role change',
      { role: 'admin', password: 'p'.repeat(1025) },
      /^body\.password must NOT have more than 1024 characters$/,
    ],
    ['disabled as a string', { disabled: 'true' }, /^body\.disabled must be boolean$/],
    ['bad role', { role: 'root' }, /^body\.role must be one of: user, admin$/],
  ] as const) {
    const response = await callApi(server, token, path, { method: 'PATCH', body });
    t.equal(response.status, 400, name);
    t.match(response.body.error_description, description, name);
  }
  t.same(await storedUser(kate.id), before, 'kate is exactly as before');
});

t.test(
  'an admin cannot demote or disable themself (409), so the tenant keeps an admin; their own password they may change',
  async (t) => {
    const path = `${users}/${carol.id}`;
    const before = await storedUser(carol.id);
    for (const body of [
      { role: 'user' },
      { disabled: true },
      { role: 'user', disabled: true },
      { password: 'carol new password', role: 'user' },
    ]) {
      const response = await callApi(server, token, path, { method: 'PATCH', body });
      t.equal(response.status, 409, JSON.stringify(body));
      t.equal(response.body.error, 'conflict');
    }
    t.same(await storedUser(carol.id), before, 'unchanged, password included');
    t.equal(
      (await callApi(server, token, path, { method: 'PATCH', body: { role: 'admin', disabled: false } })).status,
      200,
      'a no-op is fine',
    );
    const password = await callApi(server, token, path, { method: 'PATCH', body: { password: 'carol new password' } });
    t.equal(password.status, 200);
    t.ok((await signIn(pool, 'carol@contoso', 'carol new password', '127.0.0.1')).ok);
    t.equal((await callApi(server, token, '/tenants/contoso/settings')).status, 200, 'the token still works');
  },
);
