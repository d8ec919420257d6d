// signing_keys: the issuer's private JWKs. A key is next (published, not yet signing: activated_at
// is null), active (signing), or retired (retire_after set: published until then, signing no more).
import type { Queryable } from './pool.js';

/** A JWK as stored; the private members stay opaque here. */
export interface StoredJwk {
  kid?: string;
  [member: string]: unknown;
}

// Fixed id so two processes creating the first keys at once converge on one set.
const KEY_CREATION_LOCK = 7_242_022;

/** Serialises key creation and rotation until the end of the transaction. */
export async function lockSigningKeys(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1::bigint)', [KEY_CREATION_LOCK]);
}

/** Inserts a key: active (it signs once loaded) or next (published ahead of its activation). */
export async function insertSigningKey(
  db: Queryable,
  key: { kid: string; alg: string; privateJwk: StoredJwk; active: boolean },
): Promise<void> {
  await db.query(
    `INSERT INTO signing_keys (kid, alg, private_jwk, activated_at)
     VALUES ($1::text, $2::text, $3::jsonb, CASE WHEN $4::boolean THEN now() END)`,
    [key.kid, key.alg, key.privateJwk, key.active],
  );
}

/** The algorithms with a key that is not retiring, each marked as active or next. */
export async function listUnretiredAlgorithms(db: Queryable): Promise<Array<{ alg: string; next: boolean }>> {
  const { rows } = await db.query<{ alg: string; next: boolean }>(
    'SELECT DISTINCT alg, activated_at IS NULL AS next FROM signing_keys WHERE retire_after IS NULL',
  );
  return rows;
}

/**
 * The published keys (not retired, or retired inside their grace period) in the order
 * oidc-provider chooses by: active keys first, then next keys, then retired ones; newest first.
 */
export async function listPublishedKeys<Jwk extends StoredJwk>(db: Queryable): Promise<Jwk[]> {
  const { rows } = await db.query<{ private_jwk: Jwk }>(
    `SELECT private_jwk FROM signing_keys
        WHERE retire_after IS NULL OR retire_after > now()
        ORDER BY CASE WHEN retire_after IS NOT NULL THEN 2 WHEN activated_at IS NULL THEN 1 ELSE 0 END,
                 created_at DESC, kid`,
  );
  return rows.map((row) => row.private_jwk);
}

/** The kids of the next keys: those the next rotation activates. */
export async function listNextKids(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ kid: string }>(
    'SELECT kid FROM signing_keys WHERE retire_after IS NULL AND activated_at IS NULL',
  );
  return rows.map((row) => row.kid);
}

/** Retires the active keys: they stay published for `graceSeconds` from now. */
export async function retireActiveKeys(db: Queryable, graceSeconds: number): Promise<void> {
  await db.query(
    `UPDATE signing_keys SET retire_after = now() + make_interval(secs => $1::integer)
        WHERE retire_after IS NULL AND activated_at IS NOT NULL`,
    [graceSeconds],
  );
}

/** Activates the next keys; returns them. */
export async function activateNextKeys(db: Queryable): Promise<Array<{ kid: string; alg: string }>> {
  const { rows } = await db.query<{ kid: string; alg: string }>(
    'UPDATE signing_keys SET activated_at = now() WHERE retire_after IS NULL AND activated_at IS NULL RETURNING kid, alg',
  );
  return rows;
}
