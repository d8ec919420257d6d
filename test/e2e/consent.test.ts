// docs/consent.md, "The consent decision", end to end: a real RP (openid-client), a cookie-keeping
// browser, the real server and PostgreSQL.

import * as oidc from 'openid-client';
import t from 'tap';
import { Browser, pageName } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  fullFlow,
  registerApp,
  signInOnPage,
  startAuthorization,
  type TestApp,
} from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({
  SIGN_IN_RATE_LIMIT: '1000',
  ...(process.env.TEST_LOG ? { LOG_LEVEL: 'error' } : {}),
});
t.teardown(() => server.close());
const { directory, pool } = server;

const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
  ['contoso', 'erin', 'user'],
  ['contoso', 'frank', 'user'],
  ['contoso', 'gina', 'user'],
  ['fabrikam', 'carol', 'user'],
]);

/** Runs /auth → sign-in and returns the page shown after sign-in. */
async function reachDecision(
  app: TestApp,
  user: string,
  params: Record<string, string>,
  browser = new Browser(server.url),
) {
  const auth = await startAuthorization(browser, app, params);
  const page =
    pageName(auth.page.body) === 'login'
      ? await signInOnPage(browser, auth.page, as(user).signIn, PASSWORD)
      : auth.page;
  return { auth, page, browser };
}

async function setIntegratedApps(enabled: boolean) {
  await directory.setIntegratedApps('contoso', enabled, 'operator');
}

const vendorApp = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Vendor Planner',
  scopes: ['openid', 'profile', 'offline_access', 'User.Read', 'Calendars.Read', 'Files.ReadWrite', 'User.Read.All'],
});

t.test('Integrated Apps on: a user consents to user permissions and gets tokens', async (t) => {
  const { auth, page, browser } = await reachDecision(vendorApp, 'alice@contoso', { scope: 'openid User.Read' });
  t.equal(pageName(page.body), 'consent');
  t.match(page.body, /Vendor Planner/);
  t.match(page.body, /Unverified publisher/, 'publisher verification is shown');
  t.match(page.body, /another organisation: <strong>Fabrikam<\/strong>/, 'the app comes from another organisation');
  t.match(page.body, /data-scope="User.Read"/);
  t.notMatch(page.body, /on_behalf_of_org/, 'a user is not offered the organisation option');
  const callback = appRedirect(await answerConsent(browser, page, 'accept'));
  const tokens = await exchangeCode(vendorApp, callback, auth);
  t.ok(tokens.access_token);
});

