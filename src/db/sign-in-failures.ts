// sign_in_failures and sign_in_address_failures: failed password sign-ins per account, and per
// account and client address, shared by every process. A streak of failures lasts while each
// comes less than `streakSeconds` after the one before. Times are passed in (never now() in an
// upsert's update: Citus refuses non-immutable functions there).
import type { Queryable } from './pool.js';

export interface SignInAccount {
  tenantId: string;
  username: string;
}

export interface FailureStreak {
  failures: number;
  lastFailureAt: Date;
}

/** The account's current streak across all addresses, and the one from `clientAddress`; absent when none runs. */
export async function findFailureStreaks(
  db: Queryable,
  account: SignInAccount,
  clientAddress: string,
  at: Date,
  streakSeconds: number,
): Promise<{ account?: FailureStreak; address?: FailureStreak }> {
  const { rows } = await db.query<FailureStreak & { scope: 'account' | 'address' }>(
    `SELECT 'account' AS scope, failures, last_failure_at AS "lastFailureAt"
       FROM sign_in_failures
      WHERE tenant_id = $1::text AND username = $2::text
        AND last_failure_at > $4::timestamptz - make_interval(secs => $5::integer)
     UNION ALL
     SELECT 'address', failures, last_failure_at
       FROM sign_in_address_failures
      WHERE tenant_id = $1::text AND username = $2::text AND client_address = $3::inet
        AND last_failure_at > $4::timestamptz - make_interval(secs => $5::integer)`,
    [account.tenantId, account.username, clientAddress, at, streakSeconds],
  );
  const streaks: { account?: FailureStreak; address?: FailureStreak } = {};
  for (const { scope, failures, lastFailureAt } of rows) streaks[scope] = { failures, lastFailureAt };
  return streaks;
}

/** Counts one failure for the account and for the address: the next of a running streak, or the first of a new one. */
export async function recordSignInFailure(
  db: Queryable,
  account: SignInAccount,
  clientAddress: string,
  at: Date,
  streakSeconds: number,
): Promise<void> {
  // Two statements rather than one with a data-modifying CTE: Citus routes each by its tenant. The
  // streak's cutoff is computed here: Citus allows only immutable functions in DO UPDATE SET, and
  // timestamptz arithmetic is not (it depends on the time zone).
  const streakCutoff = new Date(at.getTime() - streakSeconds * 1000);
  await db.query(
    `INSERT INTO sign_in_failures AS f (tenant_id, username, failures, last_failure_at)
     VALUES ($1::text, $2::text, 1, $3::timestamptz)
     ON CONFLICT (tenant_id, username) DO UPDATE SET
       failures = CASE WHEN f.last_failure_at > $4::timestamptz THEN f.failures + 1 ELSE 1 END,
       last_failure_at = $3::timestamptz`,
    [account.tenantId, account.username, at, streakCutoff],
  );
  await db.query(
    `INSERT INTO sign_in_address_failures AS f (tenant_id, username, client_address, failures, last_failure_at)
     VALUES ($1::text, $2::text, $3::inet, 1, $4::timestamptz)
     ON CONFLICT (tenant_id, username, client_address) DO UPDATE SET
       failures = CASE WHEN f.last_failure_at > $5::timestamptz THEN f.failures + 1 ELSE 1 END,
       last_failure_at = $4::timestamptz`,
    [account.tenantId, account.username, clientAddress, at, streakCutoff],
  );
}

/** Forgets the failures from one address (after that address signed in with the right password). */
export async function clearAddressFailures(
  db: Queryable,
  account: SignInAccount,
  clientAddress: string,
): Promise<void> {
  await db.query(
    `DELETE FROM sign_in_address_failures
      WHERE tenant_id = $1::text AND username = $2::text AND client_address = $3::inet`,
    [account.tenantId, account.username, clientAddress],
  );
}

/** Forgets every failure of the account (an admin's unlock, a new password); answers how many its last streak had. */
export async function clearAccountFailures(db: Queryable, account: SignInAccount): Promise<number> {
  await db.query('DELETE FROM sign_in_address_failures WHERE tenant_id = $1::text AND username = $2::text', [
    account.tenantId,
    account.username,
  ]);
  const { rows } = await db.query<{ failures: number }>(
    'DELETE FROM sign_in_failures WHERE tenant_id = $1::text AND username = $2::text RETURNING failures',
    [account.tenantId, account.username],
  );
  return rows[0]?.failures ?? 0;
}

// The streaks that have ended (no failure for `streakSeconds`) are forgotten by the two purges
// below: at most `batch` rows each, the oldest first (on the last_failure_at indexes of migration
// 0019); run in batches by services/expiry-purge.ts. The end is checked again on the row deleted,
// so a streak that a new failure has just continued stays.

/** Forgets ended streaks of accounts (sign_in_failures). */
export async function purgeEndedAccountStreaks(db: Queryable, streakSeconds: number, batch = 5000): Promise<number> {
  const { rowCount } = await db.query({
    name: 'purge-sign-in-failures',
    text: `DELETE FROM sign_in_failures WHERE (tenant_id, username) IN (
         SELECT tenant_id, username FROM sign_in_failures
          WHERE last_failure_at < now() - make_interval(secs => $1::integer)
          ORDER BY last_failure_at LIMIT $2::integer)
         AND last_failure_at < now() - make_interval(secs => $1::integer)`,
    values: [streakSeconds, batch],
  });
  return rowCount ?? 0;
}

/** Forgets ended streaks of an account from one address (sign_in_address_failures). */
export async function purgeEndedAddressStreaks(db: Queryable, streakSeconds: number, batch = 5000): Promise<number> {
  const { rowCount } = await db.query({
    name: 'purge-sign-in-address-failures',
    text: `DELETE FROM sign_in_address_failures WHERE (tenant_id, username, client_address) IN (
         SELECT tenant_id, username, client_address FROM sign_in_address_failures
          WHERE last_failure_at < now() - make_interval(secs => $1::integer)
          ORDER BY last_failure_at LIMIT $2::integer)
         AND last_failure_at < now() - make_interval(secs => $1::integer)`,
    values: [streakSeconds, batch],
  });
  return rowCount ?? 0;
}
