// The admin consent endpoint (docs/interfaces.md, "The admin consent endpoint"): a third-party app sends a
// tenant admin to /{tenant}/adminconsent; the admin signs in, sees the app, its publisher and every
// permission it asks for, and grants them for the whole organisation or declines. Both the page
// and the POST validate the request from the database; nothing in the form is trusted.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { AccordError, InvalidRequest, NotFound } from '../core/errors.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import type { AppRecord } from '../db/apps.js';
import type { TenantRecord } from '../db/tenants.js';
import type { UserRecord } from '../db/users.js';
import type { Consents } from '../services/consents.js';
import type { DirectoryReads } from '../services/directory-reads.js';
import { groupPermissions } from './permission-groups.js';
import type { PortalSession } from './portal-session.js';
import { csrfField, optionalChoice, stringEnum, ticked } from './schema-parts.js';

export interface AdminConsentRouteDeps {
  directoryReads: DirectoryReads;
  portal: PortalSession;
  consent: Consents;
  catalogue: PermissionCatalogue;
}

const TenantParams = Type.Object({ tenant: Type.String({ minLength: 1, maxLength: 40 }) });
const AdminConsentQuery = Type.Object({
  client_id: Type.Optional(Type.String({ maxLength: 200 })),
  redirect_uri: Type.Optional(Type.String({ maxLength: 2000 })),
  state: Type.Optional(Type.String({ maxLength: 1000 })),
  scope: Type.Optional(Type.String({ maxLength: 2000 })),
});
const DecisionBody = Type.Object({
  decision: stringEnum(['accept', 'deny']),
  /** The optional permissions left ticked (issue 15). */
  scope: Type.Optional(ticked),
  _csrf: csrfField,
});

/** What the checks read of a GET or POST to /{tenant}/adminconsent. */
type AdminConsentRequest = Pick<FastifyRequest, 'url'> & {
  params: Static<typeof TenantParams>;
  query: Static<typeof AdminConsentQuery>;
};

/** A request whose app, redirect URI and tenant were checked against the database. */
interface ValidatedRequest {
  tenant: TenantRecord;
  app: AppRecord;
  redirectUri: string;
  state: string | undefined;
  /** The scope parameter ∩ what the app registered (all it registered when absent). */
  scopes: string[];
}

