// Who may use the admin API: a token from this issuer for /api/v1 with Organization.ReadWrite.All,
// whose user is an admin of {tenant} at the time of each call. Everyone else gets 401 or 403, and
// another tenant's objects can be neither seen nor changed.

import * as oidc from 'openid-client';
import t from 'tap';
import { refusedWithin } from '../support/api.js';
import { Browser, pageName } from '../support/browser.js';
import {
  exchangeCode,
  fullFlow,
  registerApp,
  relyingParty,
  signInOnPage,
  startAuthorization,
} from '../support/flows.js';
import { startTestServer } from '../support/server.js';
import {
  ADMIN_SCOPE,
  adminApiToken,
  apiOperations,
  callApi,
  claimsOf,
  DOCUMENTED_OPERATIONS,
  PASSWORD,
  registerAdminClient,
} from './support.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;

await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
const newUser = (tenantId: string, username: string, role: 'user' | 'admin') =>
  directory.createUser({ tenantId, username, password: PASSWORD, role }, 'operator');
const carol = await newUser('contoso', 'carol', 'admin');
const dave = await newUser('contoso', 'dave', 'user');
const erin = await newUser('contoso', 'erin', 'admin');
const grace = await newUser('contoso', 'grace', 'admin');
const frank = await newUser('fabrikam', 'frank', 'admin');
const fiona = await newUser('fabrikam', 'fiona', 'user');

const adminClient = await registerAdminClient(server, 'contoso');
const fabrikamApp = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Fabrikam Portal',
  scopes: ['openid', 'User.Read'],
});

const carolLogin = await adminApiToken(server, adminClient, 'carol@contoso');
const carolToken = carolLogin.accessToken;
const frankToken = (await adminApiToken(server, adminClient, 'frank@fabrikam')).accessToken;

t.test('an admin gets the permission through the consent page and a JWT access token for the admin API', async (t) => {
  t.ok(carolLogin.consentShown, 'the admin was asked to consent');
  const [header] = carolToken.split('.');
  t.equal(JSON.parse(Buffer.from(header!, 'base64url').toString()).typ, 'at+jwt');
  const claims = claimsOf(carolToken);
  t.equal(claims.iss, server.url);
  t.equal(claims.aud, `${server.url}/api/v1`);
  t.equal(claims.sub, carol.id);
  t.equal(claims.tid, 'contoso');
  t.equal(claims.client_id, adminClient.clientId);
  t.same(String(claims.scope).split(' '), [ADMIN_SCOPE]);

  const response = await callApi(server, carolToken, '/tenants/contoso/settings');
  t.equal(response.status, 200);
  t.same(response.body, { id: 'contoso', name: 'Contoso', integratedAppsEnabled: true });
  t.equal(response.headers.get('cache-control'), 'no-store');
});

t.test('a user cannot get Organization.ReadWrite.All: it needs admin approval', async (t) => {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, adminClient, {
    scope: `openid ${ADMIN_SCOPE}`,
    resource: `${server.url}/api/v1`,
  });
  const page = await signInOnPage(browser, auth.page, 'dave@contoso', PASSWORD);
  t.equal(pageName(page.body), 'needs-admin-approval');
});

