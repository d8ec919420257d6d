// A resource server's side of OAuth: verifies RFC 9068 JWT access tokens with jose (signature,
// `typ`, `iss`, `aud`, `exp`; a verified token is remembered until its `exp`), DPoP proofs for
// sender-constrained tokens (RFC 9449), and an optional revocation check, run on every request.
// Register `resourceServerPlugin` inside the scope of a resource's routes (it decorates that
// scope with `resourceServer`), then guard routes with
// `preHandler: app.resourceServer.requireScope('User.Read')`; the caller is `request.accessToken`,
// and `requireOwner(request, userId)` confines a token to its own user's data. Any Fastify
// service can use it: pass the issuer's JWKS (jose's createRemoteJWKSet caches and refetches on
// an unknown `kid`) or, as Accord itself does, a local key set.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { AccordError } from '../core/errors.js';

export interface AccessTokenInfo {
  /** The user; absent for an app's own (client credentials) token. */
  sub?: string;
  /** The user's tenant. */
  tid?: string;
  clientId: string;
  /** The API the token is for (`aud`; Accord's tokens name one). */
  audience?: string;
  scopes: ReadonlySet<string>;
  jti: string;
  /** The oidc-provider grant the token was issued under (Accord's `gid` claim). */
  grantId?: string;
  exp: number;
  /** DPoP key thumbprint when the token is sender-constrained. */
  jkt?: string;
}

export interface ResourceServerOptions {
  issuer: string;
  /** This resource's indicator; tokens must name it in `aud`. */
  audience: string;
  keys: JWTVerifyGetKey;
  /**
   * Returns true when the token must no longer be accepted (its grant was revoked, …). Asked on
   * every request, with the token itself too (a service outside Accord introspects it, RFC 7662).
   */
  isRevoked?: (token: AccessTokenInfo, accessToken: string) => Promise<boolean>;
  /**
   * Records a DPoP proof as used; resolves false when it was already used (a replay). Share it
   * between processes (Accord keeps it in PostgreSQL); the default remembers in this process only.
   */
  rememberProof?: (key: string, expiresAtSeconds: number) => Promise<boolean>;
  /** The public URL a request was made to, for DPoP's `htu` (default: issuer + path). */
  publicUrl?: (request: FastifyRequest) => string;
  /**
   * How many verified tokens to remember (default 10,000; 0 verifies every time). A remembered
   * token skips the signature check until its `exp`; DPoP and `isRevoked` still run per request.
   */
  verifiedTokenCacheSize?: number;
}

export interface ResourceServer {
  authenticate(request: FastifyRequest): Promise<AccessTokenInfo>;
  /** preHandler: any valid token. */
  requireToken: preHandlerAsyncHookHandler;
  /** preHandler: a valid token holding at least one of `anyOf`. */
  requireScope(...anyOf: string[]): preHandlerAsyncHookHandler;
}

declare module 'fastify' {
  interface FastifyRequest {
    accessToken?: AccessTokenInfo;
  }
  interface FastifyInstance {
    resourceServer: ResourceServer;
  }
}

type BearerCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof';

/**
 * RFC 6750 §3 and RFC 9449 §7.1: the status, the JSON error body and the WWW-Authenticate
 * challenge. `statusCode` and `headers` let any Fastify error handler answer it correctly.
 */
export class BearerError extends AccordError {
  readonly statusCode: number;
  constructor(status: 400 | 401 | 403, code: BearerCode | undefined, description: string, scope?: string) {
    const scheme = code === 'invalid_dpop_proof' ? 'DPoP' : 'Bearer';
    const params = [
      'realm="accord"',
      ...(code ? [`error="${code}"`, `error_description="${description.replace(/["\\]/g, "'")}"`] : []),
      ...(scope ? [`scope="${scope}"`] : []),
    ];
    super(status, code ?? 'invalid_token', description, {}, { 'www-authenticate': `${scheme} ${params.join(', ')}` });
    this.statusCode = status;
  }
}

const DPOP_PROOF_MAX_AGE_SECONDS = 60;
const DPOP_ALGORITHMS = ['ES256', 'EdDSA'];
const ACCESS_TOKEN_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'];

