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

/** Forgets proofs that could no longer be accepted anyway. */
export async function purgeExpiredDpopProofs(db: Queryable): Promise<number> {
  const { rowCount } = await db.query({
    name: 'purge-dpop-proofs',
    text: 'DELETE FROM dpop_proofs WHERE expires_at < now()',
  });
  return rowCount ?? 0;
}
