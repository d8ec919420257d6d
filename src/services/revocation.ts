// Revoking grants: removes the Grant and every code, refresh token and opaque access token
// issued under it. JWT access tokens are not stored; the data API refuses them once their grant
// (the token's `gid` claim) no longer exists.
import { deleteGrants } from '../db/oidc-models.js';
import type { Queryable } from '../db/pool.js';

export async function revokeGrants(db: Queryable, grantIds: readonly string[]): Promise<void> {
  if (grantIds.length === 0) return;
  await deleteGrants(db, grantIds);
}
