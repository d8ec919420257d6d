// Serves oidc-provider's endpoints ahead of Fastify: the HTTP server Fastify listens on hands a
// request for a protocol path straight to the provider, and every other request to Fastify.
// The provider routes, parses and answers those requests itself, so taking them through Fastify's
// router and hooks only to hijack the reply cost ~10 % of POST /token's throughput
// (bench/README.md, "wrapper overhead"). Unknown paths stay Fastify's 404.

import type { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyServerFactory } from 'fastify';
import type Provider from 'oidc-provider';
import { pathOf, requestForLog } from '../plugins/log-redaction.js';
import { isGrantManagementPath } from './grant-management.js';

/** oidc-provider's default routes (configuration `routes`), plus discovery and the logout steps. */
const PROTOCOL_PATHS: ReadonlySet<string> = new Set([
  '/.well-known/openid-configuration',
  '/auth',
  '/token',
  '/jwks',
  '/me',
  '/token/introspection',
  '/token/revocation',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/request',
]);
/** `/auth/<uid>`: where the provider resumes an authorization after its interaction; and `/grants/<grant_id>`, Grant Management's endpoint (grant-management.ts). */
const RESUME_PATH = /^\/auth\/[^/]+$/;

const isProviderPath = (path: string) =>
  PROTOCOL_PATHS.has(path) || RESUME_PATH.test(path) || isGrantManagementPath(path);

/** Whether the request target (path and query) is one of the provider's endpoints. */
export function isProtocolPath(target: string): boolean {
  return isProviderPath(pathOf(target));
}

/**
 * Where the provider answers a browser: the authorization endpoint and its resumption (a page,
 * an error page or a redirect back to the app) and the sign-out steps (pages and redirects).
 */
const BROWSER_PATHS: ReadonlySet<string> = new Set([
  '/auth',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
]);
const isBrowserPath = (path: string) => BROWSER_PATHS.has(path) || RESUME_PATH.test(path);

// The provider's own pages (errors, logout) and redirects must not be framed or leak the URL
// either (RFC 9700 §4.16, §4.2.4). Its other endpoints answer programs with JSON (a POST, or a
// bearer token a frame cannot send; discovery and /jwks are public), where framing and referrers
// do not arise: they get nosniff only. All four on every request cost /jwks ~13 % of its
// throughput (bench/README.md, "Session 10").
const BROWSER_HEADERS = [
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
  ['x-content-type-options', 'nosniff'],
] as const;

const LEVELS_WITH_INFO = new Set(['trace', 'debug', 'info']);

/**
 * Fastify's `serverFactory`: the server that dispatches. `log` returns the app's logger (the app
 * is built after its server); each protocol request gets one `request completed` line with its
 * path (never the query: plugins/log-redaction.ts) when info is enabled.
 */
export function protocolServerFactory(provider: Provider, log: () => FastifyBaseLogger): FastifyServerFactory {
  logProviderErrors(provider, log);
  // Composed at the first request rather than here: the app adds middleware to the provider
  // (`provider.use`) after this server exists, and Koa composes its middleware in `callback()`.
  let serveProtocol: ReturnType<Provider['callback']> | undefined;
  return (fastify) => {
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const path = pathOf(request.url ?? '/');
      if (!isProviderPath(path)) {
        fastify(request, response);
        return;
      }
      if (isBrowserPath(path)) for (const [name, value] of BROWSER_HEADERS) response.setHeader(name, value);
      else response.setHeader('x-content-type-options', 'nosniff');
      // Closing (a graceful shutdown): answer, then let the client go, as Fastify does for its routes.
      if (!server.listening) response.setHeader('connection', 'close');
      const logger = log();
      if (LEVELS_WITH_INFO.has(logger.level)) logCompletion(logger, request, response);
      serveProtocol ??= provider.callback();
      void serveProtocol(request, response);
    });
    return server;
  };
}

/**
 * Every error the provider's Koa application reports, through the app's logger as one JSON line.
 * Without a listener Koa prints each one as a multi-line stack trace on stderr: a client that
 * hangs up mid-upload, or sends a malformed chunked body, would write one per request. Such an
 * error is the connection's own (the socket failed with it): it belongs to the request's
 * `request completed` line, not to an error report. Anything else escaped the provider's own
 * error handling and is logged as an error. Koa installs its printer only when the application
 * has no `error` listener as `callback()` is called, so this runs first.
 */
function logProviderErrors(provider: Provider, log: () => FastifyBaseLogger): void {
  // The provider is a Koa application; its type lists only the provider's own events.
  const koa = provider as unknown as EventEmitter;
  koa.on(
    'error',
    (error: Error & { expose?: boolean }, ctx?: { req?: IncomingMessage; method?: string; path?: string }) => {
      if (ctx?.req && isConnectionError(ctx.req, error)) return;
      const req = requestForLog(ctx?.method, ctx?.path);
      // An error Koa would answer with its own message (a 4xx) was the request's fault, as Koa judges it.
      if (error.expose) log().info({ req, error: error.message }, 'protocol request refused');
      else log().error({ err: error, req }, 'protocol request failed');
    },
  );
}

/**
 * Whether `error` is the failure of the request's connection itself: the error its socket failed
 * with (ECONNRESET, …), or Node's HTTP parser refusing what the client sent (HPE_*: a malformed
 * chunk, or a connection that ended mid-request). Neither can come from Accord's own work.
 */
function isConnectionError(request: IncomingMessage, error: Error & { code?: unknown }): boolean {
  return request.socket?.errored === error || (typeof error.code === 'string' && error.code.startsWith('HPE_'));
}

function logCompletion(logger: FastifyBaseLogger, request: IncomingMessage, response: ServerResponse): void {
  const started = performance.now();
  response.once('close', () => {
    // The connection failed under the request: the client hung up (ECONNRESET) or sent what is
    // not HTTP (HPE_*, e.g. a malformed chunk). The client's doing: reported here, at info.
    const connectionError = request.socket?.errored as (Error & { code?: unknown }) | null | undefined;
    logger.info(
      {
        req: requestForLog(request.method, request.url),
        res: { statusCode: response.statusCode },
        responseTime: performance.now() - started,
        ...(response.writableFinished ? {} : { aborted: true }),
        ...(connectionError
          ? {
              connectionError:
                typeof connectionError.code === 'string' ? connectionError.code : connectionError.message,
            }
          : {}),
      },
      'request completed',
    );
  });
}
