// Issue 13 end to end: a tenant registers its own API with a user and an admin scope; a
// third-party app asks for them; consent shows the API's own words; tokens are for one API each
// (RFC 8707), with the API's own scope names; a refresh token redeems tokens for the other APIs
// of the grant; removing a scope revokes what was granted for it.
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import t from 'tap';
import { Directory } from '../../src/services/directory.js';
import { Browser, pageName } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  REDIRECT_URI,
  relyingParty,
  signInOnPage,
  startAuthorization,
  type TestApp,
} from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { apis, catalogue } = server.accord.services;
// Registrations checked against the server's own (live) catalogue, as the admin API and CLI do.
const directory = new Directory(server.pool, catalogue);
const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
  ['fabrikam', 'carol', 'user'],
]);

const INVOICES = 'https://invoices.contoso.test';
const READ = `${INVOICES}/Invoices.Read`;
const APPROVE = `${INVOICES}/Invoices.Approve`;
const dataApi = `${server.url}/data/v1`;

await apis.create(
  { tenantId: 'contoso', name: 'Contoso Invoices', identifier: INVOICES, multiTenant: true },
  'operator',
);
await apis.addScope(
  INVOICES,
  { name: 'Invoices.Read', userDescription: 'Read your invoices', adminConsentRequired: false },
  'operator',
);
await apis.addScope(
  INVOICES,
  {
    name: 'Invoices.Approve',
    userDescription: 'Approve invoices in your organisation',
    adminDescription: 'Approve every invoice of the organisation',
    adminConsentRequired: true,
    impact: 'high',
  },
  'operator',
);

async function registerApp(scopes: string[], name = 'Vendor Books'): Promise<TestApp> {
  const { app, clientSecret } = await directory.createApp(
    { publisherTenantId: 'fabrikam', name, multiTenant: true, public: false, redirectUris: [REDIRECT_URI], scopes },
    'operator',
  );
  return relyingParty(server, app.clientId, clientSecret);
}

const vendor = await registerApp(['openid', 'offline_access', 'User.Read', READ, APPROVE]);

/** /auth, sign-in when asked; the page that follows. */
async function reach(app: TestApp, user: string, params: Record<string, string>, browser = new Browser(server.url)) {
  const auth = await startAuthorization(browser, app, params);
  const page =
    pageName(auth.page.body) === 'login'
      ? await signInOnPage(browser, auth.page, as(user).signIn, PASSWORD)
      : auth.page;
  return { auth, page, browser };
}

async function callData(token: string) {
  return fetch(`${dataApi}/me`, { headers: { authorization: `Bearer ${token}` } });
}

t.test('a user consents to the API’s user scope, seeing its own words, and gets a token for that API', async (t) => {
  const { auth, page, browser } = await reach(vendor, 'alice@contoso', { scope: `openid ${READ}` });
  t.equal(pageName(page.body), 'consent');
  t.match(page.body, /Read your invoices/, "the API's own description");
  t.match(page.body, /Contoso Invoices/, 'the API by name');
  t.match(page.body, /provided by Contoso/, 'and its owner');
  t.notMatch(page.body, />[^<]*Invoices\.Read[^<]*</, 'no raw scope name as text');
  const tokens = await exchangeCode(vendor, appRedirect(await answerConsent(browser, page, 'accept')), auth);
  const claims = decodeJwt(tokens.access_token);
  t.equal(claims.aud, INVOICES, 'aud is the API');
  t.equal(claims.scope, 'Invoices.Read', "the API's own scope name, without the admin scope");
  t.equal((await callData(tokens.access_token)).status, 401, "the data API refuses the API's token");
});

