// Consent requests: users' requests for admin approval in the admin's tenant — pending ones with
// who asked, for which app (publisher and verification), which permissions (admin ones marked),
// why and when; approve all or some permissions, or deny with a reason. Recent decisions below.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AccordError } from '../../core/errors.js';
import type { AppRecord } from '../../db/apps.js';
import type { UserRecord } from '../../db/users.js';
import type { AdminCentreContext } from './deps.js';
import { pageData, requireAdmin } from './guard.js';

const PAGE = '/admin/consent-requests';
const RECENT_DECISIONS = 25;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

export async function consentRequestsPages(app: FastifyInstance, context: AdminCentreContext): Promise<void> {
  const { users, apps, portal, consentRequests, catalogue, navItems } = context;

  async function render(
    reply: FastifyReply,
    admin: UserRecord,
    notice?: { kind: 'approved' | 'denied'; id: string },
    failure?: { id: string; error: AccordError },
  ) {
    const [all, people] = await Promise.all([consentRequests.list(admin.tenantId), users.list(admin.tenantId)]);
    const userById = new Map(people.map((user) => [user.id, user]));
    const clientIds = [...new Set(all.map((request) => request.clientId))];
    const appById = new Map<string, AppRecord | undefined>(
      await Promise.all(clientIds.map(async (clientId) => [clientId, await apps.find(clientId)] as const)),
    );
    const describe = (scopes: readonly string[]) => catalogue.sort(scopes).map((scope) => catalogue.get(scope)!);
    const entries = all.map((request) => ({
      ...request,
      user: userById.get(request.userId),
      decidedByUser: request.decidedBy ? userById.get(request.decidedBy) : undefined,
      app: appById.get(request.clientId),
      permissions: describe(request.scopes),
      approvedPermissions: request.approvedScopes ? describe(request.approvedScopes) : [],
      base: `${PAGE}/${encodeURIComponent(request.id)}`,
    }));
    if (failure) reply.status(failure.error.status);
    return reply.view('admin/consent-requests', {
      ...pageData(reply, admin, 'consent-requests', 'Consent requests', navItems),
      pending: entries.filter((entry) => entry.status === 'pending'),
      decided: entries.filter((entry) => entry.status !== 'pending').slice(0, RECENT_DECISIONS),
      notice,
      failure: failure ? { id: failure.id, message: failure.error.description } : undefined,
    });
  }

  app.get<{ Querystring: { approved?: string; denied?: string } }>(
    PAGE,
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { approved: { type: 'string', maxLength: 100 }, denied: { type: 'string', maxLength: 100 } },
        },
      },
    },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, PAGE);
      if (!admin) return reply;
      const { approved, denied } = request.query;
      return render(
        reply,
        admin,
        approved ? { kind: 'approved', id: approved } : denied ? { kind: 'denied', id: denied } : undefined,
      );
    },
  );

  app.post<{ Params: { id: string }; Body: { scopes?: string[] } }>(
    `${PAGE}/:id/approve`,
    {
      preValidation: app.csrfProtection,
      schema: {
        params: idParams,
        body: {
          type: 'object',
          properties: {
            _csrf: { type: 'string' },
            scopes: { type: 'array', maxItems: 200, items: { type: 'string', maxLength: 200 } },
          },
        },
      },
    },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, PAGE);
      if (!admin) return reply;
      try {
        // No box ticked means nothing approved (an error), never "everything".
        await consentRequests.approve(admin.tenantId, request.params.id, admin.id, request.body.scopes ?? []);
      } catch (error) {
        if (error instanceof AccordError && error.status < 500 && error.status !== 404)
          return render(reply, admin, undefined, { id: request.params.id, error });
        throw error;
      }
      return reply.redirect(`${PAGE}?${new URLSearchParams({ approved: request.params.id }).toString()}`, 303);
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    `${PAGE}/:id/deny`,
    {
      preValidation: app.csrfProtection,
      schema: {
        params: idParams,
        body: {
          type: 'object',
          properties: { _csrf: { type: 'string' }, reason: { type: 'string', maxLength: 5000 } },
        },
      },
    },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, PAGE);
      if (!admin) return reply;
      try {
        await consentRequests.deny(admin.tenantId, request.params.id, admin.id, request.body.reason ?? '');
      } catch (error) {
        if (error instanceof AccordError && error.status < 500 && error.status !== 404)
          return render(reply, admin, undefined, { id: request.params.id, error });
        throw error;
      }
      return reply.redirect(`${PAGE}?${new URLSearchParams({ denied: request.params.id }).toString()}`, 303);
    },
  );
}
