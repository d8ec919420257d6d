// Signing keys and cookie secrets, kept in PostgreSQL so every process and every restart serves
// the same JWKS and reads the same cookies.
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';

/** RS256 keeps ID tokens readable by every relying party; ES256 signs access tokens (fast). */
export const SIGNING_ALGORITHMS = ['RS256', 'ES256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** How long a replaced key stays published: the longest-lived token it may have signed. */
export const RETIRED_KEY_GRACE_SECONDS = 24 * 60 * 60;

// Fixed id so two processes creating the first keys at once converge on one set.
const KEY_CREATION_LOCK = 7_242_022;

async function newPrivateJwk(alg: SigningAlgorithm): Promise<JWK & { kid: string }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg, use: 'sig' };
}

async function insertKey(db: Queryable, alg: SigningAlgorithm): Promise<string> {
  const jwk = await newPrivateJwk(alg);
  await db.query('INSERT INTO signing_keys (kid, alg, private_jwk) VALUES ($1::text, $2::text, $3::jsonb)', [jwk.kid, alg, jwk]);
  return jwk.kid;
}

/**
 * The private JWKS for oidc-provider: the newest key of each algorithm first (it signs), then
 * retired keys still inside their grace period (published so tokens they signed still verify).
 * Creates the first keys on an empty database.
 */
export async function loadSigningKeys(pool: Pool): Promise<JWK[]> {
  await inTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [KEY_CREATION_LOCK]);
    const { rows: present } = await tx.query<{ alg: string }>('SELECT DISTINCT alg FROM signing_keys WHERE retire_after IS NULL');
    const have = new Set(present.map((row) => row.alg));
    for (const alg of SIGNING_ALGORITHMS) if (!have.has(alg)) await insertKey(tx, alg);
  });
  const { rows } = await pool.query<{ private_jwk: JWK }>(
    `SELECT private_jwk FROM signing_keys
      WHERE retire_after IS NULL OR retire_after > now()
      ORDER BY (retire_after IS NULL) DESC, created_at DESC, kid`,
  );
  return rows.map((row) => row.private_jwk);
}

/**
 * Adds a new key per algorithm and retires the current ones after the grace period. Running
 * processes pick the new keys up when restarted (a rolling restart); until then they keep
 * signing with the old keys, which stay published.
 */
export async function rotateSigningKeys(pool: Pool): Promise<string[]> {
  return inTransaction(pool, async (db) => {
    await db.query('SELECT pg_advisory_xact_lock($1::bigint)', [KEY_CREATION_LOCK]);
    await db.query(
      `UPDATE signing_keys SET retire_after = now() + make_interval(secs => $1::integer)
        WHERE retire_after IS NULL`,
      [RETIRED_KEY_GRACE_SECONDS],
    );
    const kids: string[] = [];
    for (const alg of SIGNING_ALGORITHMS) kids.push(await insertKey(db, alg));
    return kids;
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
