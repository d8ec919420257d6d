// The apps a tenant registers, through the admin API: the secret is shown once (on registration and
// on rotation) and never again; a rotated secret stops working at /token; redirect URIs follow
// RFC 9700; only the operator verifies a publisher.
import t from 'tap';
import { startTestServer } from '../support/server.js';
import { adminApiToken, callApi, PASSWORD, registerAdminClient } from './support.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;

await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
const carol = await directory.createUser(
  { tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' },
  'operator',
);
const adminClient = await registerAdminClient(server, 'contoso');
const token = (await adminApiToken(server, adminClient, 'carol@contoso')).accessToken;
const apps = '/tenants/contoso/apps';
const validApp = {
  name: 'Planner',
  redirectUris: ['https://planner.example/callback'],
  permissions: ['openid', 'User.Read'],
};

/** Client credentials at /token with this secret (RFC 6749 §4.4, client_secret_basic): ok, or the OAuth error. */
async function tokenWithSecret(
  clientId: string,
  secret: string,
): Promise<{ ok: true } | { ok: false; error: string; status: number }> {
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }),
  });
  const body = (await response.json()) as { access_token?: string; error?: string };
  return response.ok && body.access_token
    ? { ok: true }
    : { ok: false, error: String(body.error), status: response.status };
}

async function appCount(): Promise<number> {
  const { rows } = await pool.query<{ count: string }>('SELECT count(*) FROM apps');
  return Number(rows[0]!.count);
}

async function storedApp(clientId: string) {
  const { rows } = await pool.query('SELECT * FROM apps WHERE client_id = $1::text', [clientId]);
  return rows[0];
}

t.test('registering an app returns its secret once; reading it never shows the secret', async (t) => {
  const created = await callApi(server, token, apps, {
    body: {
      ...validApp,
      permissions: ['User.Read', 'openid', 'offline_access'],
      multiTenant: true,
      homepageUrl: 'https://planner.example',
    },
  });
  t.equal(created.status, 201);
  t.match(created.body, {
    clientId: /^[A-Za-z0-9_-]{22}$/,
    clientSecret: /^[A-Za-z0-9_-]{43}$/,
    name: 'Planner',
    publisherTenant: 'contoso',
    publisherName: 'Contoso',
    publisherVerified: false,
    multiTenant: true,
    public: false,
    redirectUris: ['https://planner.example/callback'],
    postLogoutRedirectUris: [],
    homepageUrl: 'https://planner.example',
    privacyUrl: null,
    permissions: ['openid', 'offline_access', 'User.Read'],
  });
  t.equal(created.headers.get('location'), `${server.url}/api/v1/tenants/contoso/apps/${created.body.clientId}`);
  t.equal(created.headers.get('cache-control'), 'no-store', 'a secret is never cached');
  const { clientId, clientSecret } = created.body as { clientId: string; clientSecret: string };
  t.same(await tokenWithSecret(clientId, clientSecret), { ok: true }, 'the secret works at /token');

  const read = await callApi(server, token, `${apps}/${clientId}`);
  t.equal(read.status, 200);
  const { clientSecret: _shown, ...withoutSecret } = created.body;
  t.same(read.body, withoutSecret);
  const list = await callApi(server, token, apps);
  t.same(
    list.body.value.map((app: { clientId: string }) => app.clientId),
    [adminClient.clientId, clientId],
  );
  const hashes = (await pool.query('SELECT secret_hash FROM app_secrets')).rows.map((row) => row.secret_hash);
  t.ok(hashes.length >= 2);
  for (const body of [read.body, list.body]) {
    t.notOk(JSON.stringify(body).includes(clientSecret), 'the secret is not shown again');
    for (const hash of hashes) t.notOk(JSON.stringify(body).includes(hash), 'nor its hash');
    t.notMatch(JSON.stringify(body), /clientSecret|secretHash/, 'no field holds a secret');
  }
  const audit = await callApi(server, token, '/tenants/contoso/audit-events?limit=200');
  t.match(
    audit.body.value.find(
      (event: { action: string; target: string }) => event.action === 'app.registered' && event.target === clientId,
    ),
    { actor: carol.id },
  );
  t.notOk(JSON.stringify(audit.body).includes(clientSecret), 'nor in the audit trail');
});

