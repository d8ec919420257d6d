// @fastify/rate-limit's store, in PostgreSQL: a per-IP limit holds across every Accord process
// behind the load balancer, where the plugin's default (memory) store would let each process
// count on its own and multiply the limit by the number of processes. The counting itself is
// given (db/rate-limits.ts, wired in app.ts): plugins do no SQL.
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

/**
 * Counts one hit on `key` in a window of `windowMs` shared by every process; resolves to the hits
 * in the current window (this one included) and the milliseconds until it ends.
 */
export type CountHit = (key: string, windowMs: number) => Promise<{ current: number; ttl: number }>;

/** What the plugin passes to `new Store()` and to `child()`: its options and, per route, the route. */
interface StoreOptions {
  routeInfo?: { method?: string | string[]; url?: string };
}

export function postgresRateLimitStore(countHit: CountHit): FastifyRateLimitStoreCtor {
  class PostgresRateLimitStore implements FastifyRateLimitStore {
    /** Each limited route counts apart: the key is the route and the client's address. */
    private readonly scope: string;

    constructor(options: StoreOptions) {
      const route = options.routeInfo;
      this.scope = route?.url ? `${[route.method ?? ''].flat().join(',')} ${route.url}` : '*';
    }

    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      timeWindow: number,
    ): void {
      countHit(`${this.scope} ${key}`, timeWindow).then(
        (count) => callback(null, count),
        (error: Error) => callback(error),
      );
    }

    child(routeOptions: object): FastifyRateLimitStore {
      return new PostgresRateLimitStore(routeOptions as StoreOptions);
    }
  }
  return PostgresRateLimitStore as unknown as FastifyRateLimitStoreCtor;
}