/**
 * RFC 9068 §4: `token` is an access token (`typ: at+jwt`) of `issuer` for `audience` (or one of
 * them), signed with one of `keys`, unexpired, with the claims Accord's tokens always carry.
 * Resolves its claims; rejects with 401 invalid_token otherwise.
 */
export async function verifyAccessTokenClaims(
  token: string,
  options: { issuer: string; audience: string | readonly string[]; keys: JWTVerifyGetKey },
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, options.keys, {
      issuer: options.issuer,
      audience: typeof options.audience === 'string' ? options.audience : [...options.audience],
      typ: 'at+jwt', // RFC 9068 §4: reject ID tokens and other JWTs
      algorithms: ACCESS_TOKEN_ALGORITHMS,
      requiredClaims: ['exp', 'iat', 'jti', 'client_id'],
    });
    return payload;
  } catch {
    throw new BearerError(401, 'invalid_token', 'The access token is invalid or expired.');
  }
}

/** A verified access token's claims as a resource server uses them. */
export function accessTokenInfo(payload: JWTPayload): AccessTokenInfo {
  // RFC 9068 §2.2: a token an app got for itself (client credentials) has `sub` = its client id.
  const forUser = typeof payload.sub === 'string' && payload.sub !== payload.client_id;
  const jkt = (payload.cnf as { jkt?: unknown } | undefined)?.jkt;
  const audience = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
  return Object.freeze({
    ...(forUser ? { sub: payload.sub as string } : {}),
    ...(typeof payload.tid === 'string' ? { tid: payload.tid } : {}),
    clientId: String(payload.client_id),
    ...(typeof audience === 'string' ? { audience } : {}),
    scopes: new Set(typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : []),
    jti: String(payload.jti),
    ...(typeof payload.gid === 'string' ? { grantId: payload.gid } : {}),
    exp: payload.exp!,
    ...(typeof jkt === 'string' ? { jkt } : {}),
  });
}

export function createResourceServer(options: ResourceServerOptions): ResourceServer {
  const rememberProof = options.rememberProof ?? rememberProofInMemory();

  // Token string → its verified claims, oldest first: an app sends the same token many times, and
  // an ES256 verification costs far more than the rest of a request. Only successful
  // verifications are kept, each until its `exp`.
  const verified = new Map<string, AccessTokenInfo>();
  const verifiedCacheSize = options.verifiedTokenCacheSize ?? 10_000;

  async function verifyAccessToken(token: string): Promise<AccessTokenInfo> {
    const cached = verified.get(token);
    if (cached) {
      if (cached.exp > Math.floor(Date.now() / 1000)) return cached; // jose's own rule: expired once exp <= now
      verified.delete(token);
    }
    const info = accessTokenInfo(await verifyAccessTokenClaims(token, options));
    if (verifiedCacheSize > 0) {
      verified.set(token, info);
      if (verified.size > verifiedCacheSize) verified.delete(verified.keys().next().value!);
    }
    return info;
  }

  async function authenticate(request: FastifyRequest): Promise<AccessTokenInfo> {
    const header = request.headers.authorization;
    if (!header) throw new BearerError(401, undefined, 'An access token is required.');
    const [scheme, token, ...rest] = header.split(' ');
    if (!token || rest.length > 0 || !/^(Bearer|DPoP)$/i.test(scheme ?? '')) {
      throw new BearerError(
        400,
        'invalid_request',
        'The Authorization header must be "Bearer <token>" or "DPoP <token>".',
      );
    }
    const info = await verifyAccessToken(token);
    if (info.jkt) {
      if (!/^DPoP$/i.test(scheme!))
        throw new BearerError(
          401,
          'invalid_token',
          'This token is DPoP-bound: send it as "DPoP <token>" with a DPoP proof.',
        );
      const url = options.publicUrl?.(request) ?? `${options.issuer}${request.url}`;
      await checkDpopProof(request.headers.dpop, { method: request.method, url, token, jkt: info.jkt }, rememberProof);
    } else if (/^DPoP$/i.test(scheme!)) {
      throw new BearerError(401, 'invalid_token', 'This token is not DPoP-bound: send it as "Bearer <token>".');
    }
    if (options.isRevoked && (await options.isRevoked(info, token))) {
      throw new BearerError(401, 'invalid_token', 'The access token has been revoked.');
    }
    return info;
  }

  return {
    authenticate,
    requireToken: async (request) => {
      request.accessToken = await authenticate(request);
    },
    requireScope:
      (...anyOf) =>
      async (request) => {
        request.accessToken ??= await authenticate(request);
        if (!anyOf.some((scope) => request.accessToken!.scopes.has(scope))) {
          throw new BearerError(
            403,
            'insufficient_scope',
            `This call needs one of these scopes: ${anyOf.join(' ')}.`,
            anyOf.join(' '),
          );
        }
      },
  };
}

