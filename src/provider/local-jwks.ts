// The issuer's public keys for Accord's own resource servers, read from the database (no HTTP
// round trip to ourselves). An unknown `kid` reloads the keys — another process may have
// rotated them — at most once every few seconds.
import { createLocalJWKSet, errors, type JWK, type JWTVerifyGetKey } from 'jose';
import type { Pool } from '../db/pool.js';
import { listPublishedKeys } from '../db/signing-keys.js';

const RELOAD_AT_MOST_EVERY_MS = 5_000;

function publicJwk(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest } = jwk;
  return rest;
}

async function readPublicKeys(pool: Pool): Promise<JWK[]> {
  return (await listPublishedKeys<JWK>(pool)).map(publicJwk);
}

export async function createLocalKeyResolver(pool: Pool): Promise<JWTVerifyGetKey> {
  let keySet = createLocalJWKSet({ keys: await readPublicKeys(pool) });
  let loadedAt = Date.now();
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || Date.now() - loadedAt < RELOAD_AT_MOST_EVERY_MS) throw error;
      keySet = createLocalJWKSet({ keys: await readPublicKeys(pool) });
      loadedAt = Date.now();
      return keySet(header, token);
    }
  };
}
