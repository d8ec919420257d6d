// Revoking grants: removes the Grant and every code, refresh token and opaque access token
// issued under it. JWT access tokens are not stored; the data API refuses them once their grant
// (the token's `gid` claim) no longer exists.
import type { Queryable } from '../db/pool.js';

export async function revokeGrants(db: Queryable, grantIds: readonly string[]): Promise<void> {
  if (grantIds.length === 0) return;
  await db.query(
    `DELETE FROM oidc_models WHERE grant_id = ANY ($1::text[]) OR (model = 'Grant' AND id = ANY ($1::text[]))`,
    [grantIds],
  );
}

/**
 * How long the grant stays alive from now, in milliseconds (Infinity when it never expires), or
 * undefined when it is gone or expired. Measured by the database's clock, so that a cache
 * holding the answer does not depend on this machine's clock agreeing.
 */
export async function grantLifetimeMs(db: Queryable, grantId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms FROM oidc_models
      WHERE model = 'Grant' AND id = $1::text AND (expires_at IS NULL OR expires_at > now())`,
    [grantId],
  );
  const row = rows[0];
  return row ? (row.ms ?? Infinity) : undefined;
}

export async function appExists(db: Queryable, clientId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM apps WHERE client_id = $1::text', [clientId]);
  return rowCount === 1;
}

/** DPoP replay cache shared by every process: true the first time a proof is seen. */
export async function rememberDpopProof(db: Queryable, key: string, expiresAtSeconds: number): Promise<boolean> {
  const { rowCount } = await db.query(
    'INSERT INTO dpop_proofs (key, expires_at) VALUES ($1::text, to_timestamp($2::bigint)) ON CONFLICT (key) DO NOTHING',
    [key, expiresAtSeconds],
  );
  return rowCount === 1;
}

/** Forgets proofs that could no longer be accepted anyway. */
export async function purgeExpiredDpopProofs(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM dpop_proofs WHERE expires_at < now()');
  return rowCount ?? 0;
}
