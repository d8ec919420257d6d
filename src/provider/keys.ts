// Signing keys and cookie secrets, kept in PostgreSQL so every process and every restart serves
// the same JWKS and reads the same cookies.
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { Conflict } from '../core/errors.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import { instancesMissingKeys, registerInstance, type ServerInstance } from '../db/server-instances.js';

/** RS256 keeps ID tokens readable by every relying party; ES256 signs access tokens (fast). */
export const SIGNING_ALGORITHMS = ['RS256', 'ES256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** How long a replaced key stays published: the longest-lived token it may have signed. */
export const RETIRED_KEY_GRACE_SECONDS = 24 * 60 * 60;

// Fixed id so two processes creating the first keys at once converge on one set.
const KEY_CREATION_LOCK = 7_242_022;

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
  await db.query(
    `INSERT INTO signing_keys (kid, alg, private_jwk, activated_at)
     VALUES ($1::text, $2::text, $3::jsonb, CASE WHEN $4::boolean THEN now() END)`,
    [jwk.kid, alg, jwk, state === 'active'],
  );
  return jwk.kid;
}

/** Which algorithms have an active key that is not retiring, and which have a next key. */
async function keysInPlace(db: Queryable): Promise<{ active: Set<string>; next: Set<string> }> {
  const { rows } = await db.query<{ alg: string; next: boolean }>(
    'SELECT DISTINCT alg, activated_at IS NULL AS next FROM signing_keys WHERE retire_after IS NULL',
  );
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
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [KEY_CREATION_LOCK]);
    const { active, next } = await keysInPlace(tx);
    for (const alg of SIGNING_ALGORITHMS) {
      if (!active.has(alg)) await insertKey(tx, alg, 'active');
      if (!next.has(alg)) await insertKey(tx, alg, 'next');
    }
    const { rows } = await tx.query<{ private_jwk: JWK }>(
      `SELECT private_jwk FROM signing_keys
        WHERE retire_after IS NULL OR retire_after > now()
        ORDER BY CASE WHEN retire_after IS NOT NULL THEN 2 WHEN activated_at IS NULL THEN 1 ELSE 0 END,
                 created_at DESC, kid`,
    );
    const keys = rows.map((row) => row.private_jwk);
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
    await db.query('SELECT pg_advisory_xact_lock($1::bigint)', [KEY_CREATION_LOCK]);
    if (!options.force) {
      const { rows: next } = await db.query<{ kid: string }>(
        'SELECT kid FROM signing_keys WHERE retire_after IS NULL AND activated_at IS NULL',
      );
      const behind = await instancesMissingKeys(
        db,
        next.map((row) => row.kid),
      );
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
    await db.query(
      `UPDATE signing_keys SET retire_after = now() + make_interval(secs => $1::integer)
        WHERE retire_after IS NULL AND activated_at IS NOT NULL`,
      [RETIRED_KEY_GRACE_SECONDS],
    );
    const { rows: activated } = await db.query<{ kid: string; alg: string }>(
      'UPDATE signing_keys SET activated_at = now() WHERE retire_after IS NULL AND activated_at IS NULL RETURNING kid, alg',
    );
    const rotated: RotatedKeys = { active: [], next: [] };
    for (const alg of SIGNING_ALGORITHMS) {
      // A database that never had a next key (none loaded since migration 0010) activates a new one.
      rotated.active.push(activated.find((row) => row.alg === alg)?.kid ?? (await insertKey(db, alg, 'active')));
      rotated.next.push(await insertKey(db, alg, 'next'));
    }
    return rotated;
  });
}

/** A named random secret shared by all processes, created on first use. */
export async function loadServerSecret(db: Queryable, name: string): Promise<string> {
  await db.query('INSERT INTO server_secrets (name, value) VALUES ($1::text, $2::text) ON CONFLICT (name) DO NOTHING', [
    name,
    randomBytes(32).toString('base64url'),
  ]);
  const { rows } = await db.query<{ value: string }>('SELECT value FROM server_secrets WHERE name = $1::text', [name]);
  return rows[0]!.value;
}
