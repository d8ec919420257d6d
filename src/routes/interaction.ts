// The interactions oidc-provider sends the browser to: sign-in, consent, "needs admin approval"
// and "refused" (after oidc-provider's own example: look the interaction up, branch on the prompt,
// assert the expected prompt on every POST, no-store, a real page when it has expired).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { type InteractionResults, errors as oidcErrors } from 'oidc-provider';
import { type Static, Type } from 'typebox';
import { AccordError, InteractionExpired, InvalidRequest } from '../core/errors.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import type { AppRecord } from '../db/apps.js';
import type { Pool } from '../db/pool.js';
import { pickLocale, useLocale } from '../plugins/i18n.js';
import type { GrantSync } from '../provider/grant-sync.js';
import type { ConsentRequests } from '../services/consent-requests.js';
import type { ConsentEvaluation, Consents } from '../services/consents.js';
import type { DirectoryReads } from '../services/directory-reads.js';
import { signIn } from '../services/sign-in.js';
import { groupPermissions } from './permission-groups.js';
import { csrfField, optionalChoice, stringEnum, ticked } from './schema-parts.js';

export interface InteractionRouteDeps {
  pool: Pool;
  provider: Provider;
  consent: Consents;
  grants: GrantSync;
  consentRequests: ConsentRequests;
  directoryReads: DirectoryReads;
  catalogue: PermissionCatalogue;
  signInRateLimit: number;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
/** What loadInteraction reads of a request to /interaction/:uid… (any of its routes' typed requests). */
type UidRequest = Pick<FastifyRequest, 'raw' | 'method' | 'headers' | 'locale'> & { params: Static<typeof UidParams> };

const UidParams = Type.Object({ uid: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });
const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 200 }),
  password: Type.String({ minLength: 1, maxLength: 4096 }),
  _csrf: csrfField,
});
const ConsentBody = Type.Object({
  decision: stringEnum(['accept', 'deny']),
  on_behalf_of_org: Type.Optional(stringEnum(['true', 'on'])),
  /** The optional permissions left ticked (issue 15); one value, or several. */
  scope: Type.Optional(ticked),
  _csrf: csrfField,
});
const RequestApprovalBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })), _csrf: csrfField });

