// /tenants/{tenant}/enterprise-apps: the apps in use in the tenant, whoever published them, and
// what the tenant's admins do with them: inspect every grant, block, unblock, remove, revoke one
// user's consent (services/enterprise-apps.ts; each change one audited transaction).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AdminApiDeps } from './deps.js';
import { enterpriseAppDetailOf, enterpriseAppSummaryOf } from './presenters.js';
import { actorOf } from './require-tenant-admin.js';
import {
  AppParams,
  AppUserParams,
  collectionOf,
  described,
  EnterpriseAppChangeSchema,
  EnterpriseAppDetailSchema,
  EnterpriseAppSummarySchema,
  EnterpriseAppsQuery,
  errorResponses,
  TenantParams,
} from './schemas.js';

const tags = ['Enterprise apps'];
const changeAnswer = described(EnterpriseAppChangeSchema, 'What the change did.');

export const enterpriseAppsRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (app, { enterpriseApps }) => {
  app.get(
    '/enterprise-apps',
    {
      schema: {
        tags,
        operationId: 'listEnterpriseApps',
        summary: 'List the apps in use in the tenant',
        params: TenantParams,
        querystring: EnterpriseAppsQuery,
        response: {
          200: collectionOf(EnterpriseAppSummarySchema, 'The apps in use in the tenant.'),
          ...errorResponses(),
        },
      },
    },
    async (request) => ({
      value: (await enterpriseApps.list(request.params.tenant, request.query)).map(enterpriseAppSummaryOf),
    }),
  );

  app.get(
    '/enterprise-apps/:clientId',
    {
      schema: {
        tags,
        operationId: 'getEnterpriseApp',
        summary: 'Every grant of one app in the tenant, per user and permission',
        params: AppParams,
        response: {
          200: described(EnterpriseAppDetailSchema, 'The app and every grant it holds in the tenant.'),
          ...errorResponses(404),
        },
      },
    },
    async (request) =>
      enterpriseAppDetailOf(await enterpriseApps.detail(request.params.tenant, request.params.clientId)),
  );

  const change = (operationId: string, summary: string, description: string, act: 'block' | 'unblock' | 'remove') =>
    app.post(
      `/enterprise-apps/:clientId/${act}`,
      {
        schema: {
          tags,
          operationId,
          summary,
          description,
          params: AppParams,
          response: { 200: changeAnswer, ...errorResponses(404) },
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

  app.delete(
    '/enterprise-apps/:clientId/users/:userId',
    {
      schema: {
        tags,
        operationId: 'revokeUserConsent',
        summary: 'Revoke one user’s consent to the app',
        description:
          'Their tokens stop working at once; the next sign-in asks them again (unless the admin consent covers it).',
        params: AppUserParams,
        response: { 200: changeAnswer, ...errorResponses(404) },
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
};
