// RFC 9207: every authorization response that reaches the app carries `iss` (and the app's
// `state`), refusals included — each way a sign-in can end at the app, one row each: the code, a
// cancelled sign-in, a declined consent, "needs admin approval", a blocked app, an app from
// another tenant, an app blocked while its consent page was open, prompt=none without a session or
// without consent, an unregistered scope, an unknown resource and a missing PKCE challenge.
import t from 'tap';
import { Browser, type PageResponse } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  REDIRECT_URI,
  registerApp,
  signInOnPage,
  startAuthorization,
} from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;
const as = await seedPeople(directory, [
  ['contoso', 'alice', 'user'],
  ['fabrikam', 'frank', 'user'],
]);
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read', 'User.Read.All'] });
const internal = await registerApp(server, {
  tenant: 'contoso',
  name: 'Contoso only',
  scopes: ['openid'],
  multiTenant: false,
});
const blocked = await registerApp(server, { tenant: 'contoso', name: 'Blocked', scopes: ['openid'] });
const block = (clientId: string) =>
  pool.query(
    `INSERT INTO tenant_apps (tenant_id, client_id, blocked) VALUES ('contoso', $1, true)
     ON CONFLICT (tenant_id, client_id) DO UPDATE SET blocked = true`,
    [clientId],
  );
await block(blocked.clientId);

const signIn = (browser: Browser, page: PageResponse, user = 'alice@contoso') =>
  signInOnPage(browser, page, as(user).signIn, PASSWORD);

interface Case {
  what: string;
  expected: { error: string | null; code: boolean };
  /** Runs the flow in a fresh browser; returns the state sent and the response that went to the app. */
  run(browser: Browser): Promise<{ state: string; page: PageResponse }>;
}

const cases: Case[] = [
  {
    what: 'a code',
    expected: { error: null, code: true },
    async run(browser) {
      const auth = await startAuthorization(browser, app, { scope: 'openid User.Read' });
      return { state: auth.state, page: await answerConsent(browser, await signIn(browser, auth.page), 'accept') };
    },
  },
  {
    what: 'the user cancels the sign-in',
    expected: { error: 'access_denied', code: false },
    async run(browser) {
      const auth = await startAuthorization(browser, app, { scope: 'openid' });
      return { state: auth.state, page: await browser.submit(auth.page, /\/abort$/, {}) };
    },
  },
  {
    what: 'the user declines consent',
    expected: { error: 'access_denied', code: false },
    async run(browser) {
      const auth = await startAuthorization(browser, app, { scope: 'openid User.Read', prompt: 'consent' });
      return { state: auth.state, page: await answerConsent(browser, await signIn(browser, auth.page), 'deny') };
    },
  },
  {
    what: 'needs admin approval, back to the app',
    expected: { error: 'access_denied', code: false },
    async run(browser) {
      const auth = await startAuthorization(browser, app, { scope: 'openid User.Read.All' });
      return { state: auth.state, page: await browser.submit(await signIn(browser, auth.page), /\/abort$/, {}) };
    },
  },
  {
    what: 'a blocked app',
    expected: { error: 'access_denied', code: false },
    async run(browser) {
      const auth = await startAuthorization(browser, blocked, { scope: 'openid' });
      return { state: auth.state, page: await browser.submit(await signIn(browser, auth.page), /\/abort$/, {}) };
    },
  },
  {
    what: "a single-tenant app, another tenant's user",
    expected: { error: 'access_denied', code: false },
    async run(browser) {
      const auth = await startAuthorization(browser, internal, { scope: 'openid' });
      const refused = await signIn(browser, auth.page, 'frank@fabrikam');
      return { state: auth.state, page: await browser.submit(refused, /\/abort$/, {}) };
    },
  },
  {
    what: 'the app is blocked while its consent page is open',
    expected: { error: 'access_denied', code: false },
    async run(browser) {
      const soon = await registerApp(server, {
        tenant: 'contoso',
        name: 'Soon blocked',
        scopes: ['openid', 'User.Read'],
      });
      const auth = await startAuthorization(browser, soon, { scope: 'openid User.Read' });
      const consent = await signIn(browser, auth.page);
      await block(soon.clientId);
      return { state: auth.state, page: await answerConsent(browser, consent, 'accept') };
    },
  },
  {
    what: 'prompt=none without a session',
    expected: { error: 'login_required', code: false },
    async run(browser) {
      const auth = await startAuthorization(browser, app, { scope: 'openid', prompt: 'none' });
      return { state: auth.state, page: auth.page };
    },
  },
  {
    what: 'prompt=none without consent',
    expected: { error: 'consent_required', code: false },
    async run(browser) {
      // Signed in (up to the consent page, not answered): a session, and no consent at all.
      const first = await startAuthorization(browser, app, { scope: 'openid User.Read' });
      await signIn(browser, first.page);
      const auth = await startAuthorization(browser, app, { scope: 'openid User.Read.All', prompt: 'none' });
      return { state: auth.state, page: auth.page };
    },
  },
  {
    what: 'a scope the app did not register',
    expected: { error: 'invalid_scope', code: false },
    async run(browser) {
      const auth = await startAuthorization(browser, app, { scope: 'openid Mail.Send' });
      return { state: auth.state, page: auth.page };
    },
  },
  {
    what: 'an unknown resource',
    expected: { error: 'invalid_target', code: false },
    async run(browser) {
      const auth = await startAuthorization(browser, app, { scope: 'openid', resource: 'https://evil.example/api' });
      return { state: auth.state, page: auth.page };
    },
  },
  {
    what: 'no PKCE challenge',
    expected: { error: 'invalid_request', code: false },
    async run(browser) {
      const url = new URL(`${server.url}/auth`);
      url.search = new URLSearchParams({
        client_id: app.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: REDIRECT_URI,
        state: 'no-pkce',
      }).toString();
      return { state: 'no-pkce', page: await browser.visit(url.href) };
    },
  },
];

for (const { what, expected, run } of cases) {
  t.test(`${what}: ${expected.error ?? 'code'} with iss and state`, async (t) => {
    const { state, page } = await run(new Browser(server.url));
    const callback = appRedirect(page);
    t.equal(callback.searchParams.get('error'), expected.error, 'error');
    t.equal(callback.searchParams.has('code'), expected.code, expected.code ? 'a code' : 'no code');
    t.equal(callback.searchParams.get('iss'), server.url, 'iss (RFC 9207)');
    t.equal(callback.searchParams.get('state'), state, 'state');
  });
}