t.test(
  'without a valid token for this API the answer is 401 (400 for a malformed header), before any input is read',
  async (t) => {
    const dataApp = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read'] });
    const flow = await fullFlow(
      server,
      dataApp,
      { signIn: 'carol@contoso', password: PASSWORD },
      { scope: 'openid User.Read' },
    );
    const dataTokens = await exchangeCode(dataApp, flow.callback, flow.auth);
    t.equal(claimsOf(dataTokens.access_token).aud, `${server.url}/data/v1`);
    const [head, , signature] = carolToken.split('.');
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claimsOf(carolToken), tid: 'fabrikam' })).toString('base64url')}.${signature}`;
    const cases: { name: string; authorization?: string; status: number; error?: string }[] = [
      { name: 'no token', status: 401 },
      { name: 'garbage', authorization: 'Bearer not-a-token', status: 401, error: 'invalid_token' },
      {
        name: 'a token for the data API (wrong audience)',
        authorization: `Bearer ${dataTokens.access_token}`,
        status: 401,
        error: 'invalid_token',
      },
      { name: 'an ID token', authorization: `Bearer ${dataTokens.id_token}`, status: 401, error: 'invalid_token' },
      { name: 'a tampered admin token', authorization: `Bearer ${tampered}`, status: 401, error: 'invalid_token' },
      {
        name: 'Basic credentials',
        authorization: `Basic ${Buffer.from('carol@contoso:x').toString('base64')}`,
        status: 400,
        error: 'invalid_request',
      },
    ];
    for (const { name, authorization, status, error } of cases) {
      for (const { method, path, body } of [
        { method: 'GET', path: '/tenants/contoso/settings', body: undefined },
        { method: 'POST', path: '/tenants/contoso/users', body: { not: 'valid' } },
        { method: 'GET', path: '/tenants/NOT A TENANT/users/%00', body: undefined },
      ]) {
        const response = await callApi(server, undefined, path, {
          method,
          body,
          headers: authorization ? { authorization } : {},
        });
        t.equal(response.status, status, `${name}: ${method} ${path}`);
        t.match(response.headers.get('www-authenticate'), /^Bearer realm="accord"/, `${name}: RFC 6750 challenge`);
        if (error) t.equal(response.body.error, error, name);
      }
    }
  },
);

t.test('an app cannot get an admin permission for itself (client credentials): no admin is behind it', async (t) => {
  const app = await relyingParty(server, adminClient.clientId, adminClient.clientSecret);
  const refused = await oidc
    .clientCredentialsGrant(app.config, { scope: ADMIN_SCOPE, resource: `${server.url}/api/v1` })
    .then(
      () => undefined,
      (error: { error?: string }) => error,
    );
  t.equal(refused?.error, 'invalid_scope', 'the token endpoint refuses to issue it');
  // Without the scope the app's own token carries no permission for the admin API at all.
  const token = (await oidc.clientCredentialsGrant(app.config, { resource: `${server.url}/api/v1` })).access_token;
  t.equal(claimsOf(token).sub, adminClient.clientId, 'RFC 9068 §2.2: an app token names the app as sub');
  t.notOk(claimsOf(token).gid);
  t.equal(claimsOf(token).scope, undefined, 'it holds no permission: the registered admin one is not given');
  // Only admin permissions are refused: a user permission of the same API is issued as asked.
  const mixed = await registerApp(server, {
    tenant: 'contoso',
    name: 'Mixed tool',
    scopes: ['openid', ADMIN_SCOPE, 'AppConsents.ReadWrite'],
  });
  const resource = `${server.url}/api/v1`;
  const userPermission = await oidc.clientCredentialsGrant(mixed.config, { scope: 'AppConsents.ReadWrite', resource });
  t.equal(claimsOf(userPermission.access_token).scope, 'AppConsents.ReadWrite', 'control: a user permission is issued');
  const both = await oidc
    .clientCredentialsGrant(mixed.config, { scope: `AppConsents.ReadWrite ${ADMIN_SCOPE}`, resource })
    .then(
      (tokens) => `issued: ${tokens.scope}`,
      (error: { error?: string }) => error.error,
    );
  t.equal(both, 'invalid_scope', 'with the admin permission beside it, the request is refused');
  for (const { method, path, ...rest } of apiOperations('contoso', {
    userId: carol.id,
    clientId: adminClient.clientId,
  })) {
    const response = await callApi(server, token, path, { method, ...('body' in rest ? { body: rest.body } : {}) });
    t.equal(response.status, 403, `${method} ${path}`);
    t.equal(response.body.error, 'insufficient_scope', `${method} ${path}: for want of the permission`);
  }
});

t.test("a non-admin's token is refused with 403, even with the organisation's consent", async (t) => {
  // erin consents for the whole organisation, so dave gets the permission without being asked.
  const erinLogin = await adminApiToken(server, adminClient, 'erin@contoso', { onBehalfOfOrg: true });
  t.ok(erinLogin.consentShown);
  const daveLogin = await adminApiToken(server, adminClient, 'dave@contoso');
  t.notOk(daveLogin.consentShown, 'the tenant-wide grant covers dave');
  t.same(String(claimsOf(daveLogin.accessToken).scope).split(' '), [ADMIN_SCOPE]);
  for (const path of ['/tenants/contoso/settings', '/tenants/contoso/users', `/tenants/contoso/users/${dave.id}`]) {
    const response = await callApi(server, daveLogin.accessToken, path);
    t.equal(response.status, 403, path);
    t.equal(response.body.error, 'access_denied');
  }
  t.equal(
    (await callApi(server, erinLogin.accessToken, '/tenants/contoso/users')).status,
    200,
    'the admin who consented gets in',
  );
});

t.test('a demoted admin loses access at their next call (directory and API), a disabled one too', async (t) => {
  const erinToken = (await adminApiToken(server, adminClient, 'erin@contoso')).accessToken;
  const graceToken = (await adminApiToken(server, adminClient, 'grace@contoso')).accessToken;
  t.equal((await callApi(server, erinToken, '/tenants/contoso/settings')).status, 200);
  t.equal((await callApi(server, graceToken, '/tenants/contoso/settings')).status, 200);

  await directory.setUserRole('contoso', erin.id, 'user', 'operator');
  const demoted = await callApi(server, erinToken, '/tenants/contoso/settings');
  t.equal(demoted.status, 403, 'demoted by the operator: refused at once, with the same token');
  t.equal(demoted.body.error, 'access_denied');

  const byApi = await callApi(server, carolToken, `/tenants/contoso/users/${grace.id}`, {
    method: 'PATCH',
    body: { role: 'user' },
  });
  t.equal(byApi.status, 200);
  t.equal(byApi.body.role, 'user');
  t.equal(
    (await callApi(server, graceToken, '/tenants/contoso/users')).status,
    403,
    'demoted through the API: refused at once',
  );

  await directory.setUserRole('contoso', erin.id, 'admin', 'operator');
  t.equal(
    (await callApi(server, erinToken, '/tenants/contoso/settings')).status,
    200,
    'promoted again: the token works again',
  );
  const disabled = await callApi(server, carolToken, `/tenants/contoso/users/${erin.id}`, {
    method: 'PATCH',
    body: { disabled: true },
  });
  t.equal(disabled.status, 200);
  const refused = await refusedWithin(() => callApi(server, erinToken, '/tenants/contoso/settings'));
  t.equal(refused.status, 401, "disabling revokes the admin's grants, so the token itself is dead");
  t.equal(refused.body.error, 'invalid_token');
});

/** Everything a tenant owns, as stored. */
async function snapshot(tenant: string) {
  const rows = async (sql: string) => (await pool.query(sql, [tenant])).rows;
  return {
    tenant: await rows('SELECT * FROM tenants WHERE id = $1::text'),
    users: await rows('SELECT * FROM users WHERE tenant_id = $1::text ORDER BY id'),
    apps: await rows('SELECT * FROM apps WHERE publisher_tenant_id = $1::text ORDER BY client_id'),
    audit: await rows('SELECT * FROM audit_events WHERE tenant_id = $1::text ORDER BY id'),
    counts: (
      await pool.query(
        'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM apps) AS apps, (SELECT count(*) FROM tenants) AS tenants',
      )
    ).rows,
  };
}

t.test('an admin of contoso gets 403 on every route of fabrikam, and nothing of fabrikam changes', async (t) => {
  const before = await snapshot('fabrikam');
  const operations = apiOperations('fabrikam', { userId: fiona.id, clientId: fabrikamApp.clientId });
  t.equal(operations.length, DOCUMENTED_OPERATIONS.length, 'every operation of the API');
  for (const { method, path, ...rest } of operations) {
    const response = await callApi(server, carolToken, path, {
      method,
      ...('body' in rest ? { body: rest.body } : {}),
    });
    t.equal(response.status, 403, `${method} ${path}`);
    t.equal(response.body.error, 'access_denied', `${method} ${path}`);
    t.notMatch(JSON.stringify(response.body), /fiona|Fabrikam Portal/, 'nothing of fabrikam leaks');
  }
  t.same(await snapshot('fabrikam'), before, 'fabrikam is unchanged');
  const secret = fabrikamApp.clientSecret!;
  const stillWorks = await oidc
    .clientCredentialsGrant((await relyingParty(server, fabrikamApp.clientId, secret)).config, { scope: 'User.Read' })
    .then(
      () => true,
      () => false,
    );
  t.ok(stillWorks, "fabrikam's app secret still works");
});

t.test(
  'an unknown tenant answers exactly like another tenant (no enumeration), and fabrikam cannot reach contoso',
  async (t) => {
    const other = await callApi(server, carolToken, '/tenants/fabrikam/users');
    for (const tenant of ['nowhere', 'NOT-A-SLUG', 'api']) {
      const before = await snapshot('contoso');
      for (const { method, path, ...rest } of apiOperations(tenant, {
        userId: carol.id,
        clientId: adminClient.clientId,
      })) {
        const response = await callApi(server, carolToken, path, {
          method,
          ...('body' in rest ? { body: rest.body } : {}),
        });
        t.equal(response.status, 403, `${method} ${path}`);
        t.same(response.body, other.body, 'the same answer as for an existing tenant');
      }
      t.same(await snapshot('contoso'), before);
    }
    const before = await snapshot('contoso');
    for (const { method, path, ...rest } of apiOperations('contoso', {
      userId: carol.id,
      clientId: adminClient.clientId,
    })) {
      const response = await callApi(server, frankToken, path, {
        method,
        ...('body' in rest ? { body: rest.body } : {}),
      });
      t.equal(response.status, 403, `fabrikam's admin: ${method} ${path}`);
    }
    t.same(await snapshot('contoso'), before, 'contoso is unchanged');
  },
);

