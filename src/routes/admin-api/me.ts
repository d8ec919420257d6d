// /me/apps: the signed-in user's own apps, as on the My apps page — every app that can reach
// their data and on whose say-so — and withdrawing their own consent. Needs a token for this API
// holding the user permission AppConsents.ReadWrite; it reaches only the token's own user.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AccessDenied, AccordError } from '../../core/errors.js';
import type { AdminApiDeps } from './deps.js';
import { errorResponses } from './schemas.js';

export const MY_APPS_SCOPE = 'AppConsents.ReadWrite';
const tags = ['My apps'];

const myAppSchema = {
  type: 'object',
  required: [
    'clientId',
    'name',
    'publisherName',
    'publisherVerified',
    'origin',
    'ownPermissions',
    'organisationPermissions',
  ],
  properties: {
    clientId: { type: 'string' },
    name: { type: 'string' },
    publisherName: { type: 'string' },
    publisherVerified: { type: 'boolean' },
    fromTenant: { type: ['string', 'null'], description: 'The publishing organisation, when it is not yours.' },
    origin: {
      type: 'string',
      enum: ['own', 'organisation', 'both'],
      description: 'Whose consent gives the app access.',
    },
    ownPermissions: { type: 'array', items: { type: 'string' } },
    ownGrantedAt: { type: ['string', 'null'], format: 'date-time' },
    organisationPermissions: { type: 'array', items: { type: 'string' } },
    organisationGrantedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export async function meRoutes(app: FastifyInstance, { users, myApps }: AdminApiDeps): Promise<void> {
  /** The token's user, read now: only an existing, enabled user is served. */
  const tokenUser = async (request: FastifyRequest) => {
    const sub = request.accessToken?.sub;
    const user = sub ? await users.findEnabled(sub) : undefined;
    if (!user) throw AccessDenied('This API needs a token of a signed-in, enabled user.');
    return user;
  };
  const requireScope = app.resourceServer.requireScope(MY_APPS_SCOPE);
  app.addHook('onRequest', async function (request, reply) {
    await requireScope.call(this, request, reply);
    await tokenUser(request);
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.get(
    '/apps',
    {
      schema: {
        tags,
        operationId: 'listMyApps',
        summary: 'The apps that can reach your data',
        response: {
          200: {
            description: 'Your apps.',
            type: 'object',
            required: ['value'],
            properties: { value: { type: 'array', items: myAppSchema } },
          },
          ...errorResponses(),
        },
      },
    },
    async (request) => {
      const user = await tokenUser(request);
      const apps = await myApps.list(user.tenantId, user.id);
      return {
        value: apps.map((entry) => ({
          clientId: entry.app.clientId,
          name: entry.app.name,
          publisherName: entry.app.publisherName,
          publisherVerified: entry.app.publisherVerified,
          fromTenant: entry.fromTenantName ?? null,
          origin: entry.origin,
          ownPermissions: entry.ownScopes,
          ownGrantedAt: entry.ownGrantedAt ?? null,
          organisationPermissions: entry.organisationScopes,
          organisationGrantedAt: entry.organisationGrantedAt ?? null,
        })),
      };
    },
  );

  app.delete<{ Params: { clientId: string } }>(
    '/apps/:clientId',
    {
      schema: {
        tags,
        operationId: 'revokeMyConsent',
        summary: 'Withdraw your own consent to an app',
        description:
          'Its tokens stop working at once. Access your organisation granted stays; only an admin can remove it.',
        params: {
          type: 'object',
          required: ['clientId'],
          additionalProperties: false,
          properties: { clientId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
        },
        response: { 204: { description: 'Withdrawn.', type: 'null' }, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const user = await tokenUser(request);
      const revoked = await myApps.revokeOwnConsent(user.tenantId, user.id, request.params.clientId);
      if (!revoked) throw new AccordError(404, 'not_found', 'You have no consent of your own to this app.');
      return reply.status(204).send();
    },
  );
}
