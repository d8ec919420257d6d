// Sign-in rules: username@tenant, generic failures, disabled users lose sessions and tokens.

import * as oidc from 'openid-client';
import t from 'tap';
import { Browser, findForm, type PageResponse, pageName } from '../support/browser.js';
import { createTestDatabase } from '../support/database.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  fullFlow,
  registerApp,
  signInOnPage,
  startAuthorization,
} from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({
  SIGN_IN_RATE_LIMIT: '1000',
  ...(process.env.TEST_LOG ? { LOG_LEVEL: 'error' } : {}),
});
t.teardown(() => server.close());
const PASSWORD = 'correct horse battery';
await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await server.directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
const dora = await server.directory.createUser(
  {
    tenantId: 'contoso',
    username: 'dora',
    password: PASSWORD,
    role: 'user',
    displayName: 'Dora Explorer',
    email: 'dora@contoso.example',
  },
  'operator',
);
await server.directory.createUser(
  { tenantId: 'fabrikam', username: 'dora', password: 'another password!', role: 'user' },
  'operator',
);
const app = await registerApp(server, {
  tenant: 'contoso',
  scopes: ['openid', 'offline_access', 'profile', 'email', 'User.Read'],
});

t.test('the tenant comes from the username; the same username in another tenant is another person', async (t) => {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, app, { scope: 'openid' });
  const wrongTenant = await signInOnPage(browser, auth.page, 'dora@fabrikam', PASSWORD);
  t.equal(wrongTenant.status, 401, "contoso dora's password does not open fabrikam dora");
  t.equal(pageName(wrongTenant.body), 'login');
  // Each malformed or unknown name: the same generic refusal (a name over 200 characters is
  // refused by the form's schema, 400, before any lookup).
  for (const [name, status] of [
    ['dora', 401],
    ['@contoso', 401],
    ['dora@', 401],
    ['dora@nowhere', 401],
    [`${'x'.repeat(300)}@contoso`, 400],
  ] as const) {
    const refused = await signInOnPage(browser, wrongTenant, name, PASSWORD);
    t.equal(refused.status, status, `${name.slice(0, 20)}: ${status}`);
    if (status === 401) t.match(refused.body, /The username or password is incorrect/, 'the generic message');
  }
  // Written in another case, the name opens contoso's dora: the code's ID token is hers.
  let page = await signInOnPage(browser, wrongTenant, 'DORA@Contoso', PASSWORD);
  if (pageName(page.body) === 'consent') page = await answerConsent(browser, page, 'accept');
  const tokens = await exchangeCode(app, appRedirect(page), auth);
  t.equal(tokens.claims()?.sub, dora.id, 'usernames and tenants are case-insensitive');
});

t.test('ID token claims: opaque sub, tid, preferred_username', async (t) => {
  const flow = await fullFlow(
    server,
    app,
    { signIn: 'dora@contoso', password: PASSWORD },
    { scope: 'openid profile email' },
  );
  const tokens = await exchangeCode(app, flow.callback, flow.auth);
  const claims = tokens.claims()!;
  t.equal(claims.sub, dora.id, 'sub is the user id');
  t.notMatch(claims.sub, /dora|contoso/, 'sub is opaque');
  t.equal(claims.tid, 'contoso', 'tid is the tenant');
  t.equal(claims.preferred_username, 'dora@contoso', 'preferred_username is username@tenant');
  t.equal(claims.name, 'Dora Explorer', 'name (profile)');
  t.equal(claims.email, 'dora@contoso.example', 'email (email)');
  t.equal(claims.email_verified, false);

  const openidOnly = await fullFlow(server, app, { signIn: 'dora@contoso', password: PASSWORD }, { scope: 'openid' });
  const bare = (await exchangeCode(app, openidOnly.callback, openidOnly.auth)).claims()!;
  t.same(
    ['preferred_username', 'name', 'email'].filter((claim) => claim in bare),
    [],
    'control: without profile and email, none of their claims',
  );
});

