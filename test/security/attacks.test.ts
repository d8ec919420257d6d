// RFC 9700 attack list, the cases protocol.test.ts, e2e/consent.test.ts, data-api/tokens.test.ts and
// admin-api/access.test.ts do not cover: audience confusion between the two APIs, tokens from a
// tenant's user at another tenant, consent fixation across browsers, the (disabled) `claims`
// parameter, prompt=none against every "no" of the consent decision. (Introspection:
// introspection.test.ts.)

import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import {
  ADMIN_SCOPE,
  adminApiToken,
  callApi as callAdminApi,
  PASSWORD,
  registerAdminClient,
} from '../admin-api/support.js';
import { callApi as callDataApi, userTokens } from '../data-api/support.js';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
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
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;

await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
const newUser = (tenantId: string, username: string, role: 'user' | 'admin', email?: string) =>
  directory.createUser({ tenantId, username, password: PASSWORD, role, ...(email ? { email } : {}) }, 'operator');
const carol = await newUser('contoso', 'carol', 'admin', 'carol@contoso.example');
const alice = await newUser('contoso', 'alice', 'user', 'alice@contoso.example');
const mallory = await newUser('contoso', 'mallory', 'user');
const victim = await newUser('contoso', 'victim', 'user', 'victim@contoso.example');
await newUser('fabrikam', 'frank', 'admin');
const fiona = await newUser('fabrikam', 'fiona', 'user');
const user = (name: string) => ({ signIn: name, password: PASSWORD });

const dataApp = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Vendor',
  scopes: ['openid', 'profile', 'email', 'offline_access', 'User.Read', 'Calendars.Read', 'User.Read.All'],
});
const adminClient = await registerAdminClient(server, 'contoso');
const fabrikamAdminClient = await registerAdminClient(server, 'fabrikam');

const carolAdmin = (await adminApiToken(server, adminClient, 'carol@contoso')).accessToken;
const carolData = await userTokens(server, dataApp, user('carol@contoso'), 'openid User.Read');

function expectInvalidToken(t: Test, response: { status: number; headers: Headers; body: any }, what: string) {
  t.equal(response.status, 401, what);
  t.equal(response.body?.error, 'invalid_token', what);
  t.match(response.headers.get('www-authenticate'), /^Bearer realm="accord", error="invalid_token"/, what);
}

/** What a redirect to the app carries; fails the test when there is no redirect to the app. */
function appResponse(page: PageResponse) {
  const callback = appRedirect(page);
  return {
    error: callback.searchParams.get('error'),
    code: callback.searchParams.get('code'),
    iss: callback.searchParams.get('iss'),
  };
}

async function consentRows(userId: string) {
  return (
    await pool.query<{ client_id: string; scopes: string[] }>(
      'SELECT client_id, scopes FROM user_consents WHERE user_id = $1 ORDER BY client_id',
      [userId],
    )
  ).rows;
}

// ---- audience confusion -------------------------------------------------------------------

t.test(
  'audience confusion: an admin-API token at the data API and a data-API token at the admin API are 401',
  async (t) => {
    t.equal(decodeJwt(carolAdmin).aud, `${server.url}/api/v1`);
    t.equal(decodeJwt(carolData.access_token).aud, `${server.url}/data/v1`);
    // The controls: each token works where it belongs.
    t.equal((await callAdminApi(server, carolAdmin, '/tenants/contoso/settings')).status, 200);
    t.equal((await callDataApi(server, carolData.access_token, '/me')).status, 200);

    for (const path of [
      '/me',
      `/users/${carol.id}`,
      `/users/${alice.id}`,
      '/me/calendar/events',
      '/me/drive/files',
      '/sites/intranet/items',
    ]) {
      expectInvalidToken(t, await callDataApi(server, carolAdmin, path), `admin-API token at GET /data/v1${path}`);
    }
    expectInvalidToken(
      t,
      await callDataApi(server, carolAdmin, '/me/sendMail', {
        body: { to: ['x@example.test'], subject: 's', body: 'b' },
      }),
      'admin-API token at POST /data/v1/me/sendMail',
    );
    for (const path of ['/tenants/contoso/settings', '/tenants/contoso/users', '/me/apps']) {
      expectInvalidToken(
        t,
        await callAdminApi(server, carolData.access_token, path),
        `data-API token at /api/v1${path}`,
      );
    }
    const mine = await callAdminApi(server, carolData.access_token, '/tenants/contoso/users', {
      method: 'POST',
      body: { username: 'intruder', password: PASSWORD, role: 'admin' },
    });
    expectInvalidToken(t, mine, 'data-API token creating a user');
    t.equal((await pool.query(`SELECT 1 FROM users WHERE username = 'intruder'`)).rowCount, 0, 'nothing was created');
  },
);

