// Consent requests: users' requests for admin approval in the admin's tenant — pending ones with
// who asked, for which app (publisher and verification), which permissions (admin ones marked),
// why and when; approve all or some permissions, or deny with a reason. Recent decisions below.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { AccordError } from '../../core/errors.js';
import type { AppRecord } from '../../db/apps.js';
import type { UserRecord } from '../../db/users.js';
import { csrfField } from '../schema-parts.js';
import type { AdminCentreContext } from './deps.js';
import { pageData, pageMessage, requireAdmin } from './guard.js';

const PAGE = '/admin/consent-requests';
const RECENT_DECISIONS = 25;

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
const noticeId = () => Type.Optional(Type.String({ maxLength: 100 }));

export const consentRequestsPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
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
      ...pageData(reply, admin, 'consent-requests', navItems),
      pending: entries.filter((entry) => entry.status === 'pending'),
      decided: entries.filter((entry) => entry.status !== 'pending').slice(0, RECENT_DECISIONS),
      notice,
      failure: failure ? { id: failure.id, message: pageMessage(reply, failure.error) } : undefined,
    });
  }

  app.get(
    PAGE,
    { schema: { querystring: Type.Object({ approved: noticeId(), denied: noticeId() }) } },
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

  app.post(
    `${PAGE}/:id/approve`,
    {
      preValidation: app.csrfProtection,
      schema: {
        params: IdParams,
        body: Type.Object({
          _csrf: csrfField,
          scopes: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 200 })),
        }),
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

  app.post(
    `${PAGE}/:id/deny`,
    {
      preValidation: app.csrfProtection,
      schema: {
        params: IdParams,
        body: Type.Object({ _csrf: csrfField, reason: Type.Optional(Type.String({ maxLength: 5000 })) }),
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
};
