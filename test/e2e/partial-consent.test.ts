// Issue 15, partial consent (docs/consent.md, "Optional permissions"), end to end: an app marks
// permissions optional, the user unticks one, and the grant, the tokens and the token response
// carry only what was accepted; a real RP (openid-client), a cookie-keeping browser, the real
// server and PostgreSQL.
import { decodeJwt } from 'jose';
import t from 'tap';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  REDIRECT_URI,
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
]);

const REGISTERED = ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Files.Read'];
const planner = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Vendor Planner',
  scopes: REGISTERED,
  optionalScopes: ['Calendars.Read', 'Files.Read'],
});
const ALL = REGISTERED.join(' ');

/** /auth → sign-in (when the browser has no session) → the page shown next, or the app's callback. */
async function authorize(app: TestApp, user: string, params: Record<string, string>, browser: Browser) {
  const auth = await startAuthorization(browser, app, params);
  const page =
    pageName(auth.page.body) === 'login'
      ? await signInOnPage(browser, auth.page, as(user).signIn, PASSWORD)
      : auth.page;
  return { auth, page };
}

/** The inner HTML of a permission list of the page. */
function list(page: PageResponse, name: string): string {
  const after = page.body.split(`data-list="${name}"`)[1] ?? '';
  return after.split(/data-list="|data-hint=|name="decision"/)[0]!;
}

const scopesOf = (scope: string | undefined) => (scope ?? '').split(' ').filter(Boolean).sort();

async function consentRow(user: string) {
  const { rows } = await pool.query<{ scopes: string[]; declined_scopes: string[] }>(
    'SELECT scopes, declined_scopes FROM user_consents WHERE user_id = $1 AND client_id = $2',
    [as(user).id, planner.clientId],
  );
  return rows[0];
}

t.test(
  'an app marks Calendars.Read optional; the user unticks it; nothing carries it, and asking again is silent',
  async (t) => {
    const browser = new Browser(server.url);
    const { auth, page } = await authorize(planner, 'alice@contoso', { scope: ALL }, browser);
    t.equal(pageName(page.body), 'consent');
    const requested = list(page, 'requested');
    for (const scope of ['Calendars.Read', 'Files.Read'])
      t.match(
        requested,
        new RegExp(`<input type="checkbox" name="scope" value="${scope}" checked>`),
        `${scope} is an optional permission, ticked`,
      );
    for (const scope of ['openid', 'profile', 'User.Read']) {
      t.match(requested, new RegExp(`data-scope="${scope}"`), `${scope} is asked for`);
      t.notMatch(requested, new RegExp(`value="${scope}"`), `${scope} is required: no checkbox`);
    }
    t.match(page.body, /data-hint="optional"/);

    // The browser sends the boxes left ticked: Files.Read stays, Calendars.Read is unticked.
    const callback = appRedirect(await answerConsent(browser, page, 'accept', { scope: 'Files.Read' }));
    const tokens = await exchangeCode(planner, callback, auth);
    t.same(scopesOf(tokens.scope), ['Files.Read', 'User.Read'], "the token response's scope lacks Calendars.Read");
    t.same(scopesOf(String(decodeJwt(tokens.access_token).scope)), ['Files.Read', 'User.Read'], 'so does the token');
    t.ok(tokens.claims()?.name, 'profile was granted (required): the ID token names the user');
    t.same(await consentRow('alice@contoso'), {
      scopes: ['openid', 'profile', 'User.Read', 'Files.Read'],
      declined_scopes: ['Calendars.Read'],
    });
    const { rows: grants } = await pool.query<{ payload: { resources?: Record<string, string> } }>(
      `SELECT payload FROM oidc_models WHERE model = 'Grant' AND id = (SELECT grant_id FROM user_consents WHERE user_id = $1)`,
      [as('alice@contoso').id],
    );
    t.same(
      scopesOf(Object.values(grants[0]!.payload.resources ?? {}).join(' ')),
      ['Files.Read', 'User.Read'],
      'the grant holds what was accepted',
    );
    const events = await fetch(`${server.url}/data/v1/me/calendar/events`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    t.equal(events.status, 403, 'the calendar stays closed to the app');
    const files = await fetch(`${server.url}/data/v1/me/drive/files`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    t.equal(files.status, 200, 'the files it was allowed are open');

    t.test('the next request for the accepted set is silent', async (t) => {
      const again = await authorize(
        planner,
        'alice@contoso',
        { scope: 'openid profile User.Read Files.Read' },
        browser,
      );
      const tokens = await exchangeCode(planner, appRedirect(again.page), again.auth);
      t.same(scopesOf(tokens.scope), ['Files.Read', 'User.Read']);
    });

    t.test("the app's request for its whole registered set is silent too, and still lacks it", async (t) => {
      const again = await authorize(planner, 'alice@contoso', { scope: ALL }, browser);
      const tokens = await exchangeCode(planner, appRedirect(again.page), again.auth);
      t.same(scopesOf(tokens.scope), ['Files.Read', 'User.Read']);
      const silent = await authorize(planner, 'alice@contoso', { scope: ALL, prompt: 'none' }, browser);
      t.equal(appRedirect(silent.page).searchParams.get('error'), null, 'prompt=none answers with a code');
    });

    t.test('asking for Calendars.Read later shows the consent page for it alone', async (t) => {
      const later = await authorize(planner, 'alice@contoso', { scope: 'openid Calendars.Read' }, browser);
      t.equal(pageName(later.page.body), 'consent');
      const requested = list(later.page, 'requested');
      t.match(requested, /value="Calendars.Read" checked/);
      t.same(
        [...requested.matchAll(/data-scope="([^"]+)"/g)].map((m) => m[1]),
        ['Calendars.Read'],
        'only it',
      );
      const silent = await authorize(
        planner,
        'alice@contoso',
        { scope: 'openid Calendars.Read', prompt: 'none' },
        browser,
      );
      t.equal(appRedirect(silent.page).searchParams.get('error'), 'consent_required', 'a silent request is refused');

      const accepted = appRedirect(await answerConsent(browser, later.page, 'accept', { scope: 'Calendars.Read' }));
      const tokens = await exchangeCode(planner, accepted, later.auth);
      t.same(scopesOf(tokens.scope), ['Calendars.Read']);
      t.same(await consentRow('alice@contoso'), {
        scopes: ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Files.Read'],
        declined_scopes: [],
      });
    });
  },
);

t.test('prompt=consent asks again for a declined permission, ticked', async (t) => {
  const browser = new Browser(server.url);
  const first = await authorize(planner, 'bob@contoso', { scope: ALL }, browser);
  appRedirect(await answerConsent(browser, first.page, 'accept', { scope: [] }));
  t.same(await consentRow('bob@contoso'), {
    scopes: ['openid', 'profile', 'User.Read'],
    declined_scopes: ['Calendars.Read', 'Files.Read'],
  });
  const again = await authorize(planner, 'bob@contoso', { scope: ALL, prompt: 'consent' }, browser);
  t.equal(pageName(again.page.body), 'consent');
  const requested = list(again.page, 'requested');
  t.same(
    [...requested.matchAll(/data-scope="([^"]+)"/g)].map((m) => m[1]),
    ['Calendars.Read', 'Files.Read'],
    'the declined permissions are asked for again',
  );
  t.match(requested, /value="Files.Read" checked/);
  const callback = appRedirect(await answerConsent(browser, again.page, 'accept', { scope: ['Files.Read'] }));
  t.same(scopesOf((await exchangeCode(planner, callback, again.auth)).scope), ['Files.Read', 'User.Read']);
  t.same((await consentRow('bob@contoso'))?.declined_scopes, ['Calendars.Read']);
});

t.test('the form cannot add what is not an optional permission of this request', async (t) => {
  const browser = new Browser(server.url);
  const { auth, page } = await authorize(planner, 'erin@contoso', { scope: 'openid User.Read Files.Read' }, browser);
  // User.Read is required (granted whatever the form says); Calendars.Read was not asked for.
  const callback = appRedirect(
    await answerConsent(browser, page, 'accept', { scope: ['Calendars.Read', 'Files.Read', 'Mail.Send'] }),
  );
  t.same(scopesOf((await exchangeCode(planner, callback, auth)).scope), ['Files.Read', 'User.Read']);
  t.same(await consentRow('erin@contoso'), { scopes: ['openid', 'User.Read', 'Files.Read'], declined_scopes: [] });
});

t.test('an admin consenting for the organisation may leave optional permissions out', async (t) => {
  const browser = new Browser(server.url);
  const { auth, page } = await authorize(planner, 'admin@contoso', { scope: ALL }, browser);
  t.equal(pageName(page.body), 'consent');
  const callback = appRedirect(
    await answerConsent(browser, page, 'accept', { on_behalf_of_org: 'true', scope: 'Files.Read' }),
  );
  t.same(scopesOf((await exchangeCode(planner, callback, auth)).scope), ['Files.Read', 'User.Read']);
  const { rows } = await pool.query<{ scopes: string[] }>(
    `SELECT scopes FROM admin_consents WHERE tenant_id = 'contoso' AND client_id = $1`,
    [planner.clientId],
  );
  t.same(
    rows[0]?.scopes,
    ['openid', 'profile', 'User.Read', 'Files.Read'],
    'Calendars.Read is not granted for everyone',
  );
});

t.test('every API permission unticked: the access token is for userinfo, not an empty one for the API', async (t) => {
  const calendar = await registerApp(server, {
    tenant: 'fabrikam',
    name: 'Vendor Calendar',
    scopes: ['openid', 'profile', 'Calendars.Read', 'Files.Read'],
    optionalScopes: ['Calendars.Read', 'Files.Read'],
  });
  const browser = new Browser(server.url);
  const scope = 'openid profile Calendars.Read Files.Read';
  const { auth, page } = await authorize(calendar, 'bob@contoso', { scope }, browser);
  t.equal(pageName(page.body), 'consent');
  // Neither box left ticked.
  const callback = appRedirect(await answerConsent(browser, page, 'accept'));
  const tokens = await exchangeCode(calendar, callback, auth);
  t.same(scopesOf(tokens.scope), ['openid', 'profile'], 'the response names what was granted');
  t.equal(tokens.access_token.split('.').length, 1, "an opaque token for userinfo, not an API's JWT");
  const userinfo = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  t.equal(userinfo.status, 200);
  t.match(await userinfo.json(), { sub: as('bob@contoso').id, name: String });
  const files = await fetch(`${server.url}/data/v1/me/drive/files`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  t.equal(files.status, 401, 'the API does not take it');
});

t.test(
  'the admin consent endpoint offers optional permissions as checkboxes and grants only the ticked ones',
  async (t) => {
    const other = await registerApp(server, {
      tenant: 'fabrikam',
      name: 'Vendor Mail',
      scopes: ['openid', 'User.Read', 'Mail.Send'],
      optionalScopes: ['Mail.Send'],
    });
    const url = `${server.url}/contoso/adminconsent?${new URLSearchParams({
      client_id: other.clientId,
      redirect_uri: REDIRECT_URI,
      state: 's1',
    })}`;
    const browser = new Browser(server.url);
    let page = await browser.visit(url);
    if (pageName(page.body) === 'login') page = await signInOnPage(browser, page, as('admin@contoso').signIn, PASSWORD);
    t.equal(pageName(page.body), 'admin-consent');
    t.match(page.body, /<input type="checkbox" name="scope" value="Mail.Send" checked>/);
    t.notMatch(page.body, /name="scope" value="User.Read"/);
    const back = appRedirect(await browser.submit(page, /adminconsent/, { decision: 'accept' }));
    t.equal(back.searchParams.get('admin_consent'), 'True');
    t.equal(back.searchParams.get('scope'), 'openid User.Read', 'Mail.Send was left out');
  },
);
