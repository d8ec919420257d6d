// Two client secrets at a time, each with an expiry: a rotation without an outage is add-new →
// switch → remove-old. Both secrets work at /token (openid-client, client_secret_basic and
// client_secret_post) until the old one is removed (then invalid_client) or expires; a third live
// secret is refused; the admin API lists, adds and removes secrets as its OpenAPI document says.
import * as oidc from 'openid-client';
import t from 'tap';
import { adminApiToken, callApi, PASSWORD, registerAdminClient } from '../admin-api/support.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;

await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
await directory.createUser({ tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' }, 'operator');
const adminClient = await registerAdminClient(server, 'contoso');
const token = (await adminApiToken(server, adminClient, 'carol@contoso')).accessToken;

/** An RP configured with one secret, as a deployed app is; `post` sends it in the body instead. */
async function rp(clientId: string, secret: string, post = false) {
  return oidc.discovery(
    new URL(server.url),
    clientId,
    {},
    post ? oidc.ClientSecretPost(secret) : oidc.ClientSecretBasic(secret),
    { execute: [oidc.allowInsecureRequests] },
  );
}

/** Client credentials with this secret: 'ok', or the OAuth error code. */
async function grantWith(clientId: string, secret: string, post = false): Promise<string> {
  try {
    const tokens = await oidc.clientCredentialsGrant(await rp(clientId, secret, post), { scope: 'User.Read' });
    return tokens.access_token ? 'ok' : 'no token';
  } catch (error) {
    if (error instanceof oidc.ResponseBodyError) return error.error;
    // A 401 with WWW-Authenticate (client_secret_basic): the OAuth error is in the body.
    if (error instanceof oidc.WWWAuthenticateChallengeError)
      return String(((await error.response.json()) as { error?: string }).error);
    throw error;
  }
}

async function newApp(name: string) {
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name,
      multiTenant: false,
      public: false,
      redirectUris: ['https://app.example.test/cb'],
      scopes: ['openid', 'User.Read'],
    },
    'operator',
  );
  return { clientId: app.clientId, first: clientSecret!, firstId: app.secrets[0]!.id };
}

t.test('a registered app starts with one secret that expires in 180 days', async (t) => {
  const app = await newApp('Starter');
  const { rows } = await pool.query('SELECT created_at, expires_at FROM app_secrets WHERE client_id = $1', [
    app.clientId,
  ]);
  t.equal(rows.length, 1);
  t.equal(Math.round((rows[0].expires_at - rows[0].created_at) / 86_400_000), 180);
  t.equal(await grantWith(app.clientId, app.first), 'ok');
});

t.test('rotation without an outage: both secrets work until the old one is removed', async (t) => {
  const app = await newApp('Rota');
  const added = await callApi(server, token, `/tenants/contoso/apps/${app.clientId}/secrets`, {
    method: 'POST',
    body: { expiresInDays: 90 },
  });
  t.equal(added.status, 201);
  t.equal(added.body.clientId, app.clientId);
  t.match(added.body.clientSecret, /^[A-Za-z0-9_-]{43}$/);
  t.equal(added.body.hint, added.body.clientSecret.slice(0, 3));
  t.equal(Math.round((Date.parse(added.body.expiresAt) - Date.parse(added.body.createdAt)) / 86_400_000), 90);
  const second = added.body.clientSecret as string;

  for (const post of [false, true]) {
    const how = post ? 'client_secret_post' : 'client_secret_basic';
    t.equal(await grantWith(app.clientId, app.first, post), 'ok', `the old secret works (${how})`);
    t.equal(await grantWith(app.clientId, second, post), 'ok', `the new secret works (${how})`);
  }
  t.equal(await grantWith(app.clientId, `${second}x`), 'invalid_client', 'control: another secret does not');

  const listed = await callApi(server, token, `/tenants/contoso/apps/${app.clientId}/secrets`);
  t.equal(listed.status, 200);
  t.same(
    listed.body.value.map((secret: { id: string }) => secret.id),
    [app.firstId, added.body.secretId],
    'both listed, oldest first',
  );
  t.notMatch(JSON.stringify(listed.body), second, 'never a secret');
  t.notMatch(JSON.stringify(listed.body), app.first);
  const shown = await callApi(server, token, `/tenants/contoso/apps/${app.clientId}`);
  t.equal(shown.body.secrets.length, 2, 'the app lists them too');

  const third = await callApi(server, token, `/tenants/contoso/apps/${app.clientId}/secrets`, {
    method: 'POST',
    body: {},
  });
  t.equal(third.status, 409, 'at most two live secrets');
  t.equal(third.body.error, 'conflict');
  t.equal((await pool.query('SELECT 1 FROM app_secrets WHERE client_id = $1', [app.clientId])).rowCount, 2);

  const removed = await callApi(server, token, `/tenants/contoso/apps/${app.clientId}/secrets/${app.firstId}`, {
    method: 'DELETE',
  });
  t.equal(removed.status, 204);
  t.equal(await grantWith(app.clientId, app.first), 'invalid_client', 'the removed secret is refused');
  t.equal(await grantWith(app.clientId, app.first, true), 'invalid_client');
  t.equal(await grantWith(app.clientId, second), 'ok', 'the new one keeps working');
  const again = await callApi(server, token, `/tenants/contoso/apps/${app.clientId}/secrets/${app.firstId}`, {
    method: 'DELETE',
  });
  t.equal(again.status, 404);

  const { rows } = await pool.query(
    `SELECT action, details FROM audit_events WHERE target = $1 AND action LIKE 'app.secret.%' ORDER BY id`,
    [app.clientId],
  );
  t.same(
    rows.map((row) => [row.action, row.details.secretId]),
    [
      ['app.secret.added', added.body.secretId],
      ['app.secret.removed', app.firstId],
    ],
    'each change audited',
  );
});

