// docs/interfaces.md, "The admin consent endpoint", end to end: a vendor app sends an admin to
// /{tenant}/adminconsent; the admin signs in with their Accord account (the portal's sign-in on
// the provider's own session), sees the app and grants or declines for the whole organisation.
import t from 'tap';
import { safeReturnTo } from '../../src/routes/portal-session.js';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { exchangeCode, fullFlow, REDIRECT_URI, registerApp, signInOnPage } from '../support/flows.js';
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
  ['fabrikam', 'boss', 'admin'],
]);

const SCOPES = ['openid', 'profile', 'User.Read', 'Calendars.Read', 'User.Read.All'];
const vendorApp = await registerApp(server, { tenant: 'fabrikam', name: 'Vendor Planner', scopes: SCOPES });

function adminConsentUrl(tenant: string, params: Record<string, string>): string {
  return `${server.url}/${tenant}/adminconsent?${new URLSearchParams(params).toString()}`;
}

/** Visits the admin consent URL and signs in on the login page it leads to (when one is shown). */
async function openAsSignedIn(
  url: string,
  user: string,
  browser = new Browser(server.url),
): Promise<{ page: PageResponse; browser: Browser }> {
  let page = await browser.visit(url);
  if (pageName(page.body) === 'login') page = await signInOnPage(browser, page, as(user).signIn, PASSWORD);
  return { page, browser };
}

async function adminConsentRow(clientId: string, tenant = 'contoso') {
  const { rows } = await pool.query<{ scopes: string[]; granted_by: string }>(
    'SELECT scopes, granted_by FROM admin_consents WHERE tenant_id = $1 AND client_id = $2',
    [tenant, clientId],
  );
  return rows[0];
}

t.test('an admin grants consent for the organisation, and users of the tenant are then not asked', async (t) => {
  const url = adminConsentUrl('contoso', {
    client_id: vendorApp.clientId,
    redirect_uri: REDIRECT_URI,
    state: 'xyz-123',
  });
  const browser = new Browser(server.url);
  const first = await browser.request(url);
  t.equal(first.status, 303, 'not signed in: sent to sign in');
  t.match(
    first.headers.get('location') ?? '',
    /^\/auth\?client_id=accord-portal&/,
    'through the provider as the first-party portal',
  );
  t.match(first.headers.get('location') ?? '', /code_challenge_method=S256/);

  const { page } = await openAsSignedIn(url, 'admin@contoso', browser);
  t.equal(pageName(page.body), 'admin-consent', 'after sign-in the admin is back on the admin consent page');
  t.equal(page.status, 200);
  t.match(page.body, /Vendor Planner/);
  t.match(page.body, /Unverified publisher/, 'verification is shown');
  t.match(page.body, /another organisation: <strong>Fabrikam<\/strong>/, 'the tenant the app comes from is shown');
  for (const scope of SCOPES) t.match(page.body, new RegExp(`data-scope="${scope}"`), `${scope} is listed`);
  t.match(
    page.body,
    /data-scope="User.Read.All">[^<]*<span class="badge admin">Admin permission/,
    'admin permissions are marked',
  );
  t.match(page.body, /name="_csrf"/);
  t.match(page.body, /name="decision" value="accept"/);
  t.match(page.body, /name="decision" value="deny"/);

  const done = await browser.submit(page, /adminconsent/, { decision: 'accept' });
  t.equal(done.status, 303);
  const callback = new URL(done.headers.get('location')!);
  t.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
  t.equal(callback.searchParams.get('admin_consent'), 'True');
  t.equal(callback.searchParams.get('tenant'), 'contoso');
  t.equal(callback.searchParams.get('state'), 'xyz-123');
  t.same(callback.searchParams.get('scope')!.split(' '), SCOPES);

  const row = await adminConsentRow(vendorApp.clientId);
  t.same(row?.scopes, SCOPES);
  t.equal(row?.granted_by, as('admin@contoso').id);
  const audit = await pool.query(
    `SELECT details->>'via' AS via FROM audit_events WHERE tenant_id = 'contoso' AND action = 'consent.admin.granted' AND target = $1`,
    [vendorApp.clientId],
  );
  t.same(audit.rows, [{ via: 'adminconsent' }], 'audited once, saying how');

  const alice = await fullFlow(server, vendorApp, as('alice@contoso'), { scope: 'openid User.Read User.Read.All' });
  t.notOk(alice.consentShown, 'a user of contoso gets a code with no consent page');
  const tokens = await exchangeCode(vendorApp, alice.callback, alice.auth);
  t.ok(tokens.access_token);
  t.match(String(tokens.scope), /User.Read.All/);
});

