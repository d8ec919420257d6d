// Audit log: the tenant's audit events, newest first, 50 a page; `?before=<id>` pages back
// (keyset pagination on the event id, so new events never shift a page).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { i18n } from '../../plugins/i18n.js';
import type { AdminCentreContext } from './deps.js';
import { pageData, requireAdmin } from './guard.js';

export const AUDIT_PAGE_SIZE = 50;

export const auditPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { auditLog, users, portal, navItems } = context;

  app.get(
    '/admin/audit',
    {
      schema: {
        querystring: Type.Object({ before: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,17}$' })) }),
      },
    },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply);
      if (!admin) return reply;
      const { before } = request.query;
      const [page, people] = await Promise.all([
        auditLog.page(admin.tenantId, { limit: AUDIT_PAGE_SIZE, before }),
        users.list(admin.tenantId),
      ]);
      const names = new Map(people.map((user) => [user.id, `${user.username}@${user.tenantId}`]));
      const events = page.events.map((event) => ({
        ...event,
        actorName: names.get(event.actor) ?? event.actor,
        detailsText: Object.keys(event.details).length > 0 ? JSON.stringify(event.details) : '',
        // The action's name in the catalogue (docs/interfaces.md lists them); one it lacks shows its code only.
        actionKey: i18n.exists(`admin:audit.action.${event.action}`) ? `admin:audit.action.${event.action}` : undefined,
      }));
      const older = page.next ? `/admin/audit?before=${page.next}` : undefined;
      return reply.view('admin/audit', {
        ...pageData(reply, admin, 'audit', navItems),
        events,
        older,
        paged: before !== undefined,
      });
    },
  );
};
