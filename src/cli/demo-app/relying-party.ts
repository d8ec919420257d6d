// The demo app behind `accord demo-app`: a small confidential relying party, written as any app
// would use Accord, through openid-client only. It signs in with the authorization code flow and
// PKCE (RFC 7636; state and nonce too), shows the claims of the ID token and of the access token,
// calls the data API, refreshes (offline_access, asked with prompt=consent as OpenID Connect Core
// §11 requires), and signs out at the provider (RP-initiated logout). Sessions live in memory.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { type DemoSession, type PageState, renderHome } from './pages.js';

export interface RelyingPartyOptions {
  issuer: string;
  port: number;
  clientId: string;
  clientSecret: string;
}

/** What the demo asks for: sign-in, the profile, a refresh token, and two data API permissions. */
export const DEMO_SCOPE = 'openid profile offline_access User.Read Calendars.Read';

const SESSION_COOKIE = 'accord_demo_session';
/** The host names the app answers on (the seeded app registers both); anything else is refused. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];
/** Form bodies here hold a CSRF token and nothing else. */
const MAX_FORM_BYTES = 1024;
/** Browsers remembered at once; the oldest is forgotten first. */
const MAX_SESSIONS = 1000;

const randomId = () => randomBytes(24).toString('base64url');

export class RelyingParty {
  private readonly sessions = new Map<string, DemoSession>();
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(private readonly options: RelyingPartyOptions) {}

  /** Discovery, once it succeeds (Accord may start after the demo app). */
  private discover(): Promise<oidc.Configuration> {
    this.configuration ??= oidc
      .discovery(
        new URL(this.options.issuer),
        this.options.clientId,
        undefined,
        oidc.ClientSecretBasic(this.options.clientSecret),
        // Plain http is for an issuer on this machine only (Accord's own ISSUER rule).
        { execute: this.options.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [] },
      )
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw error;
      });
    return this.configuration;
  }

  /** The origin the browser used, when it is one of this app's own (loopback, this port). */
  private originOf(request: IncomingMessage): string | undefined {
    const host = request.headers.host ?? '';
    const name = host.slice(0, host.lastIndexOf(':'));
    return host === `${name}:${this.options.port}` && LOOPBACK_HOSTS.includes(name) ? `http://${host}` : undefined;
  }

  private session(request: IncomingMessage, response: ServerResponse): DemoSession {
    const id = /(?:^|;\s*)accord_demo_session=([\w-]+)/.exec(request.headers.cookie ?? '')?.[1];
    const existing = id ? this.sessions.get(id) : undefined;
    if (existing) return existing;
    const session: DemoSession = { id: randomId(), csrf: randomId(), results: {} };
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(session.id, session);
    response.setHeader('set-cookie', `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Lax`);
    return session;
  }

  readonly handle = (request: IncomingMessage, response: ServerResponse): void => {
    this.route(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'The demo app failed.\n');
      process.stderr.write(`accord demo-app: ${error instanceof Error ? error.message : String(error)}\n`);
    });
  };

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const origin = this.originOf(request);
    if (!origin) {
      send(response, 421, 'text/plain; charset=utf-8', `Open http://localhost:${this.options.port}/\n`);
      return;
    }
    const url = new URL(request.url ?? '/', origin);
    const session = this.session(request, response);
    const key = `${request.method} ${url.pathname}`;
    if (key === 'GET /') return this.home(response, session, url);
    if (key === 'GET /login') return this.signIn(response, session, origin);
    if (key === 'GET /callback') return this.callback(response, session, url);
    if (request.method === 'POST' && ['/call/me', '/call/calendar', '/refresh', '/logout'].includes(url.pathname)) {
      if (!(await hasCsrfToken(request, session.csrf))) {
        send(response, 403, 'text/plain; charset=utf-8', 'The form has expired: go back and reload the page.\n');
        return;
      }
      if (url.pathname === '/logout') return this.signOut(response, session, origin);
      if (!session.tokens) return redirect(response, '/');
      if (url.pathname === '/refresh') return this.refresh(response, session);
      return this.callApi(response, session, url.pathname === '/call/me' ? 'me' : 'calendar');
    }
    send(response, 404, 'text/plain; charset=utf-8', 'Not found\n');
  }

  private home(response: ServerResponse, session: DemoSession, url: URL): void {
    const state: PageState = { notice: session.notice, error: session.error };
    session.notice = undefined;
    session.error = undefined;
    // Back from the provider's logout, with the state this app sent (the only query it expects).
    const logoutState = url.searchParams.get('state');
    if (logoutState && logoutState === session.logoutState) {
      session.logoutState = undefined;
      state.notice = 'signed-out';
    }
    send(response, 200, 'text/html; charset=utf-8', renderHome(session, state, this.options), this.options.issuer);
  }

  private async signIn(response: ServerResponse, session: DemoSession, origin: string): Promise<void> {
    let config: oidc.Configuration;
    try {
      config = await this.discover();
    } catch (error) {
      session.error = `Accord does not answer at ${this.options.issuer}: ${describe(error)}`;
      return redirect(response, '/');
    }
    const verifier = oidc.randomPKCECodeVerifier();
    const pending = {
      verifier,
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      redirectUri: `${origin}/callback`,
    };
    session.pending = pending;
    const authorization = oidc.buildAuthorizationUrl(config, {
      redirect_uri: pending.redirectUri,
      scope: DEMO_SCOPE,
      // offline_access is granted only with prompt=consent (OpenID Connect Core §11).
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    redirect(response, authorization.href);
  }

  private async callback(response: ServerResponse, session: DemoSession, url: URL): Promise<void> {
    const pending = session.pending;
    session.pending = undefined;
    if (!pending) {
      session.error = 'No sign-in was in progress in this browser: start again.';
      return redirect(response, '/');
    }
    try {
      const config = await this.discover();
      // The URL as the provider sent the browser here: its own origin, as in the request.
      const current = new URL(`${pending.redirectUri}${url.search}`);
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      session.tokens = tokenView(tokens);
      session.results = {};
      session.notice = 'signed-in';
    } catch (error) {
      session.error = `Sign-in did not complete: ${describe(error)}`;
    }
    redirect(response, '/');
  }

  private async refresh(response: ServerResponse, session: DemoSession): Promise<void> {
    const current = session.tokens!;
    if (!current.refreshToken) {
      session.error = 'There is no refresh token: Accord issues one only when offline_access was granted.';
      return redirect(response, '/');
    }
    try {
      const tokens = await oidc.refreshTokenGrant(await this.discover(), current.refreshToken);
      const next = tokenView(tokens);
      // A refresh may omit the ID token: the one from the sign-in still says who signed in.
      session.tokens = {
        ...next,
        idToken: next.idToken || current.idToken,
        idClaims: next.idClaims ?? current.idClaims,
      };
      session.tokens.refreshes = current.refreshes + 1;
      session.notice = 'refreshed';
    } catch (error) {
      session.error = `The refresh was refused: ${describe(error)}`;
    }
    redirect(response, '/');
  }

  private async callApi(response: ServerResponse, session: DemoSession, call: 'me' | 'calendar'): Promise<void> {
    const path = call === 'me' ? '/data/v1/me' : '/data/v1/me/calendar/events';
    const target = new URL(path, this.options.issuer);
    try {
      const answer = await oidc.fetchProtectedResource(
        await this.discover(),
        session.tokens!.accessToken,
        target,
        'GET',
      );
      const text = await answer.text();
      session.results[call] = { url: target.href, status: answer.status, body: prettyJson(text) };
    } catch (error) {
      // A refusal (401, 403) comes as an error carrying the answer: shown as any other answer.
      session.results[call] =
        error instanceof oidc.WWWAuthenticateChallengeError
          ? { url: target.href, status: error.status, body: prettyJson(await error.response.text()) }
          : { url: target.href, status: 0, body: describe(error) };
    }
    redirect(response, `/#${call}`);
  }

  /** Forgets the tokens here, then ends the session at the provider, which sends the browser back. */
  private async signOut(response: ServerResponse, session: DemoSession, origin: string): Promise<void> {
    const idToken = session.tokens?.idToken;
    session.tokens = undefined;
    session.results = {};
    if (!idToken) return redirect(response, '/');
    session.logoutState = oidc.randomState();
    const logout = oidc.buildEndSessionUrl(await this.discover(), {
      id_token_hint: idToken,
      post_logout_redirect_uri: `${origin}/`,
      state: session.logoutState,
    });
    redirect(response, logout.href);
  }
}

function tokenView(tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): DemoSession['tokens'] & {} {
  let accessClaims: Record<string, unknown> | undefined;
  try {
    accessClaims = decodeJwt(tokens.access_token);
  } catch {
    accessClaims = undefined; // an opaque token: only its issuer can read it
  }
  return {
    idToken: tokens.id_token ?? '',
    idClaims: tokens.claims() as Record<string, unknown> | undefined,
    accessToken: tokens.access_token,
    accessClaims,
    refreshToken: tokens.refresh_token,
    scope: tokens.scope ?? '',
    expiresIn: tokens.expiresIn(),
    receivedAt: new Date(),
    refreshes: 0,
  };
}

const prettyJson = (text: string) => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
};