t.test('the scope parameter narrows the request to registered permissions', async (t) => {
  const app = await registerApp(server, {
    tenant: 'fabrikam',
    name: 'Narrow App',
    scopes: ['openid', 'User.Read', 'Files.Read'],
  });
  const url = adminConsentUrl('contoso', {
    client_id: app.clientId,
    redirect_uri: REDIRECT_URI,
    state: 's',
    scope: 'User.Read Mail.Send Not.A.Scope',
  });
  const { page, browser } = await openAsSignedIn(url, 'admin@contoso');
  t.equal(pageName(page.body), 'admin-consent');
  const listed = /data-list="requested">([\s\S]*?)<\/ul>/.exec(page.body)![1]!;
  t.same(
    [...listed.matchAll(/data-scope="([^"]+)"/g)].map((m) => m[1]),
    ['User.Read'],
    'asked ∩ registered: Files.Read not asked, Mail.Send not registered, Not.A.Scope unknown',
  );
  const done = await browser.submit(page, /adminconsent/, { decision: 'accept', scope: 'Files.Read' });
  t.equal(
    new URL(done.headers.get('location')!).searchParams.get('scope'),
    'User.Read',
    'form fields cannot widen the grant',
  );
  t.same((await adminConsentRow(app.clientId))?.scopes, ['User.Read']);
});

t.test('the admin declines: access_denied with state, nothing granted', async (t) => {
  const app = await registerApp(server, { tenant: 'fabrikam', name: 'Declined App', scopes: ['openid', 'User.Read'] });
  const { page, browser } = await openAsSignedIn(
    adminConsentUrl('contoso', { client_id: app.clientId, redirect_uri: REDIRECT_URI, state: 'st-9' }),
    'admin@contoso',
  );
  const done = await browser.submit(page, /adminconsent/, { decision: 'deny' });
  t.equal(done.status, 303);
  const callback = new URL(done.headers.get('location')!);
  t.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
  t.equal(callback.searchParams.get('error'), 'access_denied');
  t.ok(callback.searchParams.get('error_description'));
  t.equal(callback.searchParams.get('state'), 'st-9');
  t.equal(callback.searchParams.get('admin_consent'), null);
  t.equal(await adminConsentRow(app.clientId), undefined);
});

t.test('a user who is not an admin is refused and nothing is granted', async (t) => {
  const app = await registerApp(server, { tenant: 'fabrikam', name: 'Refused App', scopes: ['openid', 'User.Read'] });
  const url = adminConsentUrl('contoso', { client_id: app.clientId, redirect_uri: REDIRECT_URI, state: 'q' });
  const { page, browser } = await openAsSignedIn(url, 'alice@contoso');
  t.equal(page.status, 403);
  t.equal(pageName(page.body), 'refused');
  t.notMatch(page.body, /name="decision"/, 'no consent form');

  // A forged POST with a valid CSRF token of her browser (from a sign-in page) is refused too.
  const signInPage = await browser.visit(`${server.url}/portal/sign-in?prompt=login`);
  t.equal(pageName(signInPage.body), 'login', 'prompt=login asks again although signed in');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(signInPage.body)![1]!;
  const forged = await browser.request(url, { form: { _csrf: csrf, decision: 'accept' } });
  t.equal(forged.status, 403);
  t.equal(forged.headers.get('location'), null);
  t.equal(await adminConsentRow(app.clientId), undefined, 'nothing granted');
});

t.test('an admin of another tenant is refused', async (t) => {
  const app = await registerApp(server, { tenant: 'fabrikam', name: 'Mismatch App', scopes: ['openid', 'User.Read'] });
  const url = adminConsentUrl('contoso', { client_id: app.clientId, redirect_uri: REDIRECT_URI, state: 'q' });
  const { page } = await openAsSignedIn(url, 'boss@fabrikam');
  t.equal(page.status, 403);
  t.equal(pageName(page.body), 'refused');
  t.equal(await adminConsentRow(app.clientId, 'contoso'), undefined);
  t.equal(await adminConsentRow(app.clientId, 'fabrikam'), undefined);
});

