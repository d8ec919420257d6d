// One table of the errors Accord returns. Each is an OAuth-style code with an HTTP status;
// plugins/errors.ts turns them into the wire body or the error page.

/** A message in the page's language: a catalogue key (`pages:errors.interactionLost`) and its values. */
export interface MessageKey {
  key: string;
  vars?: Record<string, string | number>;
}

export class AccordError extends Error {
  /** Set by `withMessage`: what an HTML page shows instead of the English description. */
  declare messageKey?: MessageKey;

  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly details: Record<string, unknown> = {},
    /** Extra response headers (e.g. WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = 'AccordError';
  }

  /**
   * The message a page shows, translated (`key` in the catalogue, `vars` its values). JSON APIs keep
   * the English description: it is for developers, as OAuth's error_description is.
   */
  withMessage(key: string, vars?: Record<string, string | number>): this {
    this.messageKey = vars ? { key, vars } : { key };
    return this;
  }
}

function accordError(status: number, code: string) {
  return (description: string, details?: Record<string, unknown>) =>
    new AccordError(status, code, description, details);
}

export const InvalidRequest = accordError(400, 'invalid_request');
export const InvalidScope = accordError(400, 'invalid_scope');
export const InvalidToken = accordError(401, 'invalid_token');
export const Unauthenticated = accordError(401, 'unauthenticated');
export const AccessDenied = accordError(403, 'access_denied');
export const InsufficientScope = accordError(403, 'insufficient_scope');
export const NotFound = accordError(404, 'not_found');
export const Conflict = accordError(409, 'conflict');
export const InteractionExpired = accordError(400, 'interaction_expired');
export const TooManyRequests = accordError(429, 'too_many_requests');

/** Seconds a client is asked to wait (Retry-After) when the database is away for a moment. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * The database cannot be reached for a moment: refused, dropped, timed out or shutting down.
 * Only db/pool.ts raises it, in place of the error pg gave (kept as `cause`), so an error is
 * classed as an outage by where it came from: a client that hangs up on Accord says ECONNRESET
 * too, and that is the client's doing. Answered 503 with Retry-After.
 */
export class DatabaseUnavailable extends AccordError {
  constructor(cause: Error) {
    super(
      503,
      'temporarily_unavailable',
      'The service is temporarily unavailable. Try again shortly.',
      {},
      { 'retry-after': String(RETRY_AFTER_SECONDS) },
    );
    this.name = 'DatabaseUnavailable';
    this.message = `database unavailable: ${cause.message}`;
    this.cause = cause;
  }
}
