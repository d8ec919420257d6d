// @fastify/rate-limit's store, in PostgreSQL: a per-IP limit holds across every Accord process
// behind the load balancer, where the plugin's default (memory) store would let each process
// count on its own and multiply the limit by the number of processes.
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Pool } from '../db/pool.js';
import { countHit } from '../db/rate-limits.js';

/** What the plugin passes to `new Store()` and to `child()`: its options and, per route, the route. */
interface StoreOptions {
  routeInfo?: { method?: string | string[]; url?: string };
}

export function postgresRateLimitStore(pool: Pool): FastifyRateLimitStoreCtor {
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
      countHit(pool, `${this.scope} ${key}`, timeWindow).then(
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