t.test('incremental consent lists only the newly requested permission', async (t) => {
  const { page, browser } = await reachDecision(vendorApp, 'alice@contoso', {
    scope: 'openid User.Read Calendars.Read',
  });
  t.equal(pageName(page.body), 'consent');
  t.match(page.body, /data-list="requested">[\s\S]*data-scope="Calendars.Read"[\s\S]*<\/ul>/);
  const requested = /data-list="requested">([\s\S]*?)<\/ul>/.exec(page.body)![1]!;
  t.notMatch(requested, /User.Read"/, 'User.Read is already granted and not asked again');
  t.match(page.body, /data-list="granted">[\s\S]*data-scope="User.Read"/);
  appRedirect(await answerConsent(browser, page, 'accept'));
});

t.test('a user asking for an admin permission needs admin approval, and goes back with access_denied', async (t) => {
  const { auth, page, browser } = await reachDecision(vendorApp, 'bob@contoso', { scope: 'openid User.Read.All' });
  t.equal(pageName(page.body), 'needs-admin-approval');
  t.match(page.body, /data-reason="admin_permission"/);
  const callback = appRedirect(await browser.submit(page, /\/abort$/, {}));
  t.equal(callback.searchParams.get('error'), 'access_denied');
  t.equal(callback.searchParams.get('state'), auth.state);
  t.equal(callback.searchParams.get('iss'), server.url);
  const { rows } = await pool.query(`SELECT 1 FROM user_consents WHERE user_id = $1 AND cardinality(scopes) > 0`, [
    as('bob@contoso').id,
  ]);
  t.equal(rows.length, 0, 'nothing was granted');
});

t.test('Integrated Apps off: users cannot consent, existing consent keeps working, refresh too', async (t) => {
  // alice consents (with a refresh token) while the setting is on
  const before = await fullFlow(server, vendorApp, as('alice@contoso'), {
    scope: 'openid offline_access User.Read',
    prompt: 'consent',
  });
  const tokens = await exchangeCode(vendorApp, before.callback, before.auth);
  t.ok(tokens.refresh_token);
  await setIntegratedApps(false);
  t.teardown(() => setIntegratedApps(true));

  const blocked = await reachDecision(vendorApp, 'bob@contoso', { scope: 'openid User.Read' });
  t.equal(pageName(blocked.page.body), 'needs-admin-approval', 'bob has no consent and may not give it');
  t.match(blocked.page.body, /data-reason="integrated_apps_off"/);
  t.match(blocked.page.body, /does not let users consent to apps/);

  const again = await fullFlow(server, vendorApp, as('alice@contoso'), { scope: 'openid User.Read' });
  t.notOk(again.consentShown, 'alice signs in again with no page');
  const refreshed = await oidc.refreshTokenGrant(vendorApp.config, tokens.refresh_token!);
  t.ok(refreshed.access_token, 'her refresh token still refreshes');
  t.ok(refreshed.refresh_token, 'and rotates');

  const more = await reachDecision(vendorApp, 'alice@contoso', { scope: 'openid User.Read Files.ReadWrite' });
  t.equal(pageName(more.page.body), 'needs-admin-approval', 'but she cannot add permissions');
});

t.test(
  'an admin sees the organisation option even when Integrated Apps is off, and consents for everyone',
  async (t) => {
    await setIntegratedApps(false);
    t.teardown(() => setIntegratedApps(true));
    const { page, browser } = await reachDecision(vendorApp, 'admin@contoso', {
      scope: 'openid profile User.Read Files.ReadWrite User.Read.All',
    });
    t.equal(pageName(page.body), 'consent');
    t.match(page.body, /name="on_behalf_of_org"/);
    t.match(page.body, /Admin permission/);
    appRedirect(await answerConsent(browser, page, 'accept', { on_behalf_of_org: 'true' }));

    const { rows } = await pool.query<{ scopes: string[]; granted_by: string }>(
      `SELECT scopes, granted_by FROM admin_consents WHERE tenant_id = 'contoso'`,
    );
    t.same(rows[0]?.scopes, ['openid', 'profile', 'User.Read', 'Files.ReadWrite', 'User.Read.All']);
    t.equal(rows[0]?.granted_by, as('admin@contoso').id);
    const audit = await pool.query(
      `SELECT actor FROM audit_events WHERE tenant_id = 'contoso' AND action = 'consent.admin.granted'`,
    );
    t.equal(audit.rowCount, 1, 'audited once');

    const erin = await fullFlow(server, vendorApp, as('erin@contoso'), { scope: 'openid profile User.Read.All' });
    t.notOk(erin.consentShown, 'another user gets a code with no page, Integrated Apps off notwithstanding');
    const tokens = await exchangeCode(vendorApp, erin.callback, erin.auth);
    t.ok(tokens.access_token);

    const carol = await reachDecision(vendorApp, 'carol@fabrikam', { scope: 'openid User.Read' });
    t.equal(pageName(carol.page.body), 'consent', "contoso's admin consent does not carry into fabrikam");
  },
);

t.test('prompt=none never grants silently', async (t) => {
  const browser = new Browser(server.url);
  const first = await startAuthorization(browser, vendorApp, { scope: 'openid', prompt: 'none' });
  t.equal(appRedirect(first.page).searchParams.get('error'), 'login_required');
  // sign in frank without consenting, then ask silently
  const { page } = await reachDecision(vendorApp, 'frank@contoso', { scope: 'openid Calendars.Read' }, browser);
  t.equal(pageName(page.body), 'consent');
  const silent = await startAuthorization(browser, vendorApp, { scope: 'openid Calendars.Read', prompt: 'none' });
  const callback = appRedirect(silent.page);
  t.equal(callback.searchParams.get('error'), 'consent_required');
  t.equal(callback.searchParams.get('iss'), server.url);
});

t.test('offline_access without prompt=consent gets no refresh token (OpenID Connect Core §11)', async (t) => {
  const app = await registerApp(server, {
    tenant: 'contoso',
    name: 'Offline Notes',
    scopes: ['openid', 'offline_access', 'User.Read'],
  });
  const consented = async () =>
    (
      await pool.query<{ scopes: string[] }>('SELECT scopes FROM user_consents WHERE user_id = $1 AND client_id = $2', [
        as('gina@contoso').id,
        app.clientId,
      ])
    ).rows[0]?.scopes;
  const scope = 'openid offline_access User.Read';
  const flow = await fullFlow(server, app, as('gina@contoso'), { scope });
  t.ok(flow.consentShown, 'the consent page was shown and accepted');
  const tokens = await exchangeCode(app, flow.callback, flow.auth);
  t.ok(tokens.access_token, 'an access token');
  t.equal(tokens.refresh_token, undefined, 'no refresh token');
  t.notMatch(tokens.scope ?? '', /offline_access/, 'offline_access is not granted');
  t.same(await consented(), ['openid', 'User.Read'], 'nor recorded as consented');

  const withPrompt = await fullFlow(server, app, as('gina@contoso'), { scope, prompt: 'consent' });
  const refreshable = await exchangeCode(app, withPrompt.callback, withPrompt.auth);
  t.ok(refreshable.refresh_token, 'control: with prompt=consent the same request gets a refresh token');
  t.same(await consented(), ['openid', 'offline_access', 'User.Read'], 'and offline_access is recorded');
});

t.test('prompt=consent shows the page again although everything is granted', async (t) => {
  const { page } = await reachDecision(vendorApp, 'alice@contoso', { scope: 'openid User.Read', prompt: 'consent' });
  t.equal(pageName(page.body), 'consent');
});

t.test('the consent form cannot be replayed, forged, or completed from another browser', async (t) => {
  const { page, browser } = await reachDecision(vendorApp, 'frank@contoso', { scope: 'openid Calendars.Read' });
  t.equal(pageName(page.body), 'consent');

  const thief = new Browser(server.url);
  const stolen = await thief.submit(page, /\/consent$/, { decision: 'accept' });
  t.ok(stolen.status >= 400 && stolen.status < 500, 'another browser session is refused');

  const forged = await browser.submit(page, /\/consent$/, {
    decision: 'accept',
    scope: 'openid Calendars.Read User.Read.All',
    on_behalf_of_org: 'true',
  });
  t.equal(forged.status, 403, 'a user cannot forge the organisation option');

  const first = await browser.submit(page, /\/consent$/, { decision: 'accept', scope: 'User.Read.All' });
  appRedirect(first);
  const replay = await browser.submit(page, /\/consent$/, { decision: 'accept' });
  t.ok(replay.status >= 400 && replay.status < 500, 'a second submission is refused');

  const { rows } = await pool.query<{ scopes: string[] }>(
    'SELECT scopes FROM user_consents WHERE user_id = $1 AND client_id = $2',
    [as('frank@contoso').id, vendorApp.clientId],
  );
  t.same(
    rows[0]?.scopes,
    ['Calendars.Read'],
    'only what the page asked for was granted; extra form fields change nothing',
  );
});

t.test('scopes outside the catalogue or the registration are refused before anything is granted', async (t) => {
  for (const scope of ['openid Mail.Send', 'openid Not.A.Scope']) {
    const browser = new Browser(server.url);
    const auth = await startAuthorization(browser, vendorApp, { scope });
    const callback = appRedirect(auth.page);
    t.equal(callback.searchParams.get('error'), 'invalid_scope', scope);
  }
});

t.test('a blocked app is refused even for an admin', async (t) => {
  const blockedApp = await registerApp(server, {
    tenant: 'contoso',
    scopes: ['openid', 'User.Read'],
    name: 'Blocked App',
  });
  await pool.query(`INSERT INTO tenant_apps (tenant_id, client_id, blocked) VALUES ('contoso', $1, true)`, [
    blockedApp.clientId,
  ]);
  const { auth, page, browser } = await reachDecision(blockedApp, 'admin@contoso', { scope: 'openid User.Read' });
  t.equal(pageName(page.body), 'refused');
  t.match(page.body, /disabled/);
  const callback = appRedirect(await browser.submit(page, /\/abort$/, {}));
  t.equal(callback.searchParams.get('error'), 'access_denied');
  t.equal(callback.searchParams.get('state'), auth.state);
});

t.test('a single-tenant app is not available to users of another tenant', async (t) => {
  const internal = await registerApp(server, {
    tenant: 'contoso',
    scopes: ['openid', 'User.Read'],
    multiTenant: false,
    name: 'Contoso Internal',
  });
  const { page } = await reachDecision(internal, 'carol@fabrikam', { scope: 'openid User.Read' });
  t.equal(pageName(page.body), 'refused');
  t.match(page.body, /data-reason="app_not_in_tenant"/);
  const own = await reachDecision(internal, 'bob@contoso', { scope: 'openid User.Read' });
  t.equal(pageName(own.page.body), 'consent', 'its own tenant may consent');
});

t.test('50 concurrent consents for one user and app leave one consistent grant', async (t) => {
  const app = await registerApp(server, {
    tenant: 'contoso',
    scopes: ['openid', 'User.Read', 'Calendars.Read'],
    name: 'Race App',
  });
  // The same user in 50 browsers, all on the consent page, all accepting at once.
  const pages = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      reachDecision(app, 'bob@contoso', { scope: i % 2 ? 'openid User.Read' : 'openid Calendars.Read' }),
    ),
  );
  const results = await Promise.all(pages.map(({ page, browser }) => answerConsent(browser, page, 'accept')));
  const statuses = results.map(
    (result) => `${result.status} ${pageName(result.body) ?? ''} ${/<p>(.*?)<\/p>/.exec(result.body)?.[1] ?? ''}`,
  );
  t.same(
    statuses.filter((status) => !status.startsWith('303')),
    [],
    'every submission completed',
  );
  const { rows } = await pool.query<{ scopes: string[]; grant_id: string }>(
    'SELECT scopes, grant_id FROM user_consents WHERE user_id = $1 AND client_id = $2',
    [as('bob@contoso').id, app.clientId],
  );
  t.equal(rows.length, 1);
  t.same(rows[0]!.scopes.sort(), ['Calendars.Read', 'User.Read', 'openid'].sort());
  const grants = await pool.query(
    `SELECT id FROM oidc_models WHERE model = 'Grant' AND payload->>'accountId' = $1 AND payload->>'clientId' = $2`,
    [as('bob@contoso').id, app.clientId],
  );
  t.equal(grants.rowCount, 1, 'one oidc-provider grant');
  t.equal(grants.rows[0].id, rows[0]!.grant_id);
});
