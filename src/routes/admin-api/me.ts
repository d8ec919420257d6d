// /me/apps: the signed-in user's own apps, as on the My apps page — every app that can reach
// their data and on whose say-so — and withdrawing their own consent. Needs a token for this API
// holding the user permission AppConsents.ReadWrite; it reaches only the token's own user.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { AccessDenied, AccordError } from '../../core/errors.js';
import type { AdminApiDeps } from './deps.js';
import { myAppOf } from './presenters.js';
import { collectionOf, errorResponses, MyAppParams, MyAppSchema, noContent } from './schemas.js';

export const MY_APPS_SCOPE = 'AppConsents.ReadWrite';
const tags = ['My apps'];

export const meRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (app, { users, myApps }) => {
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
        response: { 200: collectionOf(MyAppSchema, 'Your apps.'), ...errorResponses() },
      },
    },
    async (request) => {
      const user = await tokenUser(request);
      return { value: (await myApps.list(user.tenantId, user.id)).map(myAppOf) };
    },
  );

  app.delete(
    '/apps/:clientId',
    {
      schema: {
        tags,
        operationId: 'revokeMyConsent',
        summary: 'Withdraw your own consent to an app',
        description:
          'Its tokens stop working at once. Access your organisation granted stays; only an admin can remove it.',
        params: MyAppParams,
        response: { 204: noContent('Withdrawn.'), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const user = await tokenUser(request);
      const revoked = await myApps.revokeOwnConsent(user.tenantId, user.id, request.params.clientId);
      if (!revoked) throw new AccordError(404, 'not_found', 'You have no consent of your own to this app.');
      return reply.status(204).send();
    },
  );
};
