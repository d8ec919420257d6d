// OpenID Grant Management for OAuth 2.0 (draft 03, as FAPI 2.0 uses it; issue 15), on top of
// oidc-provider's own Grant model: `grant_id` in the token response; `grant_id` and
// `grant_management_action=create|merge|replace` at /auth and PAR (the provider's `extraParams`,
// validated where the provider validates its own parameters); the grant management endpoint
// `GET|DELETE /grants/{grant_id}` for the app that owns the grant, with an access token the app
// obtained by client credentials for `grant_management_query` / `grant_management_revoke`.
// docs/consent.md, "Grant Management", says what each action does to Accord's records.
import Provider, { errors, type Grant as GrantInstance, type KoaContextWithOIDC } from 'oidc-provider';
import { DatabaseUnavailable } from '../core/errors.js';
import { FIRST_PARTY_CLIENT_ID } from '../core/first-party-client.js';
import { rememberDpopProof } from '../db/dpop-proofs.js';
import type { Pool } from '../db/pool.js';
import { BearerError, checkDpopProof } from '../plugins/resource-server.js';
import { revokeGrantForApp } from '../services/client-grants.js';
import type { Consents } from '../services/consents.js';
import type { GrantModel, GrantSync } from './grant-sync.js';
import { findAppOnce, loadAccessOnce } from './request-memo.js';

export const GRANT_MANAGEMENT_PATH = '/grants';
export const GRANT_QUERY_SCOPE = 'grant_management_query';
export const GRANT_REVOKE_SCOPE = 'grant_management_revoke';
export const GRANT_MANAGEMENT_SCOPES: readonly string[] = [GRANT_QUERY_SCOPE, GRANT_REVOKE_SCOPE];
/** The actions at /auth and PAR; `query` and `revoke` are the endpoint's (draft 03 §7.1). */
const AUTHORIZATION_ACTIONS = ['create', 'merge', 'replace'] as const;
type Action = (typeof AUTHORIZATION_ACTIONS)[number];
/** The grant management endpoint's path: `/grants/{grant_id}`. */
const GRANT_PATH = /^\/grants\/([^/]{1,200})$/;

export const isGrantManagementScope = (scope: string) => GRANT_MANAGEMENT_SCOPES.includes(scope);

/** Whether a request path is the grant management endpoint's (protocol-server.ts hands it to the provider). */
export const isGrantManagementPath = (path: string) => GRANT_PATH.test(path);

/** draft 03 §5.3: an unknown grant_id, or one of another client or user. */
function invalidGrantId(description: string) {
  return new errors.CustomOIDCProviderError('invalid_grant_id', description);
}

/** Discovery metadata (draft 03 §7.1). */
export function grantManagementDiscovery(issuer: string) {
  return {
    grant_management_endpoint: `${issuer}${GRANT_MANAGEMENT_PATH}`,
    grant_management_actions_supported: ['query', 'revoke', ...AUTHORIZATION_ACTIONS],
    grant_management_action_required: false,
  };
}

/**
 * oidc-provider's `extraParams` with their checks (run at /auth and PAR after the client and its
 * redirect_uri are known, so a refusal at /auth goes back to the app): an unknown action and a
 * merge or replace without `grant_id` are `invalid_request`; a `grant_id` that is no grant of this
 * client is `invalid_grant_id` (whose user it is, is checked once the user is known).
 */
