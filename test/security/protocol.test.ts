// RFC 9700 attack list, protocol side: each case sends the attack and asserts the refusal and
// that nothing was granted or leaked.

import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import t from 'tap';
import { callApi as callDataApi } from '../data-api/support.js';
import { refusedWithin } from '../support/api.js';
import { Browser, pageName } from '../support/browser.js';
import { exchangeCode, fullFlow, REDIRECT_URI, registerApp, startAuthorization } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await server.directory.createUser(
  { tenantId: 'contoso', username: 'alice', password: 'correct horse battery', role: 'user' },
  'operator',
);
const alice = { signIn: 'alice@contoso', password: 'correct horse battery' };
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'offline_access', 'User.Read'] });
const other = await registerApp(server, {
  tenant: 'contoso',
  scopes: ['openid', 'offline_access', 'User.Read'],
  name: 'Other',
});
const basic = (clientId: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function authorizeUrl(params: Record<string, string>): string {
  const url = new URL(`${server.url}/auth`);
  const defaults = {
    client_id: app.clientId,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: REDIRECT_URI,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 's1',
  };
  for (const [key, value] of Object.entries({ ...defaults, ...params }))
    if (value !== '') url.searchParams.set(key, value);
  return url.href;
}

async function tokenRequest(form: Record<string, string>, clientId = app.clientId, secret = app.clientSecret!) {
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

/** A code for alice, not yet redeemed (consent given on first use). */
async function freshCode(params: Record<string, string> = {}) {
  const browser = new Browser(server.url);
  const flow = await fullFlow(
    server,
    app,
    alice,
    { scope: 'openid offline_access User.Read', prompt: 'consent', ...params },
    browser,
  );
  return { code: flow.callback.searchParams.get('code')!, verifier: flow.auth.verifier, flow };
}

t.test('redirect URIs are compared exactly: every variant gets an error page and no redirect', async (t) => {
  const variants = [
    'https://app.example.test/callback/../evil',
    'https://app.example.test/callback?extra=1',
    'https://app.example.test/Callback',
    'https://APP.example.test/callback',
    'https://app.example.test/callback#frag',
    'https://app.example.test.evil.example/callback',
    'https://app.example.test%2Fcallback',
    'https://app.example.test/callback/',
    'http://app.example.test/callback',
    'https://evil.example/callback',
  ];
  for (const redirect_uri of variants) {
    const response = await fetch(authorizeUrl({ redirect_uri }), {
      redirect: 'manual',
      headers: { accept: 'text/html' },
    });
    t.equal(response.status, 400, redirect_uri);
    t.equal(response.headers.get('location'), null, `no redirect for ${redirect_uri}`);
  }
});

t.test('an unknown client gets an error page, never a redirect', async (t) => {
  const response = await fetch(authorizeUrl({ client_id: 'no-such-client', redirect_uri: 'https://evil.example/cb' }), {
    redirect: 'manual',
  });
  t.equal(response.status, 400);
  t.equal(response.headers.get('location'), null);
});

t.test('a bad post_logout_redirect_uri is not followed', async (t) => {
  const url = `${server.url}/session/end?client_id=${app.clientId}&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`;
  const response = await fetch(url, { redirect: 'manual' });
  t.ok(response.status >= 400 && response.status < 500);
  t.equal(response.headers.get('location'), null);
});

t.test('PKCE is required, S256 only', async (t) => {
  for (const [name, params] of [
    ['missing', { code_challenge: '', code_challenge_method: '' }],
    ['plain', { code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }],
  ] as const) {
    const response = await fetch(authorizeUrl(params), { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    t.equal(location.searchParams.get('error'), 'invalid_request', name);
    t.equal(location.searchParams.get('code'), null);
    t.equal(location.searchParams.get('iss'), server.url, 'iss on error responses too');
  }
  const { code } = await freshCode();
  const wrong = await tokenRequest({
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: oidc.randomPKCECodeVerifier(),
  });
  t.equal(wrong.status, 400);
  t.equal(wrong.body.error, 'invalid_grant', 'a wrong verifier is refused');
  const downgrade = await tokenRequest({
    grant_type: 'authorization_code',
    code: (await freshCode()).code,
    redirect_uri: REDIRECT_URI,
  });
  t.equal(downgrade.body.error, 'invalid_grant', 'omitting the verifier is refused');
});

t.test('implicit and password grants are refused', async (t) => {
  for (const response_type of ['token', 'id_token', 'code token']) {
    const response = await fetch(authorizeUrl({ response_type }), { redirect: 'manual' });
    const location = response.headers.get('location');
    // Implicit response types answer in the fragment.
    const error = location
      ? new URLSearchParams(new URL(location).hash.slice(1) || new URL(location).search).get('error')
      : null;
    t.ok(
      response.status === 400 || ['unsupported_response_type', 'unauthorized_client'].includes(error ?? ''),
      `${response_type}: ${error}`,
    );
    t.notMatch(location ?? '', /access_token|id_token=/, 'no token in the front channel');
  }
  const password = await tokenRequest({ grant_type: 'password', username: 'alice@contoso', password: alice.password });
  t.equal(password.body.error, 'unsupported_grant_type');
});

/**
 * What is left of the tokens a redemption issued: the data API's answer to its access token (once
 * the revocation's notification has arrived), its refresh token at /token, and its grant.
 */
async function afterRevocation(issued: Record<string, string>) {
  const gid = String(decodeJwt(issued.access_token!).gid);
  const { rowCount } = await server.pool.query(`SELECT 1 FROM oidc_models WHERE model = 'Grant' AND id = $1::text`, [
    gid,
  ]);
  return {
    dataApi: (await refusedWithin(() => callDataApi(server, issued.access_token, '/me'))).status,
    refresh: (await tokenRequest({ grant_type: 'refresh_token', refresh_token: issued.refresh_token! })).body.error,
    grantStored: rowCount === 1,
  };
}

t.test('a code is single-use; replay revokes what the first redemption issued', async (t) => {
  const { code, verifier } = await freshCode();
  const redeem = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier };
  const first = await tokenRequest(redeem);
  t.equal(first.status, 200);
  t.ok(first.body.refresh_token, 'the first redemption got a refresh token');
  t.equal((await callDataApi(server, first.body.access_token, '/me')).status, 200, 'control: its access token works');
  const replay = await tokenRequest(redeem);
  t.equal(replay.status, 400);
  t.equal(replay.body.error, 'invalid_grant');
  t.same(
    await afterRevocation(first.body),
    { dataApi: 401, refresh: 'invalid_grant', grantStored: false },
    "the first redemption's access token is refused at the data API, its refresh token is dead, its grant is gone",
  );
});

t.test('ten concurrent redemptions of one code: exactly one wins, and its tokens are revoked', async (t) => {
  const { code, verifier } = await freshCode();
  const results = await Promise.all(
    Array.from({ length: 10 }, () =>
      tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
    ),
  );
  const winners = results.filter((result) => result.status === 200);
  t.equal(winners.length, 1, 'one redemption wins');
  t.same(
    results.filter((result) => result.status !== 200).map((result) => `${result.status} ${result.body.error}`),
    Array.from({ length: 9 }, () => '400 invalid_grant'),
    'the nine others are invalid_grant',
  );
  // RFC 9700 §4.5: a code redeemed twice is compromised; the winner may be the attacker.
  t.same(
    await afterRevocation(winners[0]!.body),
    { dataApi: 401, refresh: 'invalid_grant', grantStored: false },
    "the winner's access token is refused at the data API, its refresh token is dead, its grant is gone",
  );
});

t.test('a code is bound to its client and redirect URI', async (t) => {
  const stolen = await freshCode();
  const byOther = await tokenRequest(
    { grant_type: 'authorization_code', code: stolen.code, redirect_uri: REDIRECT_URI, code_verifier: stolen.verifier },
    other.clientId,
    other.clientSecret!,
  );
  t.equal(byOther.body.error, 'invalid_grant', 'another client cannot redeem it');
  const second = await freshCode();
  const elsewhere = await tokenRequest({
    grant_type: 'authorization_code',
    code: second.code,
    redirect_uri: 'https://app.example.test/other',
    code_verifier: second.verifier,
  });
  t.equal(elsewhere.body.error, 'invalid_grant', 'another redirect_uri cannot redeem it');
});

t.test('refresh tokens rotate, and reuse of an old one kills the whole grant', async (t) => {
  const { code, verifier } = await freshCode();
  const tokens = await tokenRequest({
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
  });
  const rotated = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token! });
  t.equal(rotated.status, 200);
  t.not(rotated.body.refresh_token, tokens.body.refresh_token, 'a new refresh token each time');
  const reuse = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token! });
  t.equal(reuse.body.error, 'invalid_grant');
  const afterReuse = await tokenRequest({ grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token! });
  t.equal(afterReuse.body.error, 'invalid_grant', 'the newest refresh token died with the grant');
});

