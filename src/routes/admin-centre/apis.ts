// APIs: the tenant's own APIs (resource servers) — register one, add and edit its scopes, see the
// apps that use each scope and how many users granted it, and remove a scope or the API after a
// page that shows what it revokes (issue 13). A rejected form is shown again with its message;
// nothing is written.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { type Static, Type } from 'typebox';
import { AccordError } from '../../core/errors.js';
import type { Impact } from '../../core/types.js';
import type { UserRecord } from '../../db/users.js';
import { IMPACTS } from '../../services/apis.js';
import { CsrfOnlyBody, csrfField } from '../schema-parts.js';
import type { AdminCentreContext } from './deps.js';
import { inTenant, pageData, pageMessage, requireAdmin } from './guard.js';

const LIST = '/admin/apis';
const text = (maxLength: number) => Type.Optional(Type.String({ maxLength }));

const ApiParams = Type.Object({ api: Type.String({ minLength: 1, maxLength: 500 }) });
const ScopeParams = Type.Object({
  api: Type.String({ minLength: 1, maxLength: 500 }),
  scope: Type.String({ minLength: 1, maxLength: 100 }),
});
const NewApiBody = Type.Object({ _csrf: csrfField, identifier: text(600), name: text(400), multi_tenant: text(10) });
const ScopeBody = Type.Object({
  _csrf: csrfField,
  name: text(200),
  description: text(600),
  admin_description: text(600),
  admin: text(10),
  impact: text(10),
});
const ListQuery = Type.Object({ removed: Type.Optional(Type.String({ maxLength: 500 })) });
const DetailQuery = Type.Object({ saved: Type.Optional(Type.String({ maxLength: 10 })) });

const pageOf = (identifier: string) => `${LIST}/${encodeURIComponent(identifier)}`;
const impactOf = (value: string | undefined): Impact | undefined =>
  IMPACTS.includes(value as Impact) ? (value as Impact) : undefined;

