// sign_in_failures: failed password sign-ins per account in a fixed window, shared by every process.
import type { Queryable } from './pool.js';

/** Whether the account has `maxFailures` or more failures in a window started less than `windowSeconds` ago. */
export async function isSignInThrottled(
  db: Queryable,
  account: { tenantId: string; username: string },
  maxFailures: number,
  windowSeconds: number,
): Promise<boolean> {
  const { rows } = await db.query<{ throttled: boolean }>(
    `SELECT failures >= $3::integer AND window_start > now() - make_interval(secs => $4::integer) AS throttled
       FROM sign_in_failures WHERE tenant_id = $1::text AND username = $2::text`,
    [account.tenantId, account.username, maxFailures, windowSeconds],
  );
  return rows[0]?.throttled ?? false;
}

/** Counts one failure, in the current window or in a new one when it is older than `windowSeconds`. */
export async function recordSignInFailure(
  db: Queryable,
  account: { tenantId: string; username: string },
  windowSeconds: number,
): Promise<void> {
  const now = new Date();
  await db.query(
    // Now is passed in ($3): Citus allows only immutable functions in DO UPDATE SET, and
    // timestamptz arithmetic is not (it depends on the time zone).
    `INSERT INTO sign_in_failures AS f (tenant_id, username, failures, window_start) VALUES ($1::text, $2::text, 1, $3::timestamptz)
     ON CONFLICT (tenant_id, username) DO UPDATE SET
       failures = CASE WHEN f.window_start > $4::timestamptz THEN f.failures + 1 ELSE 1 END,
       window_start = CASE WHEN f.window_start > $4::timestamptz THEN f.window_start ELSE EXCLUDED.window_start END`,
    [account.tenantId, account.username, now, new Date(now.getTime() - windowSeconds * 1000)],
  );
}

/** Forgets the account's failures (after a successful sign-in). */
export async function clearSignInFailures(
  db: Queryable,
  account: { tenantId: string; username: string },
): Promise<void> {
  await db.query('DELETE FROM sign_in_failures WHERE tenant_id = $1::text AND username = $2::text', [
    account.tenantId,
    account.username,
  ]);
}
