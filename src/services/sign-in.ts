// Sign-in with `username@tenant` and a password. One generic failure for every cause (no user
// enumeration), and per-account throttling of failures kept in PostgreSQL so all processes agree.
import type { Pool } from '../db/pool.js';
import { findCredentials, type UserRecord } from '../db/users.js';
import { verifyPassword } from './passwords.js';

export const MAX_FAILURES_PER_ACCOUNT = 5;
export const FAILURE_WINDOW_SECONDS = 15 * 60;

export type SignInResult = { ok: true; user: UserRecord } | { ok: false; reason: 'invalid' | 'throttled' };

/** Splits `alice@contoso` at the last `@`; usernames are case-insensitive. */
export function parseSignInName(value: string): { username: string; tenantId: string } | undefined {
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return undefined;
  return {
    username: value.slice(0, at).trim().toLowerCase(),
    tenantId: value
      .slice(at + 1)
      .trim()
      .toLowerCase(),
  };
}

export async function signIn(pool: Pool, signInName: string, password: string): Promise<SignInResult> {
  const parsed = parseSignInName(signInName);
  if (!parsed || parsed.username.length > 64 || parsed.tenantId.length > 40) {
    await verifyPassword(undefined, password);
    return { ok: false, reason: 'invalid' };
  }
  if (await isThrottled(pool, parsed.tenantId, parsed.username)) return { ok: false, reason: 'throttled' };

  const user = await findCredentials(pool, parsed.tenantId, parsed.username);
  const valid = await verifyPassword(user?.passwordHash, password);
  if (!user || !valid || user.disabled) {
    await recordFailure(pool, parsed.tenantId, parsed.username);
    return { ok: false, reason: 'invalid' };
  }
  await pool.query('DELETE FROM sign_in_failures WHERE tenant_id = $1::text AND username = $2::text', [
    parsed.tenantId,
    parsed.username,
  ]);
  const { passwordHash: _omit, ...record } = user;
  return { ok: true, user: record };
}

async function isThrottled(pool: Pool, tenantId: string, username: string): Promise<boolean> {
  const { rows } = await pool.query<{ throttled: boolean }>(
    `SELECT failures >= $3::integer AND window_start > now() - make_interval(secs => $4::integer) AS throttled
       FROM sign_in_failures WHERE tenant_id = $1::text AND username = $2::text`,
    [tenantId, username, MAX_FAILURES_PER_ACCOUNT, FAILURE_WINDOW_SECONDS],
  );
  return rows[0]?.throttled ?? false;
}

async function recordFailure(pool: Pool, tenantId: string, username: string): Promise<void> {
  await pool.query(
    `INSERT INTO sign_in_failures (tenant_id, username, failures, window_start) VALUES ($1::text, $2::text, 1, now())
     ON CONFLICT (tenant_id, username) DO UPDATE SET
       failures = CASE WHEN sign_in_failures.window_start > now() - make_interval(secs => $3::integer)
                       THEN sign_in_failures.failures + 1 ELSE 1 END,
       window_start = CASE WHEN sign_in_failures.window_start > now() - make_interval(secs => $3::integer)
                           THEN sign_in_failures.window_start ELSE now() END`,
    [tenantId, username, FAILURE_WINDOW_SECONDS],
  );
}
