// /tenants/{tenant}/consent-requests: users' requests that an admin approve an app; approve all or
// some of the permissions (recording the tenant-wide admin consent) or deny with a reason.
import type { FastifyInstance } from 'fastify';
import type { ConsentRequestRecord } from '../../db/consent-requests.js';
import type { AdminApiDeps } from './deps.js';
import { actorOf } from './require-tenant-admin.js';
import { errorResponses, type TenantParams, tenantParams } from './schemas.js';

const tags = ['Consent requests'];
const requestParams = {
  type: 'object',
  required: ['tenant', 'requestId'],
  additionalProperties: false,
  properties: { ...tenantParams.properties, requestId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;

const requestSchema = {
  type: 'object',
  required: ['id', 'userId', 'clientId', 'permissions', 'reason', 'status', 'createdAt', 'expiresAt'],
  properties: {
    id: { type: 'string' },
    userId: { type: 'string', description: 'Who asked.' },
    clientId: { type: 'string' },
    permissions: {
      type: 'array',
      items: { type: 'string' },
      description: 'What the app still needed when the user asked.',
    },
    reason: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'approved', 'denied', 'expired'] },
    approvedPermissions: { type: ['array', 'null'], items: { type: 'string' } },
    decidedBy: { type: ['string', 'null'] },
    decisionReason: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    decidedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

function requestOf(record: ConsentRequestRecord) {
  return {
    id: record.id,
    userId: record.userId,
    clientId: record.clientId,
    permissions: record.scopes,
    reason: record.reason,
    status: record.status,
    approvedPermissions: record.approvedScopes,
    decidedBy: record.decidedBy,
    decisionReason: record.decisionReason,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    decidedAt: record.decidedAt,
  };
}

export async function consentRequestsRoutes(app: FastifyInstance, { consentRequests }: AdminApiDeps): Promise<void> {
  app.get<{ Params: TenantParams; Querystring: { status?: 'pending' | 'approved' | 'denied' | 'expired' } }>(
    '/consent-requests',
    {
      schema: {
        tags,
        operationId: 'listConsentRequests',
        summary: 'List users’ requests for admin approval, newest first',
        params: tenantParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { status: { type: 'string', enum: ['pending', 'approved', 'denied', 'expired'] } },
        },
        response: {
          200: {
            description: 'The requests, newest first.',
            type: 'object',
            required: ['value'],
            properties: { value: { type: 'array', items: requestSchema } },
          },
          ...errorResponses(),
        },
      },
    },
    async (request) => ({
      value: (
        await consentRequests.list(request.params.tenant, request.query.status ? { status: request.query.status } : {})
      ).map(requestOf),
    }),
  );

  app.post<{ Params: TenantParams & { requestId: string }; Body: { permissions?: string[] } }>(
    '/consent-requests/:requestId/approve',
    {
      schema: {
        tags,
        operationId: 'approveConsentRequest',
        summary: 'Approve all or some of the requested permissions for the whole tenant',
        description:
          'Records the tenant-wide admin consent for the approved permissions (added to any earlier admin consent).',
        params: requestParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            permissions: {
              type: 'array',
              minItems: 1,
              maxItems: 50,
              uniqueItems: true,
              items: { type: 'string', maxLength: 100 },
              description: 'Default: all requested.',
            },
          },
        },
        response: { 200: { description: 'The request as decided.', ...requestSchema }, ...errorResponses(404, 409) },
      },
    },
    async (request) =>
      requestOf(
        await consentRequests.approve(
          request.params.tenant,
          request.params.requestId,
          actorOf(request),
          request.body?.permissions,
        ),
      ),
  );

  app.post<{ Params: TenantParams & { requestId: string }; Body: { reason?: string } }>(
    '/consent-requests/:requestId/deny',
    {
      schema: {
        tags,
        operationId: 'denyConsentRequest',
        summary: 'Deny a request, with a reason the user will see',
        params: requestParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { reason: { type: 'string', maxLength: 1000 } },
        },
        response: { 200: { description: 'The request as decided.', ...requestSchema }, ...errorResponses(404, 409) },
      },
    },
    async (request) =>
      requestOf(
        await consentRequests.deny(
          request.params.tenant,
          request.params.requestId,
          actorOf(request),
          request.body?.reason ?? '',
        ),
      ),
  );
}
