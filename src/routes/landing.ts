// The way in and the way out: `/` says what Accord is and leads to sign-in, My apps and (for
// admins) the admin centre; "Sign out" is RP-initiated logout (OpenID Connect RP-Initiated Logout
// 1.0) through the provider's end_session_endpoint as the portal client, which asks the person to
// confirm and then ends the session, returning to /portal/signed-out (the portal's registered
// post_logout_redirect_uri).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { FIRST_PARTY_CLIENT_ID } from '../core/first-party-client.js';
import { PORTAL_SIGNED_OUT_PATH, type PortalSession } from './portal-session.js';
import { stringEnum } from './schema-parts.js';

export interface LandingRouteDeps {
  portal: PortalSession;
  issuer: string;
}

const LandingQuery = Type.Object({ signin: Type.Optional(stringEnum(['cancelled'])) });

export async function landingRoutes(instance: FastifyInstance, deps: LandingRouteDeps): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { portal, issuer } = deps;

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.get('/', { schema: { querystring: LandingQuery } }, async (request, reply) => {
    const user = await portal.currentUser(request, reply);
    return reply.view('home', {
      ...(user ? { signedIn: user } : {}),
      cancelled: request.query.signin === 'cancelled',
    });
  });

  app.get('/portal/sign-out', async (_request, reply) => {
    const params = new URLSearchParams({
      client_id: FIRST_PARTY_CLIENT_ID,
      post_logout_redirect_uri: `${issuer}${PORTAL_SIGNED_OUT_PATH}`,
    });
    return reply.redirect(`/session/end?${params.toString()}`, 303);
  });

  // Where the provider sends the browser after its sign-out page. Choosing "stay signed in" there
  // also ends here, with the session intact: the landing page then shows the account.
  app.get(PORTAL_SIGNED_OUT_PATH, async (request, reply) => {
    const user = await portal.currentUser(request, reply);
    if (user) return reply.redirect('/', 303);
    return reply.view('signed-out', {});
  });
}