t.test(
  'the admin scope needs admin approval, listed in words; after admin consent the user gets it silently',
  async (t) => {
    const asked = await reach(vendor, 'alice@contoso', { scope: `openid ${READ} ${APPROVE}` });
    t.equal(pageName(asked.page.body), 'needs-admin-approval');
    t.match(
      asked.page.body,
      /data-list="admin"[\s\S]*Approve invoices in your organisation/,
      'the permission in words',
    );
    t.notMatch(asked.page.body, />[^<]*Invoices\.Approve[^<]*</, 'no raw scope name as text');

    const admin = await reach(vendor, 'admin@contoso', { scope: `openid ${READ} ${APPROVE}` });
    t.equal(pageName(admin.page.body), 'consent');
    t.match(admin.page.body, /Approve every invoice of the organisation/, 'an admin reads the admin-facing words');
    appRedirect(await answerConsent(admin.browser, admin.page, 'accept', { on_behalf_of_org: 'true' }));

    const again = await reach(vendor, 'alice@contoso', { scope: `openid ${READ} ${APPROVE}` }, asked.browser);
    const tokens = await exchangeCode(vendor, appRedirect(again.page), again.auth);
    t.same(decodeJwt(tokens.access_token).scope?.toString().split(' ').sort(), ['Invoices.Approve', 'Invoices.Read']);
  },
);

t.test('two APIs at once: consent for both, a token for the first, the refresh token redeems the other', async (t) => {
  const { auth, page, browser } = await reach(vendor, 'alice@contoso', {
    scope: `openid offline_access User.Read ${READ}`,
    prompt: 'consent',
  });
  t.equal(pageName(page.body), 'consent');
  t.match(page.body, /data-api="\/data\/v1"[\s\S]*data-api="https:\/\/invoices\.contoso\.test"/, 'grouped by API');
  const tokens = await exchangeCode(vendor, appRedirect(await answerConsent(browser, page, 'accept')), auth);
  t.equal(decodeJwt(tokens.access_token).aud, dataApi, 'the first API named');
  t.equal(decodeJwt(tokens.access_token).scope, 'User.Read');
  t.equal((await callData(tokens.access_token)).status, 200);

  const other = await oidc.refreshTokenGrant(vendor.config, tokens.refresh_token!, { resource: INVOICES });
  t.equal(decodeJwt(other.access_token).aud, INVOICES, 'a token for the other API');
  t.equal(decodeJwt(other.access_token).scope, 'Invoices.Read');
  await t.rejects(
    oidc.refreshTokenGrant(vendor.config, other.refresh_token!, { resource: 'https://elsewhere.test' }),
    { name: 'ResponseBodyError', error: 'invalid_target' },
    'never an API outside the grant',
  );
});

t.test('a resource parameter that disagrees with the scopes is invalid_target', async (t) => {
  const browser = new Browser(server.url);
  const { page } = await reach(vendor, 'alice@contoso', { scope: `openid ${READ}`, resource: dataApi }, browser);
  const redirect = appRedirect(page);
  t.equal(redirect.searchParams.get('error'), 'invalid_target');
  const agreeing = await reach(vendor, 'alice@contoso', { scope: `openid ${READ}`, resource: INVOICES }, browser);
  t.equal(appRedirect(agreeing.page).searchParams.get('error'), null, 'the same request naming its API goes through');
});

t.test('bad registrations are refused and change nothing', async (t) => {
  const before = (await apis.list()).length;
  await t.rejects(
    apis.create({ tenantId: 'contoso', name: 'Again', identifier: INVOICES, multiTenant: false }, 'operator'),
    { code: 'conflict' },
  );
  await t.rejects(
    apis.create(
      {
        tenantId: 'contoso',
        name: 'Ours',
        identifier: `${server.url.replace('http:', 'https:')}/mine`,
        multiTenant: false,
      },
      'operator',
    ),
    { code: 'invalid_request', description: /own origin/ },
  );
  await t.rejects(
    apis.create(
      { tenantId: 'contoso', name: 'Plain', identifier: 'http://plain.test', multiTenant: false },
      'operator',
    ),
    { code: 'invalid_request' },
  );
  await t.rejects(
    apis.addScope(INVOICES, { name: 'Invoices.Read', userDescription: 'x', adminConsentRequired: false }, 'operator'),
    { code: 'conflict' },
  );
  for (const name of ['has space', 'has/slash', '1st'])
    await t.rejects(
      apis.addScope(INVOICES, { name, userDescription: 'x', adminConsentRequired: false }, 'operator'),
      { code: 'invalid_scope' },
      name,
    );
  await t.rejects(apis.delete(INVOICES, 'operator', 'fabrikam'), { code: 'not_found' }, "another tenant's API");
  await t.rejects(apis.delete('/data/v1', 'operator'), { code: 'invalid_request' }, "Accord's own API");
  await t.rejects(registerApp(['openid', `${INVOICES}/Invoices.Nope`]), { code: 'invalid_scope' });
  t.equal((await apis.list()).length, before);
  t.equal((await apis.show(INVOICES)).scopes.length, 2);
});