export async function adminConsentRoutes(instance: FastifyInstance, deps: AdminConsentRouteDeps): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { directoryReads, portal, consent, catalogue } = deps;

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  /**
   * Checks the request before anything else: an unknown tenant, app or redirect URI is an error
   * page, never a redirect (RFC 6749 §4.1.2.1: do not send the browser to an unverified URI).
   */
  async function validate(request: AdminConsentRequest): Promise<ValidatedRequest> {
    const tenant = await directoryReads.findTenant(request.params.tenant);
    if (!tenant)
      throw NotFound(`There is no organisation "${request.params.tenant}".`).withMessage(
        'pages:errors.noSuchOrganisation',
        { organisation: request.params.tenant },
      );
    const { client_id: clientId, redirect_uri: redirectUri, state, scope } = request.query;
    if (!clientId)
      throw InvalidRequest('The request names no app (client_id is missing).').withMessage('pages:errors.noClientId');
    const appRecord = await directoryReads.findApp(clientId);
    if (!appRecord)
      throw InvalidRequest('The app in this request is not registered.').withMessage('pages:errors.unknownApp');
    if (!redirectUri)
      throw InvalidRequest('The request has no redirect_uri.').withMessage('pages:errors.noRedirectUri');
    // Exact string comparison with a registered URI (RFC 9700 §2.1).
    if (!appRecord.redirectUris.includes(redirectUri))
      throw InvalidRequest('The redirect_uri is not registered for this app.').withMessage(
        'pages:errors.unregisteredRedirectUri',
      );
    const asked = scope === undefined ? appRecord.scopes : scope.split(' ').filter(Boolean);
    return {
      tenant,
      app: appRecord,
      redirectUri,
      state,
      scopes: catalogue.sort(consent.requestable(appRecord, asked, tenant.id)),
    };
  }

  /** Sends the browser back to the app's (validated) redirect URI with these parameters. */
  function backToApp(reply: FastifyReply, request: ValidatedRequest, values: Record<string, string>) {
    const target = new URL(request.redirectUri);
    for (const [name, value] of Object.entries(values)) target.searchParams.set(name, value);
    if (request.state !== undefined) target.searchParams.set('state', request.state);
    return reply.redirect(target.toString(), 303);
  }

  function deniedUrl(request: ValidatedRequest, description: string): string {
    const target = new URL(request.redirectUri);
    target.searchParams.set('error', 'access_denied');
    target.searchParams.set('error_description', description);
    if (request.state !== undefined) target.searchParams.set('state', request.state);
    return target.toString();
  }

  /** An admin of the tenant in the path, or a 403 "refused" page. */
  async function checkAdmin(
    request: AdminConsentRequest,
    reply: FastifyReply,
    validated: ValidatedRequest,
    user: UserRecord,
  ) {
    if (user.tenantId === validated.tenant.id && user.role === 'admin') return true;
    await reply.status(403).view('admin-consent', {
      refused: true,
      user,
      signedIn: user,
      tenant: validated.tenant,
      app: validated.app,
      returnUrl: deniedUrl(validated, 'The signed-in user is not an admin of this organisation.'),
      switchAccountUrl: `/portal/sign-in?${new URLSearchParams({ returnTo: request.url, prompt: 'login' }).toString()}`,
    });
    return false;
  }

  function outsidePublisherTenant(validated: ValidatedRequest): boolean {
    return !validated.app.multiTenant && validated.app.publisherTenantId !== validated.tenant.id;
  }

  app.get(
    '/:tenant/adminconsent',
    { schema: { params: TenantParams, querystring: AdminConsentQuery } },
    async (request, reply) => {
      const validated = await validate(request);
      const user = await portal.requireSignedIn(request, reply);
      if (!user) return reply;
      if (!(await checkAdmin(request, reply, validated, user))) return reply;
      if (outsidePublisherTenant(validated)) {
        return backToApp(reply, validated, {
          error: 'access_denied',
          error_description: "The app can only be used in its publisher's organisation.",
        });
      }
      if (validated.scopes.length === 0) {
        return backToApp(reply, validated, {
          error: 'invalid_scope',
          error_description: 'The app asks for no permission it registered.',
        });
      }
      const publisher =
        validated.app.publisherTenantId === validated.tenant.id
          ? undefined
          : await directoryReads.findTenant(validated.app.publisherTenantId);
      return reply.view('admin-consent', {
        refused: false,
        user,
        signedIn: user,
        tenant: validated.tenant,
        app: validated.app,
        origin: publisher ? { kind: 'other', tenantName: publisher.name } : { kind: 'own' },
        permissions: validated.scopes.map((scope) => catalogue.get(scope)!),
        groups: await groupPermissions(
          catalogue,
          validated.scopes,
          async (tenantId) => (await directoryReads.findTenant(tenantId))?.name,
        ),
        optional: validated.scopes.filter((scope) => optionalChoice(validated.app, scope)),
        formAction: request.url,
        csrfToken: reply.generateCsrf(),
      });
    },
  );

  app.post(
    '/:tenant/adminconsent',
    {
      preValidation: app.csrfProtection,
      schema: { params: TenantParams, querystring: AdminConsentQuery, body: DecisionBody },
    },
    async (request, reply) => {
      // Everything again from the query and the database as they are now.
      const validated = await validate(request);
      const user = await portal.requireSignedIn(request, reply);
      if (!user) return reply;
      if (!(await checkAdmin(request, reply, validated, user))) return reply;
      if (request.body.decision === 'deny') {
        return backToApp(reply, validated, {
          error: 'access_denied',
          error_description: 'The admin declined to grant the app access.',
        });
      }
      if (outsidePublisherTenant(validated) || validated.scopes.length === 0) {
        throw new AccordError(
          400,
          'invalid_request',
          'This app cannot be granted access in this organisation.',
        ).withMessage('pages:errors.cannotGrantHere');
      }
      // Issue 15: the organisation's consent may leave the app's optional permissions out.
      const tickedScopes = new Set([request.body.scope ?? []].flat());
      const accepted = validated.scopes.filter(
        (scope) => !optionalChoice(validated.app, scope) || tickedScopes.has(scope),
      );
      if (accepted.length === 0) {
        return backToApp(reply, validated, {
          error: 'access_denied',
          error_description: 'The admin granted none of the permissions.',
        });
      }
      const granted = await consent.grantAdminConsent(
        validated.tenant.id,
        user.id,
        validated.app.clientId,
        accepted,
        'adminconsent',
      );
      return backToApp(reply, validated, {
        admin_consent: 'True',
        tenant: validated.tenant.id,
        scope: granted.join(' '),
      });
    },
  );
}