t.test('rotating the secret returns a new one once; the old one stops working at /token at once', async (t) => {
  const { clientId, clientSecret: first } = (await callApi(server, token, apps, { body: validApp })).body;
  const rotated = await callApi(server, token, `${apps}/${clientId}/secret`, { method: 'POST' });
  t.equal(rotated.status, 200);
  t.same(Object.keys(rotated.body).sort(), ['clientId', 'clientSecret', 'createdAt', 'expiresAt', 'hint', 'secretId']);
  t.equal(rotated.body.clientId, clientId);
  t.not(rotated.body.clientSecret, first);
  t.equal(rotated.headers.get('cache-control'), 'no-store');

  t.same(
    await tokenWithSecret(clientId, first),
    { ok: false, error: 'invalid_client', status: 401 },
    'the old secret is refused',
  );
  t.same(await tokenWithSecret(clientId, rotated.body.clientSecret), { ok: true }, 'the new secret works');
  t.notOk(
    JSON.stringify((await callApi(server, token, `${apps}/${clientId}`)).body).includes(rotated.body.clientSecret),
    'and is not shown again',
  );
  const audit = await callApi(server, token, '/tenants/contoso/audit-events?limit=200');
  t.match(
    audit.body.value.find(
      (event: { action: string; target: string }) => event.action === 'app.secret.rotated' && event.target === clientId,
    ),
    { actor: carol.id },
  );
});

t.test('a public app has no secret, and none can be rotated', async (t) => {
  const created = await callApi(server, token, apps, {
    body: { ...validApp, name: 'Phone app', public: true, redirectUris: ['com.example.phone:/callback'] },
  });
  t.equal(created.status, 201);
  t.notOk('clientSecret' in created.body);
  t.equal(created.body.public, true);
  const rotated = await callApi(server, token, `${apps}/${created.body.clientId}/secret`, { method: 'POST' });
  t.equal(rotated.status, 400);
  t.match(rotated.body.error_description, /public app has no secret/);
});

t.test('bad redirect URIs are refused with 400 naming redirectUris, and nothing is written', async (t) => {
  const count = await appCount();
  const existing = (await callApi(server, token, apps, { body: validApp })).body;
  const before = await storedApp(existing.clientId);
  for (const [uri, reason] of [
    ['javascript:alert(document.cookie)', /scheme "javascript" is not allowed/],
    ['data:text/html,<script>alert(1)</script>', /scheme "data" is not allowed/],
    ['https://planner.example/callback#fragment', /must not contain a fragment/],
    ['http://planner.example/callback', /must use https unless the host is loopback/],
    ['https://*.planner.example/callback', /must not contain a wildcard/],
    ['https://planner.example/*', /must not contain a wildcard/],
    ['/relative/callback', /must be an absolute URL/],
    ['https://user:password@planner.example/callback', /must not contain credentials/],
  ] as const) {
    for (const [method, path, body] of [
      ['POST', apps, { ...validApp, redirectUris: ['https://planner.example/ok', uri] }],
      ['PATCH', `${apps}/${existing.clientId}`, { redirectUris: [uri] }],
      ['POST', apps, { ...validApp, postLogoutRedirectUris: [uri] }],
    ] as const) {
      const response = await callApi(server, token, path, { method, body });
      t.equal(response.status, 400, `${method} ${uri}`);
      t.equal(response.body.error, 'invalid_request');
      t.match(response.body.error_description, /^redirectUris: redirect URI /, `${method} ${uri}: names the field`);
      t.match(response.body.error_description, reason);
    }
  }
  t.equal(await appCount(), count + 1, 'no app was created');
  t.same(await storedApp(existing.clientId), before, 'the existing app is unchanged');

  for (const uri of ['http://127.0.0.1:8080/callback', 'http://localhost/cb', 'com.example.app:/oauth2redirect']) {
    const response = await callApi(server, token, apps, { body: { ...validApp, redirectUris: [uri] } });
    t.equal(response.status, 201, `${uri} is acceptable (RFC 8252)`);
  }
});

