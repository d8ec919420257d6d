// UserInfo (OIDC Core §5.3) for standard relying parties: the access token of an OpenID request
// works at the discovery's userinfo_endpoint, by GET and POST, with openid-client and oauth4webapi;
// its `sub` is the ID token's and its claims are those of the granted scopes only (§5.4).
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import t from 'tap';
import { MyApps } from '../../src/services/my-apps.js';
import { loadPermissionCatalogue } from '../../src/services/permission-catalogue.js';
import { exchangeCode, fullFlow, REDIRECT_URI, registerApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const PASSWORD = 'correct horse battery';
await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
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
const user = { signIn: 'dora@contoso', password: PASSWORD };
const app = await registerApp(server, {
  tenant: 'contoso',
  scopes: ['openid', 'offline_access', 'profile', 'email', 'User.Read'],
});

/** The user signs in to the app (`app` unless another is named) with `scope`; the app redeems the code. */
async function tokensFor(scope: string, params: Record<string, string> = {}, to = app) {
  const flow = await fullFlow(server, to, user, { scope, ...params });
  return exchangeCode(to, flow.callback, flow.auth);
}

const discovery = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json();
const userinfoEndpoint = String(discovery.userinfo_endpoint);
const as: oauth.AuthorizationServer = { ...discovery, issuer: server.url };
const client: oauth.Client = { client_id: app.clientId };

/** UserInfo by POST (OIDC Core §5.3.1), the token in the Authorization header. */
async function postUserInfo(accessToken: string) {
  return oauth.protectedResourceRequest(accessToken, 'POST', new URL(userinfoEndpoint), new Headers(), null, {
    [oauth.allowInsecureRequests]: true,
  });
}

t.test('discovery names the userinfo endpoint', async (t) => {
  t.equal(userinfoEndpoint, `${server.url}/me`);
});

for (const [scope, expected] of [
  ['openid', { sub: dora.id, tid: 'contoso' }],
  ['openid profile', { sub: dora.id, tid: 'contoso', name: 'Dora Explorer', preferred_username: 'dora@contoso' }],
  [
    'openid profile email',
    {
      sub: dora.id,
      tid: 'contoso',
      name: 'Dora Explorer',
      preferred_username: 'dora@contoso',
      email: 'dora@contoso.example',
      email_verified: false,
    },
  ],
] as const) {
  t.test(`scope=${scope}: the access token works at userinfo (openid-client, GET)`, async (t) => {
    const tokens = await tokensFor(scope);
    const idTokenSub = tokens.claims()!.sub;
    t.equal(idTokenSub, dora.id);
    const claims = await oidc.fetchUserInfo(app.config, tokens.access_token, idTokenSub);
    t.same(claims, expected, 'the claims of the granted scopes, and only those');
  });
}

t.test('oauth4webapi reads userinfo by GET and by POST, the subject checked', async (t) => {
  const tokens = await tokensFor('openid profile');
  const sub = tokens.claims()!.sub;
  const byGet = await oauth.processUserInfoResponse(
    as,
    client,
    sub,
    await oauth.userInfoRequest(as, client, tokens.access_token, { [oauth.allowInsecureRequests]: true }),
  );
  t.equal(byGet.sub, sub, 'GET: sub equals the ID token sub');
  t.equal(byGet.name, 'Dora Explorer');
  t.notOk('email' in byGet, 'no email: it was not asked for');
  const byPost = await oauth.processUserInfoResponse(as, client, sub, await postUserInfo(tokens.access_token));
  t.same(byPost, byGet, 'POST: the same claims');
  // The token in the form body (RFC 6750 §2.2) instead of the header.
  const inBody = await fetch(userinfoEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ access_token: tokens.access_token }).toString(),
  });
  t.equal(inBody.status, 200);
  t.same(await inBody.json(), byGet);
});

t.test('userinfo gives no claim of a scope that was not granted, even when asked for', async (t) => {
  const tokens = await tokensFor('openid profile');
  const response = await fetch(userinfoEndpoint, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ scope: 'openid email' }).toString(),
  });
  t.equal(response.status, 403);
  t.match(response.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  t.notMatch(await response.text(), /contoso\.example/);
});

t.test('a refreshed access token works at userinfo too', async (t) => {
  const tokens = await tokensFor('openid profile offline_access', { prompt: 'consent' });
  t.ok(tokens.refresh_token);
  const refreshed = await oidc.refreshTokenGrant(app.config, tokens.refresh_token!);
  t.not(refreshed.access_token, tokens.access_token);
  const claims = await oidc.fetchUserInfo(app.config, refreshed.access_token, dora.id);
  t.equal(claims.name, 'Dora Explorer');
});

