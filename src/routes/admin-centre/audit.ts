// Audit log: the tenant's audit events, newest first, 50 a page; `?before=<id>` pages back
// (keyset pagination on the event id, so new events never shift a page).
import type { FastifyInstance } from 'fastify';
import { listAuditEvents } from '../../db/audit-events.js';
import { listUsers } from '../../db/users.js';
import type { AdminCentreContext } from './deps.js';
import { pageData, requireAdmin } from './guard.js';

export const AUDIT_PAGE_SIZE = 50;

export async function auditPages(app: FastifyInstance, context: AdminCentreContext): Promise<void> {
  const { pool, portal, navItems } = context;

  app.get<{ Querystring: { before?: string } }>(
    '/admin/audit',
    {
      schema: {
        querystring: { type: 'object', properties: { before: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } } },
      },
    },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply);
      if (!admin) return reply;
      const { before } = request.query;
      const [rows, users] = await Promise.all([
        // One more than a page tells whether an older page exists.
        listAuditEvents(pool, admin.tenantId, { limit: AUDIT_PAGE_SIZE + 1, ...(before ? { before } : {}) }),
        listUsers(pool, admin.tenantId),
      ]);
      const names = new Map(users.map((user) => [user.id, `${user.username}@${user.tenantId}`]));
      const events = rows.slice(0, AUDIT_PAGE_SIZE).map((event) => ({
        ...event,
        actorName: names.get(event.actor) ?? event.actor,
        detailsText: Object.keys(event.details).length > 0 ? JSON.stringify(event.details) : '',
      }));
      const older = rows.length > AUDIT_PAGE_SIZE ? `/admin/audit?before=${events[events.length - 1]!.id}` : undefined;
      return reply.view('admin/audit', {
        ...pageData(reply, admin, 'audit', 'Audit log', navItems),
        events,
        older,
        paged: before !== undefined,
      });
    },
  );
}
