// /tenants/{tenant}/consent-requests: users' requests that an admin approve an app; approve all or
// some of the permissions (recording the tenant-wide admin consent) or deny with a reason.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AdminApiDeps } from './deps.js';
import { consentRequestOf } from './presenters.js';
import { actorOf } from './require-tenant-admin.js';
import {
  ApproveBody,
  ConsentRequestParams,
  ConsentRequestQuery,
  ConsentRequestSchema,
  collectionOf,
  DenyBody,
  described,
  errorResponses,
  TenantParams,
} from './schemas.js';

const tags = ['Consent requests'];
const decided = described(ConsentRequestSchema, 'The request as decided.');

export const consentRequestsRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (app, { consentRequests }) => {
  app.get(
    '/consent-requests',
    {
      schema: {
        tags,
        operationId: 'listConsentRequests',
        summary: 'List users’ requests for admin approval, newest first',
        params: TenantParams,
        querystring: ConsentRequestQuery,
        response: {
          200: collectionOf(ConsentRequestSchema, 'The requests, newest first.'),
          ...errorResponses(),
        },
      },
    },
    async (request) => ({
      value: (
        await consentRequests.list(request.params.tenant, request.query.status ? { status: request.query.status } : {})
      ).map(consentRequestOf),
    }),
  );

  app.post(
    '/consent-requests/:requestId/approve',
    {
      schema: {
        tags,
        operationId: 'approveConsentRequest',
        summary: 'Approve all or some of the requested permissions for the whole tenant',
        description:
          'Records the tenant-wide admin consent for the approved permissions (added to any earlier admin consent).',
        params: ConsentRequestParams,
        body: ApproveBody,
        response: { 200: decided, ...errorResponses(404, 409) },
      },
    },
    async (request) =>
      consentRequestOf(
        await consentRequests.approve(
          request.params.tenant,
          request.params.requestId,
          actorOf(request),
          request.body?.permissions,
        ),
      ),
  );

  app.post(
    '/consent-requests/:requestId/deny',
    {
      schema: {
        tags,
        operationId: 'denyConsentRequest',
        summary: 'Deny a request, with a reason the user will see',
        params: ConsentRequestParams,
        body: DenyBody,
        response: { 200: decided, ...errorResponses(404, 409) },
      },
    },
    async (request) =>
      consentRequestOf(
        await consentRequests.deny(
          request.params.tenant,
          request.params.requestId,
          actorOf(request),
          request.body?.reason ?? '',
        ),
      ),
  );
};