export function grantManagementParams() {
  return {
    grant_management_action: async (ctx: KoaContextWithOIDC, value: unknown) => {
      const grantId = ctx.oidc.params?.grant_id;
      if (value === undefined) {
        if (grantId !== undefined)
          throw new errors.InvalidRequest('grant_id requires grant_management_action merge or replace');
        return;
      }
      if (!AUTHORIZATION_ACTIONS.includes(value as Action))
        throw new errors.InvalidRequest(`grant_management_action must be one of ${AUTHORIZATION_ACTIONS.join(', ')}`);
      if (value === 'create' && grantId !== undefined)
        throw new errors.InvalidRequest('grant_management_action=create takes no grant_id');
      if (value !== 'create' && grantId === undefined)
        throw new errors.InvalidRequest(`grant_management_action=${String(value)} requires grant_id`);
    },
    grant_id: async (ctx: KoaContextWithOIDC, value: unknown, client?: { clientId: string }) => {
      if (value === undefined) return;
      const grant = typeof value === 'string' ? await ctx.oidc.provider.Grant.find(value) : undefined;
      if (!grant || grant.clientId !== client?.clientId) throw invalidGrantId('unknown grant_id');
    },
  };
}

/** A grant's owner, as the endpoint and loadExistingGrant check it. */
function belongsTo(grant: GrantInstance | undefined, accountId: string, clientId: string): grant is GrantInstance {
  return grant !== undefined && grant.accountId === accountId && grant.clientId === clientId;
}

/** The grant a grant was created under (its parent), kept in its payload: see `keepParentGrant`. */
type ManagedGrant = GrantInstance & { parentGrantId?: string };

/**
 * A grant an app creates with `create` hangs under the user's grant for the app (the one Accord
 * records with the user's consent): stored with that grant's id as the grant it was issued under
 * (oidc_models.grant_id, through the adapter), so that everything that revokes the user's grant
 * — a withdrawn consent, a blocked or removed app, a disabled user, a removed scope — revokes it
 * too, with no code path of its own. oidc-provider keeps in a Grant's payload only the
 * properties its model lists, so `parentGrantId` is added to that list.
 */
export function keepParentGrant(provider: Provider): void {
  const Grant = provider.Grant as unknown as { IN_PAYLOAD: string[] };
  const inPayload = [...Grant.IN_PAYLOAD, 'parentGrantId'];
  Object.defineProperty(Grant, 'IN_PAYLOAD', { get: () => inPayload });
}

export class GrantManagement {
  constructor(
    private readonly pool: Pool,
    private readonly consents: Consents,
    private readonly grants: GrantSync,
  ) {}

  /**
   * loadExistingGrant for a request with `grant_management_action` (before and after its consent
   * page): the grant the action names, holding what the user and their admin granted of the
   * request —
   * - `create`: a new grant beside the user's grant for the app, with the requested permissions;
   *   after the consent page, the one created before it (the interaction's grant);
   * - `merge`: the named grant, with the requested permissions added;
   * - `replace`: the named grant, holding the requested permissions only.
   * What the user consented to is recorded as for any request (the consent decision and page do
   * not change); the actions shape the grant the tokens come from.
   */
  async loadManagedGrant(
    Grant: GrantModel,
    request: { accountId: string; clientId: string; action: string; grantId?: string; requested: Iterable<string> },
  ): Promise<GrantInstance | undefined> {
    const { accountId, clientId } = request;
    // The user's own grant, up to date with their consent (created when this is the first).
    const userGrant = await this.grants.loadGrant(Grant, accountId, clientId);
    const granted = await this.grantedOf(accountId, clientId, request.requested);
    if (request.action === 'create') {
      const created = request.grantId ? await Grant.find(request.grantId) : undefined;
      const grant: ManagedGrant =
        created && belongsTo(created, accountId, clientId) ? created : new Grant({ accountId, clientId });
      // The user's grant may not exist yet (a first consent); it is named once it does. A grant
      // under it ends when it ends (the consent's lifetime, issue 15), never later.
      if (userGrant) {
        grant.parentGrantId = userGrant.jti;
        if (userGrant.exp !== undefined && (grant.exp === undefined || grant.exp > userGrant.exp))
          grant.exp = userGrant.exp;
      }
      this.grants.holdExactly(grant, granted);
      await grant.save();
      return this.confirmParent(Grant, grant);
    }
    const named = request.grantId ? await Grant.find(request.grantId) : undefined;
    if (!belongsTo(named, accountId, clientId)) throw invalidGrantId('the grant_id is not a grant of this user');
    // The user's own grant always holds all they granted: merging into it adds nothing more.
    if (userGrant && named.jti === userGrant.jti && request.action === 'merge') return userGrant;
    const held = request.action === 'merge' ? [...this.grants.scopesOf(named), ...granted] : granted;
    const stillGranted = await this.grantedOf(accountId, clientId, held);
    this.grants.holdExactly(named, stillGranted);
    await named.save();
    return named;
  }

