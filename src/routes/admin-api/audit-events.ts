// /tenants/{tenant}/audit-events: the tenant's audit trail, newest first, paged by a keyset
// cursor (`before`) so pages stay stable while new events arrive.
import type { FastifyInstance } from 'fastify';
import type { AdminApiDeps } from './deps.js';
import {
  type AuditQuery,
  auditEventOf,
  auditPageSchema,
  auditQuery,
  errorResponses,
  type TenantParams,
  tenantParams,
} from './schemas.js';

export async function auditEventsRoutes(app: FastifyInstance, { auditLog }: AdminApiDeps): Promise<void> {
  app.get<{ Params: TenantParams; Querystring: AuditQuery }>(
    '/audit-events',
    {
      schema: {
        tags: ['Audit events'],
        operationId: 'listAuditEvents',
        summary: 'List the tenant’s audit events',
        description:
          'Every change of a setting, user, app or consent, with who made it. Follow `next` (as `before`) for older events.',
        params: tenantParams,
        querystring: auditQuery,
        response: { 200: auditPageSchema, ...errorResponses() },
      },
    },
    async (request) => {
      const { limit, before } = request.query;
      const { events, next } = await auditLog.page(request.params.tenant, { limit, before });
      return { value: events.map(auditEventOf), next };
    },
  );
}
