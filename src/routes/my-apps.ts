// My apps: the signed-in user sees every app that can reach their data, with what it may do,
// since when and on whose say-so (their own consent or their organisation's), and withdraws their
// own consent, which revokes the app's tokens at once. Withdrawing is offered only where the user
// has a consent of their own, and asks for confirmation on a page of its own (works without
// JavaScript): GET the confirmation, POST from it, redirect back to the list.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AccordError } from '../core/errors.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import type { MyApps } from '../services/my-apps.js';
import type { PortalSession } from './portal-session.js';
import { CsrfOnlyBody } from './schema-parts.js';

export interface MyAppsRouteDeps {
  portal: PortalSession;
  myApps: MyApps;
  catalogue: PermissionCatalogue;
}

const ClientIdParams = Type.Object({ clientId: Type.String({ minLength: 1, maxLength: 200 }) });
/** `?revoked=<client id>`: the notice after a withdrawal. */
const RevokedQuery = Type.Object({ revoked: Type.Optional(Type.String({ maxLength: 200 })) });

function nothingToRevoke() {
  return new AccordError(
    400,
    'nothing_to_revoke',
    "You have not consented to this app yourself. If your organisation's admin granted it access, only an admin can remove it.",
  ).withMessage('pages:errors.nothingToRevoke');
}

export async function myAppsRoutes(instance: FastifyInstance, deps: MyAppsRouteDeps): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { portal, myApps, catalogue } = deps;

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.get('/my/apps', { schema: { querystring: RevokedQuery } }, async (request, reply) => {
    const user = await portal.requireSignedIn(request, reply, '/my/apps');
    if (!user) return reply;
    const [apps, requests] = await Promise.all([
      myApps.list(user.tenantId, user.id),
      myApps.requests(user.tenantId, user.id),
    ]);
    const describe = (scopes: string[]) => scopes.map((scope) => catalogue.get(scope)!).filter(Boolean);
    return reply.view('my-apps', {
      user,
      signedIn: user,
      csrfToken: reply.generateCsrf(),
      revokedName: request.query.revoked,
      apps: apps.map((entry) => ({
        ...entry,
        ownPermissions: describe(entry.ownScopes),
        organisationPermissions: describe(entry.organisationScopes),
        revokeAction: `/my/apps/${encodeURIComponent(entry.app.clientId)}/revoke`,
      })),
      // Their requests for admin approval, and what the admins decided.
      requests: requests.map((record) => ({ ...record, permissions: describe(record.scopes) })),
    });
  });

  app.get('/my/apps/:clientId/revoke', { schema: { params: ClientIdParams } }, async (request, reply) => {
    const user = await portal.requireSignedIn(request, reply);
    if (!user) return reply;
    const entry = (await myApps.list(user.tenantId, user.id)).find(
      (candidate) => candidate.app.clientId === request.params.clientId,
    );
    if (!entry || entry.ownScopes.length === 0) throw nothingToRevoke();
    const describe = (scopes: string[]) => scopes.map((scope) => catalogue.get(scope)!).filter(Boolean);
    return reply.view('my-apps-revoke', {
      user,
      signedIn: user,
      csrfToken: reply.generateCsrf(),
      entry,
      ownPermissions: describe(entry.ownScopes),
      organisationPermissions: describe(entry.organisationScopes),
      action: `/my/apps/${encodeURIComponent(entry.app.clientId)}/revoke`,
    });
  });

  app.post(
    '/my/apps/:clientId/revoke',
    {
      preValidation: app.csrfProtection,
      schema: { params: ClientIdParams, body: CsrfOnlyBody },
    },
    async (request, reply) => {
      const user = await portal.requireSignedIn(request, reply, '/my/apps');
      if (!user) return reply;
      const revoked = await myApps.revokeOwnConsent(user.tenantId, user.id, request.params.clientId);
      if (!revoked) throw nothingToRevoke();
      return reply.redirect(`/my/apps?${new URLSearchParams({ revoked: request.params.clientId }).toString()}`, 303);
    },
  );
}
