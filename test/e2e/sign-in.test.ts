// Sign-in rules: username@tenant, generic failures, disabled users lose sessions and tokens.

import * as oidc from 'openid-client';
import t from 'tap';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { createTestDatabase } from '../support/database.js';
import { exchangeCode, fullFlow, registerApp, signInOnPage, startAuthorization } from '../support/flows.js';
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
  { tenantId: 'contoso', username: 'dora', password: PASSWORD, role: 'user' },
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
  const { page } = await startAuthorization(browser, app, { scope: 'openid' });
  const wrongTenant = await signInOnPage(browser, page, 'dora@fabrikam', PASSWORD);
  t.equal(pageName(wrongTenant.body), 'login', "contoso dora's password does not open fabrikam dora");
  for (const name of ['dora', '@contoso', 'dora@', 'dora@nowhere', `${'x'.repeat(300)}@contoso`]) {
    const refused = await signInOnPage(browser, wrongTenant, name, PASSWORD);
    t.equal(refused.status, refused.status === 400 ? 400 : 401, name.slice(0, 20));
    t.ok([400, 401].includes(refused.status));
  }
  const upper = await signInOnPage(browser, wrongTenant, 'DORA@Contoso', PASSWORD);
  t.not(pageName(upper.body), 'login', 'usernames and tenants are case-insensitive');
});

t.test('ID token claims: opaque sub, tid, preferred_username', async (t) => {
  const flow = await fullFlow(
    server,
    app,
    { signIn: 'dora@contoso', password: PASSWORD },
    { scope: 'openid profile email' },
  );
  const tokens = await exchangeCode(app, flow.callback, flow.auth);
  const userinfo = await oidc.fetchUserInfo(app.config, tokens.access_token, dora.id).catch(() => undefined);
  const claims = tokens.claims()!;
  t.equal(claims.sub, dora.id);
  t.equal(claims.tid, 'contoso');
  void userinfo;
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
  t.teardown(async () => {
    await first.close();
    await second.close();
    await database.drop();
  });
  await first.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  const attempts: { page: PageResponse; browser: Browser }[] = [];
  for (const server of [first, second]) {
    const limitedApp = await registerApp(server, { tenant: 'contoso', scopes: ['openid'] });
    const browser = new Browser(server.url);
    attempts.push({ browser, page: (await startAuthorization(browser, limitedApp, { scope: 'openid' })).page });
  }
  const statuses: number[] = [];
  for (const attempt of [0, 0, 1, 1]) {
    const { browser, page } = attempts[attempt]!;
    const next = await browser.submit(page, /\/login$/, {
      username: `nobody${statuses.length}@contoso`,
      password: 'wrong password',
    });
    statuses.push(next.status);
    if (next.status === 401) attempts[attempt]!.page = next;
    else
      t.ok(Number(next.headers.get('retry-after')) > 0, `refused with Retry-After: ${next.headers.get('retry-after')}`);
  }
  t.same(
    statuses,
    [401, 401, 401, 429],
    'the fourth attempt in a minute is refused, though it reached the other process',
  );
});
