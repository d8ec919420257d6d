// The one error handler: every error becomes a 4xx/5xx with an OAuth-style JSON body, or the
// error page for browsers on page routes. Internals stay in the log, never in the response.
// An error is classed by where it came from: Accord's own (core/errors.ts — a database outage
// among them, raised where pg failed: db/pool.ts), the client's (Fastify's validation, its
// reading of the request: a 4xx of its own; anything that failed because the client hung up), or
// a fault of Accord's (500, logged as an error).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AccordError, DatabaseUnavailable, type MessageKey } from '../core/errors.js';
import { pageLocale } from './i18n.js';

interface WireError {
  status: number;
  error: string;
  description: string;
  headers?: Record<string, string>;
  /** The request field the error is about, when there is one. */
  field?: string;
  /** The message an HTML page shows in the reader's language. */
  messageKey?: MessageKey;
}

function toWireError(error: FastifyError | AccordError | Error): WireError {
  if (error instanceof AccordError) {
    const field = typeof error.details.field === 'string' ? error.details.field : undefined;
    return {
      status: error.status,
      error: error.code,
      description: error.description,
      headers: error.headers,
      ...(field ? { field } : {}),
      ...(error.messageKey ? { messageKey: error.messageKey } : {}),
    };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return { status: 400, error: 'invalid_request', description: fastifyError.message };
  }
  if (isUnstorableText(error)) {
    return {
      status: 400,
      error: 'invalid_request',
      description: 'The request contains a character that cannot be stored (U+0000 or an unpaired surrogate).',
    };
  }
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    const code =
      status === 413
        ? 'request_too_large'
        : status === 415
          ? 'unsupported_media_type'
          : status === 429
            ? 'too_many_requests'
            : 'invalid_request';
    return { status, error: code, description: fastifyError.message };
  }
  return { status: 500, error: 'server_error', description: 'An unexpected error occurred.' };
}

// PostgreSQL text cannot hold U+0000 (22021 in text, 22P05 in jsonb) nor jsonb an unpaired
// surrogate escape (22P02 with that message): the request's input is at fault, not the server.
function isUnstorableText(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '22021' || code === '22P05' || (code === '22P02' && /surrogate/i.test(error.message));
}

/** Pages (not APIs) answer browsers with HTML. */
function wantsPage(request: FastifyRequest): boolean {
  const url = request.url;
  if (url.startsWith('/api/') || url.startsWith('/data/')) return false;
  return (request.headers.accept ?? '').includes('text/html');
}

export async function sendError(request: FastifyRequest, reply: FastifyReply, wire: WireError): Promise<FastifyReply> {
  reply.status(wire.status).header('cache-control', 'no-store');
  if (wire.headers) reply.headers(wire.headers);
  if (wantsPage(request)) {
    // The page's language (set on every request by the i18n plugin; English if it never ran).
    const page = pageLocale(request.locale ?? 'en');
    if (wire.error === 'temporarily_unavailable')
      return reply.view('unavailable', { ...page, retry: request.method === 'GET' });
    return reply.view('error', {
      ...page,
      error: wire.error,
      description: wire.description,
      ...(wire.messageKey ? { message: page.t(wire.messageKey.key, wire.messageKey.vars) } : {}),
    });
  }
  return reply.send({
    error: wire.error,
    error_description: wire.description,
    ...(wire.field ? { field: wire.field } : {}),
  });
}

/**
 * The client hung up before its answer: mid-upload (Fastify's own 400, ECONNRESET), or before its
 * request was looked at (a plugin that reads the client's address then finds none). Nobody is left
 * to answer, and whatever failed on the way failed because of the hang-up.
 */
function clientHasGone(request: FastifyRequest): boolean {
  // (Not `request.raw.destroyed`: a request stream is destroyed once its body has been read.)
  return request.raw.socket?.destroyed === true;
}

export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const wire = toWireError(error);
    if (error instanceof DatabaseUnavailable) request.log.warn({ err: error }, 'database unavailable');
    else if (clientHasGone(request)) request.log.info({ err: error }, 'client closed the request');
    else if (wire.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ error: wire.error, description: wire.description }, 'request refused');
    return sendError(request, reply, wire);
  });
  app.setNotFoundHandler(async (request, reply) =>
    sendError(request, reply, {
      status: 404,
      error: 'not_found',
      description: `No route ${request.method} ${request.url.split('?')[0]}`,
    }),
  );
});
