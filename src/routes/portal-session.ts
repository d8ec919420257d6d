// Sign-in for Accord's own pages (admin consent, My apps, the admin centre): people sign in with
// their Accord account through the provider's own /auth, as the first-party client
// `accord-portal`, and the pages then read the provider's SSO session — never a separate password.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type JWTVerifyGetKey, jwtVerify } from 'jose';
import { inject } from 'light-my-request';
import type Provider from 'oidc-provider';
import { Type } from 'typebox';
import { AccordError, InvalidRequest } from '../core/errors.js';
import { FIRST_PARTY_CLIENT_ID } from '../core/first-party-client.js';
import type { Pool } from '../db/pool.js';
import type { UserRecord } from '../db/users.js';
import { revokeGrants } from '../services/revocation.js';
import { signedInUser } from '../services/sign-in.js';
import { stringEnum } from './schema-parts.js';

/** The signed cookie holding one pending portal sign-in: state, PKCE verifier and where to go next. */
const PENDING_COOKIE = '__accord_portal';
const PENDING_TTL_SECONDS = 10 * 60;
export const PORTAL_CALLBACK_PATH = '/portal/callback';
/** Where RP-initiated logout ends (the portal's registered post_logout_redirect_uri). */
export const PORTAL_SIGNED_OUT_PATH = '/portal/signed-out';

interface PendingSignIn {
  state: string;
  verifier: string;
  returnTo: string;
}

export interface PortalSessionOptions {
  provider: Provider;
  pool: Pool;
  issuer: string;
  secureCookies: boolean;
  /** Verifies ID tokens with the issuer's own keys (no HTTP round trip). */
  keys: JWTVerifyGetKey;
}

/** The static client registration of the portal, for oidc-provider's `clients` configuration. */
export function portalClientMetadata(issuer: string) {
  return {
    client_id: FIRST_PARTY_CLIENT_ID,
    client_name: 'Accord',
    token_endpoint_auth_method: 'none',
    redirect_uris: [`${issuer}${PORTAL_CALLBACK_PATH}`],
    post_logout_redirect_uris: [`${issuer}${PORTAL_SIGNED_OUT_PATH}`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  } as const;
}

/**
 * A same-site path to return to after sign-in, or undefined. Only a path starting with a single
 * `/` is accepted: `//host`, `/\host` and absolute URLs would leave the site (open redirect,
 * RFC 9700 §4.11).
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2000) return undefined;
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return undefined;
  // Control characters (tab, newline) are dropped by URL parsers and could rebuild `//`.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this refuses
  if (/[\u0000-\u001f\u007f]/.test(value)) return undefined;
  try {
    const base = 'http://accord.invalid';
    if (new URL(value, base).origin !== base) return undefined;
  } catch {
    return undefined;
  }
  return value;
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

export class PortalSession {
  /** The provider's own request handler: the token endpoint is not a Fastify route to inject into. */
  private readonly serveProtocol: ReturnType<Provider['callback']>;

  constructor(private readonly options: PortalSessionOptions) {
    this.serveProtocol = options.provider.callback();
  }

  /** The signed-in, enabled user of this browser's SSO session, if any. Reads only; writes no cookie. */
  async currentUser(request: FastifyRequest, reply: FastifyReply): Promise<UserRecord | undefined> {
    return (await this.readSession(request, reply)).user;
  }

  /** The session's account id (if any) and its user, when that user still exists and is enabled. */
  private async readSession(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ accountId?: string; user?: UserRecord }> {
    const { provider, pool } = this.options;
    const ctx = provider.createContext(request.raw, reply.raw);
    const session = await provider.Session.get(ctx);
    if (!session.accountId) return {};
    const user = await signedInUser(pool, session.accountId);
    return { accountId: session.accountId, ...(user ? { user } : {}) };
  }

  /**
   * The signed-in user, or undefined after sending the browser to sign in (303 to /auth) and back
   * to this page. Only a GET can be resumed, so a POST without a session goes back to `returnTo`.
   */
  requireSignedIn = async (
    request: FastifyRequest,
    reply: FastifyReply,
    returnTo = request.url,
  ): Promise<UserRecord | undefined> => {
    const { accountId, user } = await this.readSession(request, reply);
    if (user) return user;
    // A session whose account was disabled or removed must not be resumed: ask for a fresh sign-in.
    await this.startSignIn(reply, returnTo, accountId !== undefined);
    return undefined;
  };

  /** Sends the browser to the provider's /auth as the portal client (PKCE S256, state). */
  async startSignIn(reply: FastifyReply, returnTo: string, forceLogin: boolean): Promise<FastifyReply> {
    const { issuer, secureCookies } = this.options;
    const pending: PendingSignIn = {
      state: base64url(randomBytes(24)),
      verifier: base64url(randomBytes(32)),
      returnTo: safeReturnTo(returnTo) ?? '/my/apps',
    };
    reply.setCookie(PENDING_COOKIE, JSON.stringify(pending), {
      signed: true,
      httpOnly: true,
      sameSite: 'lax',
      secure: secureCookies,
      path: PORTAL_CALLBACK_PATH,
      maxAge: PENDING_TTL_SECONDS,
    });
    const params = new URLSearchParams({
      client_id: FIRST_PARTY_CLIENT_ID,
      response_type: 'code',
      redirect_uri: `${issuer}${PORTAL_CALLBACK_PATH}`,
      scope: 'openid',
      state: pending.state,
      code_challenge: base64url(createHash('sha256').update(pending.verifier).digest()),
      code_challenge_method: 'S256',
      ...(forceLogin ? { prompt: 'login' } : {}),
    });
    return reply.header('cache-control', 'no-store').redirect(`/auth?${params.toString()}`, 303);
  }

  /** The pending sign-in from the signed cookie, if present and untampered. */
  readPending(request: FastifyRequest): PendingSignIn | undefined {
    const raw = request.cookies[PENDING_COOKIE];
    if (!raw) return undefined;
    const unsigned = request.unsignCookie(raw);
    if (!unsigned.valid || unsigned.value === null) return undefined;
    try {
      const value = JSON.parse(unsigned.value) as Partial<PendingSignIn>;
      if (typeof value.state !== 'string' || typeof value.verifier !== 'string' || typeof value.returnTo !== 'string')
        return undefined;
      return { state: value.state, verifier: value.verifier, returnTo: value.returnTo };
    } catch {
      return undefined;
    }
  }

  clearPending(reply: FastifyReply): void {
    reply.clearCookie(PENDING_COOKIE, { path: PORTAL_CALLBACK_PATH });
  }

  /**
   * Redeems the code at the provider's token endpoint (in-process: no network hop to ourselves),
   * checks the ID token, and returns its `sub`. The portal keeps no tokens: the grant behind the
   * code is revoked once the sign-in is confirmed.
   */
  async redeem(code: string, verifier: string): Promise<string> {
    const { provider, issuer, keys, pool } = this.options;
    const codeRecord = await provider.AuthorizationCode.find(code);
    const response = await inject(this.serveProtocol, {
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: `${issuer}${PORTAL_CALLBACK_PATH}`,
        client_id: FIRST_PARTY_CLIENT_ID,
        code_verifier: verifier,
      }).toString(),
    });
    if (response.statusCode !== 200) {
      throw new AccordError(400, 'invalid_grant', 'The sign-in could not be completed. Start again.').withMessage(
        'pages:errors.portalSignInFailed',
      );
    }
    const idToken = (response.json() as { id_token?: unknown }).id_token;
    if (typeof idToken !== 'string')
      throw new AccordError(400, 'invalid_grant', 'The sign-in returned no ID token.').withMessage(
        'pages:errors.portalSignInFailed',
      );
    // OIDC Core §3.1.3.7: issuer, audience, signature and expiry.
    const { payload } = await jwtVerify(idToken, keys, { issuer, audience: FIRST_PARTY_CLIENT_ID });
    if (typeof payload.sub !== 'string')
      throw new AccordError(400, 'invalid_grant', 'The sign-in returned no subject.').withMessage(
        'pages:errors.portalSignInFailed',
      );
    if (codeRecord?.grantId) await revokeGrants(pool, [codeRecord.grantId]);
    return payload.sub;
  }
}

