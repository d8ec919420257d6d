// Token signing keys, kept in PostgreSQL (db/signing-keys.ts) so every process and every restart
// serves the same JWKS: created on first start, rotated by `accord keys rotate`.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { Conflict } from '../core/errors.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import { instancesMissingKeys, registerInstance, type ServerInstance } from '../db/server-instances.js';
import {
  activateNextKeys,
  insertSigningKey,
  listNextKids,
  listPublishedKeys,
  listUnretiredAlgorithms,
  lockSigningKeys,
  retireActiveKeys,
} from '../db/signing-keys.js';

/** RS256 keeps ID tokens readable by every relying party; ES256 signs access tokens (fast). */
export const SIGNING_ALGORITHMS = ['RS256', 'ES256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** How long a replaced key stays published: the longest-lived token it may have signed. */
export const RETIRED_KEY_GRACE_SECONDS = 24 * 60 * 60;

async function newPrivateJwk(alg: SigningAlgorithm): Promise<JWK & { kid: string }> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg, use: 'sig' };
}

/** Inserts a key: active (it signs once loaded) or next (published ahead of its activation). */
async function insertKey(db: Queryable, alg: SigningAlgorithm, state: 'active' | 'next'): Promise<string> {
  const jwk = await newPrivateJwk(alg);
  await insertSigningKey(db, { kid: jwk.kid, alg, privateJwk: jwk, active: state === 'active' });
  return jwk.kid;
}

/** Which algorithms have an active key that is not retiring, and which have a next key. */
async function keysInPlace(db: Queryable): Promise<{ active: Set<string>; next: Set<string> }> {
  const rows = await listUnretiredAlgorithms(db);
  return {
    active: new Set(rows.filter((row) => !row.next).map((row) => row.alg)),
    next: new Set(rows.filter((row) => row.next).map((row) => row.alg)),
  };
}

/**
 * The private JWKS for oidc-provider, in the order it chooses by: the active key of each
 * algorithm first (it signs), then the next keys (published ahead of the rotation that activates
 * them), then retired keys inside their grace period (published so tokens they signed still
 * verify). Creates what is missing: the first keys on an empty database, the next keys on one
 * that predates them. A server process passes itself as `instance`: it is recorded as publishing
 * these keys in the same transaction, under the lock a rotation takes, so that no rotation can
 * slip between what it loads and what it records (see rotateSigningKeys).
 */
export async function loadSigningKeys(pool: Pool, instance?: ServerInstance): Promise<JWK[]> {
  return inTransaction(pool, async (tx) => {
    await lockSigningKeys(tx);
    const { active, next } = await keysInPlace(tx);
    for (const alg of SIGNING_ALGORITHMS) {
      if (!active.has(alg)) await insertKey(tx, alg, 'active');
      if (!next.has(alg)) await insertKey(tx, alg, 'next');
    }
    const keys = await listPublishedKeys<JWK>(tx);
    if (instance)
      await registerInstance(
        tx,
        instance,
        keys.map((key) => key.kid!),
      );
    return keys;
  });
}

export interface RotatedKeys {
  /** The keys that sign from now on (in processes started from now on), one per algorithm. */
  active: string[];
  /** Their successors, published from now on and activated by the next rotation. */
  next: string[];
}

/**
 * Retires the active keys (published for the grace period), activates the next ones and creates
 * new next keys, one per algorithm, in SIGNING_ALGORITHMS order. Running processes sign with the
 * activated keys once restarted (a rolling restart); every process started since the previous
 * rotation already publishes them, so no token is signed with a key some process does not serve.
 * Refused (Conflict) while a live process does not publish them — one started before the previous
 * rotation and not restarted since — unless `force`.
 */
export async function rotateSigningKeys(pool: Pool, options: { force?: boolean } = {}): Promise<RotatedKeys> {
  return inTransaction(pool, async (db) => {
    await lockSigningKeys(db);
    if (!options.force) {
      const behind = await instancesMissingKeys(db, await listNextKids(db));
      if (behind.length > 0) {
        const servers = behind
          .map((instance) => `${instance.description} (started ${instance.startedAt.toISOString()})`)
          .join(', ');
        throw Conflict(
          `not rotated: ${behind.length === 1 ? 'a running server does' : `${behind.length} running servers do`} not publish the keys this rotation ` +
            `would activate, having started before the previous rotation: ${servers}. A server restarted after this rotation would sign ` +
            'tokens that their /jwks cannot verify. Restart them first (or rotate with --force).',
        );
      }
    }
    await retireActiveKeys(db, RETIRED_KEY_GRACE_SECONDS);
    const activated = await activateNextKeys(db);
    const rotated: RotatedKeys = { active: [], next: [] };
    for (const alg of SIGNING_ALGORITHMS) {
      // A database that never had a next key (none loaded since migration 0010) activates a new one.
      rotated.active.push(activated.find((row) => row.alg === alg)?.kid ?? (await insertKey(db, alg, 'active')));
      rotated.next.push(await insertKey(db, alg, 'next'));
    }
    return rotated;
  });
}
