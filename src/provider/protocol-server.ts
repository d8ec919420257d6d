// Serves oidc-provider's endpoints ahead of Fastify: the HTTP server Fastify listens on hands a
// request for a protocol path straight to the provider, and every other request to Fastify.
// The provider routes, parses and answers those requests itself, so taking them through Fastify's
// router and hooks only to hijack the reply cost ~10 % of POST /token's throughput
// (bench/README.md, "wrapper overhead"). Unknown paths stay Fastify's 404.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyServerFactory } from 'fastify';
import type Provider from 'oidc-provider';

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
/** `/auth/<uid>`: where the provider resumes an authorization after its interaction. */
const RESUME_PATH = /^\/auth\/[^/]+$/;

/** The path of a request target (path and query). */
function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

const isProviderPath = (path: string) => PROTOCOL_PATHS.has(path) || RESUME_PATH.test(path);

/** Whether the request target (path and query) is one of the provider's endpoints. */
export function isProtocolPath(target: string): boolean {
  return isProviderPath(pathOf(target));
}

// The provider's own pages (errors, logout) must not be framed or leak the URL either
// (RFC 9700 §4.16, §4.2.4).
const PROTOCOL_HEADERS = [
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
  ['x-content-type-options', 'nosniff'],
] as const;

const LEVELS_WITH_INFO = new Set(['trace', 'debug', 'info']);

/**
 * Fastify's `serverFactory`: the server that dispatches. `log` returns the app's logger (the app
 * is built after its server); each protocol request gets one `request completed` line with its
 * path (never the query: it may carry a login hint or a request object) when info is enabled.
 */
export function protocolServerFactory(provider: Provider, log: () => FastifyBaseLogger): FastifyServerFactory {
  const serveProtocol = provider.callback();
  return (fastify) => {
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const path = pathOf(request.url ?? '/');
      if (!isProviderPath(path)) {
        fastify(request, response);
        return;
      }
      for (const [name, value] of PROTOCOL_HEADERS) response.setHeader(name, value);
      // Closing (a graceful shutdown): answer, then let the client go, as Fastify does for its routes.
      if (!server.listening) response.setHeader('connection', 'close');
      const logger = log();
      if (LEVELS_WITH_INFO.has(logger.level)) logCompletion(logger, request, response, path);
      void serveProtocol(request, response);
    });
    return server;
  };
}

function logCompletion(
  logger: FastifyBaseLogger,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): void {
  const started = performance.now();
  response.once('close', () => {
    logger.info(
      {
        req: { method: request.method, url: path },
        res: { statusCode: response.statusCode },
        responseTime: performance.now() - started,
        ...(response.writableFinished ? {} : { aborted: true }),
      },
      'request completed',
    );
  });
}