t.test('an unregistered redirect_uri, unknown app or unknown tenant is an error page, never a redirect', async (t) => {
  const browser = new Browser(server.url);
  for (const [name, url] of [
    [
      'unregistered redirect_uri',
      adminConsentUrl('contoso', {
        client_id: vendorApp.clientId,
        redirect_uri: 'https://evil.example/cb',
        state: 'x',
      }),
    ],
    [
      'redirect_uri differing in one character',
      adminConsentUrl('contoso', { client_id: vendorApp.clientId, redirect_uri: `${REDIRECT_URI}/`, state: 'x' }),
    ],
    ['no redirect_uri', adminConsentUrl('contoso', { client_id: vendorApp.clientId, state: 'x' })],
    ['unknown app', adminConsentUrl('contoso', { client_id: 'no-such-app', redirect_uri: REDIRECT_URI, state: 'x' })],
  ] as const) {
    const response = await browser.request(url);
    t.equal(response.status, 400, name);
    t.equal(response.headers.get('location'), null, `${name}: no redirect`);
    t.equal(pageName(response.body), 'error', `${name}: error page`);
  }
  const unknownTenant = await browser.request(
    adminConsentUrl('nowhere', { client_id: vendorApp.clientId, redirect_uri: REDIRECT_URI }),
  );
  t.equal(unknownTenant.headers.get('location'), null);
  t.equal(pageName(unknownTenant.body), 'error');
  t.ok(unknownTenant.status >= 400 && unknownTenant.status < 500);
});

t.test('the admin consent form needs its CSRF token', async (t) => {
  const app = await registerApp(server, { tenant: 'fabrikam', name: 'CSRF App', scopes: ['openid', 'User.Read'] });
  const url = adminConsentUrl('contoso', { client_id: app.clientId, redirect_uri: REDIRECT_URI, state: 'c' });
  const { page, browser } = await openAsSignedIn(url, 'admin@contoso');
  t.equal(pageName(page.body), 'admin-consent');
  const missing = await browser.request(url, { form: { decision: 'accept' } });
  t.equal(missing.status, 403);
  const wrong = await browser.request(url, { form: { decision: 'accept', _csrf: 'forged' } });
  t.equal(wrong.status, 403);
  t.equal(await adminConsentRow(app.clientId), undefined);
});

t.test('the portal sign-in never returns to another site', async (t) => {
  for (const target of [
    '//evil.example',
    'https://evil.example',
    '/\\evil.example',
    '/\t/evil.example',
    'evil.example',
    '',
  ]) {
    t.equal(safeReturnTo(target), undefined, JSON.stringify(target));
  }
  t.equal(
    safeReturnTo('/contoso/adminconsent?client_id=a&redirect_uri=b'),
    '/contoso/adminconsent?client_id=a&redirect_uri=b',
  );

  for (const target of ['//evil.example', 'https://evil.example', '/\\evil.example']) {
    const browser = new Browser(server.url);
    let page = await browser.visit(
      `${server.url}/portal/sign-in?${new URLSearchParams({ returnTo: target }).toString()}`,
    );
    t.equal(pageName(page.body), 'login', target);
    // Follow by hand so that a redirect anywhere off our origin is seen.
    page = await browser.submit(page, /\/login$/, { username: as('alice@contoso').signIn, password: PASSWORD });
    t.equal(page.status, 200, `${target}: ends on a page of ours`);
    t.equal(pageName(page.body), 'my-apps', `${target}: the default page, not the requested one`);
  }

  // A callback whose cookie was not set by us (or was tampered with) is refused.
  const browser = new Browser(server.url);
  await browser.jar.setCookie(
    `__accord_portal=${encodeURIComponent(JSON.stringify({ state: 's', verifier: 'v', returnTo: '//evil.example' }))}; Path=/portal/callback`,
    server.url,
  );
  const forged = await browser.request(`${server.url}/portal/callback?code=abc&state=s`);
  t.equal(forged.status, 400);
  t.equal(forged.headers.get('location'), null);
  const noCookie = await new Browser(server.url).request(`${server.url}/portal/callback?code=abc&state=s`);
  t.equal(noCookie.status, 400);
});

