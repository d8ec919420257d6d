// The admin API's one access rule, checked on every request before anything else (docs/interfaces.md,
// "The admin API"): an access token from this issuer for this API, holding
// Organization.ReadWrite.All, whose user is — right now, from the database — an enabled admin of
// the tenant in the path. A demoted or disabled admin is refused at their next call.
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { AccessDenied } from '../../core/errors.js';
import type { TenantUsers } from '../../services/tenant-users.js';

/** The one permission this API accepts for its tenant routes (docs/consent.md, the permission model). */
export const ADMIN_SCOPE = 'Organization.ReadWrite.All';

/**
 * onRequest hook for the `/tenants/{tenant}` scope. It runs before the body is read or validated,
 * so a caller without access learns nothing (not even whether their input would be valid), and
 * the answer is the same 403 for another tenant and for one that does not exist.
 */
export function requireTenantAdmin(app: FastifyInstance, users: TenantUsers): onRequestAsyncHookHandler {
  const requireScope = app.resourceServer.requireScope(ADMIN_SCOPE);
  return async function checkTenantAdmin(this: FastifyInstance, request, reply) {
    await requireScope.call(this, request, reply);
    const tenant = (request.params as { tenant?: unknown }).tenant;
    // An app's own (client credentials) token has no user (`sub`), so no one to be an admin.
    const sub = request.accessToken?.sub;
    const user = sub ? await users.findEnabled(sub) : undefined;
    if (user?.role !== 'admin' || typeof tenant !== 'string' || user.tenantId !== tenant) {
      throw AccessDenied(`Only a signed-in admin of this tenant may use its admin API.`);
    }
  };
}

/** Who is acting, for the audit trail: the token's user (checked by requireTenantAdmin). */
export function actorOf(request: FastifyRequest): string {
  return request.accessToken!.sub!;
}
