// Every page Accord shows a person — sign-in, consent, "needs admin approval", refused, the error
// pages (Accord's and the provider's), sign-out, admin consent, My apps and each page of the admin
// centre — cannot be framed (CSP frame-ancestors 'none', X-Frame-Options: DENY; RFC 9700 §4.16),
// leaks no referrer (RFC 9700 §4.2.4) and is not cached. Each page is identified by its marker
// first, so an error page cannot stand in for the page named.
import t, { type Test } from 'tap';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { REDIRECT_URI, registerApp, signInOnPage, startAuthorization } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;
const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
]);
const app = await registerApp(server, {
  tenant: 'contoso',
  name: 'Planner',
  scopes: ['openid', 'User.Read', 'User.Read.All'],
});
const blocked = await registerApp(server, { tenant: 'contoso', name: 'Blocked', scopes: ['openid', 'User.Read'] });
await pool.query(`INSERT INTO tenant_apps (tenant_id, client_id, blocked) VALUES ('contoso', $1, true)`, [
  blocked.clientId,
]);

/** The page's marker, then the headers every page must carry. */
function assertPage(t: Test, page: PageResponse, name: string, what = name) {
  t.equal(pageName(page.body), name, `${what}: the ${name} page (${page.status})`);
  t.match(page.headers.get('content-type'), /^text\/html/, `${what}: HTML`);
  t.match(page.headers.get('content-security-policy'), /(^|;)\s*frame-ancestors 'none'\s*(;|$)/, `${what}: CSP`);
  t.equal(page.headers.get('x-frame-options'), 'DENY', `${what}: X-Frame-Options`);
  t.equal(page.headers.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`);
  t.equal(page.headers.get('cache-control'), 'no-store', `${what}: Cache-Control`);
}

/** A browser signed in through the portal as `user`. */
async function portalBrowser(user: string): Promise<Browser> {
  const browser = new Browser(server.url);
  const login = await browser.visit(`${server.url}/my/apps`);
  t.equal(pageName((await signInOnPage(browser, login, as(user).signIn, PASSWORD)).body), 'my-apps');
  return browser;
}

t.test('the sign-in and consent pages', async (t) => {
  const browser = new Browser(server.url);
  const { page: login } = await startAuthorization(browser, app, { scope: 'openid User.Read' });
  assertPage(t, login, 'login');
  const failed = await signInOnPage(browser, login, 'alice@contoso', 'wrong password');
  t.equal(failed.status, 401);
  assertPage(t, failed, 'login', 'a failed sign-in');
  assertPage(t, await signInOnPage(browser, failed, as('alice@contoso').signIn, PASSWORD), 'consent');

  const needsApproval = await startAuthorization(browser, app, { scope: 'openid User.Read.All' });
  assertPage(t, needsApproval.page, 'needs-admin-approval');
  const refused = await startAuthorization(browser, blocked, { scope: 'openid User.Read' });
  assertPage(t, refused.page, 'refused', 'a blocked app');
});

t.test('the error pages, Accord’s and the provider’s, and sign-out', async (t) => {
  const browser = new Browser(server.url);
  const unknown = await browser.visit(`${server.url}/interaction/unknownuid`);
  t.equal(unknown.status, 400);
  assertPage(t, unknown, 'error', 'an unknown interaction');
  const badClient = await browser.visit(
    `${server.url}/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
  );
  t.equal(badClient.status, 400);
  assertPage(t, badClient, 'error', "the provider's error page (/auth, unknown client)");
  const signedIn = await portalBrowser('alice@contoso');
  assertPage(t, await signedIn.visit(`${server.url}/session/end`), 'logout', 'sign-out');
});

t.test('admin consent and My apps', async (t) => {
  const admin = await portalBrowser('admin@contoso');
  const adminConsent = await admin.visit(
    `${server.url}/contoso/adminconsent?${new URLSearchParams({ client_id: app.clientId, redirect_uri: REDIRECT_URI })}`,
  );
  assertPage(t, adminConsent, 'admin-consent');
  const alice = await portalBrowser('alice@contoso');
  assertPage(t, await alice.visit(`${server.url}/my/apps`), 'my-apps');
  const notAdmin = await alice.visit(
    `${server.url}/contoso/adminconsent?${new URLSearchParams({ client_id: app.clientId, redirect_uri: REDIRECT_URI })}`,
  );
  assertPage(t, notAdmin, 'refused', 'admin consent for a user who is no admin');
});

t.test('every page of the admin centre', async (t) => {
  const admin = await portalBrowser('admin@contoso');
  for (const [path, name] of [
    ['/admin', 'admin-home'],
    ['/admin/settings/integrated-apps', 'admin-integrated-apps'],
    ['/admin/apps', 'admin-apps'],
    ['/admin/apps/new', 'admin-app-new'],
    [`/admin/apps/${app.clientId}`, 'admin-app'],
    ['/admin/enterprise-apps', 'admin-enterprise-apps'],
    [`/admin/enterprise-apps/${blocked.clientId}`, 'admin-enterprise-app'],
    ['/admin/consent-requests', 'admin-consent-requests'],
    ['/admin/audit', 'admin-audit'],
  ] as const) {
    const page = await admin.visit(`${server.url}${path}`);
    t.equal(page.status, 200, path);
    assertPage(t, page, name, path);
  }
  const alice = await portalBrowser('alice@contoso');
  const forbidden = await alice.visit(`${server.url}/admin`);
  t.equal(forbidden.status, 403);
  assertPage(t, forbidden, 'refused', 'the admin centre for a user who is no admin');
});
