// /tenants/{tenant}/audit-events: the tenant's audit trail, newest first, paged by a keyset
// cursor (`before`) so pages stay stable while new events arrive.
import type { FastifyInstance } from 'fastify';
import { listAuditEvents } from '../../db/audit-events.js';
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

export async function auditEventsRoutes(app: FastifyInstance, { pool }: AdminApiDeps): Promise<void> {
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
      // One more than asked tells whether an older page exists.
      const rows = await listAuditEvents(pool, request.params.tenant, {
        limit: limit + 1,
        ...(before ? { before } : {}),
      });
      const page = rows.slice(0, limit);
      return { value: page.map(auditEventOf), next: rows.length > limit ? page[page.length - 1]!.id : null };
    },
  );
}
