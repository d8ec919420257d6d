// RFC 7662 introspection of Accord's JWT access tokens (RFC 9068), for whoever cannot check a
// token's grant the way Accord's own resource servers do. oidc-provider stores no JWT access token
// and refuses one at its introspection endpoint (400 unsupported_token_type), after it has parsed
// the request and authenticated the calling client. `introspectAccessTokens` answers in that
// refusal's place once the provider has answered (app.ts's post-middleware), with the resource
// servers' own checks: the token verifies (signature, `typ`, `iss`, `exp`, `aud` one of Accord's
// APIs) and its grant (for an app's own token, the app) still exists. As for every other token
// (RFC 7662 §4, features.introspection.allowedPolicy), only the app the token was issued to
// learns anything — and, for a registered API's token, the API's own resource server (an app of
// the tenant that owns the API, `isResourceServerFor`), which is what introspection is for: to
// anyone else it is `active: false`.
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import type Provider from 'oidc-provider';
import { type AccessTokenInfo, accessTokenInfo, verifyAccessTokenClaims } from '../plugins/resource-server.js';

type KoaContext = Parameters<Parameters<Provider['use']>[0]>[0];

export interface AccessTokenIntrospectionOptions {
  issuer: string;
  /** Every registered API's resource indicator, as it is now (APIs are registered at run time). */
  audiences: () => readonly string[];
  keys: JWTVerifyGetKey;
  /** The resource servers' revocation check: true once the token's grant (or app) is gone. */
  isRevoked: (token: AccessTokenInfo) => Promise<boolean>;
  /** Whether the calling app serves the API `audience` names (its tenant owns that API). */
  isResourceServerFor: (callerId: string, audience: string) => Promise<boolean>;
}

/** What a post-middleware sees of oidc-provider's context (its types do not reach `provider.use`). */
interface IntrospectionContext {
  status: number;
  body: unknown;
  oidc?: {
    route?: string;
    client?: { clientId: string };
    params?: { token?: unknown };
    provider: { emit(event: 'server_error', ctx: unknown, error: unknown): boolean };
  };
}

/**
 * The token and the calling app when the provider refused a well-formed request, from an
 * authenticated client, only because its token is a JWT; undefined for every other outcome.
 */
function refusedJwt(ctx: IntrospectionContext): { token: string; callerId: string } | undefined {
  const { oidc } = ctx;
  const token = oidc?.params?.token;
  if (
    oidc?.route !== 'introspection' ||
    ctx.status !== 400 ||
    (ctx.body as { error?: unknown } | undefined)?.error !== 'unsupported_token_type' ||
    !oidc.client ||
    typeof token !== 'string'
  )
    return undefined;
  return { token, callerId: oidc.client.clientId };
}

/** Answers an introspection request the provider refused only because its token is a JWT; leaves any other answer alone. */
export function introspectAccessTokens(options: AccessTokenIntrospectionOptions): (ctx: KoaContext) => Promise<void> {
  return async function introspectAccessToken(koaContext) {
    const ctx = koaContext as unknown as IntrospectionContext;
    const refused = refusedJwt(ctx);
    if (!refused) return;
    try {
      ctx.body = await introspect(refused.token, refused.callerId, options);
      ctx.status = 200;
    } catch (error) {
      // As the provider's own error handler does: a server error, which Accord's `server_error`
      // listener turns into 503 when the database is away.
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: 'oops! something went wrong' };
      ctx.oidc?.provider.emit('server_error', ctx, error);
    }
  };
}

async function introspect(
  token: string,
  callerId: string,
  options: AccessTokenIntrospectionOptions,
): Promise<Record<string, unknown>> {
  let claims: JWTPayload;
  try {
    claims = await verifyAccessTokenClaims(token, { ...options, audience: options.audiences() });
  } catch {
    return { active: false }; // forged, altered, expired, or not one of Accord's access tokens
  }
  const info = accessTokenInfo(claims);
  const audience = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
  if (info.clientId !== callerId && !(audience && (await options.isResourceServerFor(callerId, audience))))
    return { active: false };
  if (await options.isRevoked(info)) return { active: false };
  return {
    active: true,
    iss: claims.iss,
    sub: claims.sub,
    aud: claims.aud,
    client_id: info.clientId,
    scope: claims.scope,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    ...(info.tid ? { tid: info.tid } : {}),
    ...(info.grantId ? { gid: info.grantId } : {}),
    // RFC 9449 §6.2: a DPoP-bound token is introspected with its key's thumbprint.
    ...(info.jkt ? { cnf: { jkt: info.jkt } } : {}),
    token_type: info.jkt ? 'DPoP' : 'Bearer',
  };
}