t.test('an ID token used as an access token is 401 at both APIs', async (t) => {
  const idToken = carolData.id_token!;
  t.equal(decodeJwt(idToken).aud, dataApp.clientId, 'the ID token is for the app');
  expectInvalidToken(t, await callDataApi(server, idToken, '/me'), 'ID token at the data API');
  expectInvalidToken(t, await callAdminApi(server, idToken, '/tenants/contoso/settings'), 'ID token at the admin API');
  expectInvalidToken(t, await callAdminApi(server, idToken, '/me/apps'), 'ID token at the admin API /me');
  const dpop = await fetch(`${server.url}/data/v1/me`, { headers: { authorization: `DPoP ${idToken}` } });
  t.equal(dpop.status, 401, 'ID token under the DPoP scheme');
});

t.test("a contoso user's tokens reach neither fabrikam's admin API nor fabrikam users' data", async (t) => {
  // Through fabrikam's own admin tool: the publisher's tenant confers nothing.
  const viaFabrikamTool = (await adminApiToken(server, fabrikamAdminClient, 'carol@contoso')).accessToken;
  t.equal(decodeJwt(viaFabrikamTool).tid, 'contoso');
  t.equal(
    (await callAdminApi(server, viaFabrikamTool, '/tenants/contoso/settings')).status,
    200,
    'control: it works for her own tenant',
  );
  for (const path of [
    '/tenants/fabrikam/settings',
    '/tenants/fabrikam/users',
    `/tenants/fabrikam/users/${fiona.id}`,
    '/tenants/fabrikam/audit-events',
  ]) {
    const response = await callAdminApi(server, viaFabrikamTool, path);
    t.equal(response.status, 403, `fabrikam's admin tool, contoso's admin: ${path}`);
    t.notMatch(JSON.stringify(response.body), /fiona|frank/);
  }
  // Her admin-API token is no data-API token for fabrikam's users either.
  for (const token of [carolAdmin, viaFabrikamTool]) {
    expectInvalidToken(
      t,
      await callDataApi(server, token, `/users/${fiona.id}`),
      "admin token at fabrikam user's profile",
    );
    expectInvalidToken(
      t,
      await callDataApi(server, token, `/users/${fiona.id}/calendar/events`),
      "admin token at fabrikam user's calendar",
    );
  }
  // Her data-API token, from an app published by fabrikam, stays in contoso.
  const profile = await callDataApi(server, carolData.access_token, `/users/${fiona.id}`);
  t.equal(profile.status, 403, "a fabrikam app's token for a contoso user cannot read a fabrikam user");
  t.notMatch(JSON.stringify(profile.body), /fiona/);
  // And a fabrikam admin's data token cannot reach contoso through the tenant-wide *.All permission.
  const frankAll = await fullFlow(server, dataApp, user('frank@fabrikam'), { scope: 'openid User.Read.All' });
  const frankPage = frankAll.callback;
  const frankTokens = await exchangeCode(dataApp, frankPage, frankAll.auth);
  t.equal(
    (await callDataApi(server, frankTokens.access_token, `/users/${fiona.id}`)).status,
    200,
    'control: his own tenant',
  );
  const cross = await callDataApi(server, frankTokens.access_token, `/users/${alice.id}`);
  t.equal(cross.status, 404, "another tenant's user is not found");
  t.notMatch(JSON.stringify(cross.body), /alice/);
  t.equal((await callAdminApi(server, frankTokens.access_token, '/tenants/contoso/users')).status, 401);
});

