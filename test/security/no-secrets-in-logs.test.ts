// The log holds no secret (README, Security): the real server process at LOG_LEVEL=debug goes
// through a whole authorization code flow (a failed and a good sign-in, consent, the code, a
// refresh, introspection), a portal sign-in, admin consent and a sign-out with id_token_hint; then
// every code, token, secret, password, state, PKCE verifier and cookie value of those exchanges
// is looked for in everything the process printed.
import * as oidc from 'openid-client';
import t from 'tap';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { listPermissions } from '../../src/db/permissions.js';
import { Directory } from '../../src/services/directory.js';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { createTestDatabase } from '../support/database.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  REDIRECT_URI,
  registerApp,
  signInOnPage,
  startAuthorization,
} from '../support/flows.js';
import { type ServerProcess, startServerProcess } from '../support/server.js';

t.setTimeout(240_000);
const database = await createTestDatabase();
let server: ServerProcess | undefined;
t.teardown(async () => {
  await server?.kill();
  await database.drop();
});
server = await startServerProcess(database.url, { LOG_LEVEL: 'debug', SIGN_IN_RATE_LIMIT: '1000' });
// The issuer the server chose itself (ISSUER unset): http://localhost:<port>.
const issuer = `http://localhost:${new URL(server.origin).port}`;
const directory = new Directory(database.pool, new PermissionCatalogue(await listPermissions(database.pool)));

const PASSWORD = 'a long and secret passphrase';
const WRONG_PASSWORD = 'a wrong and secret guess';
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createUser({ tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' }, 'operator');
const app = await registerApp(
  { url: issuer, directory },
  { tenant: 'contoso', scopes: ['openid', 'offline_access', 'profile', 'User.Read'] },
);

/** Every value that must never reach the log, with what it is. */
const secrets = new Map<string, string>([
  [PASSWORD, 'password'],
  [WRONG_PASSWORD, 'wrong password'],
  [app.clientSecret!, 'client secret'],
]);
function secret(what: string, value: string | null | undefined): void {
  if (!value) throw new Error(`no ${what} to look for`);
  secrets.set(value, what);
  // A JWT's signature alone is as telling as the whole token.
  const parts = value.split('.');
  if (parts.length === 3 && parts[2]!.length > 20) secrets.set(parts[2]!, `${what} (signature)`);
}
async function cookiesOf(browser: Browser): Promise<void> {
  for (const cookie of (await browser.jar.serialize()).cookies) {
    if (typeof cookie.value === 'string' && cookie.value.length >= 8) secret(`cookie ${cookie.key}`, cookie.value);
  }
}
/** Visits `url`, following our own redirects, and remembers every URL the browser was sent to. */
async function visitRecording(browser: Browser, url: string, seen: string[]): Promise<PageResponse> {
  let response = await browser.request(url);
  seen.push(url);
  for (let hops = 0; hops < 10 && response.status >= 300 && response.status < 400; hops++) {
    const next = new URL(response.headers.get('location')!, response.url).toString();
    seen.push(next);
    if (!next.startsWith(issuer)) return response;
    response = await browser.request(next);
  }
  return response;
}

t.test('a whole flow at LOG_LEVEL=debug writes none of its secrets to the log', async (t) => {
  // The app's flow: a wrong password first, then the right one, consent, the code.
  const browser = new Browser(issuer);
  const auth = await startAuthorization(browser, app, {
    scope: 'openid offline_access profile User.Read',
    prompt: 'consent',
  });
  secret('PKCE verifier', auth.verifier);
  secret('state', auth.state);
  const refused = await signInOnPage(browser, auth.page, 'carol@contoso', WRONG_PASSWORD);
  t.equal(refused.status, 401);
  const consent = await signInOnPage(browser, refused, 'carol@contoso', PASSWORD);
  const callback = appRedirect(await answerConsent(browser, consent, 'accept'));
  secret('authorization code', callback.searchParams.get('code'));
  await cookiesOf(browser);

  const tokens = await exchangeCode(app, callback, auth);
  secret('access token', tokens.access_token);
  secret('refresh token', tokens.refresh_token);
  secret('ID token', tokens.id_token);
  const refreshed = await oidc.refreshTokenGrant(app.config, tokens.refresh_token!);
  secret('refreshed access token', refreshed.access_token);
  secret('rotated refresh token', refreshed.refresh_token);
  secret('refreshed ID token', refreshed.id_token);
  const introspection = await oidc.tokenIntrospection(app.config, refreshed.refresh_token!);
  t.equal(introspection.active, true);
  const me = await fetch(`${issuer}/data/v1/me`, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
  t.equal(me.status, 200);

  // The portal: /admin sends the browser to sign in and back through /portal/callback?code=…&state=….
  const portal = new Browser(issuer);
  const seen: string[] = [];
  const login = await visitRecording(portal, `${issuer}/admin`, seen);
  await cookiesOf(portal);
  const form = /action="([^"]*\/login)"/.exec(login.body)?.[1];
  t.ok(form, 'the portal asks for a sign-in');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)?.[1];
  secret('CSRF token', csrf);
  const signedIn = await portal.request(new URL(form!.replace(/&amp;/g, '&'), issuer).toString(), {
    form: { _csrf: csrf!, username: 'carol@contoso', password: PASSWORD },
  });
  const home = await visitRecording(portal, new URL(signedIn.headers.get('location')!, issuer).toString(), seen);
  t.equal(pageName(home.body), 'admin-home');
  const portalCallback = seen.map((url) => new URL(url)).find((url) => url.pathname === '/portal/callback');
  t.ok(portalCallback, 'the portal sign-in went through its callback');
  secret('portal authorization code', portalCallback!.searchParams.get('code'));
  secret('portal state', portalCallback!.searchParams.get('state'));
  await cookiesOf(portal);

  // Admin consent, whose request and answer carry the app's state.
  const adminState = 'admin-consent-state-0123456789';
  secret('admin consent state', adminState);
  const adminConsent = await portal.visit(
    `${issuer}/contoso/adminconsent?${new URLSearchParams({ client_id: app.clientId, redirect_uri: REDIRECT_URI, state: adminState }).toString()}`,
  );
  t.equal(pageName(adminConsent.body), 'admin-consent');
  const granted = await portal.submit(adminConsent, /adminconsent/, { decision: 'accept' });
  t.equal(new URL(granted.headers.get('location')!).searchParams.get('state'), adminState);

  // Sign-out with id_token_hint (RP-initiated logout), confirmed.
  const logout = await browser.visit(`${issuer}/session/end?id_token_hint=${encodeURIComponent(refreshed.id_token!)}`);
  t.equal(logout.status, 200);
  await cookiesOf(browser);
  const loggedOut = await browser.submit(logout, /\/session\/end\/confirm$/, { logout: 'yes' });
  t.equal(loggedOut.status, 200);

  // Let the last lines reach the pipe.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const log = server!.output();
  for (const path of [
    '/portal/callback',
    '/token',
    '/contoso/adminconsent',
    '/session/end',
    '/data/v1/me',
    '/interaction/:uid/login',
    '/auth/:uid',
  ]) {
    t.match(log, `"url":"${path}`, `the log has the request to ${path}: the test looks where secrets would be`);
  }
  t.ok(secrets.size > 20, `looking for ${secrets.size} values`);
  const found = [...secrets].filter(([value]) => log.includes(value)).map(([, what]) => what);
  t.same(found, [], 'no code, token, secret, password, state, verifier or cookie value in the log');
  t.notMatch(
    log,
    /[?&](code|state|id_token_hint|access_token|refresh_token|client_secret|password)=/,
    'no such query parameter either',
  );
});