  /** What the user and their admin granted the app, of `scopes` (nothing when the app is not available to them). */
  private async grantedOf(accountId: string, clientId: string, scopes: Iterable<string>): Promise<string[]> {
    const [app, access] = await Promise.all([
      findAppOnce(this.pool, clientId),
      loadAccessOnce(this.pool, accountId, clientId),
    ]);
    if (!app || !access || access.disabled || access.blocked) return [];
    const consented = new Set([...access.adminScopes, ...access.userScopes]);
    return this.consents.requestable(app, scopes, access.tenantId).filter((scope) => consented.has(scope));
  }

  /**
   * A revocation of the user's grant may commit while a grant is created under it: the created
   * grant is handed to the provider only while its parent still exists (a revocation after this
   * check deletes both).
   */
  private async confirmParent(Grant: GrantModel, grant: ManagedGrant): Promise<GrantInstance | undefined> {
    if (!grant.parentGrantId || (await Grant.find(grant.parentGrantId))) return grant;
    await grant.destroy();
    return undefined;
  }
}

/** What a post- or pre-middleware sees of oidc-provider's context (its types do not reach `provider.use`). */
interface ProtocolContext {
  method: string;
  path: string;
  status: number;
  body: unknown;
  get(header: string): string;
  set(header: string, value: string): void;
  oidc?: { route?: string; client?: { clientId: string }; entities?: { Grant?: { jti: string } } };
}

type Middleware = Parameters<Provider['use']>[0];

/** draft 03 §5.4: the token response names the grant its tokens come from (not for the portal's own sign-in). */
export function grantIdInTokenResponse(): Middleware {
  return async function addGrantId(koaContext, next) {
    await next();
    const ctx = koaContext as unknown as ProtocolContext;
    const grant = ctx.oidc?.entities?.Grant;
    const body = ctx.body as Record<string, unknown> | undefined;
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || !grant || typeof body?.access_token !== 'string') return;
    if (ctx.oidc.client?.clientId === FIRST_PARTY_CLIENT_ID) return;
    body.grant_id = grant.jti;
  };
}

/** An OAuth-style error answer of the endpoint, with RFC 6750's (or RFC 9449's) challenge for token errors. */
function answerError(
  ctx: ProtocolContext,
  status: number,
  error: string,
  description: string,
  scheme: 'Bearer' | 'DPoP' = 'Bearer',
): void {
  ctx.status = status;
  ctx.set('cache-control', 'no-store');
  if (status === 401 || status === 403)
    ctx.set('www-authenticate', `${scheme} error="${error}", error_description="${description}"`);
  ctx.body = { error, error_description: description };
}

/**
 * The grant management endpoint (draft 03 §6): `GET` answers the grant's permissions
 * (`scopes`: one entry for the OpenID scopes, one per resource with its indicator), `DELETE`
 * revokes it (204) through Accord's revocation (services/client-grants.ts). Only with an access
 * token the app obtained by client credentials with `grant_management_query` (GET) or
 * `grant_management_revoke` (DELETE), and only for the app's own grants: another app's grant, or
 * one that does not exist, is 404 alike.
 */