t.test("another tenant's users and apps are not found under one's own tenant (404), and stay unchanged", async (t) => {
  const before = await snapshot('fabrikam');
  const cases = [
    { method: 'GET', path: `/tenants/contoso/users/${fiona.id}` },
    { method: 'PATCH', path: `/tenants/contoso/users/${fiona.id}`, body: { disabled: true } },
    { method: 'PATCH', path: `/tenants/contoso/users/${frank.id}`, body: { password: 'a new password for frank' } },
    { method: 'GET', path: `/tenants/contoso/apps/${fabrikamApp.clientId}` },
    { method: 'PATCH', path: `/tenants/contoso/apps/${fabrikamApp.clientId}`, body: { name: 'Mine now' } },
    { method: 'DELETE', path: `/tenants/contoso/apps/${fabrikamApp.clientId}` },
    { method: 'POST', path: `/tenants/contoso/apps/${fabrikamApp.clientId}/secret` },
  ];
  for (const { method, path, body } of cases) {
    const response = await callApi(server, carolToken, path, { method, ...(body ? { body } : {}) });
    t.equal(response.status, 404, `${method} ${path}`);
    t.equal(response.body.error, 'not_found');
  }
  t.same(await snapshot('fabrikam'), before, 'fabrikam is unchanged');
});

