// Audit log: the tenant's audit events, newest first, 50 a page; `?before=<id>` pages back
// (keyset pagination on the event id, so new events never shift a page). Filtered by who
// (a username), what (an action) and a range of UTC days; people and apps shown by name.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { i18n } from '../../plugins/i18n.js';
import { utcDayBounds } from '../../services/audit-log.js';
import type { AdminCentreContext } from './deps.js';
import { pageData, requireAdmin } from './guard.js';

export const AUDIT_PAGE_SIZE = 50;
const ACTION_PATTERN = '^[a-z_]+(?:\\.[a-z_]+)*\\.?$';

/** Every action the catalogue names (`user.created`, …), in its order: the choices of the "What" filter. */
function knownActions(): string[] {
  const tree = i18n.getResource('en', 'admin', 'audit.action') as Record<string, unknown>;
  const walk = (node: unknown, prefix: string): string[] =>
    typeof node === 'string'
      ? [prefix]
      : Object.entries(node as Record<string, unknown>).flatMap(([key, inner]) =>
          walk(inner, prefix ? `${prefix}.${key}` : key),
        );
  return walk(tree, '');
}

const AuditPageQuery = Type.Object({
  before: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,17}$' })),
  actor: Type.Optional(Type.String({ maxLength: 200 })),
  // An empty choice ("any action") arrives as an empty string.
  action: Type.Optional(Type.Union([Type.Literal(''), Type.String({ pattern: ACTION_PATTERN, maxLength: 100 })])),
  from: Type.Optional(Type.String({ maxLength: 40 })),
  to: Type.Optional(Type.String({ maxLength: 40 })),
});

export const auditPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { auditLog, portal, navItems } = context;
  const actions = knownActions();

  app.get('/admin/audit', { schema: { querystring: AuditPageQuery } }, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply);
    if (!admin) return reply;
    const { before } = request.query;
    const actor = request.query.actor?.trim() || undefined;
    const action = request.query.action || undefined;
    // A day that is not a date is named on the page and left out of the filter (400: nothing was hidden by it).
    const from = request.query.from?.trim() || undefined;
    const to = request.query.to?.trim() || undefined;
    const since = from ? utcDayBounds(from) : undefined;
    const until = to ? utcDayBounds(to) : undefined;
    const badDates = [from && !since ? from : undefined, to && !until ? to : undefined].filter(
      (value): value is string => value !== undefined,
    );
    if (badDates.length > 0) reply.status(400);

    const page = await auditLog.page(admin.tenantId, {
      limit: AUDIT_PAGE_SIZE,
      before,
      actor,
      action,
      since: since?.start,
      until: until?.end,
    });
    const filters = {
      ...(actor ? { actor } : {}),
      ...(action ? { action } : {}),
      ...(since && from ? { from } : {}),
      ...(until && to ? { to } : {}),
    };
    const filtered = Object.keys(filters).length > 0;
    const events = page.events.map((event) => ({
      ...event,
      detailsText: Object.keys(event.details).length > 0 ? JSON.stringify(event.details) : '',
      // The action's name in the catalogue (docs/interfaces.md lists them); one it lacks shows its code only.
      actionKey: i18n.exists(`admin:audit.action.${event.action}`) ? `admin:audit.action.${event.action}` : undefined,
    }));
    const link = (extra: Record<string, string>) =>
      `/admin/audit?${new URLSearchParams({ ...filters, ...extra }).toString()}`.replace(/\?$/, '');
    return reply.view('admin/audit', {
      ...pageData(reply, admin, 'audit', navItems),
      events,
      older: page.next ? link({ before: page.next }) : undefined,
      newest: before !== undefined ? link({}) : undefined,
      paged: before !== undefined,
      filtered,
      filters: { actor: actor ?? '', action: action ?? '', from: since ? from : '', to: until ? to : '' },
      actions: actions.map((value) => ({ value, key: `admin:audit.action.${value}` })),
      badDates,
    });
  });
};
