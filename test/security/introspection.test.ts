// RFC 7662 introspection at /token/introspection, asked by the app that holds the token: Accord's
// JWT access tokens (RFC 9068) are active with their claims while they verify and their grant
// lives, and inactive once it is gone, once they expire, or when they are not Accord's; refresh
// tokens as oidc-provider stores them; another app learns nothing (RFC 7662 §4).

import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import t from 'tap';
import { findUserConsent } from '../../src/db/consents.js';
import { revokeGrants } from '../../src/services/revocation.js';
import { ADMIN_SCOPE, adminApiToken, PASSWORD, registerAdminClient } from '../admin-api/support.js';
import { callApi as callDataApi, userTokens } from '../data-api/support.js';
import { refusedWithin } from '../support/api.js';
import { registerApp, type TestApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;

await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
const alice = await directory.createUser(
  { tenantId: 'contoso', username: 'alice', password: PASSWORD, role: 'user' },
  'operator',
);
await directory.createUser({ tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' }, 'operator');
const user = (name: string) => ({ signIn: name, password: PASSWORD });
const dataApp = await registerApp(server, {
  tenant: 'contoso',
  name: 'Calendar app',
  scopes: ['openid', 'offline_access', 'User.Read', 'Calendars.Read'],
});
const otherApp = await registerApp(server, { tenant: 'contoso', name: 'Curious app', scopes: ['openid', 'User.Read'] });

const basicAuth = (app: TestApp) =>
  `Basic ${Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret!)}`).toString('base64')}`;

/** POST /token/introspection as `app` (client_secret_basic), or unauthenticated. */
async function introspect(app: TestApp | undefined, token: string, hint?: string) {
  const response = await fetch(`${server.url}/token/introspection`, {
    method: 'POST',
    headers: {
      ...(app ? { authorization: basicAuth(app) } : {}),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ token, ...(hint ? { token_type_hint: hint } : {}) }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

/**
 * Introspects until the answer is `active: false` or `ms` have passed. A revocation reaches the
 * grant check's cache when PostgreSQL delivers its notification (test/support/api.ts,
 * `refusedWithin`), so a check right after revoking allows for that delivery.
 */
async function inactiveWithin(app: TestApp, token: string, ms = 2_000) {
  const from = Date.now();
  for (;;) {
    const answer = await introspect(app, token);
    if (answer.body.active === false || Date.now() - from > ms) return answer;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Signs `claims` with the issuer's active ES256 key, as the provider would. */
async function signAsIssuer(claims: JWTPayload): Promise<string> {
  const { rows } = await pool.query<{ private_jwk: JWK }>(
    `SELECT private_jwk FROM signing_keys WHERE alg = 'ES256' AND retire_after IS NULL AND activated_at IS NOT NULL`,
  );
  const jwk = rows[0]!.private_jwk;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid })
    .sign(await importJWK(jwk, 'ES256'));
}

t.test("a user's JWT access token introspects active with its claims, for the app that holds it", async (t) => {
  const tokens = await userTokens(server, dataApp, user('alice@contoso'), 'openid offline_access User.Read', {
    prompt: 'consent',
  });
  const claims = decodeJwt(tokens.access_token);
  const consent = await findUserConsent(pool, 'contoso', alice.id, dataApp.clientId);

  const answer = await introspect(dataApp, tokens.access_token);
  t.equal(answer.status, 200);
  t.equal(answer.headers.get('cache-control'), 'no-store');
  t.same(answer.body, {
    active: true,
    iss: server.url,
    sub: alice.id,
    aud: `${server.url}/data/v1`,
    client_id: dataApp.clientId,
    scope: 'User.Read',
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    tid: 'contoso',
    gid: consent!.grantId,
    token_type: 'Bearer',
  });
  t.ok((answer.body.exp as number) > Date.now() / 1000, 'unexpired');

  // The same answer through a real client (openid-client), with a token type hint.
  const viaClient = await oidc.tokenIntrospection(dataApp.config, tokens.access_token, {
    token_type_hint: 'access_token',
  });
  t.equal(viaClient.active, true);
  t.equal(viaClient.sub, alice.id);
  t.equal(viaClient.gid, consent!.grantId);

  // Control: refresh tokens are introspected by oidc-provider itself, as before.
  const refresh = await introspect(dataApp, tokens.refresh_token!);
  t.equal(refresh.body.active, true, 'the refresh token is active');
  t.equal(refresh.body.token_type, undefined, 'and is answered by the provider (no token_type for refresh tokens)');
});

t.test('an admin API token introspects active for its own resource', async (t) => {
  const adminClient = await registerAdminClient(server, 'contoso');
  const { accessToken } = await adminApiToken(server, adminClient, 'carol@contoso');
  const answer = await introspect(adminClient, accessToken);
  t.equal(answer.status, 200);
  t.match(answer.body, { active: true, aud: `${server.url}/api/v1`, scope: ADMIN_SCOPE, tid: 'contoso' });
});

t.test("an app's own token (client credentials) introspects active until the app is deleted", async (t) => {
  const app = await registerApp(server, { tenant: 'contoso', name: 'Batch job', scopes: ['User.Read'] });
  const { access_token: token } = await oidc.clientCredentialsGrant(app.config, { scope: 'User.Read' });
  const answer = await introspect(app, token);
  t.match(answer.body, { active: true, sub: app.clientId, client_id: app.clientId, scope: 'User.Read' });
  t.equal(answer.body.gid, undefined, 'no grant behind it');

  // A DPoP-bound token says so (RFC 9449 §6.2).
  const key = await generateKeyPair('ES256', { extractable: true });
  const bound = await oidc.clientCredentialsGrant(
    app.config,
    { scope: 'User.Read' },
    { DPoP: oidc.getDPoPHandle(app.config, key as CryptoKeyPair) },
  );
  const boundAnswer = await introspect(app, bound.access_token);
  t.match(boundAnswer.body, {
    active: true,
    token_type: 'DPoP',
    cnf: { jkt: (decodeJwt(bound.access_token).cnf as { jkt: string }).jkt },
  });

  await directory.deleteApp('contoso', app.clientId, 'operator');
  t.equal((await refusedWithin(() => callDataApi(server, token, '/me'))).status, 401, 'the data API refuses it');
  t.equal((await introspect(app, token)).status, 401, 'and the deleted app can no longer ask (invalid_client)');
});

t.test('once the grant is gone the access token introspects inactive, as the data API refuses it', async (t) => {
  const tokens = await userTokens(server, dataApp, user('alice@contoso'), 'openid offline_access Calendars.Read', {
    prompt: 'consent',
  });
  t.equal((await introspect(dataApp, tokens.access_token)).body.active, true, 'control: active before');
  t.equal((await callDataApi(server, tokens.access_token, '/me/calendar/events')).status, 200, 'control: it works');

  // oidc-provider cannot revoke a JWT access token by itself (RFC 7009 allows refusing a token
  // type): 400 unsupported_token_type, and the token lives on until its grant goes or it expires.
  const revokeAccess = await fetch(`${server.url}/token/revocation`, {
    method: 'POST',
    headers: { authorization: basicAuth(dataApp), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens.access_token, token_type_hint: 'access_token' }),
  });
  t.equal(revokeAccess.status, 400, 'a JWT access token cannot be revoked by itself');
  t.equal(((await revokeAccess.json()) as { error: string }).error, 'unsupported_token_type');
  t.equal((await introspect(dataApp, tokens.access_token)).body.active, true, 'so it is still active');

  const consent = await findUserConsent(pool, 'contoso', alice.id, dataApp.clientId);
  await revokeGrants(pool, [consent!.grantId!]);

  const after = await inactiveWithin(dataApp, tokens.access_token);
  t.equal(after.status, 200);
  t.same(after.body, { active: false }, 'inactive, and nothing else said');
  t.ok((decodeJwt(tokens.access_token).exp as number) > Date.now() / 1000, 'although it has not expired');
  t.same((await introspect(dataApp, tokens.refresh_token!)).body, { active: false }, 'its refresh token too');
  t.equal(
    (await refusedWithin(() => callDataApi(server, tokens.access_token, '/me/calendar/events'))).status,
    401,
    'the data API agrees',
  );
});

t.test('revoking the refresh token (RFC 7009) takes the grant, and the access token goes inactive', async (t) => {
  const tokens = await userTokens(server, dataApp, user('alice@contoso'), 'openid offline_access User.Read', {
    prompt: 'consent',
  });
  t.equal((await introspect(dataApp, tokens.access_token)).body.active, true, 'control: active before');
  const revoke = await fetch(`${server.url}/token/revocation`, {
    method: 'POST',
    headers: { authorization: basicAuth(dataApp), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens.refresh_token!, token_type_hint: 'refresh_token' }),
  });
  t.equal(revoke.status, 200);
  t.same((await introspect(dataApp, tokens.refresh_token!)).body, { active: false }, 'the refresh token');
  t.same((await inactiveWithin(dataApp, tokens.access_token)).body, { active: false }, 'the access token');
  t.equal(
    (await refusedWithin(() => callDataApi(server, tokens.access_token, '/me'))).status,
    401,
    'the data API refuses it',
  );
});

t.test('expired, forged, misdirected and foreign tokens introspect inactive', async (t) => {
  const tokens = await userTokens(server, dataApp, user('alice@contoso'), 'openid User.Read');
  const claims = decodeJwt(tokens.access_token);
  const now = Math.floor(Date.now() / 1000);
  // The control: the same claims signed again with the issuer's key are active, so each answer
  // below is caused by the one thing changed.
  t.equal((await introspect(dataApp, await signAsIssuer(claims))).body.active, true, 're-signed genuine claims');

  const otherKey = (await generateKeyPair('ES256')).privateKey;
  const inactive: [string, string][] = [
    ['expired', await signAsIssuer({ ...claims, iat: now - 3600, exp: now - 60 })],
    ['another audience', await signAsIssuer({ ...claims, aud: 'https://elsewhere.example/api' })],
    ['another issuer', await signAsIssuer({ ...claims, iss: 'https://accord.evil.example' })],
    ['a grant that never existed', await signAsIssuer({ ...claims, gid: 'no-such-grant' })],
    ['a user token without a grant', await signAsIssuer({ ...claims, gid: undefined })],
    [
      'signed by another key',
      await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: decodeProtectedHeader(tokens.access_token).kid })
        .sign(otherKey),
    ],
    ['an ID token', tokens.id_token!],
    ['not a JWT', 'not-a-token'],
  ];
  for (const [what, token] of inactive) {
    const answer = await introspect(dataApp, token);
    t.equal(answer.status, 200, what);
    t.same(answer.body, { active: false }, what);
  }
});

t.test('another app learns nothing about a token, and cannot revoke it (RFC 7662 §4, RFC 7009 §2.1)', async (t) => {
  const tokens = await userTokens(server, dataApp, user('alice@contoso'), 'openid offline_access User.Read', {
    prompt: 'consent',
  });
  for (const [what, token] of [
    ['access token', tokens.access_token],
    ['refresh token', tokens.refresh_token!],
  ] as const) {
    const peek = await introspect(otherApp, token);
    t.equal(peek.status, 200, what);
    t.same(peek.body, { active: false }, `${what}: another app learns nothing`);
    t.equal((await introspect(dataApp, token)).body.active, true, `${what}: the owner sees it active`);
  }
  const revoke = await fetch(`${server.url}/token/revocation`, {
    method: 'POST',
    headers: { authorization: basicAuth(otherApp), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens.refresh_token!, token_type_hint: 'refresh_token' }),
  });
  t.equal(revoke.status, 400, 'another app cannot revoke it');
  t.equal((await introspect(dataApp, tokens.refresh_token!)).body.active, true, 'the owner still sees it active');
});

t.test('introspection still needs client authentication, JWT or not', async (t) => {
  const tokens = await userTokens(server, dataApp, user('alice@contoso'), 'openid User.Read');
  const anonymous = await introspect(undefined, tokens.access_token);
  t.equal(anonymous.status, 400);
  t.equal(anonymous.body.error, 'invalid_request', String(anonymous.body.error_description));
  t.equal(anonymous.body.active, undefined, 'no introspection answer');
  const wrongSecret = await fetch(`${server.url}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: basicAuth({ ...dataApp, clientSecret: 'not-the-secret' }),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token: tokens.access_token }),
  });
  t.equal(wrongSecret.status, 401);
  t.equal(((await wrongSecret.json()) as { error: string }).error, 'invalid_client');
});