export async function interactionRoutes(instance: FastifyInstance, deps: InteractionRouteDeps): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { provider, consent, grants, catalogue, pool, consentRequests, directoryReads } = deps;

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  /** The interaction behind this browser's cookie; it must be the one in the URL. */
  async function loadInteraction(request: UidRequest, reply: FastifyReply, expectedPrompt?: string): Promise<Details> {
    let details: Details;
    try {
      details = await provider.interactionDetails(request.raw, reply.raw);
    } catch (error) {
      if (error instanceof oidcErrors.SessionNotFound || error instanceof oidcErrors.InvalidRequest) {
        throw InteractionExpired(
          'This sign-in page has expired or was opened in another browser. Go back to the app and start again.',
        ).withMessage('pages:errors.interactionExpired');
      }
      throw error;
    }
    // The whole sign-in → consent flow keeps the language the app asked for (OIDC Core §3.1.2.1).
    useLocale(
      request,
      reply,
      pickLocale({ uiLocales: details.params.ui_locales, acceptLanguage: request.headers['accept-language'] }),
    );
    if (details.uid !== request.params.uid)
      throw InteractionExpired(
        'This sign-in page does not belong to this browser session. Go back to the app and start again.',
      ).withMessage('pages:errors.interactionOtherBrowser');
    if (expectedPrompt && details.prompt.name !== expectedPrompt)
      throw InvalidRequest('This form was already submitted or does not match the current step.').withMessage(
        'pages:errors.formOutOfStep',
      );
    if (request.method === 'POST' && details.result)
      throw InvalidRequest('This form was already submitted.').withMessage('pages:errors.formAlreadySubmitted');
    return details;
  }

  /**
   * Ends the step with its result. Consent adds to the sign-in just submitted (as oidc-provider's
   * example does): that sign-in is what answers a `prompt=login`, and without it the provider
   * would ask for a sign-in again after consent.
   */
  async function finish(
    request: FastifyRequest,
    reply: FastifyReply,
    result: InteractionResults,
    mergeWithLastSubmission = false,
  ) {
    const redirectTo = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission });
    return reply.redirect(redirectTo, 303);
  }

  async function appPresentation(appRecord: AppRecord, userTenantId: string) {
    const publisher = await directoryReads.findTenant(appRecord.publisherTenantId);
    return {
      app: appRecord,
      origin:
        appRecord.publisherTenantId === userTenantId
          ? { kind: 'own' }
          : { kind: 'other', tenantName: publisher?.name ?? appRecord.publisherTenantId },
    };
  }

  /** Who is signing in to which app, asking for what: the interaction's authorization request. */
  function requestOf(details: Details) {
    const accountId = details.session?.accountId;
    if (!accountId)
      throw InteractionExpired('Your sign-in was lost. Go back to the app and start again.').withMessage(
        'pages:errors.signInLost',
      );
    return {
      accountId,
      clientId: String(details.params.client_id),
      requested: String(details.params.scope ?? '')
        .split(' ')
        .filter(Boolean),
      promptConsent: String(details.params.prompt ?? '')
        .split(' ')
        .includes('consent'),
    };
  }

  async function renderConsentStep(reply: FastifyReply, details: Details, sentNotice = false) {
    const { accountId, clientId, requested, promptConsent } = requestOf(details);
    const evaluation = await consent.evaluate(accountId, clientId, requested, { promptConsent });
    if (!evaluation)
      throw InteractionExpired('This app or account no longer exists.').withMessage('pages:errors.appOrAccountGone');
    const user = await directoryReads.findUser(accountId);
    const common = {
      uid: details.uid,
      csrfToken: reply.generateCsrf(),
      user,
      ...(await appPresentation(evaluation.app, evaluation.access.tenantId)),
    };
    const { decision } = evaluation;
    const describe = (scopes: string[]) => scopes.map((scope) => catalogue.get(scope)!);
    const groups = (scopes: string[]) =>
      groupPermissions(catalogue, scopes, async (tenantId) => (await directoryReads.findTenant(tenantId))?.name);
    switch (decision.outcome) {
      case 'refused':
        return reply.view('refused', { ...common, reason: decision.reason });
      case 'needs_admin_approval': {
        // Only a request still open counts as "already asked": once it expired, the user asks again.
        const openRequest = await consentRequests.findOpen(
          evaluation.access.tenantId,
          accountId,
          evaluation.app.clientId,
        );
        if (decision.rule.id === 'risky_app' && !sentNotice)
          await consent.recordRiskyAppDetected(accountId, evaluation, details.uid);
        return reply.view('needs-admin-approval', {
          ...common,
          reason: decision.reason,
          rule: decision.rule,
          riskDays: evaluation.access.riskStepUpDays,
          adminPermissions: describe(decision.adminScopes),
          adminGroups: await groups(decision.adminScopes),
          requested: describe(decision.missingScopes),
          requestedGroups: await groups(decision.missingScopes),
          openRequest,
          sent: sentNotice,
        });
      }
      case 'consent':
      case 'proceed': {
        const missing = decision.outcome === 'consent' ? decision.missingScopes : [];
        const granted = decision.outcome === 'consent' ? decision.alreadyGrantedScopes : evaluation.requestedScopes;
        return reply.view('consent', {
          ...common,
          isAdmin: evaluation.access.role === 'admin',
          missing: describe(missing),
          missingGroups: await groups(missing),
          granted: describe(granted),
          grantedGroups: await groups(granted),
          offerOrgConsent: decision.outcome === 'consent' && decision.offerOrgConsent,
          optional: missing.filter((scope) => optionalChoice(evaluation.app, scope)),
        });
      }
    }
  }

  app.get('/interaction/:uid', { schema: { params: UidParams } }, async (request, reply) => {
    const details = await loadInteraction(request, reply);
    if (details.prompt.name === 'login') {
      const client = await provider.Client.find(String(details.params.client_id));
      return reply.view('login', {
        uid: details.uid,
        csrfToken: reply.generateCsrf(),
        clientName: client?.clientName,
        username: typeof details.params.login_hint === 'string' ? details.params.login_hint : '',
      });
    }
    if (details.prompt.name === 'consent') return renderConsentStep(reply, details);
    throw InvalidRequest(`Unsupported interaction step: ${details.prompt.name}`).withMessage(
      'pages:errors.unsupportedStep',
    );
  });

  app.post(
    '/interaction/:uid/login',
    {
      preValidation: app.csrfProtection,
      config: { rateLimit: { max: deps.signInRateLimit, timeWindow: '1 minute' } },
      schema: {
        params: UidParams,
        body: LoginBody,
      },
    },
    async (request, reply) => {
      const details = await loadInteraction(request, reply, 'login');
      // request.ip: the connection's address, or the trusted proxy's forwarded one (TRUST_PROXY).
      const result = await signIn(pool, request.body.username, request.body.password, request.ip);
      if (!result.ok) {
        const client = await provider.Client.find(String(details.params.client_id));
        if (result.reason === 'throttled') reply.status(429).header('retry-after', String(result.retryAfterSeconds));
        else reply.status(401);
        return reply.view('login', {
          uid: details.uid,
          csrfToken: reply.generateCsrf(),
          clientName: client?.clientName,
          username: request.body.username,
          ...(result.reason === 'throttled'
            ? {
                messageKey: result.limitedBy === 'address' ? 'pages:login.throttled' : 'pages:login.accountSlowed',
                messageValues: { count: Math.ceil(result.retryAfterSeconds / 60) },
              }
            : { messageKey: 'pages:login.wrongCredentials' }),
        });
      }
      return finish(request, reply, { login: { accountId: result.user.id } });
    },
  );

  app.post(
    '/interaction/:uid/consent',
    {
      preValidation: app.csrfProtection,
      schema: {
        params: UidParams,
        body: ConsentBody,
      },
    },
    async (request, reply) => {
      const details = await loadInteraction(request, reply, 'consent');
      if (request.body.decision === 'deny') {
        return finish(request, reply, {
          error: 'access_denied',
          error_description: 'The user declined to grant the app access.',
        });
      }
      const { accountId, clientId, requested, promptConsent } = requestOf(details);
      // Decide again from the database as it is now; nothing in the form says what to grant.
      const evaluation: ConsentEvaluation | undefined = await consent.evaluate(accountId, clientId, requested, {
        promptConsent,
      });
      if (!evaluation)
        throw InteractionExpired('This app or account no longer exists.').withMessage('pages:errors.appOrAccountGone');
      const { decision } = evaluation;
      if (decision.outcome === 'refused' || decision.outcome === 'needs_admin_approval') {
        return finish(request, reply, {
          error: 'access_denied',
          error_description: 'The app needs approval from an admin of your organisation.',
        });
      }
      if (decision.outcome === 'consent') {
        const onBehalfOfOrg = request.body.on_behalf_of_org !== undefined;
        if (onBehalfOfOrg && !decision.offerOrgConsent)
          throw new AccordError(
            403,
            'access_denied',
            'Only an admin can consent on behalf of the organisation.',
          ).withMessage('pages:errors.onlyAdminForOrganisation');
        // Issue 15: an optional permission left unticked is declined; required ones are always granted.
        const tickedScopes = new Set([request.body.scope ?? []].flat());
        const declined = decision.missingScopes.filter(
          (scope) => optionalChoice(evaluation.app, scope) && !tickedScopes.has(scope),
        );
        const accepted = decision.missingScopes.filter((scope) => !declined.includes(scope));
        if (onBehalfOfOrg) {
          await consent.grantOnBehalfOfOrganisation(
            evaluation.access.tenantId,
            accountId,
            clientId,
            [...accepted, ...decision.alreadyGrantedScopes],
            declined,
          );
        } else if (accepted.length > 0 || declined.length > 0) {
          await consent.grantUserConsent(accountId, clientId, accepted, declined);
        }
      }
      const grant = await grants.loadGrant(provider.Grant as never, accountId, clientId);
      // Every optional permission unticked and nothing granted before: the app gets no access.
      if (!grant && decision.outcome === 'consent')
        return finish(request, reply, {
          error: 'access_denied',
          error_description: 'The user allowed none of the requested permissions.',
        });
      if (!grant)
        throw InteractionExpired('Nothing was granted. Go back to the app and start again.').withMessage(
          'pages:errors.nothingGranted',
        );
      // Grant Management's `create` resumes with the grant created for this request (the
      // interaction's), which provider/grant-management.ts then fills; any other with the user's grant.
      const created = details.params.grant_management_action === 'create' ? details.grantId : undefined;
      return finish(request, reply, { consent: { grantId: created ?? grant.jti } }, true);
    },
  );

  // "Request approval" on the needs-admin-approval page: asks the user's admins, then shows the
  // page again with the request sent. Scopes come from the decision, never from the form.
  app.post(
    '/interaction/:uid/request-approval',
    {
      preValidation: app.csrfProtection,
      schema: {
        params: UidParams,
        body: RequestApprovalBody,
      },
    },
    async (request, reply) => {
      const details = await loadInteraction(request, reply, 'consent');
      const { accountId, clientId, requested } = requestOf(details);
      const evaluation = await consent.evaluate(accountId, clientId, requested);
      if (evaluation?.decision.outcome !== 'needs_admin_approval') {
        throw InvalidRequest(
          'This app does not need admin approval for you any more. Go back to the app and sign in again.',
        ).withMessage('pages:errors.noApprovalNeeded');
      }
      await consentRequests.request(
        evaluation.access.tenantId,
        accountId,
        clientId,
        evaluation.decision.missingScopes,
        request.body.reason ?? '',
        evaluation.decision.rule,
      );
      return renderConsentStep(reply, details, true);
    },
  );

  app.post(
    '/interaction/:uid/abort',
    { preValidation: app.csrfProtection, schema: { params: UidParams } },
    async (request, reply) => {
      const details = await loadInteraction(request, reply);
      const description =
        details.prompt.name === 'login' ? 'The user cancelled the sign-in.' : 'The app was not granted access.';
      return finish(request, reply, { error: 'access_denied', error_description: description });
    },
  );
}
