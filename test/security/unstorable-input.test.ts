// Regression for what the fuzz run found: U+0000 (which PostgreSQL text and jsonb cannot hold) in a
// parameter, id, token, form field or JSON body used to fail the query and answer 500. Each entry
// point now answers 4xx — the provider's adapter treats such an id as unknown and refuses such a
// payload as invalid_request; the API error handler maps PostgreSQL's encoding errors to 400.
import t, { type Test } from 'tap';
import { adminApiToken, PASSWORD, registerAdminClient } from '../admin-api/support.js';
import { userTokens } from '../data-api/support.js';
import { Browser } from '../support/browser.js';
import { REDIRECT_URI, registerApp, startAuthorization } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000000' });
t.teardown(() => server.close());
await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await server.directory.createUser(
  { tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' },
  'operator',
);
const app = await registerApp(server, {
  tenant: 'contoso',
  scopes: ['openid', 'User.Read', 'Calendars.ReadWrite', 'Files.ReadWrite', 'Mail.Send'],
});
const adminToken = (await adminApiToken(server, await registerAdminClient(server, 'contoso'), 'carol@contoso'))
  .accessToken;
const dataToken = (
  await userTokens(
    server,
    app,
    { signIn: 'carol@contoso', password: PASSWORD },
    'openid User.Read Calendars.ReadWrite Files.ReadWrite Mail.Send',
  )
).access_token;
const basic = `Basic ${Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret!)}`).toString('base64')}`;
const challenge = 'code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256';
const authorize = (extra: string) =>
  `${server.url}/auth?response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&${challenge}&${extra}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

async function expect4xx(t: Test, what: string, url: string, init: RequestInit = {}, expected?: number) {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const body = await response.text();
  t.ok(response.status < 500, `${what}: ${response.status}`);
  if (expected) t.equal(response.status, expected, what);
  t.notMatch(body, /server_error|unexpected error/i, `${what}: not a server error`);
  t.notMatch(response.headers.get('location') ?? '', /code=/, `${what}: no code`);
  return { status: response.status, body, location: response.headers.get('location') };
}

t.test('U+0000 at the protocol endpoints', async (t) => {
  await expect4xx(t, '/auth client_id', authorize('client_id=%00'), {}, 400);
  const requestUri = await expect4xx(
    t,
    '/auth request_uri',
    authorize(`client_id=${app.clientId}&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A%00`),
    {},
    303,
  );
  t.equal(new URL(requestUri.location!).searchParams.get('error'), 'invalid_request_uri', 'an unknown request_uri');
  for (const param of ['state=%00', 'login_hint=a%00b', 'nonce=%00']) {
    const { status, location } = await expect4xx(t, `/auth ${param}`, authorize(`client_id=${app.clientId}&${param}`));
    t.equal(status, 303, `${param}: an error back to the app`);
    t.equal(new URL(location!).searchParams.get('error'), 'invalid_request');
  }
  const token = (body: string) => ({ method: 'POST', headers: { ...form, authorization: basic }, body });
  await expect4xx(
    t,
    '/token client_id',
    `${server.url}/token`,
    { method: 'POST', headers: form, body: 'grant_type=client_credentials&client_id=%00&client_secret=x' },
    401,
  );
  await expect4xx(
    t,
    '/token code',
    `${server.url}/token`,
    token(
      `grant_type=authorization_code&code=%00&code_verifier=${'a'.repeat(43)}&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
    ),
    400,
  );
  await expect4xx(
    t,
    '/token refresh_token',
    `${server.url}/token`,
    token('grant_type=refresh_token&refresh_token=%00abc'),
    400,
  );
  const introspection = await expect4xx(
    t,
    '/token/introspection',
    `${server.url}/token/introspection`,
    token('token=%00abc'),
    200,
  );
  t.same(JSON.parse(introspection.body), { active: false });
  await expect4xx(t, '/token/revocation', `${server.url}/token/revocation`, token('token=%00abc'), 200);
  // PAR stores the request as a JWT (no NUL in the row); using it at /auth is refused.
  const par = await expect4xx(
    t,
    '/request (PAR) state',
    `${server.url}/request`,
    token(
      `client_id=${app.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&${challenge}&state=%00`,
    ),
    201,
  );
  const pushed = JSON.parse(par.body) as { request_uri: string };
  const used = await expect4xx(
    t,
    '/auth with the pushed request',
    `${server.url}/auth?client_id=${app.clientId}&request_uri=${encodeURIComponent(pushed.request_uri)}`,
    {},
    303,
  );
  t.equal(new URL(used.location!).searchParams.get('error'), 'invalid_request');
});

t.test('U+0000 in the sign-in form', async (t) => {
  const browser = new Browser(server.url);
  const { page } = await startAuthorization(browser, app, { scope: 'openid' });
  const username = await browser.submit(page, /\/login$/, { username: 'carol\u0000@contoso', password: PASSWORD });
  t.equal(username.status, 400, 'a NUL in the username');
  t.notMatch(username.body, /server_error|unexpected error/i);
  const password = await browser.submit(page, /\/login$/, { username: 'carol@contoso', password: `${PASSWORD}\u0000` });
  t.equal(password.status, 401, 'a NUL in the password is just a wrong password');
});

t.test('U+0000 at the admin API and the data API', async (t) => {
  const call = (token: string, url: string, method: string, body?: unknown) =>
    expect4xx(
      t,
      `${method} ${url.replace(server.url, '')} ${body ? JSON.stringify(body) : ''}`,
      url,
      {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      },
      400,
    );
  const admin = `${server.url}/api/v1/tenants/contoso`;
  await call(adminToken, `${admin}/users`, 'POST', {
    username: 'dave',
    password: `${PASSWORD}\u0000`,
    role: 'user',
    displayName: 'x\u0000',
  });
  await call(adminToken, `${admin}/apps`, 'POST', {
    name: 'x\u0000',
    redirectUris: ['https://a.example/\u0000'],
    permissions: ['openid'],
  });
  const data = `${server.url}/data/v1`;
  await call(dataToken, `${data}/me/calendar/events/%00`, 'GET');
  await call(dataToken, `${data}/me/calendar/events/%00`, 'DELETE');
  await call(dataToken, `${data}/me/drive/files/%00`, 'DELETE');
  await call(dataToken, `${data}/me/calendar/events`, 'POST', {
    subject: 'a\u0000',
    start: '2030-01-01T00:00:00Z',
    end: '2030-01-01T01:00:00Z',
  });
  await call(dataToken, `${data}/me/sendMail`, 'POST', { to: ['a@b.example'], subject: '\u0000', body: '\u0000' });
  const users = await server.pool.query(`SELECT 1 FROM users WHERE username = 'dave'`);
  t.equal(users.rowCount, 0, 'nothing was stored');
  t.equal((await fetch(`${server.url}/readyz`)).status, 200);
});