export const apisPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { apis, portal, navItems } = context;

  /** The admin's tenant's own API, or 404 (another tenant's is answered as none). */
  const ownApi = (user: UserRecord, identifier: string) => inTenant(apis.show(identifier, user.tenantId));

  async function renderList(
    reply: FastifyReply,
    user: UserRecord,
    extra: { values?: Static<typeof NewApiBody>; error?: AccordError; removed?: string } = {},
  ) {
    if (extra.error) reply.status(extra.error.status);
    return reply.view('admin/apis', {
      ...pageData(reply, user, 'apis', navItems),
      apis: await apis.list(user.tenantId),
      values: extra.values ?? {},
      error: extra.error ? { message: pageMessage(reply, extra.error), field: extra.error.details.field } : undefined,
      removed: extra.removed,
    });
  }

  async function renderDetail(
    reply: FastifyReply,
    user: UserRecord,
    identifier: string,
    extra: { values?: Static<typeof ScopeBody>; error?: AccordError; saved?: boolean } = {},
  ) {
    if (extra.error) reply.status(extra.error.status);
    const api = await ownApi(user, identifier);
    return reply.view('admin/api', {
      ...pageData(reply, user, 'apis', navItems),
      api,
      usage: Object.fromEntries(api.usage.map((entry) => [entry.scope, entry])),
      base: pageOf(api.identifier),
      impacts: IMPACTS,
      values: extra.values ?? {},
      error: extra.error ? { message: pageMessage(reply, extra.error), field: extra.error.details.field } : undefined,
      saved: extra.saved ?? false,
    });
  }

  /** A refusal of the admin's input is shown on the page; anything else is an error page. */
  const refusal = (error: unknown) =>
    error instanceof AccordError && error.status < 500 && error.status !== 404 ? error : undefined;

  app.get(LIST, { schema: { querystring: ListQuery } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, LIST);
    if (!user) return reply;
    return renderList(reply, user, { ...(request.query.removed ? { removed: request.query.removed } : {}) });
  });

  app.post(LIST, { preValidation: app.csrfProtection, schema: { body: NewApiBody } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, LIST);
    if (!user) return reply;
    const { body } = request;
    try {
      const created = await apis.create(
        {
          tenantId: user.tenantId,
          identifier: (body.identifier ?? '').trim(),
          name: body.name ?? '',
          multiTenant: body.multi_tenant !== undefined,
        },
        user.id,
      );
      return reply.redirect(`${pageOf(created.identifier)}?saved=1`, 303);
    } catch (error) {
      const refused = refusal(error);
      if (refused) return renderList(reply, user, { values: body, error: refused });
      throw error;
    }
  });

  app.get(`${LIST}/:api`, { schema: { params: ApiParams, querystring: DetailQuery } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply);
    if (!user) return reply;
    return renderDetail(reply, user, request.params.api, { saved: request.query.saved !== undefined });
  });

  app.post(
    `${LIST}/:api/scopes`,
    { preValidation: app.csrfProtection, schema: { params: ApiParams, body: ScopeBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, pageOf(request.params.api));
      if (!user) return reply;
      const { body } = request;
      const impact = impactOf(body.impact);
      try {
        await apis.addScope(
          request.params.api,
          {
            name: (body.name ?? '').trim(),
            userDescription: body.description ?? '',
            ...(body.admin_description?.trim() ? { adminDescription: body.admin_description } : {}),
            adminConsentRequired: body.admin !== undefined,
            ...(impact ? { impact } : {}),
          },
          user.id,
          user.tenantId,
        );
      } catch (error) {
        const refused = refusal(error);
        if (refused) return renderDetail(reply, user, request.params.api, { values: body, error: refused });
        throw inTenantError(error);
      }
      return reply.redirect(`${pageOf(request.params.api)}?saved=1`, 303);
    },
  );

  app.post(
    `${LIST}/:api/scopes/:scope`,
    { preValidation: app.csrfProtection, schema: { params: ScopeParams, body: ScopeBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, pageOf(request.params.api));
      if (!user) return reply;
      const { body } = request;
      const impact = impactOf(body.impact);
      try {
        await apis.editScope(
          request.params.api,
          request.params.scope,
          {
            ...(body.description !== undefined ? { userDescription: body.description } : {}),
            ...(body.admin_description !== undefined ? { adminDescription: body.admin_description } : {}),
            ...(impact ? { impact } : {}),
          },
          user.id,
          user.tenantId,
        );
      } catch (error) {
        const refused = refusal(error);
        if (refused) return renderDetail(reply, user, request.params.api, { error: refused });
        throw inTenantError(error);
      }
      return reply.redirect(`${pageOf(request.params.api)}?saved=1`, 303);
    },
  );

  app.get(`${LIST}/:api/scopes/:scope/remove`, { schema: { params: ScopeParams } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply);
    if (!user) return reply;
    const { api, scope } = request.params;
    const impact = await inTenant(apis.removalImpact(api, scope, user.tenantId));
    return reply.view('admin/confirm', {
      ...pageData(reply, user, 'apis', navItems),
      marker: 'admin-api-scope-remove',
      heading: { key: 'admin:apis.removeScopeHeading', vars: { scope } },
      consequences: consequencesOf(impact),
      action: `${pageOf(api)}/scopes/${encodeURIComponent(scope)}/remove`,
      confirmLabel: { key: 'admin:apis.removeScopeConfirm' },
      cancelUrl: pageOf(api),
    });
  });

  app.post(
    `${LIST}/:api/scopes/:scope/remove`,
    { preValidation: app.csrfProtection, schema: { params: ScopeParams, body: CsrfOnlyBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, pageOf(request.params.api));
      if (!user) return reply;
      await inTenant(apis.removeScope(request.params.api, request.params.scope, user.id, user.tenantId));
      return reply.redirect(`${pageOf(request.params.api)}?saved=1`, 303);
    },
  );

  app.get(`${LIST}/:api/remove`, { schema: { params: ApiParams } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply);
    if (!user) return reply;
    const api = await ownApi(user, request.params.api);
    const impact = await apis.removalImpact(api.identifier, undefined, user.tenantId);
    return reply.view('admin/confirm', {
      ...pageData(reply, user, 'apis', navItems),
      marker: 'admin-api-remove',
      heading: { key: 'admin:apis.removeApiHeading', vars: { name: api.name } },
      consequences: consequencesOf(impact),
      action: `${pageOf(api.identifier)}/remove`,
      confirmLabel: { key: 'admin:apis.removeApiConfirm' },
      cancelUrl: pageOf(api.identifier),
    });
  });

  app.post(
    `${LIST}/:api/remove`,
    { preValidation: app.csrfProtection, schema: { params: ApiParams, body: CsrfOnlyBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, LIST);
      if (!user) return reply;
      const api = await ownApi(user, request.params.api);
      await apis.delete(api.identifier, user.id, user.tenantId);
      return reply.redirect(`${LIST}?${new URLSearchParams({ removed: api.name }).toString()}`, 303);
    },
  );
};

/** What removal revokes, as the confirmation page lists it. */
function consequencesOf(impact: {
  scopes: string[];
  apps: Array<{ name: string }>;
  users: number;
  adminConsentTenants: number;
}) {
  return [
    { key: 'admin:apis.impactPermissions', vars: { count: impact.scopes.length } },
    impact.apps.length > 0
      ? { key: 'admin:apis.impactApps', vars: { apps: impact.apps.map((app) => app.name).join(', ') } }
      : { key: 'admin:apis.impactNoApps' },
    { key: 'admin:apis.impactUsers', vars: { count: impact.users } },
    { key: 'admin:apis.impactTenants', vars: { count: impact.adminConsentTenants } },
    { key: 'admin:apis.impactFinal' },
  ];
}

/** A 404 from the service, shown as "not found in your organisation". */
function inTenantError(error: unknown): unknown {
  if (error instanceof AccordError && error.status === 404) return error.withMessage('admin:error.notInTenant');
  return error;
}
