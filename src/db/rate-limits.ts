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
  const now = new Date();
  const { rows } = await db.query<{ hits: number; endsAt: Date }>({
    name: 'rate-limit-hit',
    // Now is passed in ($3): Citus allows only immutable functions in DO UPDATE SET, and
    // timestamptz arithmetic is not (it depends on the time zone).
    text: `INSERT INTO rate_limit_windows AS w (key, hits, ends_at)
           VALUES ($1::text, 1, $3::timestamptz + make_interval(secs => $2::float8 / 1000))
           ON CONFLICT (key) DO UPDATE SET
             hits = CASE WHEN w.ends_at <= $3::timestamptz THEN 1 ELSE w.hits + 1 END,
             ends_at = CASE WHEN w.ends_at <= $3::timestamptz THEN EXCLUDED.ends_at ELSE w.ends_at END
           RETURNING hits, ends_at AS "endsAt"`,
    values: [key, windowMs, now],
  });
  const row = rows[0]!;
  return { current: row.hits, ttl: Math.max(0, Math.ceil(row.endsAt.getTime() - now.getTime())) };
}

/**
 * Forgets windows that have ended: at most `batch`, the longest ended first (on the ends_at
 * index); run in batches by services/expiry-purge.ts. The end is checked again on the row
 * deleted, so a window a hit has just started again stays.
 */
export async function purgeEndedRateLimitWindows(db: Queryable, batch = 5000): Promise<number> {
  const { rowCount } = await db.query({
    name: 'purge-rate-limit-windows',
    text: `DELETE FROM rate_limit_windows WHERE key IN (
         SELECT key FROM rate_limit_windows WHERE ends_at <= now() ORDER BY ends_at LIMIT $1::integer)
         AND ends_at <= now()`,
    values: [batch],
  });
  return rowCount ?? 0;
}
