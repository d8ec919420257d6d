// A database outage met inside one of oidc-provider's requests, answered by the provider's own
// rules. What fails there as DatabaseUnavailable (raised by db/pool.ts) is rethrown as the
// provider's `temporarily_unavailable` with status 503, so the provider answers it as it answers
// any OAuth error: JSON at its APIs, and at /auth a redirect to the app with
// error=temporarily_unavailable, state and iss (RFC 6749 §4.1.2.1), once it has checked the
// redirect_uri against the app's registration — the "briefly unavailable" page when it cannot.
// Only the adapter and the configuration's hooks reach the database; each is wrapped here.

import Provider, { type Adapter, type AdapterPayload, errors } from 'oidc-provider';
import { DatabaseUnavailable } from '../core/errors.js';

/** oidc-provider's temporarily_unavailable, answered 503 rather than its 400 (RFC 9110 §15.6.4). */
export class ServiceUnavailable extends errors.TemporarilyUnavailable {
  constructor(cause: DatabaseUnavailable) {
    super(cause.description, { cause });
    this.status = 503;
    this.statusCode = 503;
  }
}

/** The outage each provider request met first (keyed by its Koa context). */
const outages = new WeakMap<object, DatabaseUnavailable>();

/**
 * Inside a provider request, DatabaseUnavailable becomes ServiceUnavailable (and the request
 * remembers the outage). Outside one — Fastify's pages calling the provider's API — it stays as it
 * is, for Fastify's error handler.
 */
function asProviderError(error: unknown): unknown {
  const ctx = Provider.ctx;
  if (!ctx || !(error instanceof DatabaseUnavailable)) return error;
  if (!outages.has(ctx)) outages.set(ctx, error);
  return new ServiceUnavailable(error);
}

/** The database outage this provider request met, if any. */
export function outageDuring(ctx: object | undefined): DatabaseUnavailable | undefined {
  return ctx ? outages.get(ctx) : undefined;
}

/** `hook`, with a database outage it meets reported the provider's way. */
export function reportingOutage<A extends unknown[], R>(hook: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await hook(...args);
    } catch (error) {
      throw asProviderError(error);
    }
  };
}

/** A storage adapter whose every method reports a database outage the provider's way. */
export function adapterReportingOutages(adapter: Adapter): Adapter {
  return {
    upsert: reportingOutage((id: string, payload: AdapterPayload, expiresIn?: number) =>
      adapter.upsert(id, payload, expiresIn),
    ),
    find: reportingOutage((id: string) => adapter.find(id)),
    findByUserCode: reportingOutage((userCode: string) => adapter.findByUserCode(userCode)),
    findByUid: reportingOutage((uid: string) => adapter.findByUid(uid)),
    consume: reportingOutage((id: string) => adapter.consume(id)),
    destroy: reportingOutage((id: string) => adapter.destroy(id)),
    revokeByGrantId: reportingOutage((grantId: string) => adapter.revokeByGrantId(grantId)),
  };
}