t.test('a single-tenant API serves its owner’s apps and users only', async (t) => {
  const internal = 'api://contoso-internal';
  await apis.create({ tenantId: 'contoso', name: 'Internal', identifier: internal, multiTenant: false }, 'operator');
  await apis.addScope(
    internal,
    { name: 'read', userDescription: 'Read internal data', adminConsentRequired: false },
    'operator',
  );
  await t.rejects(registerApp(['openid', `${internal}/read`]), { code: 'invalid_scope' }, "another tenant's app");
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Contoso Tool',
      multiTenant: true,
      public: false,
      redirectUris: [REDIRECT_URI],
      scopes: ['openid', `${internal}/read`],
    },
    'operator',
  );
  const tool = await relyingParty(server, app.clientId, clientSecret);
  const alice = await reach(tool, 'alice@contoso', { scope: `openid ${internal}/read` });
  t.match(alice.page.body, /Read internal data/);
  const carol = await reach(tool, 'carol@fabrikam', { scope: `openid ${internal}/read` });
  t.notMatch(carol.page.body, /Read internal data/, "another tenant's user is never offered it");
});

t.test('removing a scope shows its impact, then revokes what was granted for it', async (t) => {
  const { auth, page, browser } = await reach(vendor, 'alice@contoso', {
    scope: `openid offline_access ${READ}`,
    prompt: 'consent',
  });
  const tokens = await exchangeCode(vendor, appRedirect(await answerConsent(browser, page, 'accept')), auth);
  t.equal(decodeJwt(tokens.access_token).aud, INVOICES);

  const impact = await apis.removalImpact(INVOICES, 'Invoices.Read');
  t.same(impact.scopes, [READ]);
  t.same(
    impact.apps.map((app) => app.clientId),
    [vendor.clientId],
  );
  t.ok(impact.users >= 1, 'the users who granted it');
  t.ok(await oidc.refreshTokenGrant(vendor.config, tokens.refresh_token!), 'nothing changed by looking');

  const done = await apis.removeScope(INVOICES, 'Invoices.Read', 'operator');
  t.same(done.scopes, [READ]);
  t.notOk(catalogue.has(READ), 'gone from the catalogue at once');
  await t.rejects(
    oidc.refreshTokenGrant(vendor.config, tokens.refresh_token!),
    { name: 'ResponseBodyError', error: 'invalid_grant' },
    'the grant that held it is revoked: its refresh token fails',
  );
  const { rows: grants } = await server.pool.query(`SELECT 1 FROM oidc_models WHERE model = 'Grant' AND id = $1`, [
    decodeJwt(tokens.access_token).gid,
  ]);
  t.equal(grants.length, 0, 'the grant behind the access token is gone (resource servers refuse it)');
  const { rows } = await server.pool.query(
    `SELECT action, details FROM audit_events WHERE action = 'api.scope.removed' AND target = $1`,
    [INVOICES],
  );
  t.equal(rows.length, 1, 'one audit event');
  const { rows: consents } = await server.pool.query(
    `SELECT scopes FROM user_consents WHERE client_id = $1 AND $2 = ANY (scopes)`,
    [vendor.clientId, READ],
  );
  t.equal(consents.length, 0, 'no consent holds it any more');
  const { rows: registrations } = await server.pool.query(`SELECT scopes FROM apps WHERE client_id = $1`, [
    vendor.clientId,
  ]);
  t.notOk(registrations[0].scopes.includes(READ), 'nor any app registration');
});
