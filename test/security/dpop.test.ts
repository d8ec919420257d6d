// RFC 9700 attack list, DPoP (RFC 9449): a sender-constrained token is useless without a fresh
// proof for this exact request (method, URL, token) by its key — at the data API and, for a
// public client's bound refresh token, at /token.

import { createHash, randomUUID } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import t, { type Test } from 'tap';
import { Browser } from '../support/browser.js';
import { fullFlow, registerApp, relyingParty, type TestApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const password = 'correct horse battery';
await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
const alice = await server.directory.createUser(
  { tenantId: 'contoso', username: 'alice', password, role: 'user' },
  'operator',
);
const dataApi = `${server.url}/data/v1`;

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
const newKey = () => generateKeyPair('ES256', { extractable: true });

/** A DPoP proof (RFC 9449 §4.2) by `key`; `overrides` change any claim. */
async function proof(
  key: KeyPair,
  htm: string,
  htu: string,
  accessToken?: string,
  overrides: Record<string, unknown> = {},
) {
  const jwk = await exportJWK(key.publicKey);
  const claims = {
    htm,
    htu,
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
    ...overrides,
  };
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(key.privateKey);
}

/** alice's DPoP-bound tokens for `app`, bound to `key` (openid-client does the proofs). */
async function boundTokens(app: TestApp, key: KeyPair, scope: string, params: Record<string, string> = {}) {
  const DPoP = oidc.getDPoPHandle(app.config, key as CryptoKeyPair);
  const { auth, callback } = await fullFlow(
    server,
    app,
    { signIn: 'alice@contoso', password },
    { scope, ...params },
    new Browser(server.url),
  );
  const tokens = await oidc.authorizationCodeGrant(
    app.config,
    callback,
    { pkceCodeVerifier: auth.verifier, expectedState: auth.state },
    undefined,
    { DPoP },
  );
  return tokens;
}

async function callMe(token: string, dpop?: string, method = 'GET', url = `${dataApi}/me`) {
  const response = await fetch(url, {
    method,
    headers: { authorization: `DPoP ${token}`, accept: 'application/json', ...(dpop ? { dpop } : {}) },
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as { error?: string; id?: string }) : undefined,
  };
}

function expectProofRefused(t: Test, response: Awaited<ReturnType<typeof callMe>>, what: string) {
  t.equal(response.status, 401, what);
  t.equal(response.body?.error, 'invalid_dpop_proof', what);
  t.match(response.headers.get('www-authenticate'), /^DPoP realm="accord", error="invalid_dpop_proof"/, what);
  t.notOk(response.body?.id, `${what}: no data`);
}

const confidential = await registerApp(server, {
  tenant: 'contoso',
  scopes: ['openid', 'offline_access', 'User.Read'],
});

t.test(
  'at the data API a proof is accepted once, only for its method and URL, by the bound key, for this token',
  async (t) => {
    const key = await newKey();
    const tokens = await boundTokens(confidential, key, 'openid User.Read');
    t.equal(tokens.token_type.toLowerCase(), 'dpop');
    const token = tokens.access_token;

    // The control: a proof made here is accepted, so each refusal below is caused by the one change.
    const good = await proof(key, 'GET', `${dataApi}/me`, token);
    const first = await callMe(token, good);
    t.equal(first.status, 200, 'a fresh, correct proof is accepted');
    t.equal(first.body?.id, alice.id);

    expectProofRefused(t, await callMe(token, good), 'the same proof replayed');
    expectProofRefused(
      t,
      await callMe(token, await proof(key, 'GET', `${dataApi}/me/calendar/events`, token)),
      'wrong htu (another path)',
    );
    expectProofRefused(
      t,
      await callMe(token, await proof(key, 'GET', `https://evil.example/data/v1/me`, token)),
      'wrong htu (another origin)',
    );
    expectProofRefused(
      t,
      await callMe(token, await proof(key, 'GET', `${server.url}/api/v1/me`, token)),
      'wrong htu (the admin API)',
    );
    expectProofRefused(
      t,
      await callMe(token, await proof(key, 'POST', `${dataApi}/me`, token)),
      'wrong htm (POST for a GET)',
    );
    expectProofRefused(
      t,
      await callMe(token, await proof(key, 'get', `${dataApi}/me`, token)),
      'wrong htm (lower case)',
    );
    expectProofRefused(t, await callMe(token, await proof(key, 'GET', `${dataApi}/me`)), 'no ath');
    expectProofRefused(
      t,
      await callMe(token, await proof(key, 'GET', `${dataApi}/me`, 'another token')),
      'ath of another token',
    );
    expectProofRefused(
      t,
      await callMe(token, await proof(await newKey(), 'GET', `${dataApi}/me`, token)),
      'signed by another key',
    );
    expectProofRefused(
      t,
      await callMe(
        token,
        await proof(key, 'GET', `${dataApi}/me`, token, { iat: Math.floor(Date.now() / 1000) - 600 }),
      ),
      'stale iat',
    );
    expectProofRefused(
      t,
      await callMe(
        token,
        await proof(key, 'GET', `${dataApi}/me`, token, { iat: Math.floor(Date.now() / 1000) + 600 }),
      ),
      'iat in the future',
    );
    expectProofRefused(
      t,
      await callMe(token, await proof(key, 'GET', `${dataApi}/me`, token, { jti: undefined })),
      'no jti',
    );
    expectProofRefused(t, await callMe(token, 'not-a-jwt'), 'garbage proof');
    expectProofRefused(t, await callMe(token), 'no proof');

    // Wrong htm the other way: a proof for GET replayed on a write.
    const post = await fetch(`${dataApi}/me/calendar/events`, {
      method: 'POST',
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await proof(key, 'GET', `${dataApi}/me/calendar/events`, token),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ subject: 'x', start: '2030-01-01T00:00:00Z', end: '2030-01-01T01:00:00Z' }),
    });
    t.equal(post.status, 401, 'a GET proof does not authorise a POST');

    const again = await callMe(token, await proof(key, 'GET', `${dataApi}/me`, token));
    t.equal(again.status, 200, 'after all the refusals, a new correct proof still works');
  },
);

