// Post/redirect/get and confirmations, without JavaScript (a cookie-keeping client): reloading the
// page that shows a new client secret registers nothing and rotates nothing, and shows the secret
// no more; withdraw (My apps), block, withdraw a user's consent, remove a secret and rotate (admin
// centre) each GET a confirmation page that changes nothing, and act only on its POST with the CSRF
// token; "Withdraw" is not offered where the user has nothing of their own to withdraw.
import t from 'tap';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { fullFlow, registerApp, signInOnPage } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;
const { consent } = server.accord.services;

const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
]);
const vendor = await registerApp(server, { tenant: 'contoso', name: 'Vendor Notes', scopes: ['openid', 'User.Read'] });
const orgOnly = await registerApp(server, {
  tenant: 'contoso',
  name: 'Org Directory',
  scopes: ['openid', 'User.Read'],
});
await consent.grantAdminConsent('contoso', as('admin@contoso').id, orgOnly.clientId, ['openid', 'User.Read'], 'test');

const alice = new Browser(server.url);
await fullFlow(server, vendor, as('alice@contoso'), { scope: 'openid User.Read' }, alice);
await fullFlow(server, orgOnly, as('alice@contoso'), { scope: 'openid User.Read' }, alice);

const admin = new Browser(server.url);
await signInOnPage(admin, await admin.visit(`${server.url}/admin`), as('admin@contoso').signIn, PASSWORD);

const count = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rowCount ?? 0;
const audits = (action: string) => count('SELECT 1 FROM audit_events WHERE action = $1', [action]);

function csrfOf(page: PageResponse): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  if (!token) throw new Error(`no CSRF token on the ${pageName(page.body) ?? page.status} page`);
  return token;
}

/** POSTs `fields` to `path` and returns the answer itself (no redirect followed). */
async function postOnce(browser: Browser, path: string, fields: Record<string, string>) {
  return browser.request(`${server.url}${path}`, { form: fields });
}

async function tokenWith(clientId: string, secret: string): Promise<number> {
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }),
  });
  return response.status;
}

const secretOf = (page: PageResponse) => /data-client-secret="([^"]+)"/.exec(page.body)?.[1];