t.test(
  'a request for data-API permissions gets a data-API token that userinfo takes; a refresh for OpenID scopes gets a userinfo token',
  async (t) => {
    const tokens = await tokensFor('openid profile offline_access User.Read', { prompt: 'consent' });
    const me = await fetch(`${server.url}/data/v1/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    t.equal(me.status, 200, 'the access token is for the data API');
    t.equal((await me.json()).id, dora.id);
    const withDataToken = await oidc.fetchUserInfo(app.config, tokens.access_token, dora.id);
    t.equal(withDataToken.sub, dora.id, 'the data-API token of an OpenID request works at userinfo too');
    t.equal(withDataToken.name, 'Dora Explorer');

    const forUserinfo = await oidc.refreshTokenGrant(app.config, tokens.refresh_token!, { scope: 'openid profile' });
    const claims = await oidc.fetchUserInfo(app.config, forUserinfo.access_token, dora.id);
    t.equal(claims.preferred_username, 'dora@contoso', 'refreshed for openid profile: the token works at userinfo');
    const notData = await fetch(`${server.url}/data/v1/me`, {
      headers: { authorization: `Bearer ${forUserinfo.access_token}` },
    });
    t.equal(notData.status, 401, 'and not at the data API');

    const dataAgain = await oidc.refreshTokenGrant(app.config, forUserinfo.refresh_token!);
    const meAgain = await fetch(`${server.url}/data/v1/me`, {
      headers: { authorization: `Bearer ${dataAgain.access_token}` },
    });
    t.equal(meAgain.status, 200, 'a plain refresh gives a data-API token again');
  },
);

t.test(
  'an API token works at userinfo by GET and POST (oauth4webapi) while its grant lives, and only then',
  async (t) => {
    // A new app, so that its grant holds only what this test grants (a grant accumulates per app).
    const mailApp = await registerApp(server, {
      tenant: 'contoso',
      scopes: ['openid', 'profile', 'email', 'User.Read'],
    });
    const mailClient: oauth.Client = { client_id: mailApp.clientId };
    const tokens = await tokensFor('openid email User.Read', {}, mailApp);
    const sub = tokens.claims()!.sub;
    const byGet = await oauth.processUserInfoResponse(
      as,
      mailClient,
      sub,
      await oauth.userInfoRequest(as, mailClient, tokens.access_token, { [oauth.allowInsecureRequests]: true }),
    );
    t.same(
      byGet,
      { sub: dora.id, tid: 'contoso', email: 'dora@contoso.example', email_verified: false },
      'the OpenID claims the user granted the app (openid email), not profile',
    );
    t.same(await oauth.processUserInfoResponse(as, mailClient, sub, await postUserInfo(tokens.access_token)), byGet);

    // A token whose grant holds no `openid` (an OAuth-only request) is no userinfo token.
    const oauthOnlyApp = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read'] });
    const oauthOnly = await tokensFor('User.Read', {}, oauthOnlyApp);
    const noOpenId = await fetch(userinfoEndpoint, { headers: { authorization: `Bearer ${oauthOnly.access_token}` } });
    t.equal(noOpenId.status, 401, 'a grant without openid: refused');

    // An app's own token has no user.
    const appToken = await oidc.clientCredentialsGrant(mailApp.config, { scope: 'User.Read' });
    const noUser = await fetch(userinfoEndpoint, { headers: { authorization: `Bearer ${appToken.access_token}` } });
    t.equal(noUser.status, 401, "an app's own token: refused");

    // An altered token is refused, and names the error (RFC 6750 §3).
    const altered = `${tokens.access_token.slice(0, -4)}AAAA`;
    const forged = await fetch(userinfoEndpoint, { headers: { authorization: `Bearer ${altered}` } });
    t.equal(forged.status, 401);
    t.match(forged.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

    // The user withdraws their consent: the grant is gone, and its token with it.
    const myApps = new MyApps(server.pool, await loadPermissionCatalogue(server.pool));
    t.ok(await myApps.revokeOwnConsent('contoso', dora.id, mailApp.clientId), 'the consent was withdrawn');
    const afterRevocation = await fetch(userinfoEndpoint, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    t.equal(afterRevocation.status, 401, 'the grant revoked: refused');
  },
);

t.test('an OpenID scope the app did not register is refused', async (t) => {
  const narrow = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read'] });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(narrow.config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 's',
  });
  const response = await fetch(url, { redirect: 'manual' });
  const location = new URL(response.headers.get('location') ?? 'about:blank');
  t.equal(location.searchParams.get('error'), 'invalid_scope');
});