t.test("a public client's DPoP-bound refresh token is refused at /token without its proof", async (t) => {
  const registered = await registerApp(server, {
    tenant: 'contoso',
    scopes: ['openid', 'offline_access', 'User.Read'],
    public: true,
    name: 'Public App',
  });
  const app = await relyingParty(server, registered.clientId);
  const key = await newKey();
  const tokens = await boundTokens(app, key, 'openid offline_access User.Read', { prompt: 'consent' });
  t.ok(tokens.refresh_token, 'a refresh token was issued');
  t.ok((decodeJwt(tokens.access_token).cnf as { jkt?: string } | undefined)?.jkt, 'the access token is bound');

  const refresh = async (dpop?: string) => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpop ? { dpop } : {}) },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: app.clientId,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };
  const tokenUrl = `${server.url}/token`;

  const none = await refresh();
  t.equal(none.status, 400, 'no proof');
  t.equal(none.body.error, 'invalid_grant');
  t.notOk(none.body.access_token);
  const otherKey = await refresh(await proof(await newKey(), 'POST', tokenUrl));
  t.equal(otherKey.body.error, 'invalid_grant', "another key's proof");
  t.notOk(otherKey.body.access_token);
  const wrongHtu = await refresh(await proof(key, 'POST', `${dataApi}/me`));
  t.equal(wrongHtu.body.error, 'invalid_dpop_proof', 'a proof for another URL');
  const wrongHtm = await refresh(await proof(key, 'GET', tokenUrl));
  t.equal(wrongHtm.body.error, 'invalid_dpop_proof', 'a proof for another method');

  // The control: with a proof by the bound key the same refresh token works (it was not burnt).
  const right = await refresh(await proof(key, 'POST', tokenUrl));
  t.equal(right.status, 200, 'the bound key refreshes');
  t.equal(right.body.token_type?.toLowerCase(), 'dpop');
  t.equal(
    (decodeJwt(right.body.access_token!).cnf as { jkt?: string }).jkt,
    (decodeJwt(tokens.access_token).cnf as { jkt?: string }).jkt,
    'still bound to the same key',
  );
});

t.test(
  "a confidential client's refresh token is bound to its client authentication, not to the DPoP key (RFC 9449 §5)",
  async (t) => {
    // Documenting behaviour: the refresh token of a confidential client is not DPoP-bound; without
    // a proof the client gets a Bearer token, which only it (with its secret) could ask for.
    const key = await newKey();
    const tokens = await boundTokens(confidential, key, 'openid offline_access User.Read', { prompt: 'consent' });
    t.ok(tokens.refresh_token);
    const stolen = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: confidential.clientId,
      }),
    });
    t.equal(stolen.status, 401, 'without the client secret the stolen refresh token is useless');
    t.equal(((await stolen.json()) as { error: string }).error, 'invalid_client');
  },
);