t.test('client authentication failures', async (t) => {
  const wrong = await tokenRequest({ grant_type: 'client_credentials' }, app.clientId, 'not-the-secret');
  t.equal(wrong.status, 401);
  t.equal(wrong.body.error, 'invalid_client');
  const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(
    JSON.stringify({
      iss: app.clientId,
      sub: app.clientId,
      aud: `${server.url}/token`,
      jti: 'x',
      iat: now,
      exp: now + 60,
    }),
  ).toString('base64url');
  const none = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: `${header}.${payload}.`,
    }),
  });
  t.equal(none.status >= 400 && none.status < 500, true);
  t.equal(
    ((await none.json()) as { error: string }).error,
    'invalid_client',
    'an unsigned client assertion is refused',
  );
});

t.test('duplicate parameters are refused', async (t) => {
  const url = `${authorizeUrl({})}&scope=openid%20User.Read`;
  const response = await fetch(url, { redirect: 'manual' });
  const location = response.headers.get('location');
  t.ok(response.status === 400 || new URL(location!).searchParams.get('error') === 'invalid_request');
  t.notMatch(location ?? '', /code=/);
});

t.test('forged X-Forwarded-* headers cannot change the issuer', async (t) => {
  const response = await fetch(`${server.url}/.well-known/openid-configuration`, {
    headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
  });
  const discovery = (await response.json()) as { issuer: string; authorization_endpoint: string };
  t.equal(discovery.issuer, server.url);
  t.ok(discovery.authorization_endpoint.startsWith(server.url));
});