const SignInQuery = Type.Object({
  returnTo: Type.Optional(Type.String({ maxLength: 2000 })),
  prompt: Type.Optional(stringEnum(['login'])),
});

const CallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ maxLength: 2000 })),
  state: Type.Optional(Type.String({ maxLength: 500 })),
  iss: Type.Optional(Type.String({ maxLength: 2000 })),
  error: Type.Optional(Type.String({ maxLength: 200 })),
  error_description: Type.Optional(Type.String({ maxLength: 2000 })),
});

export async function portalSessionRoutes(
  instance: FastifyInstance,
  deps: { portal: PortalSession; issuer: string },
): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { portal, issuer } = deps;

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  // Explicit sign-in (or "use another account" with prompt=login).
  app.get('/portal/sign-in', { schema: { querystring: SignInQuery } }, async (request, reply) =>
    portal.startSignIn(reply, safeReturnTo(request.query.returnTo) ?? '/my/apps', request.query.prompt === 'login'),
  );

  app.get(PORTAL_CALLBACK_PATH, { schema: { querystring: CallbackQuery } }, async (request, reply) => {
    const pending = portal.readPending(request);
    portal.clearPending(reply);
    const { code, state, iss, error } = request.query;
    if (!pending || !state || !equal(state, pending.state)) {
      throw InvalidRequest('This sign-in has expired or was started in another browser. Start again.').withMessage(
        'pages:errors.portalSignInExpired',
      );
    }
    // RFC 9207: the response names the issuer it came from.
    if (iss !== undefined && iss !== issuer)
      throw InvalidRequest('The sign-in response came from another issuer.').withMessage(
        'pages:errors.portalOtherIssuer',
      );
    // Cancelled at the sign-in page: back to the landing page, which says so (not an error page).
    if (error === 'access_denied') return reply.redirect('/?signin=cancelled', 303);
    if (error)
      throw new AccordError(
        400,
        error === 'access_denied' ? 'access_denied' : 'sign_in_failed',
        'You were not signed in.',
      ).withMessage('pages:errors.portalNotSignedIn');
    if (!code) throw InvalidRequest('The sign-in response carries no code.').withMessage('pages:errors.portalNoCode');
    const sub = await portal.redeem(code, pending.verifier);
    const user = await portal.currentUser(request, reply);
    if (!user || user.id !== sub)
      throw InvalidRequest('The sign-in does not match this browser session. Start again.').withMessage(
        'pages:errors.portalSignInMismatch',
      );
    // Checked again here: the cookie is signed, but the check must not depend on who wrote it.
    return reply.redirect(safeReturnTo(pending.returnTo) ?? '/my/apps', 303);
  });
}

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
