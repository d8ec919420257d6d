// Sign-in with `username@tenant` and a password. One generic failure for every cause (no user
// enumeration), and per-account throttling of failures kept in PostgreSQL so all processes agree.
import type { Pool } from '../db/pool.js';
import { clearSignInFailures, isSignInThrottled, recordSignInFailure } from '../db/sign-in-failures.js';
import { findCredentials, findUserById, type UserRecord } from '../db/users.js';
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
  if (await isSignInThrottled(pool, parsed, MAX_FAILURES_PER_ACCOUNT, FAILURE_WINDOW_SECONDS))
    return { ok: false, reason: 'throttled' };

  const user = await findCredentials(pool, parsed.tenantId, parsed.username);
  const valid = await verifyPassword(user?.passwordHash, password);
  if (!user || !valid || user.disabled) {
    await recordSignInFailure(pool, parsed, FAILURE_WINDOW_SECONDS);
    return { ok: false, reason: 'invalid' };
  }
  await clearSignInFailures(pool, parsed);
  const { passwordHash: _omit, ...record } = user;
  return { ok: true, user: record };
}

/** The user a session is signed in as, while that user exists and is enabled: a disabled user signs nobody in. */
export async function signedInUser(pool: Pool, userId: string): Promise<UserRecord | undefined> {
  const user = await findUserById(pool, userId);
  return user && !user.disabled ? user : undefined;
}