t.test('pages cannot be framed and leak no referrer', async (t) => {
  const browser = new Browser(server.url);
  const { page } = await startAuthorization(browser, app, { scope: 'openid' });
  t.equal(pageName(page.body), 'login');
  t.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  t.equal(page.headers.get('x-frame-options'), 'DENY');
  t.equal(page.headers.get('referrer-policy'), 'no-referrer');
  t.equal(page.headers.get('cache-control'), 'no-store');
});

t.test('sign-in brute force is throttled per account', async (t) => {
  await server.directory.createUser(
    { tenantId: 'contoso', username: 'target', password: 'correct horse battery', role: 'user' },
    'operator',
  );
  const browser = new Browser(server.url);
  let page = (await startAuthorization(browser, app, { scope: 'openid' })).page;
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 7; attempt++) {
    page = await browser.submit(page, /\/login$/, { username: 'target@contoso', password: `guess-${attempt}` });
    statuses.push(page.status);
  }
  t.same(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
  t.equal(statuses[6], 429, 'locked after five failures');
  const right = await browser.submit(page, /\/login$/, {
    username: 'target@contoso',
    password: 'correct horse battery',
  });
  t.equal(right.status, 429, 'even the right password waits out the lock');
});

t.test('an exchanged token works with openid-client end to end (sanity)', async (t) => {
  const { flow } = await freshCode();
  const tokens = await exchangeCode(app, flow.callback, flow.auth);
  t.ok(tokens.access_token);
});