// ---- consent fixation ---------------------------------------------------------------------

t.test('consent fixation: an interaction started in browser A and completed in browser B yields nothing', async (t) => {
  const before = await consentRows(victim.id);
  // The attacker starts an authorization in their browser and sends the victim its /interaction URL.
  const attacker = new Browser(server.url);
  const started = await startAuthorization(attacker, dataApp, { scope: 'openid email User.Read Calendars.Read' });
  t.equal(pageName(started.page.body), 'login');
  const interactionUrl = started.page.url;
  t.match(interactionUrl, /\/interaction\/[A-Za-z0-9_-]+$/);

  // 1. The victim opens the link in a browser with no session: no page to sign in on.
  const fresh = new Browser(server.url);
  const opened = await fresh.visit(interactionUrl);
  t.ok(opened.status >= 400 && opened.status < 500, `the link opens no sign-in form (${opened.status})`);
  t.equal(opened.headers.get('location'), null);
  t.notMatch(opened.body, /action="[^"]*\/login"/, 'no login form');

  // 2. The victim, using the attacker's form (posted from the attacker's page), signs in.
  const posted = await fresh.submit(started.page, /\/login$/, { username: 'victim@contoso', password: PASSWORD });
  t.ok(
    posted.status >= 400 && posted.status < 500,
    `the attacker's login form is refused in another browser (${posted.status})`,
  );
  t.equal(posted.headers.get('location'), null, 'no redirect anywhere');

  // 3. The victim has a session and an interaction of their own (so a CSRF token and an interaction
  //    cookie), and posts to the attacker's interaction id.
  const own = await startAuthorization(fresh, dataApp, { scope: 'openid User.Read' });
  const ownConsent = await signInOnPage(fresh, own.page, 'victim@contoso', PASSWORD);
  t.equal(pageName(ownConsent.body), 'consent');
  const attackerUid = /\/interaction\/([^/]+)$/.exec(interactionUrl)![1]!;
  // A valid CSRF token of the victim's own session: what refuses the posts below is the
  // interaction belonging to another browser, not a missing token.
  const csrf = /name="_csrf" value="([^"]+)"/.exec(ownConsent.body)?.[1];
  t.ok(csrf, "the victim's page has a CSRF token");
  for (const step of ['login', 'consent', 'abort', 'request-approval']) {
    const form: Record<string, string> =
      step === 'login'
        ? { username: 'victim@contoso', password: PASSWORD }
        : step === 'consent'
          ? { decision: 'accept' }
          : {};
    const response = await fresh.request(`${server.url}/interaction/${attackerUid}/${step}`, {
      form: { ...form, _csrf: csrf! },
    });
    t.ok(
      response.status >= 400 && response.status < 500,
      `POST ${step} to the attacker's interaction from the victim's browser: ${response.status}`,
    );
    t.notMatch(response.headers.get('location') ?? '', /code=/);
  }
  const ownOpen = await fresh.visit(interactionUrl);
  t.ok(
    ownOpen.status >= 400 && ownOpen.status < 500,
    "the attacker's page does not open in the victim's signed-in browser either",
  );
  t.notMatch(ownOpen.body, /data-page="consent"/);

  // 4. Nothing was granted to the victim, and the attacker's browser is not signed in as the victim.
  t.same(await consentRows(victim.id), before, 'no consent recorded for the victim');
  const attackerView = await attacker.visit(interactionUrl);
  t.equal(pageName(attackerView.body), 'login', "the attacker's interaction still waits for a sign-in");
  const silent = await startAuthorization(attacker, dataApp, { scope: 'openid', prompt: 'none' });
  t.equal(appResponse(silent.page).error, 'login_required', 'the attacker has no session of the victim');
  t.equal(appResponse(silent.page).code, null);
  // The victim's own interaction (in their own browser) is unaffected.
  t.match(appResponse(await answerConsent(fresh, ownConsent, 'deny')).error ?? '', /access_denied/);
});