t.test('unknown users and apps in the own tenant are 404; malformed ids are 400 naming the parameter', async (t) => {
  for (const [method, path, body] of [
    ['GET', '/tenants/contoso/users/no-such-user'],
    ['PATCH', '/tenants/contoso/users/no-such-user', { role: 'admin' }],
    ['GET', '/tenants/contoso/apps/no-such-app'],
    ['PATCH', '/tenants/contoso/apps/no-such-app', { name: 'x' }],
    ['DELETE', '/tenants/contoso/apps/no-such-app'],
    ['POST', '/tenants/contoso/apps/no-such-app/secret'],
  ] as const) {
    const response = await callApi(server, carolToken, path, { method, ...(body ? { body } : {}) });
    t.equal(response.status, 404, `${method} ${path}`);
    t.same(response.body, { error: 'not_found', error_description: response.body.error_description });
  }
  const malformed = await callApi(server, carolToken, `/tenants/contoso/users/${'x'.repeat(65)}`);
  t.equal(malformed.status, 400);
  t.match(malformed.body.error_description, /^params\.id /);
  const badApp = await callApi(server, carolToken, '/tenants/contoso/apps/has%20space');
  t.equal(badApp.status, 400);
  t.match(badApp.body.error_description, /^params\.clientId /);
});

t.test('the API is not reachable through other paths', async (t) => {
  t.equal((await callApi(server, carolToken, '/tenants/contoso')).status, 404);
  t.equal((await callApi(server, carolToken, '/tenants')).status, 404);
  t.equal((await callApi(server, carolToken, '/tenants/contoso/settings', { method: 'DELETE' })).status, 404);
});