t.test('a disabled user cannot sign in, loses their session and their refresh tokens', async (t) => {
  const browser = new Browser(server.url);
  const flow = await fullFlow(
    server,
    app,
    { signIn: 'dora@contoso', password: PASSWORD },
    { scope: 'openid offline_access User.Read', prompt: 'consent' },
    browser,
  );
  const tokens = await exchangeCode(app, flow.callback, flow.auth);
  t.ok(tokens.refresh_token);
  // Another browser of hers, signed in too, left alone until she is enabled again.
  const laptop = new Browser(server.url);
  await fullFlow(server, app, { signIn: 'dora@contoso', password: PASSWORD }, { scope: 'openid' }, laptop);
  const silently = async (who: Browser) =>
    appRedirect((await startAuthorization(who, app, { scope: 'openid', prompt: 'none' })).page).searchParams;
  t.ok((await silently(laptop)).get('code'), 'control: that browser signs her in silently');

  await server.directory.setUserDisabled('contoso', dora.id, true, 'operator');

  await t.rejects(oidc.refreshTokenGrant(app.config, tokens.refresh_token!), 'the refresh token no longer works');
  const again = await startAuthorization(browser, app, { scope: 'openid' });
  t.equal(
    pageName(again.page.body),
    'login',
    `the existing browser session no longer signs her in: ${again.page.status} ${/<p>(.*?)<\/p>/.exec(again.page.body)?.[1]} ${again.page.headers.get('location')}`,
  );
  const refused = await signInOnPage(browser, again.page, 'dora@contoso', PASSWORD);
  t.equal(refused.status, 401);
  t.match(refused.body, /The username or password is incorrect/, 'the same generic message');

  await server.directory.setUserDisabled('contoso', dora.id, false, 'operator');
  t.equal(
    (await silently(laptop)).get('error'),
    'login_required',
    're-enabled: the session she had before is gone, she signs in again',
  );
  const back = await fullFlow(
    server,
    app,
    { signIn: 'dora@contoso', password: PASSWORD },
    { scope: 'openid User.Read' },
  );
  t.notOk(back.consentShown, 're-enabled: her consent was kept');
});

t.test('sign-in attempts are limited per client IP, counted for every process alike', async (t) => {
  // Two processes on one database of their own (the other tests here sign in from this address too).
  const database = await createTestDatabase();
  const first = await startTestServer({ SIGN_IN_RATE_LIMIT: '3' }, database);
  const second = await startTestServer({ SIGN_IN_RATE_LIMIT: '3' }, database);
  // A third behind a proxy it trusts (TRUST_PROXY): there X-Forwarded-For names the client.
  const proxied = await startTestServer({ SIGN_IN_RATE_LIMIT: '3', TRUST_PROXY: 'true' }, database);
  t.teardown(async () => {
    await first.close();
    await second.close();
    await proxied.close();
    await database.drop();
  });
  await first.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  const attempts: { page: PageResponse; browser: Browser }[] = [];
  for (const server of [first, second, proxied]) {
    const limitedApp = await registerApp(server, { tenant: 'contoso', scopes: ['openid'] });
    const browser = new Browser(server.url);
    attempts.push({ browser, page: (await startAuthorization(browser, limitedApp, { scope: 'openid' })).page });
  }
  /** One failed sign-in on attempts[at]'s page, from `forwardedFor` when given. */
  const attempt = async (at: number, forwardedFor?: string) => {
    const { browser, page } = attempts[at]!;
    const form = findForm(page.body, /\/login$/)!;
    const next = await browser.request(new URL(form.action, page.url).toString(), {
      form: { ...form.hidden, username: `nobody${at}@contoso`, password: 'wrong password' },
      headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
    });
    if (next.status === 401) attempts[at]!.page = next;
    else
      t.ok(Number(next.headers.get('retry-after')) > 0, `refused with Retry-After: ${next.headers.get('retry-after')}`);
    return next.status;
  };
  const statuses = [await attempt(0), await attempt(0), await attempt(1), await attempt(1)];
  t.same(
    statuses,
    [401, 401, 401, 429],
    'the fourth attempt in a minute is refused, though it reached the other process',
  );
  t.same(
    [await attempt(0, '203.0.113.7'), await attempt(1, '198.51.100.1, 203.0.113.8')],
    [429, 429],
    'a forged X-Forwarded-For does not start a new count (TRUST_PROXY is off)',
  );
  t.same(
    [await attempt(2, '203.0.113.7'), await attempt(2, '203.0.113.9')],
    [401, 401],
    'control: behind a trusted proxy the forwarded address is the client, counted apart',
  );
});
