// /tenants/{tenant}/audit-events: the tenant's audit trail, newest first, paged by a keyset
// cursor (`before`) so pages stay stable while new events arrive; filtered by actor, action and days.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { InvalidRequest } from '../../core/errors.js';
import { utcDayBounds } from '../../services/audit-log.js';
import type { AdminApiDeps } from './deps.js';
import { auditEventOf } from './presenters.js';
import { AUDIT_PAGE_SIZE, AuditPageSchema, AuditQuery, errorResponses, TenantParams } from './schemas.js';

export const auditEventsRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (app, { auditLog }) => {
  app.get(
    '/audit-events',
    {
      schema: {
        tags: ['Audit events'],
        operationId: 'listAuditEvents',
        summary: 'List the tenant’s audit events',
        description:
          'Every change of a setting, user, app or consent, with who made it (and their name beside the id). ' +
          'Filter by `actor`, `action` and a `from`–`to` range of days (UTC, both included). Follow `next` (as `before`) for older events.',
        params: TenantParams,
        querystring: AuditQuery,
        response: { 200: AuditPageSchema, ...errorResponses() },
      },
    },
    async (request) => {
      // The schema's default fills `limit` in; the fallback only satisfies the type.
      const { limit = AUDIT_PAGE_SIZE, before, actor, action, from, to } = request.query;
      const since = from === undefined ? undefined : utcDayBounds(from);
      const until = to === undefined ? undefined : utcDayBounds(to);
      if ((from !== undefined && !since) || (to !== undefined && !until))
        throw InvalidRequest(`querystring.${since || from === undefined ? 'to' : 'from'} is not a calendar date`);
      const { events, next } = await auditLog.page(request.params.tenant, {
        limit,
        before,
        actor,
        action,
        since: since?.start,
        until: until?.end,
      });
      return { value: events.map(auditEventOf), next };
    },
  );
};