t.test('registering an app: the POST redirects; the secret is shown once; a reload registers nothing', async (t) => {
  const form = await admin.visit(`${server.url}/admin/apps/new`);
  const appsBefore = await count('SELECT 1 FROM apps');
  const answer = await postOnce(admin, '/admin/apps', {
    _csrf: csrfOf(form),
    name: 'Field Reports',
    redirect_uris: 'https://reports.example.test/cb',
    permissions: 'User.Read',
    homepage_url: 'https://reports.example.test/',
    privacy_url: 'https://reports.example.test/privacy',
    terms_url: 'https://reports.example.test/terms',
    logo_url: 'https://reports.example.test/logo.png',
  });
  t.equal(answer.status, 303, 'the POST answers with a redirect');
  const location = answer.headers.get('location')!;
  t.match(location, /^\/admin\/apps\/[A-Za-z0-9_-]+\/new-secret$/);
  t.notMatch(answer.body, /data-client-secret/, 'never shown in the answer to the POST');
  const shown = await admin.visit(`${server.url}${location}`);
  t.equal(pageName(shown.body), 'admin-app-secret');
  const secret = secretOf(shown);
  t.ok(secret, 'shown on the GET');
  const clientId = /data-client-id="([^"]+)"/.exec(shown.body)![1]!;
  t.equal(await tokenWith(clientId, secret!), 200, 'the secret shown works');

  const reloaded = await admin.visit(`${server.url}${location}`);
  t.equal(reloaded.status, 200);
  t.equal(pageName(reloaded.body), 'admin-app-secret');
  t.notOk(secretOf(reloaded), 'a reload shows no secret');
  t.match(reloaded.body, /data-secret="shown-before"/, 'and says it was shown already');
  t.equal(await count('SELECT 1 FROM apps'), appsBefore + 1, 'exactly one app registered');
  t.equal(await tokenWith(clientId, secret!), 200, 'the secret still works');

  const { rows } = await pool.query(
    'SELECT homepage_url, privacy_url, terms_url, logo_url FROM apps WHERE client_id = $1',
    [clientId],
  );
  t.same(
    rows[0],
    {
      homepage_url: 'https://reports.example.test/',
      privacy_url: 'https://reports.example.test/privacy',
      terms_url: 'https://reports.example.test/terms',
      logo_url: 'https://reports.example.test/logo.png',
    },
    'the form has homepage, privacy, terms and logo',
  );
  const detail = await admin.visit(`${server.url}/admin/apps/${clientId}`);
  t.match(detail.body, /name="privacy_url" value="https:\/\/reports\.example\.test\/privacy"/);
  const cleared = await postOnce(admin, `/admin/apps/${clientId}`, {
    _csrf: csrfOf(detail),
    name: 'Field Reports',
    redirect_uris: 'https://reports.example.test/cb',
    permissions: 'openid',
    homepage_url: 'https://reports.example.test/home',
    privacy_url: '',
    terms_url: 'javascript:alert(1)',
    logo_url: '',
  });
  t.equal(cleared.status, 400, 'a link that is not https is refused');
  t.match(cleared.body, /data-error-field="terms_url"/);
  const unchanged = await pool.query('SELECT homepage_url, terms_url FROM apps WHERE client_id = $1', [clientId]);
  t.same(unchanged.rows[0], {
    homepage_url: 'https://reports.example.test/',
    terms_url: 'https://reports.example.test/terms',
  });

  // Another admin's browser (or a stolen link) finds nothing to show.
  const stranger = new Browser(server.url);
  await signInOnPage(stranger, await stranger.visit(`${server.url}/admin`), as('admin@contoso').signIn, PASSWORD);
  t.notOk(secretOf(await stranger.visit(`${server.url}${location}`)));
});

t.test('rotate: a confirmation page, then one rotation however often the result is reloaded', async (t) => {
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Rota',
      multiTenant: false,
      public: false,
      redirectUris: ['https://rota.example.test/cb'],
      scopes: ['openid', 'User.Read'],
    },
    'operator',
  );
  const before = await audits('app.secret.rotated');
  const detail = await admin.visit(`${server.url}/admin/apps/${app.clientId}`);
  t.notMatch(detail.body, /action="[^"]*\/secret"/, 'no one-click rotate button on the app page');
  const confirm = await admin.visit(`${server.url}/admin/apps/${app.clientId}/secret`);
  t.equal(pageName(confirm.body), 'admin-app-rotate');
  t.equal(await audits('app.secret.rotated'), before, 'the confirmation page rotates nothing');
  t.equal(await tokenWith(app.clientId, clientSecret!), 200);

  const refused = await postOnce(admin, `/admin/apps/${app.clientId}/secret`, {});
  t.equal(refused.status, 403, 'no CSRF token: refused');
  t.equal(await audits('app.secret.rotated'), before, 'and nothing rotated');

  const answer = await postOnce(admin, `/admin/apps/${app.clientId}/secret`, { _csrf: csrfOf(confirm) });
  t.equal(answer.status, 303);
  const shown = await admin.visit(new URL(answer.headers.get('location')!, server.url).toString());
  const secret = secretOf(shown)!;
  t.ok(secret);
  for (let i = 0; i < 2; i++) {
    const reloaded = await admin.visit(new URL(answer.headers.get('location')!, server.url).toString());
    t.notOk(secretOf(reloaded), 'a reload shows no secret');
  }
  t.equal(await audits('app.secret.rotated'), before + 1, 'rotated once');
  t.equal(await tokenWith(app.clientId, secret), 200, 'the secret just shown works (not rotated again)');
  t.equal(await tokenWith(app.clientId, clientSecret!), 401, 'the replaced one does not');
});