t.test('other bad app input is refused with 400 naming the field', async (t) => {
  const count = await appCount();
  const cases: [string, unknown, RegExp][] = [
    ['no name', { redirectUris: validApp.redirectUris, permissions: ['openid'] }, /^body\.name is required$/],
    ['no redirect URIs', { name: 'x', permissions: ['openid'] }, /^body\.redirectUris is required$/],
    ['empty redirect URIs', { ...validApp, redirectUris: [] }, /^body\.redirectUris must NOT have fewer than 1 items$/],
    [
      '21 redirect URIs',
      { ...validApp, redirectUris: Array.from({ length: 21 }, (_, i) => `https://planner.example/${i}`) },
      /^body\.redirectUris must NOT have more than 20 items$/,
    ],
    [
      'a very long redirect URI',
      { ...validApp, redirectUris: [`https://planner.example/${'a'.repeat(2000)}`] },
      /^body\.redirectUris\.0 must NOT have more than 2000 characters$/,
    ],
    ['name too long', { ...validApp, name: 'N'.repeat(201) }, /^body\.name must NOT have more than 200 characters$/],
    ['blank name', { ...validApp, name: '  ' }, /^name must be 1–200 characters$/],
    [
      'unknown permission',
      { ...validApp, permissions: ['openid', 'Mail.ReadAll'] },
      /^permissions not in the catalogue: Mail.ReadAll$/,
    ],
    ['no permission', { ...validApp, permissions: [] }, /^body\.permissions must NOT have fewer than 1 items$/],
    [
      'duplicate permission',
      { ...validApp, permissions: ['openid', 'openid'] },
      /^body\.permissions must NOT have duplicate items/,
    ],
    ['http homepage', { ...validApp, homepageUrl: 'http://planner.example' }, /^homepageUrl must be an https URL$/],
    [
      'publisher verification',
      { ...validApp, publisherVerified: true },
      /^body\.publisherVerified is not a known field$/,
    ],
    ['publisher name', { ...validApp, publisherName: 'Microsoft' }, /^body\.publisherName is not a known field$/],
    ['client secret', { ...validApp, clientSecret: 'chosen-by-me' }, /^body\.clientSecret is not a known field$/],
    ['multiTenant as a string', { ...validApp, multiTenant: 'true' }, /^body\.multiTenant must be boolean$/],
    ['openid optional', { ...validApp, optionalPermissions: ['openid'] }, /^optionalPermissions may not hold openid/],
    [
      'an optional permission not registered',
      { ...validApp, optionalPermissions: ['Calendars.Read'] },
      /^optionalPermissions must be among the app's permissions: Calendars.Read$/,
    ],
  ];
  for (const [name, body, description] of cases) {
    const response = await callApi(server, token, apps, { body });
    t.equal(response.status, 400, name);
    t.match(response.body.error_description, description, name);
  }
  t.equal(await appCount(), count, 'no app was created');
});