t.test('a signed-in admin goes straight to the page, and the portal keeps no tokens', async (t) => {
  const app = await registerApp(server, { tenant: 'contoso', name: 'Own App', scopes: ['openid', 'User.Read'] });
  const browser = new Browser(server.url);
  await openAsSignedIn(`${server.url}/my/apps`, 'admin@contoso', browser);
  const page = await browser.request(
    adminConsentUrl('contoso', { client_id: app.clientId, redirect_uri: REDIRECT_URI }),
  );
  t.equal(page.status, 200, 'no sign-in round trip when the session exists');
  t.equal(pageName(page.body), 'admin-consent');
  t.match(page.body, /registered by your organisation/);
  const { rowCount } = await pool.query(
    `SELECT 1 FROM oidc_models WHERE payload->>'clientId' = 'accord-portal' AND payload->>'accountId' = $1 AND model IN ('Grant', 'RefreshToken', 'AccessToken')`,
    [as('admin@contoso').id],
  );
  t.equal(rowCount, 0, 'the portal grant and its tokens are revoked once the sign-in is confirmed');
  const lingering = await pool.query(
    `SELECT 1 FROM oidc_models WHERE model = 'Grant' AND payload->>'clientId' = 'accord-portal' AND expires_at > now() + interval '10 minutes'`,
  );
  t.equal(lingering.rowCount, 0, 'a grant left by an abandoned portal sign-in expires within minutes');
  const consents = await pool.query(`SELECT 1 FROM user_consents WHERE client_id = 'accord-portal'`);
  t.equal(consents.rowCount, 0);
});

t.test('a cancelled portal sign-in ends on the landing page of ours, which says so', async (t) => {
  const browser = new Browser(server.url);
  const login = await browser.visit(`${server.url}/my/apps`);
  t.equal(pageName(login.body), 'login');
  t.match(login.body, /to continue to <strong>Accord<\/strong>/);
  const cancelled = await browser.submit(login, /\/abort$/, {});
  t.equal(cancelled.status, 200);
  t.equal(pageName(cancelled.body), 'home');
  t.match(cancelled.body, /data-notice="sign-in-cancelled"/);
});

t.test('a session whose user was disabled must sign in again', async (t) => {
  const user = await directory.createUser(
    { tenantId: 'contoso', username: 'dora', password: PASSWORD, role: 'admin' },
    'operator',
  );
  const browser = new Browser(server.url);
  let page = await browser.visit(`${server.url}/my/apps`);
  page = await browser.submit(page, /\/login$/, { username: 'dora@contoso', password: PASSWORD });
  t.equal(pageName(page.body), 'my-apps');
  await directory.setUserDisabled('contoso', user.id, true, 'operator');
  const again = await browser.request(`${server.url}/my/apps`);
  t.equal(again.status, 303);
  t.match(again.headers.get('location') ?? '', /^\/auth\?client_id=accord-portal&/, 'sent to sign in');
  const { rowCount } = await pool.query(
    `SELECT 1 FROM oidc_models WHERE model = 'Session' AND payload->>'accountId' = $1`,
    [user.id],
  );
  t.equal(rowCount, 0, 'her sessions ended when she was disabled');
  const login = await browser.visit(`${server.url}/my/apps`);
  t.equal(pageName(login.body), 'login', 'the sign-in page, no loop');
  const refused = await browser.submit(login, /\/login$/, { username: 'dora@contoso', password: PASSWORD });
  t.equal(refused.status, 401, 'a disabled user cannot sign in to the portal');
  t.equal(pageName(refused.body), 'login', 'the sign-in page again');
  t.match(refused.body, /The username or password is incorrect/, 'with the generic message');
  const still = await browser.request(`${server.url}/my/apps`);
  t.equal(still.status, 303, 'My apps still sends the browser to sign in');

  await directory.setUserDisabled('contoso', user.id, false, 'operator');
  const login2 = await browser.visit(`${server.url}/my/apps`);
  const back = await browser.submit(login2, /\/login$/, { username: 'dora@contoso', password: PASSWORD });
  t.equal(pageName(back.body), 'my-apps', 'control: enabled again, the same sign-in lets her in');
});