t.test(
  'consent fixation, the other way: a consent page reached in A cannot be accepted in B even after B signs in',
  async (t) => {
    const attackerBrowser = new Browser(server.url);
    const attackerAuth = await startAuthorization(attackerBrowser, dataApp, { scope: 'openid Calendars.Read' });
    const attackerConsent = await signInOnPage(attackerBrowser, attackerAuth.page, 'mallory@contoso', PASSWORD);
    t.equal(pageName(attackerConsent.body), 'consent');
    // The victim signs in in their own browser, then submits the attacker's consent form.
    const victimBrowser = new Browser(server.url);
    const victimFlow = await fullFlow(server, dataApp, user('victim@contoso'), { scope: 'openid' }, victimBrowser);
    t.ok(victimFlow.callback.searchParams.get('code'), 'the victim is signed in in B');
    const before = await consentRows(victim.id);
    const accepted = await victimBrowser.submit(attackerConsent, /\/consent$/, { decision: 'accept' });
    t.ok(accepted.status >= 400 && accepted.status < 500, `refused (${accepted.status})`);
    t.notMatch(accepted.headers.get('location') ?? '', /code=/);
    t.same(await consentRows(victim.id), before, 'the victim granted nothing');
    t.same(await consentRows(mallory.id), [], 'the attacker granted nothing');
  },
);

// ---- the claims parameter -----------------------------------------------------------------

t.test('the claims request parameter (disabled) neither adds claims nor skips consent', async (t) => {
  const claims = JSON.stringify({
    id_token: { email: { essential: true }, email_verified: null, name: null },
    userinfo: { email: { essential: true } },
  });
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, dataApp, { scope: 'openid User.Read', claims });
  // The parameter is ignored: the request goes on to the sign-in page as if it were absent.
  t.equal(pageName(auth.page.body), 'login', 'the request goes on, the parameter ignored');
  const page = await signInOnPage(browser, auth.page, 'alice@contoso', PASSWORD);
  t.equal(pageName(page.body), 'consent', 'the consent page is still shown');
  t.notMatch(page.body, /data-scope="email"/, 'email is not asked for (nor granted) through claims');
  const callback = appRedirect(await answerConsent(browser, page, 'accept'));
  const tokens = await exchangeCode(dataApp, callback, auth);
  const idToken = decodeJwt(tokens.id_token!);
  t.equal(idToken.sub, alice.id);
  t.notOk('email' in idToken, 'no email in the ID token');
  t.notOk('email_verified' in idToken);
  t.notOk('name' in idToken, 'no profile claim either');
  // Nor userinfo: it answers the token with the claims of the OpenID scopes granted (openid), and
  // the claims parameter adds none.
  const userinfo = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  t.equal(userinfo.status, 200, 'userinfo answers the token');
  t.same(await userinfo.json(), { sub: alice.id, tid: 'contoso' }, 'with the sub and tenant only: no email, no name');
  const rows = await consentRows(alice.id);
  t.notOk(
    rows.some((row) => row.scopes.includes('email')),
    'email was not consented',
  );

  // Silently (prompt=none), with the same claims parameter: a code, and no email either.
  const silent = await startAuthorization(browser, dataApp, { scope: 'openid User.Read', claims, prompt: 'none' });
  const response = appResponse(silent.page);
  t.equal(response.error, null, 'the silent sign-in succeeds: everything asked for is granted');
  const again = await exchangeCode(dataApp, appRedirect(silent.page), silent);
  t.notOk('email' in decodeJwt(again.id_token!), 'no email after a silent sign-in');
});

t.test('the discovery document does not advertise the claims parameter', async (t) => {
  const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<
    string,
    unknown
  >;
  t.notOk(discovery.claims_parameter_supported, 'claims_parameter_supported is not true');
});

// ---- prompt=none --------------------------------------------------------------------------

