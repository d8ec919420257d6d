// dpop_proofs: the DPoP replay cache (RFC 9449 §11.1) shared by every process.
import type { Queryable } from './pool.js';

/** True the first time a proof is seen. */
export async function rememberDpopProof(db: Queryable, key: string, expiresAtSeconds: number): Promise<boolean> {
  const { rowCount } = await db.query(
    'INSERT INTO dpop_proofs (key, expires_at) VALUES ($1::text, to_timestamp($2::bigint)) ON CONFLICT (key) DO NOTHING',
    [key, expiresAtSeconds],
  );
  return rowCount === 1;
}

/**
 * Forgets proofs that could no longer be accepted anyway: at most `batch`, the oldest first (on
 * the expires_at index); run in batches by services/expiry-purge.ts.
 */
export async function purgeExpiredDpopProofs(db: Queryable, batch = 5000): Promise<number> {
  const { rowCount } = await db.query({
    name: 'purge-dpop-proofs',
    text: `DELETE FROM dpop_proofs WHERE key IN (
         SELECT key FROM dpop_proofs WHERE expires_at < now() ORDER BY expires_at LIMIT $1::integer)
         AND expires_at < now()`,
    values: [batch],
  });
  return rowCount ?? 0;
}