/** An error's message, with the OAuth error code and description when the provider gave them. */
function describe(error: unknown): string {
  if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError)
    return `${error.error}${error.error_description ? ` — ${error.error_description}` : ''}`;
  const cause = (error as { cause?: { code?: unknown } }).cause?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof cause === 'string' ? `${message} (${cause})` : message;
}

async function hasCsrfToken(request: IncomingMessage, expected: string): Promise<boolean> {
  if (!/^application\/x-www-form-urlencoded\b/.test(request.headers['content-type'] ?? '')) return false;
  let body = '';
  for await (const chunk of request) {
    body += String(chunk);
    if (body.length > MAX_FORM_BYTES) return false;
  }
  const presented = Buffer.from(new URLSearchParams(body).get('_csrf') ?? '');
  const wanted = Buffer.from(expected);
  return presented.length === wanted.length && timingSafeEqual(presented, wanted);
}

function redirect(response: ServerResponse, location: string): void {
  response.writeHead(303, { location, 'cache-control': 'no-store' });
  response.end();
}

function send(response: ServerResponse, status: number, type: string, body: string, issuer?: string): void {
  response.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    // Forms post here, and sign-out's redirect goes on to the provider's logout page.
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${issuer ? ` ${new URL(issuer).origin}` : ''}; frame-ancestors 'none'; base-uri 'none'`,
  });
  response.end(body);
}

/** Serves the demo app on the loopback interface (IPv4, and IPv6 where the machine has it) once it listens. */
export async function startRelyingParty(options: RelyingPartyOptions): Promise<{ close(): Promise<void> }> {
  const app = new RelyingParty(options);
  const listen = (host: string) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer(app.handle);
      server.once('error', reject);
      server.listen(options.port, host, () => resolve(server));
    });
  const servers = [await listen('127.0.0.1')];
  await listen('::1').then(
    (server) => servers.push(server),
    () => undefined, // no IPv6 loopback here: localhost is 127.0.0.1
  );
  return {
    close: () =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      ).then(() => undefined),
  };
}