/** Records a DPoP proof as used; resolves false when it was already used (a replay). */
export type RememberProof = (key: string, expiresAt: number) => Promise<boolean>;

/**
 * RFC 9449 §4.3: `proof` (the DPoP header) is fresh, for this method and URL (query and fragment
 * aside), for this access token (`ath`), signed by the key the token is bound to (`jkt`), and not
 * used before. Throws a BearerError `invalid_dpop_proof` otherwise.
 */
export async function checkDpopProof(
  proof: string | string[] | undefined,
  at: { method: string; url: string; token: string; jkt: string },
  rememberProof: RememberProof,
): Promise<void> {
  if (typeof proof !== 'string') throw new BearerError(401, 'invalid_dpop_proof', 'A DPoP proof is required.');
  let payload: JWTPayload;
  let thumbprint: string;
  try {
    const header = decodeProtectedHeader(proof);
    if (!header.jwk || !DPOP_ALGORITHMS.includes(String(header.alg))) throw new Error('bad header');
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: DPOP_ALGORITHMS }));
    thumbprint = await calculateJwkThumbprint(header.jwk);
  } catch {
    throw new BearerError(401, 'invalid_dpop_proof', 'The DPoP proof is invalid.');
  }
  const now = Math.floor(Date.now() / 1000);
  const ath = createHash('sha256').update(at.token).digest('base64url');
  if (
    thumbprint !== at.jkt ||
    payload.htm !== at.method ||
    payload.htu !== at.url.split(/[?#]/)[0] ||
    payload.ath !== ath ||
    typeof payload.iat !== 'number' ||
    Math.abs(now - payload.iat) > DPOP_PROOF_MAX_AGE_SECONDS ||
    typeof payload.jti !== 'string'
  ) {
    throw new BearerError(401, 'invalid_dpop_proof', 'The DPoP proof does not match this request or token.');
  }
  // Replay: a proof is used once (remembered as long as it could still be accepted).
  const firstUse = await rememberProof(`${thumbprint}:${payload.jti}`, now + DPOP_PROOF_MAX_AGE_SECONDS);
  if (!firstUse) throw new BearerError(401, 'invalid_dpop_proof', 'The DPoP proof was already used.');
}

function rememberProofInMemory(): RememberProof {
  const seen = new Map<string, number>();
  return async (key: string, expiresAt: number) => {
    const now = Math.floor(Date.now() / 1000);
    if (seen.size > 10_000) for (const [k, expiry] of seen) if (expiry < now) seen.delete(k);
    if (seen.has(key)) return false;
    seen.set(key, expiresAt);
    return true;
  };
}

/** Decorates the registering scope with `resourceServer` (register once per resource's scope). */
export const resourceServerPlugin = fp(async (app: FastifyInstance, options: ResourceServerOptions) => {
  app.decorateRequest('accessToken', undefined);
  app.decorate('resourceServer', createResourceServer(options));
});

/** A token reaches only its own user's data (docs/consent.md, "Grants and tokens"). */
export function requireOwner(request: FastifyRequest, userId: string): void {
  const token = request.accessToken;
  if (!token?.sub || token.sub !== userId) {
    throw new BearerError(403, 'insufficient_scope', "This token may only reach its own user's data.");
  }
}
