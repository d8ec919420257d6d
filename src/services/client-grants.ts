// An app's own management of its grants (OpenID Grant Management for OAuth 2.0, draft 03, issue 15):
// revoking one grant it holds for one user. The protocol side — who may call, which grant is
// whose — is provider/grant-management.ts.
import { recordAuditEvent } from '../db/audit-events.js';
import { detachGrant } from '../db/consents.js';
import { inTransaction, type Pool } from '../db/pool.js';
import { findUserById } from '../db/users.js';
import { revokeGrants } from './revocation.js';

/**
 * Revokes the grant at the app's request: the Grant, and every code and token issued under it
 * (services/revocation.ts), so resource servers refuse its access tokens at their next request.
 * The user's consent stays (they withdraw it on My apps): the app's next authorization request
 * gets a new grant from it. The user's other grants with the app are left alone, except those the
 * app created under this one, which cannot outlive it. One transaction with its audit event.
 */
export async function revokeGrantForApp(
  pool: Pool,
  grant: { grantId: string; userId: string; clientId: string },
): Promise<void> {
  await inTransaction(pool, async (tx) => {
    const user = await findUserById(tx, grant.userId);
    // A user who is gone has no consent record and no audit trail left: the grant just goes.
    if (!user) return revokeGrants(tx, [grant.grantId]);
    const key = { tenantId: user.tenantId, userId: grant.userId, clientId: grant.clientId };
    const usersOwnGrant = await detachGrant(tx, key, grant.grantId);
    await revokeGrants(tx, [grant.grantId]);
    await recordAuditEvent(tx, {
      tenantId: user.tenantId,
      actor: grant.clientId,
      action: 'grant.revoked',
      target: grant.clientId,
      details: { grantId: grant.grantId, userId: grant.userId, via: 'grant_management', usersOwnGrant },
    });
  });
}