t.test('an expired secret is refused; expired secrets do not count toward the two', async (t) => {
  const app = await newApp('Expiring');
  const second = await directory.secrets.add('contoso', app.clientId, 'operator', 1);
  t.equal(await grantWith(app.clientId, second.value), 'ok');
  const expire = `UPDATE app_secrets SET created_at = now() - interval '2 days', expires_at = now() - interval '1 second'`;
  await pool.query(`${expire} WHERE client_id = $1 AND id = $2`, [app.clientId, second.id]);
  t.equal(await grantWith(app.clientId, second.value), 'invalid_client', 'expired: refused');
  t.equal(await grantWith(app.clientId, app.first), 'ok', 'the other one still works');
  const third = await directory.secrets.add('contoso', app.clientId, 'operator');
  t.equal(await grantWith(app.clientId, third.value), 'ok', 'a new one may replace the expired one');
  const ids = (await pool.query('SELECT id FROM app_secrets WHERE client_id = $1', [app.clientId])).rows.map(
    (row) => row.id,
  );
  t.notOk(ids.includes(second.id), 'the expired secret was cleared away');

  // Every secret expired: the app can still be found, but no secret authenticates it.
  await pool.query(`${expire} WHERE client_id = $1`, [app.clientId]);
  t.equal(await grantWith(app.clientId, app.first), 'invalid_client');
  t.equal(await grantWith(app.clientId, third.value), 'invalid_client');
});

t.test('replacing (rotateAppSecret) removes every other secret at once', async (t) => {
  const app = await newApp('Leaked');
  const second = await directory.secrets.add('contoso', app.clientId, 'operator');
  const rotated = await callApi(server, token, `/tenants/contoso/apps/${app.clientId}/secret`, { method: 'POST' });
  t.equal(rotated.status, 200);
  t.ok(rotated.body.secretId);
  t.equal(await grantWith(app.clientId, app.first), 'invalid_client');
  t.equal(await grantWith(app.clientId, second.value), 'invalid_client');
  t.equal(await grantWith(app.clientId, rotated.body.clientSecret), 'ok');
});

t.test('bad input changes nothing', async (t) => {
  const app = await newApp('Strict');
  const path = `/tenants/contoso/apps/${app.clientId}/secrets`;
  for (const body of [{ expiresInDays: 0 }, { expiresInDays: 731 }, { expiresInDays: 1.5 }, { other: true }]) {
    const answer = await callApi(server, token, path, { method: 'POST', body });
    t.equal(answer.status, 400, JSON.stringify(body));
  }
  t.equal((await pool.query('SELECT 1 FROM app_secrets WHERE client_id = $1', [app.clientId])).rowCount, 1);
  const publicApp = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Mobile',
      multiTenant: false,
      public: true,
      redirectUris: ['https://app.example.test/cb'],
      scopes: ['openid'],
    },
    'operator',
  );
  const onPublic = await callApi(server, token, `/tenants/contoso/apps/${publicApp.app.clientId}/secrets`, {
    method: 'POST',
    body: {},
  });
  t.equal(onPublic.status, 400, 'a public app has no secret');
  const fabrikamApp = await directory.createApp(
    {
      publisherTenantId: 'fabrikam',
      name: 'Theirs',
      multiTenant: true,
      public: false,
      redirectUris: ['https://app.example.test/cb'],
      scopes: ['openid'],
    },
    'operator',
  );
  const foreign = fabrikamApp.app.clientId;
  for (const [method, path] of [
    ['GET', `/tenants/contoso/apps/${foreign}/secrets`],
    ['POST', `/tenants/contoso/apps/${foreign}/secrets`],
    ['DELETE', `/tenants/contoso/apps/${foreign}/secrets/${fabrikamApp.app.secrets[0]!.id}`],
  ] as const) {
    const answer = await callApi(server, token, path, { method, ...(method === 'POST' ? { body: {} } : {}) });
    t.equal(answer.status, 404, `${method} another tenant's app`);
  }
  t.equal((await pool.query('SELECT 1 FROM app_secrets WHERE client_id = $1', [foreign])).rowCount, 1);
});