export function grantManagementEndpoint(provider: Provider, pool: Pool): Middleware {
  return async function serveGrantManagement(koaContext, next) {
    const ctx = koaContext as unknown as ProtocolContext;
    const match = GRANT_PATH.exec(ctx.path);
    if (!match) return next();
    try {
      await answerGrantRequest(ctx, provider, pool, match[1]!);
    } catch (error) {
      // Ahead of the provider's router, its error handling does not reach here: answer an outage as the APIs do.
      if (!(error instanceof DatabaseUnavailable)) throw error;
      answerError(ctx, 503, 'temporarily_unavailable', 'the database is briefly out of reach');
    }
  };
}

async function answerGrantRequest(ctx: ProtocolContext, provider: Provider, pool: Pool, encodedId: string) {
  if (ctx.method !== 'GET' && ctx.method !== 'DELETE') {
    ctx.set('allow', 'GET, DELETE');
    return answerError(ctx, 405, 'invalid_request', 'the grant management endpoint answers GET and DELETE');
  }
  const [scheme, value, ...rest] = ctx.get('authorization').split(' ');
  const dpop = scheme?.toLowerCase() === 'dpop';
  if ((!dpop && scheme?.toLowerCase() !== 'bearer') || !value || rest.length > 0) {
    return answerError(ctx, 401, 'invalid_token', 'an access token is required');
  }
  const token = await provider.ClientCredentials.find(value);
  if (!token?.clientId || !(await findAppOnce(pool, token.clientId)))
    return answerError(ctx, 401, 'invalid_token', 'the access token is invalid or expired');
  // RFC 9449 §7.1: a DPoP-bound token comes as `DPoP <token>` with a fresh proof by its key; an
  // unbound one as a bearer token.
  const jkt = 'jkt' in token ? (token.jkt as string | undefined) : undefined;
  if (jkt) {
    if (!dpop)
      return answerError(ctx, 401, 'invalid_token', 'the access token is DPoP-bound: send it with a DPoP proof');
    try {
      const url = `${provider.issuer}${ctx.path}`;
      await checkDpopProof(ctx.get('dpop') || undefined, { method: ctx.method, url, token: value, jkt }, (key, at) =>
        rememberDpopProof(pool, key, at),
      );
    } catch (error) {
      if (!(error instanceof BearerError)) throw error;
      return answerError(ctx, 401, 'invalid_dpop_proof', error.message, 'DPoP');
    }
  } else if (dpop) return answerError(ctx, 401, 'invalid_token', 'the access token is not DPoP-bound');
  const needed = ctx.method === 'GET' ? GRANT_QUERY_SCOPE : GRANT_REVOKE_SCOPE;
  const scopes = String(token.scope ?? '').split(' ');
  if (!scopes.includes(needed)) return answerError(ctx, 403, 'insufficient_scope', `the access token lacks ${needed}`);
  let grantId: string;
  try {
    grantId = decodeURIComponent(encodedId);
  } catch {
    return answerError(ctx, 404, 'invalid_grant_id', 'unknown grant_id');
  }
  const grant = await provider.Grant.find(grantId);
  if (!grant?.jti || !grant.clientId || grant.clientId !== token.clientId || !grant.accountId)
    return answerError(ctx, 404, 'invalid_grant_id', 'unknown grant_id');
  ctx.set('cache-control', 'no-store');
  if (ctx.method === 'DELETE') {
    await revokeGrantForApp(pool, { grantId: grant.jti, userId: grant.accountId, clientId: grant.clientId });
    ctx.status = 204;
    ctx.body = null;
    return;
  }
  ctx.status = 200;
  ctx.body = { scopes: scopesOfGrant(grant) };
}

/** draft 03 §6.1: the grant's scopes, the OpenID ones first, then per resource. */
function scopesOfGrant(grant: GrantInstance): Array<{ scope: string; resource?: string[] }> {
  const openid = grant.getOIDCScope();
  return [
    ...(openid ? [{ scope: openid }] : []),
    ...Object.entries(grant.resources ?? {})
      .filter(([, scope]) => typeof scope === 'string' && scope.length > 0)
      .map(([resource, scope]) => ({ scope: String(scope), resource: [resource] })),
  ];
}
