// Enterprise apps: the apps in use in the admin's tenant, whoever publishes them — who granted
// what and when, block and unblock, remove from the organisation, withdraw one user's consent.
// Block, remove and withdraw each ask for confirmation on a page of their own (a GET; the POST
// from it acts and redirects). The work (transactions, audit, token revocation) is
// services/enterprise-apps.ts.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFound } from '../../core/errors.js';
import { CsrfOnlyBody } from '../schema-parts.js';
import type { AdminCentreContext } from './deps.js';
import { inTenant, pageData, requireAdmin } from './guard.js';
import { AppUserParams, ClientIdParams, EnterpriseAppsListQuery } from './schemas.js';

const LIST = '/admin/enterprise-apps';

/** `?done=…`: the detail page's notice after a change. */
const DoneQuery = Type.Object({
  done: Type.Optional(Type.Enum(['blocked', 'unblocked', 'revoked'], { type: 'string' })),
});

export const enterpriseAppsPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { tenants, portal, enterpriseApps, catalogue, navItems } = context;
  const describe = (scopes: readonly string[]) =>
    scopes.map((scope) => catalogue.get(scope)).filter((permission) => permission !== undefined);
  /** The app in use in the admin's tenant, or 404 ("Not found in your organisation."). */
  const inUse = (tenantId: string, clientId: string) => inTenant(enterpriseApps.detail(tenantId, clientId));
  const base = (clientId: string) => `${LIST}/${encodeURIComponent(clientId)}`;

  app.get(LIST, { schema: { querystring: EnterpriseAppsListQuery } }, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply, LIST);
    if (!admin) return reply;
    const filters = {
      search: request.query.search?.trim() ?? '',
      state: request.query.state ?? '',
      publisher: request.query.publisher ?? '',
    };
    const apps = await enterpriseApps.list(admin.tenantId, {
      search: filters.search,
      blocked: filters.state ? filters.state === 'blocked' : undefined,
      verified: filters.publisher ? filters.publisher === 'verified' : undefined,
    });
    return reply.view('admin/enterprise-apps', {
      ...pageData(reply, admin, 'enterprise-apps', navItems),
      apps: apps.map((entry) => ({
        ...entry,
        adminPermissions: describe(entry.adminScopes),
        href: base(entry.clientId),
      })),
      filters,
      filtered: Boolean(filters.search || filters.state || filters.publisher),
      removed: request.query.removed,
    });
  });

  app.get(
    `${LIST}/:clientId`,
    { schema: { params: ClientIdParams, querystring: DoneQuery } },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply);
      if (!admin) return reply;
      const detail = await inUse(admin.tenantId, request.params.clientId);
      const publisher =
        detail.publisherTenantId === admin.tenantId ? undefined : await tenants.find(detail.publisherTenantId);
      const withPermission = (grants: ReadonlyArray<{ scope: string; grantedAt: Date }>) =>
        grants.map((grant) => ({ ...grant, permission: catalogue.get(grant.scope) }));
      return reply.view('admin/enterprise-app', {
        ...pageData(reply, admin, 'enterprise-apps', navItems),
        app: detail,
        origin: publisher ? { kind: 'other', tenantName: publisher.name } : { kind: 'own' },
        adminGrants: detail.adminConsent ? withPermission(detail.adminConsent.permissions) : [],
        users: detail.users.map((user) => ({
          ...user,
          grants: withPermission(user.permissions),
          revokeAction: `${base(detail.clientId)}/users/${encodeURIComponent(user.userId)}/revoke`,
        })),
        done: request.query.done,
        base: base(detail.clientId),
      });
    },
  );

  app.get(`${LIST}/:clientId/block`, { schema: { params: ClientIdParams } }, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply);
    if (!admin) return reply;
    const detail = await inUse(admin.tenantId, request.params.clientId);
    return reply.view('admin/confirm', {
      ...pageData(reply, admin, 'enterprise-apps', navItems),
      marker: 'admin-enterprise-app-block',
      heading: { key: 'admin:confirmations.blockHeading', vars: { name: detail.name } },
      consequences: [
        { key: 'admin:confirmations.blockSignIn' },
        { key: 'admin:confirmations.blockTokens', vars: { count: detail.userCount } },
        { key: 'admin:confirmations.blockKept' },
      ],
      action: `${base(detail.clientId)}/block`,
      confirmLabel: { key: 'admin:confirmations.blockConfirm' },
      cancelUrl: base(detail.clientId),
    });
  });

  for (const [action, done] of [
    ['block', 'blocked'],
    ['unblock', 'unblocked'],
  ] as const) {
    app.post(
      `${LIST}/:clientId/${action}`,
      { preValidation: app.csrfProtection, schema: { params: ClientIdParams, body: CsrfOnlyBody } },
      async (request, reply) => {
        const admin = await requireAdmin(portal, request, reply, base(request.params.clientId));
        if (!admin) return reply;
        await enterpriseApps[action](admin.tenantId, request.params.clientId, admin.id);
        return reply.redirect(`${base(request.params.clientId)}?done=${done}`, 303);
      },
    );
  }

  app.get(`${LIST}/:clientId/remove`, { schema: { params: ClientIdParams } }, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply);
    if (!admin) return reply;
    const detail = await inUse(admin.tenantId, request.params.clientId);
    return reply.view('admin/confirm', {
      ...pageData(reply, admin, 'enterprise-apps', navItems),
      marker: 'admin-enterprise-app-remove',
      heading: { key: 'admin:enterpriseAppRemove.heading', vars: { name: detail.name } },
      consequences: [
        { key: 'admin:enterpriseAppRemove.consents' },
        { key: 'admin:enterpriseAppRemove.tokens', vars: { count: detail.userCount } },
        { key: 'admin:enterpriseAppRemove.final' },
      ],
      action: `${base(detail.clientId)}/remove`,
      confirmLabel: { key: 'admin:enterpriseAppRemove.confirm' },
      cancelUrl: base(detail.clientId),
    });
  });

  app.post(
    `${LIST}/:clientId/remove`,
    { preValidation: app.csrfProtection, schema: { params: ClientIdParams, body: CsrfOnlyBody } },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, LIST);
      if (!admin) return reply;
      const detail = await inUse(admin.tenantId, request.params.clientId);
      await enterpriseApps.remove(admin.tenantId, detail.clientId, admin.id);
      return reply.redirect(`${LIST}?${new URLSearchParams({ removed: detail.name }).toString()}`, 303);
    },
  );

  app.get(`${LIST}/:clientId/users/:userId/revoke`, { schema: { params: AppUserParams } }, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply);
    if (!admin) return reply;
    const detail = await inUse(admin.tenantId, request.params.clientId);
    const user = detail.users.find((candidate) => candidate.userId === request.params.userId);
    // Only a consent of the user's own can be withdrawn; the organisation's is removed with the app.
    if (!user || user.permissions.length === 0)
      throw NotFound('this user has no consent of their own to this app').withMessage(
        'admin:confirmations.withdrawNothing',
      );
    return reply.view('admin/confirm', {
      ...pageData(reply, admin, 'enterprise-apps', navItems),
      marker: 'admin-enterprise-app-user-revoke',
      heading: { key: 'admin:confirmations.withdrawHeading', vars: { username: user.username, name: detail.name } },
      consequences: [
        { key: 'admin:confirmations.withdrawConsent' },
        { key: 'admin:confirmations.withdrawTokens' },
        ...(detail.adminConsent ? [{ key: 'admin:confirmations.withdrawOrganisation' }] : []),
      ],
      action: `${base(detail.clientId)}/users/${encodeURIComponent(user.userId)}/revoke`,
      confirmLabel: { key: 'admin:confirmations.withdrawConfirm' },
      cancelUrl: base(detail.clientId),
    });
  });

  app.post(
    `${LIST}/:clientId/users/:userId/revoke`,
    { preValidation: app.csrfProtection, schema: { params: AppUserParams, body: CsrfOnlyBody } },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, base(request.params.clientId));
      if (!admin) return reply;
      await enterpriseApps.revokeUserConsent(admin.tenantId, request.params.clientId, request.params.userId, admin.id);
      return reply.redirect(`${base(request.params.clientId)}?done=revoked`, 303);
    },
  );
};
