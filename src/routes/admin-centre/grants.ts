// Grants (issue 15): the tenant's grant lifetimes; users' consents and admin consents expiring in
// the next 30 days, each with "renew" and "let lapse"; grants holding permissions no token carried
// for 90 days, with "reduce to what is used". Every change is audited (services/grant-lifecycle.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { AccordError } from '../../core/errors.js';
import { GRANT_LIFETIME_CLASSES } from '../../core/grant-lifetime.js';
import type { UserRecord } from '../../db/users.js';
import { EXPIRING_WINDOW_DAYS, UNUSED_AFTER_DAYS } from '../../services/grant-lifecycle.js';
import { csrfField } from '../schema-parts.js';
import type { AdminCentreContext } from './deps.js';
import { pageData, pageMessage, requireAdmin } from './guard.js';

const PAGE = '/admin/grants';
const DONE = ['renewed', 'lapse', 'reduced'] as const;
type Done = (typeof DONE)[number];

const ConsentForm = Type.Object({
  _csrf: csrfField,
  client_id: Type.String({ minLength: 1, maxLength: 200 }),
  user_id: Type.Optional(Type.String({ maxLength: 200 })),
});

export const grantsPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { portal, grantLifecycle, catalogue, navItems } = context;

  async function render(reply: FastifyReply, admin: UserRecord, done?: Done, failure?: AccordError) {
    const [lifetimes, expiring, unused] = await Promise.all([
      grantLifecycle.lifetimes(admin.tenantId),
      grantLifecycle.expiring(admin.tenantId),
      grantLifecycle.overPrivileged(admin.tenantId),
    ]);
    const permissions = (scopes: readonly string[]) =>
      catalogue.sort(scopes).map((scope) => catalogue.get(scope) ?? { scope, name: scope });
    if (failure) reply.status(failure.status);
    return reply.view('admin/grants', {
      ...pageData(reply, admin, 'grants', navItems),
      classes: GRANT_LIFETIME_CLASSES.map((name) => ({ name, days: lifetimes.classes[name] ?? null })),
      appLifetimes: lifetimes.apps,
      expiring: expiring.map((item) => ({ ...item, permissions: permissions(item.scopes) })),
      unused: unused.map((grant) => ({ ...grant, unusedPermissions: permissions(grant.unusedScopes) })),
      windowDays: EXPIRING_WINDOW_DAYS,
      unusedDays: UNUSED_AFTER_DAYS,
      done,
      failure: failure ? pageMessage(reply, failure) : undefined,
    });
  }

  /** Runs a change; a refusal is shown on the page again (4xx, nothing changed), else 303 to the page. */
  async function change(reply: FastifyReply, admin: UserRecord, done: Done, act: () => Promise<unknown>) {
    try {
      await act();
    } catch (error) {
      if (error instanceof AccordError && error.status < 500) return render(reply, admin, undefined, error);
      throw error;
    }
    return reply.redirect(`${PAGE}?done=${done}`, 303);
  }

  app.get(
    PAGE,
    {
      schema: {
        querystring: Type.Object({ done: Type.Optional(Type.Union(DONE.map((value) => Type.Literal(value)))) }),
      },
    },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, PAGE);
      if (!admin) return reply;
      return render(reply, admin, request.query.done);
    },
  );

  app.post(
    `${PAGE}/renew`,
    { preValidation: app.csrfProtection, schema: { body: ConsentForm } },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, PAGE);
      if (!admin) return reply;
      const { client_id: clientId, user_id: userId } = request.body;
      return change(reply, admin, 'renewed', () =>
        userId
          ? grantLifecycle.renewUserConsent(admin.tenantId, userId, clientId, admin.id)
          : grantLifecycle.renewAdminConsent(admin.tenantId, clientId, admin.id),
      );
    },
  );

  app.post(
    `${PAGE}/let-lapse`,
    { preValidation: app.csrfProtection, schema: { body: ConsentForm } },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, PAGE);
      if (!admin) return reply;
      const { client_id: clientId, user_id: userId } = request.body;
      return change(reply, admin, 'lapse', () =>
        userId
          ? grantLifecycle.letUserConsentLapse(admin.tenantId, userId, clientId, admin.id)
          : grantLifecycle.letAdminConsentLapse(admin.tenantId, clientId, admin.id),
      );
    },
  );

  app.post(
    `${PAGE}/reduce`,
    {
      preValidation: app.csrfProtection,
      schema: {
        body: Type.Object({
          _csrf: csrfField,
          client_id: Type.String({ minLength: 1, maxLength: 200 }),
          user_id: Type.String({ minLength: 1, maxLength: 200 }),
        }),
      },
    },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, PAGE);
      if (!admin) return reply;
      const { client_id: clientId, user_id: userId } = request.body;
      return change(reply, admin, 'reduced', () =>
        grantLifecycle.reduceToUsed(admin.tenantId, userId, clientId, admin.id),
      );
    },
  );
};
