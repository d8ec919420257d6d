// examples/invoices-api end to end (issue 13): a tenant registers its API in Accord; the example
// service, a Fastify app of its own, accepts Accord's tokens for it by scope, and refuses a token
// for another API (wrong `aud`), a token without the scope, and a token whose grant was revoked.
import { decodeJwt } from 'jose';
import t from 'tap';
import { buildInvoicesApi } from '../../examples/invoices-api/app.js';
import { Directory } from '../../src/services/directory.js';
import { MyApps } from '../../src/services/my-apps.js';
import { exchangeCode, fullFlow, REDIRECT_URI, relyingParty } from '../support/flows.js';
import { seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { apis, catalogue } = server.accord.services;
const directory = new Directory(server.pool, catalogue);
const as = await seedPeople(directory, [
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
]);

const IDENTIFIER = 'https://invoices.contoso.example';
await apis.create(
  { tenantId: 'contoso', name: 'Contoso Invoices', identifier: IDENTIFIER, multiTenant: false },
  'operator',
);
await apis.addScope(
  IDENTIFIER,
  { name: 'Invoices.Read', userDescription: 'Read your invoices', adminConsentRequired: false },
  'operator',
);
await apis.addScope(
  IDENTIFIER,
  { name: 'Invoices.Approve', userDescription: 'Approve invoices', adminConsentRequired: true },
  'operator',
);

const newApp = (name: string, scopes: string[]) =>
  directory.createApp(
    { publisherTenantId: 'contoso', name, multiTenant: false, public: false, redirectUris: [REDIRECT_URI], scopes },
    'operator',
  );
// The service's own registration: what it introspects as.
const service = await newApp('Invoices API', ['openid']);
const client = await newApp('Expense tracker', [
  'openid',
  'User.Read',
  `${IDENTIFIER}/Invoices.Read`,
  `${IDENTIFIER}/Invoices.Approve`,
]);
const tracker = await relyingParty(server, client.app.clientId, client.clientSecret);

const invoicesApi = await buildInvoicesApi({
  issuer: server.url,
  identifier: IDENTIFIER,
  client: { id: service.app.clientId, secret: service.clientSecret! },
  publicOrigin: 'http://127.0.0.1',
});
const origin = await invoicesApi.listen({ port: 0, host: '127.0.0.1' });
t.teardown(() => invoicesApi.close());

async function tokenFor(user: string, scope: string): Promise<string> {
  const { auth, callback } = await fullFlow(server, tracker, as(user), { scope });
  return (await exchangeCode(tracker, callback, auth)).access_token;
}

const call = (token: string, path = '/invoices', method = 'GET') =>
  fetch(`${origin}${path}`, { method, headers: { authorization: `Bearer ${token}` } });

t.test('a token for the API with the scope reaches it; without the scope it is 403', async (t) => {
  const token = await tokenFor('alice@contoso', `openid ${IDENTIFIER}/Invoices.Read`);
  t.equal(decodeJwt(token).aud, IDENTIFIER);
  const response = await call(token);
  t.equal(response.status, 200);
  t.match(await response.json(), { value: [{ id: 'inv-1' }] });
  const approve = await call(token, '/invoices/inv-1/approve', 'POST');
  t.equal(approve.status, 403, 'Invoices.Approve needs its own scope');
  t.match(approve.headers.get('www-authenticate'), /insufficient_scope/);
});

t.test('a token for another API (wrong aud) is refused', async (t) => {
  const dataToken = await tokenFor('bob@contoso', 'openid User.Read');
  t.equal(decodeJwt(dataToken).aud, `${server.url}/data/v1`);
  const response = await call(dataToken);
  t.equal(response.status, 401);
  t.match(response.headers.get('www-authenticate'), /invalid_token/);
  t.equal((await call('not-a-token')).status, 401);
});

t.test('a revoked grant is refused at the next request', async (t) => {
  const token = await tokenFor('bob@contoso', `openid ${IDENTIFIER}/Invoices.Read`);
  t.equal((await call(token)).status, 200);
  const revoked = await new MyApps(server.pool, catalogue).revokeOwnConsent(
    'contoso',
    as('bob@contoso').id,
    client.app.clientId,
  );
  t.ok(revoked);
  const response = await call(token);
  t.equal(response.status, 401, 'the same token, now refused');
  t.match(response.headers.get('www-authenticate'), /revoked/);
});

t.test('introspection tells the API’s own service, and no other app, about tokens for it', async (t) => {
  const token = await tokenFor('alice@contoso', `openid ${IDENTIFIER}/Invoices.Read`);
  const introspect = async (id: string, secret: string) => {
    const response = await fetch(`${server.url}/token/introspection`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    });
    return (await response.json()) as { active: boolean; scope?: string };
  };
  t.match(await introspect(service.app.clientId, service.clientSecret!), { active: true, scope: 'Invoices.Read' });
  const other = await directory.createApp(
    {
      publisherTenantId: 'fabrikam',
      name: 'Snoop',
      multiTenant: true,
      public: false,
      redirectUris: [REDIRECT_URI],
      scopes: ['openid'],
    },
    'operator',
  );
  t.same(
    await introspect(other.app.clientId, other.clientSecret!),
    { active: false },
    "another tenant's app learns nothing",
  );
});
