// What Accord's log says about a request, and what it never says. A request's query may carry an
// authorization code and `state` (`/portal/callback`, an app's callback), an `id_token_hint`, a
// login hint or even a token (RFC 6750 §2.3); its headers carry credentials and cookies. So a log
// line names a request by its method and path only, for Fastify's routes and the provider's alike,
// and pino removes credentials from anything else logged with them. One place for both rules.
import type { FastifyRequest } from 'fastify';
import type { PinoLoggerOptions } from 'fastify/types/logger.js';

/** The path of a request target (path and query): what the log shows of it. */
export function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

/**
 * An interaction's uid is the value of oidc-provider's interaction cookies, and it is in the path
 * of its pages (`/interaction/<uid>…`) and of the provider's resumption (`/auth/<uid>`).
 */
const INTERACTION_UID = /^\/(interaction|auth)\/[^/]+/;

/** A request as a log line shows it: the path without an interaction's uid; never its query, headers or body. */
export function requestForLog(method: string | undefined, target: string | undefined) {
  return { method, url: pathOf(target ?? '/').replace(INTERACTION_UID, '/$1/:uid') };
}

/** Fastify's logger options: the level, a request serializer without the query, credentials redacted. */
export function loggerOptions(level: string): PinoLoggerOptions {
  return {
    level,
    serializers: {
      req: (request: FastifyRequest) => ({
        ...requestForLog(request.method, request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
    },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers.dpop',
        'res.headers["set-cookie"]',
        // Should a form or token request's fields ever be logged as an object.
        '*.password',
        '*.client_secret',
        '*.refresh_token',
        '*.access_token',
        '*.id_token_hint',
      ],
      censor: '[redacted]',
    },
  };
}
