// The data API as a resource server: it accepts only unexpired, untampered RFC 9068 access tokens
// of this issuer for this audience, refuses tokens whose grant was revoked, and holds DPoP-bound
// tokens to their key (RFC 9449).

import { decodeJwt, exportSPKI, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import t, { type Test } from 'tap';
import { findUserConsent } from '../../src/db/consents.js';
import { revokeGrants } from '../../src/services/revocation.js';
import { refusedWithin } from '../support/api.js';
import { Browser } from '../support/browser.js';
import { fullFlow, registerApp, relyingParty } from '../support/flows.js';
import { startTestServer } from '../support/server.js';
import { callApi, userTokens } from './support.js';

const server = await startTestServer();
t.teardown(() => server.close());

const password = 'correct horse battery';
await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
const alice = await server.directory.createUser(
  { tenantId: 'contoso', username: 'alice', password, role: 'user', displayName: 'Alice' },
  'operator',
);
const bob = await server.directory.createUser(
  { tenantId: 'contoso', username: 'bob', password, role: 'user', displayName: 'Bob' },
  'operator',
);
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'offline_access', 'User.Read'] });
const dataApi = `${server.url}/data/v1`;

function expectInvalidToken(t: Test, response: { status: number; headers: Headers; body: any }, what: string) {
  t.equal(response.status, 401, what);
  t.equal(response.body?.error, 'invalid_token', what);
  t.match(
    response.headers.get('www-authenticate'),
    /^Bearer realm="accord", error="invalid_token", error_description="[^"]+"$/,
    what,
  );
}

t.test('forged, altered, expired and misdirected tokens are refused with 401 invalid_token', async (t) => {
  const tokens = await userTokens(server, app, { signIn: 'alice@contoso', password }, 'openid User.Read');
  const claims = decodeJwt(tokens.access_token);
  const { rows } = await server.pool.query<{ private_jwk: JWK }>(
    `SELECT private_jwk FROM signing_keys WHERE alg = 'ES256' AND retire_after IS NULL AND activated_at IS NOT NULL`,
  );
  const serverJwk = rows[0]!.private_jwk;
  const serverKey = await importJWK(serverJwk, 'ES256');
  const sign = (payload: JWTPayload, key = serverKey, header: Record<string, unknown> = {}) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: serverJwk.kid, ...header }).sign(key);
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  // The control: the same claims signed with the server's key are accepted, so each refusal
  // below is caused by the one thing changed.
  t.equal((await callApi(server, await sign(claims), '/me')).status, 200, 're-signed genuine claims are accepted');

  const { d: _d, ...publicJwk } = serverJwk;
  const publicPem = await exportSPKI((await importJWK(publicJwk, 'ES256')) as CryptoKey);
  const [header, , signature] = tokens.access_token.split('.');
  const otherKey = (await generateKeyPair('ES256')).privateKey;
  const forged: [string, string][] = [
    ['another audience', await sign({ ...claims, aud: `${server.url}/api/v1` })],
    ['the app as audience', await sign({ ...claims, aud: app.clientId })],
    ['another issuer', await sign({ ...claims, iss: 'https://accord.evil.example' })],
    ['expired', await sign({ ...claims, iat: now - 3600, exp: now - 60 })],
    ['no expiry', await sign({ ...claims, exp: undefined })],
    ['typ JWT instead of at+jwt', await sign(claims, serverKey, { typ: 'JWT' })],
    ['signed by another key under the same kid', await sign(claims, otherKey)],
    ['alg none', `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`],
    [
      'HS256 with the public key (PEM) as secret',
      await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: serverJwk.kid })
        .sign(new TextEncoder().encode(publicPem)),
    ],
    [
      'HS256 with the public JWK as secret',
      await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .sign(new TextEncoder().encode(JSON.stringify(publicJwk))),
    ],
    ['tampered payload (sub changed to another user)', `${header}.${b64({ ...claims, sub: bob.id })}.${signature}`],
    [
      'tampered payload (scope widened)',
      `${header}.${b64({ ...claims, scope: 'User.Read User.Read.All' })}.${signature}`,
    ],
    ['an ID token', tokens.id_token!],
    ['not a JWT', 'abc.def'],
  ];
  for (const [what, token] of forged) expectInvalidToken(t, await callApi(server, token, '/me'), what);
});

