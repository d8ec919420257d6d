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
 * Whether a JWT access token must be refused although its signature and expiry are fine: its
 * grant (the `gid` claim) was revoked — consent withdrawn, app removed or blocked, user disabled —
 * or, for an app's own token, the app was deleted. One indexed lookup per request.
 */
export async function isAccessTokenRevoked(db: Queryable, token: { grantId?: string; clientId: string; sub?: string }): Promise<boolean> {
  if (token.grantId) {
    const { rowCount } = await db.query(
      `SELECT 1 FROM oidc_models WHERE model = 'Grant' AND id = $1::text AND (expires_at IS NULL OR expires_at > now())`,
      [token.grantId],
    );
    return rowCount === 0;
  }
  // A user token without a grant id was not issued by Accord's flows: refuse it.
  if (token.sub) return true;
  const { rowCount } = await db.query('SELECT 1 FROM apps WHERE client_id = $1::text', [token.clientId]);
  return rowCount === 0;
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