/** A browser with alice signed in (and her consent to openid User.Read given). */
async function signedInBrowser(app: TestApp, who = 'alice@contoso') {
  const browser = new Browser(server.url);
  const flow = await fullFlow(server, app, user(who), { scope: 'openid User.Read' }, browser);
  t.equal(flow.callback.searchParams.get('error'), null);
  return browser;
}

async function silently(t: Test, browser: Browser, app: TestApp, scope: string, expected: RegExp, what: string) {
  const auth = await startAuthorization(browser, app, { scope, prompt: 'none' });
  t.not(pageName(auth.page.body), 'consent', `${what}: no page is shown`);
  const response = appResponse(auth.page);
  t.match(response.error, expected, `${what}: ${response.error}`);
  t.equal(response.code, null, `${what}: no code`);
  t.equal(response.iss, server.url, `${what}: iss`);
}

t.test('prompt=none with an admin-only permission: an error to the app, never a code, nothing recorded', async (t) => {
  const browser = await signedInBrowser(dataApp);
  const before = await consentRows(alice.id);
  const requests = (await pool.query('SELECT count(*)::int AS n FROM consent_requests')).rows[0].n;
  await silently(
    t,
    browser,
    dataApp,
    'openid User.Read.All',
    /^(consent_required|interaction_required)$/,
    'User.Read.All',
  );
  await silently(
    t,
    browser,
    dataApp,
    'openid User.Read User.Read.All',
    /^(consent_required|interaction_required)$/,
    'User.Read + User.Read.All',
  );
  const admin = await startAuthorization(browser, adminClient, {
    scope: `openid ${ADMIN_SCOPE}`,
    resource: `${server.url}/api/v1`,
    prompt: 'none',
  });
  const adminResponse = appResponse(admin.page);
  t.match(
    adminResponse.error,
    /^(consent_required|interaction_required)$/,
    `the admin API permission: ${adminResponse.error}`,
  );
  t.equal(adminResponse.code, null);
  t.same(await consentRows(alice.id), before, 'nothing granted');
  t.equal(
    (await pool.query('SELECT count(*)::int AS n FROM consent_requests')).rows[0].n,
    requests,
    'no approval request was filed',
  );
});

t.test('prompt=none for a blocked app, even with consent already given: an error, never a code', async (t) => {
  const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read'], name: 'Soon Blocked' });
  const browser = await signedInBrowser(app);
  // The control: silently, before the block, a code is issued.
  const control = await startAuthorization(browser, app, { scope: 'openid User.Read', prompt: 'none' });
  t.ok(appResponse(control.page).code, 'control: a code before the block');
  await pool.query(
    `INSERT INTO tenant_apps (tenant_id, client_id, blocked) VALUES ('contoso', $1, true) ON CONFLICT (tenant_id, client_id) DO UPDATE SET blocked = true`,
    [app.clientId],
  );
  await silently(
    t,
    browser,
    app,
    'openid User.Read',
    /^(interaction_required|access_denied|consent_required)$/,
    'blocked app',
  );
  await silently(
    t,
    browser,
    app,
    'openid',
    /^(interaction_required|access_denied|consent_required)$/,
    'blocked app, openid only',
  );
});

t.test('prompt=none with Integrated Apps off and a permission not yet granted: an error, never a code', async (t) => {
  const browser = await signedInBrowser(dataApp);
  await directory.setIntegratedApps('contoso', false, 'operator');
  t.teardown(() => directory.setIntegratedApps('contoso', true, 'operator'));
  const before = await consentRows(alice.id);
  await silently(
    t,
    browser,
    dataApp,
    'openid User.Read Calendars.Read',
    /^(consent_required|interaction_required)$/,
    'Integrated Apps off',
  );
  // What was granted before still works silently: the refusal above is the setting's doing.
  const granted = await startAuthorization(browser, dataApp, { scope: 'openid User.Read', prompt: 'none' });
  t.ok(appResponse(granted.page).code, 'control: already-granted permissions still sign in silently');
  t.same(await consentRows(alice.id), before, 'nothing granted');
});