t.test('optional permissions are registered, changed and refused when they would be wrong', async (t) => {
  const created = await callApi(server, token, apps, {
    body: {
      ...validApp,
      permissions: ['openid', 'User.Read', 'Calendars.Read'],
      optionalPermissions: ['Calendars.Read'],
    },
  });
  t.equal(created.status, 201);
  t.same(created.body.optionalPermissions, ['Calendars.Read']);
  const path = `${apps}/${created.body.clientId}`;
  const openid = await callApi(server, token, path, { method: 'PATCH', body: { optionalPermissions: ['openid'] } });
  t.equal(openid.status, 400);
  t.equal(openid.body.error, 'invalid_request');
  t.same((await callApi(server, token, path)).body.optionalPermissions, ['Calendars.Read'], 'nothing changed');
  const narrowed = await callApi(server, token, path, {
    method: 'PATCH',
    body: { permissions: ['openid', 'User.Read'] },
  });
  t.same(narrowed.body.optionalPermissions, [], 'a permission no longer registered is no longer optional');
  const cleared = await callApi(server, token, path, {
    method: 'PATCH',
    body: { permissions: ['openid', 'User.Read', 'Files.Read'], optionalPermissions: ['Files.Read'] },
  });
  t.same(cleared.body.optionalPermissions, ['Files.Read']);
});

t.test(
  'an admin changes an app, but cannot verify its publisher or make it public; the operator verifies it',
  async (t) => {
    const { clientId } = (await callApi(server, token, apps, { body: validApp })).body;
    const path = `${apps}/${clientId}`;
    const changed = await callApi(server, token, path, {
      method: 'PATCH',
      body: {
        name: 'Planner 2',
        multiTenant: true,
        redirectUris: ['https://planner.example/cb2'],
        permissions: ['openid', 'Calendars.Read'],
        privacyUrl: 'https://planner.example/privacy',
      },
    });
    t.equal(changed.status, 200);
    t.match(changed.body, {
      name: 'Planner 2',
      multiTenant: true,
      redirectUris: ['https://planner.example/cb2'],
      permissions: ['openid', 'Calendars.Read'],
      privacyUrl: 'https://planner.example/privacy',
    });
    const cleared = await callApi(server, token, path, { method: 'PATCH', body: { privacyUrl: null } });
    t.match(cleared.body, { name: 'Planner 2', privacyUrl: null });

    const before = await storedApp(clientId);
    for (const [body, field] of [
      [{ publisherVerified: true }, 'publisherVerified'],
      [{ name: 'Planner 3', publisherVerified: true }, 'publisherVerified'],
      [{ public: true }, 'public'],
      [{ clientId: 'other' }, 'clientId'],
      [{ publisherTenant: 'fabrikam' }, 'publisherTenant'],
    ] as const) {
      const response = await callApi(server, token, path, { method: 'PATCH', body });
      t.equal(response.status, 400, JSON.stringify(body));
      t.equal(response.body.error_description, `body.${field} is not a known field`);
    }
    t.equal((await callApi(server, token, path, { method: 'PATCH', body: {} })).status, 400, 'an empty change');
    t.same(await storedApp(clientId), before, 'unchanged');

    await directory.setPublisherVerified(clientId, true, 'operator');
    t.equal((await callApi(server, token, path)).body.publisherVerified, true, 'the operator verified it');
  },
);

t.test('deleting an app removes it: 204, then 404, and its secret no longer works', async (t) => {
  const { clientId, clientSecret } = (await callApi(server, token, apps, { body: validApp })).body;
  const deleted = await callApi(server, token, `${apps}/${clientId}`, { method: 'DELETE' });
  t.equal(deleted.status, 204);
  t.equal(deleted.body, undefined);
  t.equal((await callApi(server, token, `${apps}/${clientId}`)).status, 404);
  t.equal((await callApi(server, token, `${apps}/${clientId}`, { method: 'DELETE' })).status, 404, 'deleting twice');
  t.match(await tokenWithSecret(clientId, clientSecret), { ok: false, error: 'invalid_client' });
  const audit = await callApi(server, token, '/tenants/contoso/audit-events?limit=200');
  t.match(
    audit.body.value.find(
      (event: { action: string; target: string }) => event.action === 'app.deleted' && event.target === clientId,
    ),
    { actor: carol.id },
  );
});
