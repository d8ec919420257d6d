// oidc-provider, configured as a serious deployment: authorization code + PKCE only, rotating
// refresh tokens, RFC 9207 `iss`, RFC 8707 resource indicators with RFC 9068 JWT access tokens,
// client credentials, DPoP, PAR, introspection and revocation, no development interactions.
import type { JWK } from 'jose';
import Provider, { type ClientMetadata, type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.js';
import type { Clock } from '../core/clock.js';
import { DatabaseUnavailable } from '../core/errors.js';
import { FIRST_PARTY_CLIENT_ID } from '../core/first-party-client.js';
import { UNEXPIRING_GRANT_SECONDS } from '../core/grant-lifetime.js';
import { absoluteResource, type PermissionCatalogue } from '../core/permission-catalogue.js';
import type { Pool } from '../db/pool.js';
import { SUPPORTED_LOCALES } from '../plugins/i18n.js';
import type { RenderPage } from '../plugins/views.js';
import type { Consents } from '../services/consents.js';
import { consentPolicy } from './consent-policy.js';
import {
  GRANT_MANAGEMENT_SCOPES,
  GrantManagement,
  grantIdInTokenResponse,
  grantManagementDiscovery,
  grantManagementEndpoint,
  grantManagementParams,
  isGrantManagementScope,
  keepParentGrant,
} from './grant-management.js';
import type { GrantModel, GrantSync } from './grant-sync.js';
import { reportingOutage, ServiceUnavailable } from './outage.js';
import { pageLocaleOf } from './page-locale.js';
import { postgresAdapterFactory } from './postgres-adapter.js';
import { boundProtocolRequests } from './request-bounds.js';
import { findAppOnce, findUserOnce, loadAccessOnce } from './request-memo.js';

export const ACCESS_TOKEN_TTL_SECONDS = 10 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 14 * 24 * 60 * 60;
/** oidc-provider's routes that run loadExistingGrant: /auth, and its resumption after an interaction. */
const ROUTES_THAT_LOAD_A_GRANT = new Set(['authorization', 'resume']);

export interface ProviderDeps {
  pool: Pool;
  jwks: JWK[];
  cookieKeys: string[];
  catalogue: PermissionCatalogue;
  consent: Consents;
  grants: GrantSync;
  renderPage: RenderPage;
  /** Accord's own portal (routes/portal-session.ts), registered as a static client. */
  portalClient: ClientMetadata;
  /** Whether a presented client secret matches the app's stored secret hash. */
  clientSecretMatches: (presented: unknown, storedHash: string | undefined) => boolean;
  /** The time grant expiry is judged by (issue 15); oidc-provider's own token expiry keeps its clock. */
  clock: Clock;
}

/**
 * Issue 15: at the token endpoint, a grant past its end (its consent expired) redeems nothing, by
 * Accord's clock. oidc-provider refuses it too once its own clock says so (the Grant's `exp`, which
 * GrantSync sets, caps the refresh tokens); this check is what a test's clock moves.
 */
function refuseEndedGrant(ctx: KoaContextWithOIDC, clock: Clock): void {
  // The portal's grants live minutes by oidc-provider's own clock and rest on no consent.
  if (ctx.oidc?.route !== 'token' || ctx.oidc.client?.clientId === FIRST_PARTY_CLIENT_ID) return;
  const grantExp = (ctx.oidc.entities.Grant as { exp?: number } | undefined)?.exp;
  if (grantExp !== undefined && grantExp * 1000 <= clock().getTime())
    throw new errors.InvalidGrant('the grant has expired: sign in again');
}

/**
 * A few of the scopes an error is about, for its description. The scope parameter is the
 * client's input, of any length: an error repeats no more of it than this, and sets no `scope`
 * of its own, so that the redirect carrying the error stays small.
 */
function someOf(scopes: readonly string[], most = 3): string {
  const distinct = [...new Set(scopes)];
  const named = distinct.slice(0, most).map((scope) => (scope.length > 64 ? `${scope.slice(0, 61)}...` : scope));
  const more = distinct.length - named.length;
  return more > 0 ? `${named.join(' ')} and ${more} more` : named.join(' ');
}

/** invalid_scope with a description only: the provider adds no `scope` to the response then. */
function invalidScope(description: string) {
  // @types/oidc-provider requires the `scope` argument that oidc-provider itself leaves optional.
  return new errors.InvalidScope(description, undefined as unknown as string);
}

/** The resource indicators (RFC 8707) of Accord's own two APIs, for its own routes. */
export function resourceIndicators(issuer: string): { data: string; admin: string } {
  return { data: absoluteResource(issuer, '/data/v1'), admin: absoluteResource(issuer, '/api/v1') };
}

/** The scopes the request names (`scope` parameter), in order. */
function requestedScopes(ctx: KoaContextWithOIDC): string[] {
  return String(ctx.oidc.params?.scope ?? '')
    .split(' ')
    .filter(Boolean);
}

/**
 * Whether the request's grant holds any permission of the resource (one indicator, or several). A
 * token request without a grant (client credentials) has nothing to judge here: true.
 */
function grantHoldsAnyOf(ctx: KoaContextWithOIDC, resource: string | string[] | undefined): boolean {
  const grant = ctx.oidc.entities.Grant;
  if (!grant || resource === undefined) return true;
  return [resource].flat().some((indicator) => Boolean(grant.getResourceScope(indicator)));
}

/** The `resource` parameters of the request (RFC 8707 §2 allows several). */
function requestedResources(ctx: KoaContextWithOIDC): string[] {
  const resource = ctx.oidc.params?.resource as string | string[] | undefined;
  return resource === undefined ? [] : Array.isArray(resource) ? resource : [resource];
}

/**
 * The account's claims (OIDC Core §5.1), which the provider masks by the granted scopes (`claims`
 * above); undefined for a user who is gone or disabled (a disabled user is no account: their
 * sessions and refresh tokens stop working).
 */
export async function accountClaims(pool: Pool, sub: string) {
  const user = await findUserOnce(pool, sub);
  if (!user || user.disabled) return undefined;
  return {
    sub: user.id,
    tid: user.tenantId,
    name: user.displayName,
    preferred_username: `${user.username}@${user.tenantId}`,
    ...(user.email ? { email: user.email, email_verified: false } : {}),
  };
}

export function createProvider(config: Config, deps: ProviderDeps): Provider {
  const { pool, catalogue, consent, grants } = deps;
  const managedGrants = new GrantManagement(pool, consent, grants);
  /** The registered API a resource indicator names, by its identifier as the catalogue keeps it. */
  const apiNamed = (indicator: string) =>
    catalogue.apis.find((api) => absoluteResource(config.issuer, api.identifier) === indicator);
  const secure = config.issuer.startsWith('https:');

  /** `openid` and only OpenID's own scopes (profile, email, offline_access): no API permission. */
  const onlyOpenIdScopes = (scopes: readonly string[]): boolean =>
    scopes.includes('openid') && scopes.every((scope) => catalogue.resourceOf(scope) === 'openid');

  /** The app, once every scope asked for is in the catalogue and in the app's registration. */
  async function registeredApp(clientId: string, requested: readonly string[]) {
    const app = await findAppOnce(pool, clientId);
    if (!app) throw new errors.InvalidClient();
    const notAllowed = requested.filter((scope) => !catalogue.has(scope) || !app.scopes.includes(scope));
    if (notAllowed.length > 0) throw invalidScope(`scope not registered for this app: ${someOf(notAllowed)}`);
    return app;
  }

  const configuration: Configuration = {
    adapter: postgresAdapterFactory(pool),
    // Accord's own portal sign-in. oidc-provider looks static clients up before the adapter, so no
    // row in `apps` can shadow it.
    clients: [deps.portalClient],
    jwks: { keys: deps.jwks as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: deps.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', secure },
      short: { httpOnly: true, sameSite: 'lax', secure },
    },
    // Grant Management's scopes are for an app's own token (client credentials) for its grants.
    scopes: [...catalogue.scopesOf('openid'), ...GRANT_MANAGEMENT_SCOPES],
    // Issue 15: OpenID Grant Management's authorization request parameters, checked by the provider.
    extraParams: grantManagementParams(),
    claims: {
      openid: ['sub', 'tid'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // The ID token carries the claims of the granted profile and email scopes even when the access
    // token also serves userinfo (as Entra's ID tokens do); oidc-provider would keep them for userinfo only.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    // RFC 9700 §2.1: the redirect_uri is always sent and compared exactly.
    allowOmittingSingleRegisteredRedirectUri: false,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
      authorizationSigningAlgValues: ['RS256', 'ES256'],
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      dPoPSigningAlgValues: ['ES256', 'EdDSA'],
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL_SECONDS,
      AuthorizationCode: 60,
      ClientCredentials: ACCESS_TOKEN_TTL_SECONDS,
      IdToken: 60 * 60,
      Interaction: 60 * 60,
      // Issue 15: no longer than the grant lives (its `exp` is its consent's expiry, provider/grant-sync.ts).
      RefreshToken: (ctx) => {
        const grantExp = (ctx?.oidc?.entities.Grant as { exp?: number } | undefined)?.exp;
        const left = grantExp === undefined ? Infinity : grantExp - Math.floor(Date.now() / 1000);
        return Math.max(1, Math.min(REFRESH_TOKEN_TTL_SECONDS, left));
      },
      Session: 14 * 24 * 60 * 60,
      // A portal sign-in's grant is revoked once redeemed; one left by an abandoned sign-in expires soon.
      Grant: (_ctx, grant) => (grant.clientId === FIRST_PARTY_CLIENT_ID ? 10 * 60 : UNEXPIRING_GRANT_SECONDS),
    },
    // RFC 9700 §4.14.2: every refresh rotates; a reused refresh token revokes the grant.
    rotateRefreshToken: () => true,
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 7662 §4: an app learns about its own tokens only (Accord has no separate resource
      // servers that introspect others' tokens); revocation likewise (RFC 7009 §2.1).
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId !== client.clientId)
            throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          return true;
        },
      },
      userinfo: { enabled: true },
      dPoP: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = await deps.renderPage('logout', { form }, pageLocaleOf(ctx));
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = await deps.renderPage('logged-out', {}, pageLocaleOf(ctx));
        },
      },
      resourceIndicators: {
        enabled: true,
        // Issue 13: the request's scopes decide its resource. Scopes of several APIs give consent
        // for all of them and a token for the first named; the refresh token redeems tokens for
        // the others (`resource` at /token), within what was granted.
        defaultResource: reportingOutage(async (ctx, client, oneOf) => {
          // At /token, of the resources the grant covers: the first the authorization request named
          // of which the grant holds a permission.
          if (oneOf) return oneOf.find((indicator) => grantHoldsAnyOf(ctx, indicator)) ?? oneOf[0]!;
          const scopes = requestedScopes(ctx);
          // An app's token for the grant management endpoint (provider/grant-management.ts): no API's.
          if (scopes.some(isGrantManagementScope)) {
            if (ctx.oidc.params?.grant_type !== 'client_credentials' || !scopes.every(isGrantManagementScope))
              throw invalidScope('the grant management scopes are asked for alone, with client credentials');
            return undefined;
          }
          // OIDC Core §5.3: an OpenID request that asks for no API permission (the portal's
          // sign-in among them) gets no resource, so that its access token is for userinfo.
          if (client?.clientId === FIRST_PARTY_CLIENT_ID) return undefined;
          if (onlyOpenIdScopes(scopes)) {
            if (client) await registeredApp(client.clientId, scopes);
            return undefined;
          }
          const named = catalogue.apisOf(scopes);
          const fallback = catalogue.defaultApi;
          const apis = named.length > 0 ? named : fallback ? [fallback.identifier] : [];
          const indicators = apis.map((identifier) => absoluteResource(config.issuer, identifier));
          return indicators.length > 1 ? indicators : indicators[0];
        }),
        // The code's resource, unless a refresh asks for OpenID scopes only (RFC 6749 §6), or the
        // grant holds none of the resource's permissions (the user unticked every optional one,
        // issue 15): the access token is then for userinfo, as that of a request for OpenID scopes
        // alone would be, rather than a token for the API that carries no permission of it.
        useGrantedResource: async (ctx, model) =>
          (ctx.oidc.params?.scope === undefined || !onlyOpenIdScopes(requestedScopes(ctx))) &&
          grantHoldsAnyOf(ctx, (model as { resource?: string | string[] }).resource),
        getResourceServerInfo: reportingOutage(async (ctx, indicator, client) => {
          const api = apiNamed(indicator);
          if (!api) throw new errors.InvalidTarget();
          // Only scopes in the catalogue and in the app's registration may be asked for.
          const requested = requestedScopes(ctx);
          const app = await registeredApp(client.clientId, requested);
          // RFC 8707 §2: a `resource` given with the scopes must name every API they belong to.
          const resources = requestedResources(ctx);
          const elsewhere = catalogue
            .apisOf(requested)
            .filter((identifier) => !resources.includes(absoluteResource(config.issuer, identifier)));
          if (resources.length > 0 && elsewhere.length > 0) {
            throw new errors.InvalidTarget(
              `the requested scopes belong to another resource: ${someOf(elsewhere.map((id) => absoluteResource(config.issuer, id)))}`,
            );
          }
          // An app's own token (client credentials) has no user and no admin behind it: it may
          // never carry an admin permission, which only an admin's consent can grant.
          const appOnly = ctx.oidc.params?.grant_type === 'client_credentials';
          const adminOnly = requested.filter((scope) => catalogue.adminConsentRequired(scope));
          if (appOnly && adminOnly.length > 0) {
            throw invalidScope(`an app cannot grant itself admin permissions: ${someOf(adminOnly)}`);
          }
          const registered = catalogue
            .scopesOf(api.identifier)
            .filter((scope) => app.scopes.includes(scope) && !(appOnly && catalogue.adminConsentRequired(scope)));
          return {
            scope: registered.join(' '),
            audience: indicator,
            accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        }),
      },
    },
    // RFC 9068 §2.2.3: the access token's `scope` holds the API's own scope names (`read`, not
    // `api://x/read`): the token is for that API alone (`aud`).
    formats: {
      customizers: {
        jwt: async (_ctx, _token, jwt) => {
          const scope = jwt.payload.scope;
          if (typeof scope === 'string')
            jwt.payload.scope = scope
              .split(' ')
              .map((name) => catalogue.get(name)?.name ?? name)
              .join(' ');
        },
      },
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: consentPolicy(consent, pool),
    },
    // The hooks that read the database report an outage the provider's way (outage.ts).
    loadExistingGrant: reportingOutage(async (ctx) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId || !ctx.oidc.client) return undefined;
      const Grant = ctx.oidc.provider.Grant as unknown as GrantModel;
      const action = ctx.oidc.params?.grant_management_action;
      if (typeof action === 'string') {
        // `create` resumes with the grant its consent page finished with; merge and replace name theirs.
        const grantId = action === 'create' ? ctx.oidc.result?.consent?.grantId : ctx.oidc.params?.grant_id;
        return managedGrants.loadManagedGrant(Grant, {
          accountId,
          clientId: ctx.oidc.client.clientId,
          action,
          ...(typeof grantId === 'string' ? { grantId } : {}),
          requested: ctx.oidc.requestParamScopes,
        });
      }
      return grants.loadGrant(Grant, accountId, ctx.oidc.client.clientId);
    }),
    findAccount: reportingOutage(async (ctx, sub) => {
      refuseEndedGrant(ctx, deps.clock);
      // An authorization request goes on to load the user's grant for the app (loadExistingGrant,
      // then the consent decision), which needs what the user and their admin granted: start that
      // read now, so it runs alongside the user's row instead of after it.
      const clientId = ctx.oidc?.client?.clientId;
      if (clientId && ROUTES_THAT_LOAD_A_GRANT.has(ctx.oidc.route))
        void loadAccessOnce(pool, sub, clientId, deps.clock).catch(() => undefined);
      const claims = await accountClaims(pool, sub);
      return claims && { accountId: claims.sub, claims: async () => claims };
    }),
    extraTokenClaims: reportingOutage(async (_ctx, token) => {
      const accountId = 'accountId' in token ? token.accountId : undefined;
      if (!accountId) return undefined;
      const user = await findUserOnce(pool, accountId);
      // `gid` lets resource servers check that the grant behind the token still exists.
      return user ? { tid: user.tenantId, gid: (token as { grantId?: string }).grantId } : undefined;
    }),
    clientBasedCORS: (_ctx, origin, client) =>
      (client.redirectUris ?? []).some((uri) => {
        try {
          return new URL(uri).origin === origin;
        } catch {
          return false;
        }
      }),
    // Discovery names the languages of every page (OIDC Discovery §3); the pages follow ui_locales.
    discovery: { ui_locales_supported: [...SUPPORTED_LOCALES], ...grantManagementDiscovery(config.issuer) },
    renderError: async (ctx, out, error) => {
      ctx.type = 'html';
      if (error instanceof ServiceUnavailable || error instanceof DatabaseUnavailable) {
        // No app to send the answer to (unknown, or its redirect_uri unverifiable): say it is brief.
        ctx.status = 503;
        ctx.body = await deps.renderPage('unavailable', { retry: ctx.method === 'GET' }, pageLocaleOf(ctx));
        return;
      }
      ctx.body = await deps.renderPage(
        'error',
        { error: out.error, description: out.error_description },
        pageLocaleOf(ctx),
      );
    },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  provider.use(boundProtocolRequests(deps.renderPage));
  // Issue 15: OpenID Grant Management — the grant_id of a token response, and the endpoint.
  keepParentGrant(provider);
  provider.use(grantIdInTokenResponse());
  provider.use(grantManagementEndpoint(provider, pool));

  // Client secrets are stored as keyed hashes: hash what was presented, then compare in constant time.
  const Client = provider.Client as unknown as {
    prototype: { compareClientSecret(actual: string): boolean; clientSecret?: string };
  };
  Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    return deps.clientSecretMatches(actual, this.clientSecret);
  };

  return provider;
}