t.test('add a second secret and remove the first from the admin centre, with no outage', async (t) => {
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Smooth',
      multiTenant: false,
      public: false,
      redirectUris: ['https://smooth.example.test/cb'],
      scopes: ['openid', 'User.Read'],
    },
    'operator',
  );
  const firstId = app.secrets[0]!.id;
  const detail = await admin.visit(`${server.url}/admin/apps/${app.clientId}`);
  t.match(detail.body, new RegExp(`data-secret-id="${firstId}"`));
  const added = await postOnce(admin, `/admin/apps/${app.clientId}/secrets`, {
    _csrf: csrfOf(detail),
    expires_in_days: '30',
  });
  t.equal(added.status, 303);
  const location = new URL(added.headers.get('location')!, server.url).toString();
  const second = secretOf(await admin.visit(location))!;
  t.ok(second);
  t.notOk(secretOf(await admin.visit(location)), 'a reload shows nothing and adds nothing');
  t.equal(await count('SELECT 1 FROM app_secrets WHERE client_id = $1', [app.clientId]), 2);
  t.equal(await tokenWith(app.clientId, clientSecret!), 200, 'the first works');
  t.equal(await tokenWith(app.clientId, second), 200, 'the second works');

  const full = await admin.visit(`${server.url}/admin/apps/${app.clientId}`);
  t.match(full.body, /data-secrets-full="true"/, 'no third secret offered');
  const third = await postOnce(admin, `/admin/apps/${app.clientId}/secrets`, { _csrf: csrfOf(full) });
  t.equal(third.status, 409);
  t.match(third.body, /data-error="secrets"/);
  const badLifetime = await postOnce(admin, `/admin/apps/${app.clientId}/secrets`, {
    _csrf: csrfOf(full),
    expires_in_days: '9999',
  });
  t.equal(badLifetime.status, 400);
  t.equal(await count('SELECT 1 FROM app_secrets WHERE client_id = $1', [app.clientId]), 2);

  for (const badId of ['%00x', 'a%20b', 'x'.repeat(65)]) {
    const bad = await postOnce(admin, `/admin/apps/${app.clientId}/secrets/${badId}/remove`, { _csrf: csrfOf(full) });
    t.equal(bad.status, 400, `a malformed secret id (${badId.slice(0, 10)}) is a clear 400`);
  }
  const confirm = await admin.visit(`${server.url}/admin/apps/${app.clientId}/secrets/${firstId}/remove`);
  t.equal(pageName(confirm.body), 'admin-app-secret-remove');
  t.equal(await tokenWith(app.clientId, clientSecret!), 200, 'the confirmation page removes nothing');
  const noToken = await postOnce(admin, `/admin/apps/${app.clientId}/secrets/${firstId}/remove`, {});
  t.equal(noToken.status, 403, 'no CSRF token: refused');
  t.equal(await tokenWith(app.clientId, clientSecret!), 200);
  const removed = await admin.submit(confirm, /\/remove$/, {});
  t.equal(pageName(removed.body), 'admin-app');
  t.match(removed.body, /data-done="secret-removed"/);
  t.equal(await tokenWith(app.clientId, clientSecret!), 401, 'the removed secret is refused');
  t.equal(await tokenWith(app.clientId, second), 200, 'the other keeps working');
});

