// Fixed-window counters for @fastify/rate-limit, shared by every process (migration 0009).
import type { Queryable } from './pool.js';

export interface WindowCount {
  /** Hits in the current window, this one included. */
  current: number;
  /** Milliseconds until the window ends. */
  ttl: number;
}

/**
 * Counts one hit on `key` in a window of `windowMs`, starting a new window when the last one has
 * ended. One statement: concurrent hits from several processes are each counted once.
 */
export async function countHit(db: Queryable, key: string, windowMs: number): Promise<WindowCount> {
  const { rows } = await db.query<{ hits: number; ttl: number }>({
    name: 'rate-limit-hit',
    // In DO UPDATE SET, now is EXCLUDED.ends_at less the window: Citus allows no non-immutable
    // function there.
    text: `INSERT INTO rate_limit_windows AS w (key, hits, ends_at)
           VALUES ($1::text, 1, now() + make_interval(secs => $2::float8 / 1000))
           ON CONFLICT (key) DO UPDATE SET
             hits = CASE WHEN w.ends_at <= EXCLUDED.ends_at - make_interval(secs => $2::float8 / 1000)
                         THEN 1 ELSE w.hits + 1 END,
             ends_at = CASE WHEN w.ends_at <= EXCLUDED.ends_at - make_interval(secs => $2::float8 / 1000)
                            THEN EXCLUDED.ends_at ELSE w.ends_at END
           RETURNING hits, greatest(0, ceil(extract(epoch FROM ends_at - now()) * 1000))::float8 AS ttl`,
    values: [key, windowMs],
  });
  const row = rows[0]!;
  return { current: row.hits, ttl: row.ttl };
}

/** Forgets windows that have ended. */
export async function purgeEndedRateLimitWindows(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM rate_limit_windows WHERE ends_at <= now()');
  return rowCount ?? 0;
}