t.test(
  'withdrawing consent (deleting the grant) refuses the unexpired access token and deactivates the refresh token',
  async (t) => {
    // oidc-provider issues a refresh token for offline_access only on a consent prompt.
    const tokens = await userTokens(
      server,
      app,
      { signIn: 'alice@contoso', password },
      'openid offline_access User.Read',
      { prompt: 'consent' },
    );
    t.ok(tokens.refresh_token);
    t.equal((await callApi(server, tokens.access_token, '/me')).status, 200);
    t.equal(
      (await oidc.tokenIntrospection(app.config, tokens.refresh_token!)).active,
      true,
      'RFC 7662: the refresh token is active',
    );

    const consent = await findUserConsent(server.pool, 'contoso', alice.id, app.clientId);
    t.ok(consent?.grantId);
    t.equal(decodeJwt(tokens.access_token).gid, consent!.grantId, 'the token names its grant');
    await revokeGrants(server.pool, [consent!.grantId!]);

    const refused = await refusedWithin(() => callApi(server, tokens.access_token, '/me'));
    expectInvalidToken(t, refused, 'revoked');
    t.match(refused.body.error_description, /revoked/);
    t.equal(
      (await oidc.tokenIntrospection(app.config, tokens.refresh_token!)).active,
      false,
      'the refresh token is inactive',
    );
  },
);

t.test('a DPoP-bound token works only with a fresh proof from its key', async (t) => {
  // A separate RP configuration, so capturing its requests does not touch the other tests' app.
  const rp = await relyingParty(server, app.clientId, app.clientSecret);
  let lastRequest: { authorization?: string; dpop?: string } = {};
  rp.config[oidc.customFetch] = (url, options) => {
    const headers = new Headers(options.headers as HeadersInit);
    lastRequest = { authorization: headers.get('authorization') ?? undefined, dpop: headers.get('dpop') ?? undefined };
    return fetch(url, options as RequestInit);
  };
  const DPoP = oidc.getDPoPHandle(rp.config, await oidc.randomDPoPKeyPair('ES256'));
  const { auth, callback } = await fullFlow(
    server,
    rp,
    { signIn: 'bob@contoso', password },
    { scope: 'openid User.Read' },
    new Browser(server.url),
  );
  const tokens = await oidc.authorizationCodeGrant(
    rp.config,
    callback,
    { pkceCodeVerifier: auth.verifier, expectedState: auth.state },
    undefined,
    { DPoP },
  );
  t.equal(tokens.token_type.toLowerCase(), 'dpop');
  t.ok((decodeJwt(tokens.access_token).cnf as { jkt?: string })?.jkt, 'the token is bound to a key thumbprint');

  const response = await oidc.fetchProtectedResource(
    rp.config,
    tokens.access_token,
    new URL(`${dataApi}/me`),
    'GET',
    undefined,
    undefined,
    { DPoP },
  );
  t.equal(response.status, 200);
  t.equal(((await response.json()) as { id: string }).id, bob.id);
  t.match(lastRequest.authorization, /^DPoP /);
  t.ok(lastRequest.dpop, 'a proof was sent');

  expectInvalidToken(t, await callApi(server, tokens.access_token, '/me'), 'the DPoP-bound token sent as Bearer');

  const replayed = await fetch(`${dataApi}/me`, {
    headers: { authorization: lastRequest.authorization!, dpop: lastRequest.dpop! },
  });
  t.equal(replayed.status, 401, 'a replayed proof is refused');
  t.match(replayed.headers.get('www-authenticate'), /^DPoP realm="accord", error="invalid_dpop_proof"/);
  t.equal(((await replayed.json()) as { error: string }).error, 'invalid_dpop_proof');

  const noProof = await fetch(`${dataApi}/me`, { headers: { authorization: lastRequest.authorization! } });
  t.equal(noProof.status, 401, 'a DPoP token without a proof is refused');
});