t.test('block and withdraw a user consent in the admin centre: confirmation first, CSRF checked', async (t) => {
  const base = `/admin/enterprise-apps/${vendor.clientId}`;
  const detail = await admin.visit(`${server.url}${base}`);
  t.notMatch(detail.body, /action="[^"]*\/block"/, 'no one-click block button');
  const confirm = await admin.visit(`${server.url}${base}/block`);
  t.equal(pageName(confirm.body), 'admin-enterprise-app-block');
  t.equal(await audits('app.blocked'), 0, 'the confirmation page blocks nothing');
  t.equal((await postOnce(admin, `${base}/block`, {})).status, 403, 'no CSRF token: refused');
  t.equal(await audits('app.blocked'), 0);
  const blocked = await admin.submit(confirm, /\/block$/, {});
  t.match(blocked.body, /data-done="blocked"/);
  t.equal(await audits('app.blocked'), 1);
  await admin.submit(blocked, /\/unblock$/, {});

  const aliceId = as('alice@contoso').id;
  const own = await admin.visit(`${server.url}${base}`);
  t.match(own.body, new RegExp(`href="${base}/users/${aliceId}/revoke"`), 'withdraw offered: alice consented herself');
  const orgDetail = await admin.visit(`${server.url}/admin/enterprise-apps/${orgOnly.clientId}`);
  t.match(orgDetail.body, new RegExp(`data-user-id="${aliceId}"`), 'alice uses the app');
  t.notMatch(orgDetail.body, /data-action="withdraw"/, 'but there is nothing of her own to withdraw');
  const nothing = await admin.visit(`${server.url}/admin/enterprise-apps/${orgOnly.clientId}/users/${aliceId}/revoke`);
  t.equal(nothing.status, 404);

  const withdraw = await admin.visit(`${server.url}${base}/users/${aliceId}/revoke`);
  t.equal(pageName(withdraw.body), 'admin-enterprise-app-user-revoke');
  const consents = () =>
    count('SELECT 1 FROM user_consents WHERE user_id = $1 AND client_id = $2 AND cardinality(scopes) > 0', [
      aliceId,
      vendor.clientId,
    ]);
  t.equal(await consents(), 1, 'the confirmation page withdraws nothing');
  t.equal((await postOnce(admin, `${base}/users/${aliceId}/revoke`, {})).status, 403, 'no CSRF token: refused');
  t.equal(await consents(), 1);
  const done = await admin.submit(withdraw, /\/revoke$/, {});
  t.match(done.body, /data-done="revoked"/);
  t.equal(await consents(), 0);
});

t.test('My apps: withdraw is confirmed first, and offered only for a consent of the user’s own', async (t) => {
  await fullFlow(server, vendor, as('alice@contoso'), { scope: 'openid User.Read' }, alice);
  const list = await alice.visit(`${server.url}/my/apps`);
  t.equal(pageName(list.body), 'my-apps');
  const section = (clientId: string) =>
    new RegExp(`<section[^>]*data-client-id="${clientId}"[\\s\\S]*?</section>`).exec(list.body)?.[0] ?? '';
  t.match(section(vendor.clientId), /data-action="withdraw"/, 'offered for her own consent');
  t.notMatch(section(orgOnly.clientId), /data-action="withdraw"/, 'not for what only her organisation granted');
  t.notMatch(list.body, /<form[^>]*\/revoke"/, 'no one-click withdraw button');

  const nothing = await alice.visit(`${server.url}/my/apps/${orgOnly.clientId}/revoke`);
  t.equal(nothing.status, 400, 'nothing of her own to withdraw');

  const own = () =>
    count('SELECT 1 FROM user_consents WHERE user_id = $1 AND client_id = $2 AND cardinality(scopes) > 0', [
      as('alice@contoso').id,
      vendor.clientId,
    ]);
  const confirm = await alice.visit(`${server.url}/my/apps/${vendor.clientId}/revoke`);
  t.equal(pageName(confirm.body), 'my-apps-revoke');
  t.match(confirm.body, /data-scope="User\.Read"/, 'says what the app loses');
  t.equal(await own(), 1, 'the confirmation page withdraws nothing');
  t.equal((await postOnce(alice, `/my/apps/${vendor.clientId}/revoke`, {})).status, 403, 'no CSRF token: refused');
  t.equal(await own(), 1);
  const answer = await postOnce(alice, `/my/apps/${vendor.clientId}/revoke`, { _csrf: csrfOf(confirm) });
  t.equal(answer.status, 303, 'post/redirect/get');
  const after = await alice.visit(new URL(answer.headers.get('location')!, server.url).toString());
  t.match(after.body, new RegExp(`data-revoked="${vendor.clientId}"`));
  t.equal(await own(), 0);
});
