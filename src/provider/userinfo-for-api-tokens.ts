// UserInfo (OIDC Core §5.3) for the access token of any OpenID request, as Entra's userinfo takes
// its Graph tokens. A request that also asks for an API's permissions gets a JWT access token for
// that API (RFC 8707, RFC 9068), and oidc-provider's userinfo refuses every token with an audience
// (401 invalid_token, `lib/actions/userinfo.js`). `userinfoForApiTokens` answers in that refusal's
// place once the provider has answered (app.ts's post-middleware), when the token is one of
// Accord's own: it verifies as the resource servers verify it (signature, `typ`, `iss`, `exp`,
// `aud` one of Accord's APIs, its grant alive), and its grant — the user's, for the token's app —
// holds `openid`. The claims are the account's, masked by the grant's OpenID scopes with
// oidc-provider's own `Claims` (as its userinfo masks them).
// A DPoP-bound token is left to the refusal: its proof is checked only by the provider.
import type { JWTVerifyGetKey } from 'jose';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { type AccessTokenInfo, accessTokenInfo, verifyAccessTokenClaims } from '../plugins/resource-server.js';

type KoaContext = Parameters<Parameters<Provider['use']>[0]>[0];

export interface UserinfoForApiTokensOptions {
  issuer: string;
  /** Every registered API's resource indicator, as it is now. */
  audiences: () => readonly string[];
  keys: JWTVerifyGetKey;
  /** The resource servers' revocation check: true once the token's grant (or app) is gone. */
  isRevoked: (token: AccessTokenInfo) => Promise<boolean>;
  /** The account's claims (the same as the provider's `findAccount` gives), undefined when it is gone or disabled. */
  accountClaims: (sub: string) => Promise<Record<string, unknown> | undefined>;
}

/** What a post-middleware sees of oidc-provider's context (its types do not reach `provider.use`). */
interface UserinfoContext {
  status: number;
  body: unknown;
  get(header: string): string;
  remove(header: string): void;
  oidc?: {
    route?: string;
    params?: { access_token?: unknown };
    provider: Provider;
  };
}

/** The bearer token of a userinfo request the provider refused as `invalid_token`; undefined otherwise. */
function refusedBearerToken(ctx: UserinfoContext): string | undefined {
  if (ctx.oidc?.route !== 'userinfo' || ctx.status !== 401) return undefined;
  if ((ctx.body as { error?: unknown } | undefined)?.error !== 'invalid_token') return undefined;
  const header = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(ctx.get('authorization'));
  if (header) return header[1];
  const inBody = ctx.oidc.params?.access_token;
  return !ctx.get('authorization') && typeof inBody === 'string' ? inBody : undefined;
}

/** Answers a userinfo request the provider refused, when its token is one of Accord's live API tokens; leaves any other answer alone. */
export function userinfoForApiTokens(options: UserinfoForApiTokensOptions): (ctx: KoaContext) => Promise<void> {
  return async function answerUserinfoForApiToken(koaContext: KoaContext) {
    const ctx = koaContext as unknown as UserinfoContext;
    const token = refusedBearerToken(ctx);
    if (!token || !ctx.oidc) return;
    const claims = await userinfoOf(token, ctx.oidc.provider, koaContext, options);
    if (!claims) return; // not one of Accord's live API tokens for an OpenID grant: the refusal stands
    ctx.remove('www-authenticate');
    ctx.status = 200;
    ctx.body = claims;
  };
}

async function userinfoOf(
  token: string,
  provider: Provider,
  koaContext: KoaContext,
  options: UserinfoForApiTokensOptions,
): Promise<Record<string, unknown> | undefined> {
  let info: AccessTokenInfo;
  try {
    info = accessTokenInfo(await verifyAccessTokenClaims(token, { ...options, audience: options.audiences() }));
  } catch {
    return undefined; // forged, altered, expired, or not one of Accord's access tokens
  }
  if (!info.sub || !info.grantId || info.jkt) return undefined;
  if (await options.isRevoked(info)) return undefined;
  const grant = await provider.Grant.find(info.grantId);
  if (!grant || grant.accountId !== info.sub || grant.clientId !== info.clientId) return undefined;
  const scope = grant.getOIDCScope();
  if (!scope.split(' ').includes('openid')) return undefined;
  const [client, available] = await Promise.all([provider.Client.find(info.clientId), options.accountClaims(info.sub)]);
  if (!client || !available) return undefined;
  // The context is the provider's own (a userinfo request's), which `Claims` reads for pairwise subjects.
  const mask = new provider.Claims(available, { ctx: koaContext as KoaContextWithOIDC, client });
  mask.scope(scope);
  return mask.result();
}
