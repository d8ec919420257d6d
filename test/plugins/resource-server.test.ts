// The resource server's verified-token cache, without a server: a token verified once skips the
// signature check until its `exp` (checked against the clock on every request), a failed
// verification is never remembered, the cache is bounded, and the revocation check still runs
// on every request.

import type { FastifyRequest } from 'fastify';
import { type CryptoKey, generateKeyPair, type JWTPayload, type JWTVerifyGetKey, SignJWT } from 'jose';
import t from 'tap';
import {
  type AccessTokenInfo,
  createResourceServer,
  type ResourceServerOptions,
} from '../../src/plugins/resource-server.js';

const issuer = 'https://accord.example.test';
const audience = `${issuer}/data/v1`;
const { privateKey, publicKey } = await generateKeyPair('ES256');

function sign(claims: JWTPayload = {}, key: CryptoKey = privateKey): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    client_id: 'app',
    scope: 'User.Read',
    sub: 'user-1',
    gid: 'grant-1',
    jti: crypto.randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 300)
    .sign(key);
}

const request = (token: string) =>
  ({ headers: { authorization: `Bearer ${token}` }, method: 'GET', url: '/me' }) as unknown as FastifyRequest;

/** A resource server counting signature checks (key look-ups) and revocation checks. */
function counting(options: Partial<ResourceServerOptions> & { keys?: JWTVerifyGetKey } = {}) {
  const counts = { verifications: 0, revocationChecks: 0 };
  const server = createResourceServer({
    issuer,
    audience,
    keys: async () => {
      counts.verifications++;
      return publicKey;
    },
    isRevoked: async () => {
      counts.revocationChecks++;
      return false;
    },
    ...options,
  });
  return { server, counts };
}

t.test('a token is verified once, then remembered; the revocation check still runs every time', async (t) => {
  const { server, counts } = counting();
  const token = await sign();
  const first = await server.authenticate(request(token));
  const second = await server.authenticate(request(token));
  t.same(counts, { verifications: 1, revocationChecks: 2 });
  t.equal(second, first, 'the same claims');
  t.equal(first.sub, 'user-1');
  t.ok(Object.isFrozen(first), 'shared between requests, so frozen');
  await server.authenticate(request(await sign()));
  t.equal(counts.verifications, 2, 'another token string is verified');
});

t.test('a remembered token is refused once its exp passes', async (t) => {
  const { server } = counting();
  const now = Math.floor(Date.now() / 1000);
  const token = await sign({ exp: now + 1 });
  t.equal((await server.authenticate(request(token))).exp, now + 1);
  await new Promise((resolve) => setTimeout(resolve, (now + 1) * 1000 - Date.now() + 10));
  await t.rejects(server.authenticate(request(token)), { statusCode: 401, message: /expired/ });
});

t.test('a failed verification is not remembered', async (t) => {
  let keyKnown = false;
  const { server } = counting({
    keys: async () => {
      if (!keyKnown) throw new Error('no matching key yet');
      return publicKey;
    },
  });
  const token = await sign();
  await t.rejects(server.authenticate(request(token)), { statusCode: 401, message: /invalid or expired/ });
  keyKnown = true;
  t.equal((await server.authenticate(request(token))).clientId, 'app', 'verified once the key is known');
  const forged = await sign({}, (await generateKeyPair('ES256')).privateKey);
  for (let i = 0; i < 2; i++)
    await t.rejects(
      server.authenticate(request(forged)),
      { statusCode: 401, message: /invalid or expired/ },
      'a forged token, every time',
    );
});

t.test('the cache keeps verifiedTokenCacheSize tokens, dropping the oldest; 0 verifies every time', async (t) => {
  const { server, counts } = counting({ verifiedTokenCacheSize: 2 });
  const [a, b, c] = [await sign(), await sign(), await sign()];
  for (const token of [a, b, c]) await server.authenticate(request(token));
  t.equal(counts.verifications, 3);
  await server.authenticate(request(c));
  await server.authenticate(request(b));
  t.equal(counts.verifications, 3, 'the two newest are remembered');
  await server.authenticate(request(a));
  t.equal(counts.verifications, 4, 'the oldest was dropped');

  const uncached = counting({ verifiedTokenCacheSize: 0 });
  for (let i = 0; i < 3; i++) await uncached.server.authenticate(request(a));
  t.equal(uncached.counts.verifications, 3);
});

t.test('a revoked remembered token is refused', async (t) => {
  let revoked = false;
  const { server } = counting({ isRevoked: async (_token: AccessTokenInfo) => revoked });
  const token = await sign();
  await server.authenticate(request(token));
  revoked = true;
  await t.rejects(server.authenticate(request(token)), { statusCode: 401, message: /revoked/ });
});
