// /tenants/{tenant}/enterprise-apps: the apps in use in the tenant, whoever published them, and
// what the tenant's admins do with them: inspect every grant, block, unblock, remove, revoke one
// user's consent (services/enterprise-apps.ts; each change one audited transaction).
import type { FastifyInstance } from 'fastify';
import type { EnterpriseAppDetail, EnterpriseAppSummary } from '../../services/enterprise-apps.js';
import type { AdminApiDeps } from './deps.js';
import { actorOf } from './require-tenant-admin.js';
import { type AppParams, appParams, errorResponses, type TenantParams, tenantParams } from './schemas.js';

const tags = ['Enterprise apps'];
const scopes = { type: 'array', items: { type: 'string' } } as const;
const timestamp = { type: 'string', format: 'date-time' } as const;
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const;
const permissionGrants = {
  type: 'array',
  items: {
    type: 'object',
    required: ['scope', 'grantedAt'],
    properties: { scope: { type: 'string' }, grantedAt: timestamp },
  },
} as const;

const summaryProperties = {
  clientId: { type: 'string' },
  name: { type: 'string' },
  publisherTenant: { type: 'string', description: 'The tenant that registered the app.' },
  publisherName: { type: 'string' },
  publisherVerified: { type: 'boolean' },
  multiTenant: { type: 'boolean' },
  blocked: { type: 'boolean', description: 'Blocked: nobody in the tenant can sign in to it or use its tokens.' },
  adminPermissions: { ...scopes, description: 'Granted for the whole tenant by an admin.' },
  adminGrantedBy: { type: ['string', 'null'] },
  adminGrantedAt: nullableTimestamp,
  userCount: { type: 'integer', description: 'Users of the tenant who use the app.' },
  userPermissions: { ...scopes, description: 'Granted by users for themselves (the union over users).' },
} as const;

const summarySchema = {
  type: 'object',
  required: Object.keys(summaryProperties),
  properties: summaryProperties,
} as const;

const detailSchema = {
  type: 'object',
  properties: {
    ...summaryProperties,
    adminConsent: {
      type: ['object', 'null'],
      properties: { grantedBy: { type: 'string' }, grantedAt: timestamp, permissions: permissionGrants },
    },
    users: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          userId: { type: 'string' },
          username: { type: 'string' },
          displayName: { type: 'string' },
          grantedAt: timestamp,
          updatedAt: timestamp,
          active: { type: 'boolean', description: 'Whether the user holds tokens for the app now.' },
          permissions: permissionGrants,
        },
      },
    },
  },
} as const;

const changeSchema = {
  type: 'object',
  required: ['clientId', 'changed', 'revokedGrants'],
  properties: {
    clientId: { type: 'string' },
    changed: { type: 'boolean', description: 'False when the app was already in the asked-for state.' },
    revokedGrants: { type: 'integer', description: 'How many grants (and all their tokens) were revoked.' },
  },
} as const;

function summaryOf(app: EnterpriseAppSummary) {
  return {
    clientId: app.clientId,
    name: app.name,
    publisherTenant: app.publisherTenantId,
    publisherName: app.publisherName,
    publisherVerified: app.publisherVerified,
    multiTenant: app.multiTenant,
    blocked: app.blocked,
    adminPermissions: app.adminScopes,
    adminGrantedBy: app.adminGrantedBy,
    adminGrantedAt: app.adminGrantedAt,
    userCount: app.userCount,
    userPermissions: app.userScopes,
  };
}

function detailOf(app: EnterpriseAppDetail) {
  return { ...summaryOf(app), adminConsent: app.adminConsent, users: app.users };
}

export async function enterpriseAppsRoutes(app: FastifyInstance, { enterpriseApps }: AdminApiDeps): Promise<void> {
  app.get<{ Params: TenantParams }>(
    '/enterprise-apps',
    {
      schema: {
        tags,
        operationId: 'listEnterpriseApps',
        summary: 'List the apps in use in the tenant',
        params: tenantParams,
        response: {
          200: {
            description: 'The apps in use in the tenant.',
            type: 'object',
            required: ['value'],
            properties: { value: { type: 'array', items: summarySchema } },
          },
          ...errorResponses(),
        },
      },
    },
    async (request) => ({ value: (await enterpriseApps.list(request.params.tenant)).map(summaryOf) }),
  );

  app.get<{ Params: AppParams }>(
    '/enterprise-apps/:clientId',
    {
      schema: {
        tags,
        operationId: 'getEnterpriseApp',
        summary: 'Every grant of one app in the tenant, per user and permission',
        params: appParams,
        response: {
          200: { description: 'The app and every grant it holds in the tenant.', ...detailSchema },
          ...errorResponses(404),
        },
      },
    },
    async (request) => detailOf(await enterpriseApps.detail(request.params.tenant, request.params.clientId)),
  );

  const change = (operationId: string, summary: string, description: string, act: 'block' | 'unblock' | 'remove') =>
    app.post<{ Params: AppParams }>(
      `/enterprise-apps/:clientId/${act}`,
      {
        schema: {
          tags,
          operationId,
          summary,
          description,
          params: appParams,
          response: { 200: { description: 'What the change did.', ...changeSchema }, ...errorResponses(404) },
        },
      },
      async (request) => enterpriseApps[act](request.params.tenant, request.params.clientId, actorOf(request)),
    );
  change(
    'blockEnterpriseApp',
    'Block the app in the tenant',
    'Nobody in the tenant can sign in to it; its tokens stop working at once. Consent records are kept, so unblocking restores access.',
    'block',
  );
  change(
    'unblockEnterpriseApp',
    'Unblock the app',
    'Users and the admin consent that were in place work again.',
    'unblock',
  );
  change(
    'removeEnterpriseApp',
    'Remove the app from the tenant',
    'Deletes the admin consent and every user consent in the tenant and revokes their tokens. The app can be added again by new consent.',
    'remove',
  );

  app.delete<{ Params: AppParams & { userId: string } }>(
    '/enterprise-apps/:clientId/users/:userId',
    {
      schema: {
        tags,
        operationId: 'revokeUserConsent',
        summary: 'Revoke one user’s consent to the app',
        description:
          'Their tokens stop working at once; the next sign-in asks them again (unless the admin consent covers it).',
        params: {
          type: 'object',
          required: ['tenant', 'clientId', 'userId'],
          additionalProperties: false,
          properties: { ...appParams.properties, userId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
        },
        response: { 200: { description: 'What the change did.', ...changeSchema }, ...errorResponses(404) },
      },
    },
    async (request) =>
      enterpriseApps.revokeUserConsent(
        request.params.tenant,
        request.params.clientId,
        request.params.userId,
        actorOf(request),
      ),
  );
}
