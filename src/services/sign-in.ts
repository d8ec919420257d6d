// Sign-in with `username@tenant` and a password. One generic failure for every cause (no user
// enumeration), and limits on failures kept in PostgreSQL so all processes agree, shaped after
// Entra's smart lockout and Keycloak's brute-force detection: failures count per account and
// client address, so a stranger elsewhere cannot lock the owner out; the address that made
// ADDRESS_LIMIT failures is refused for the account until its streak ends, and past
// ACCOUNT_CEILING failures from all addresses together every attempt waits a delay that doubles
// with each further failure (never a permanent lock). A refused attempt checks no password and
// counts nothing, so the owner gets in between an attacker's slowed guesses.
import type { Pool } from '../db/pool.js';
import { inTransaction } from '../db/pool.js';
import {
  clearAddressFailures,
  type FailureStreak,
  findFailureStreaks,
  recordSignInFailure,
} from '../db/sign-in-failures.js';
import { findCredentials, findUserById, type UserRecord } from '../db/users.js';
import { verifyPassword } from './passwords.js';

/** Failures from one address before that address is refused for the account. */
export const ADDRESS_LIMIT = 5;
/** Failures from all addresses together before every attempt on the account is slowed. */
export const ACCOUNT_CEILING = 20;
/** A streak of failures ends this long after its last failure (and with it any refusal). */
export const STREAK_SECONDS = 15 * 60;
/** The first delay past the ceiling; it doubles with each further failure, up to STREAK_SECONDS. */
export const FIRST_DELAY_SECONDS = 30;

export interface SignInLimit {
  /** `address`: this client address made too many failures; `account`: the account is slowed for everyone. */
  limitedBy: 'address' | 'account';
  retryAfterSeconds: number;
}

export type SignInResult =
  | { ok: true; user: UserRecord }
  | ({ ok: false; reason: 'throttled' } & SignInLimit)
  | { ok: false; reason: 'invalid' };

/** Whether an attempt at `at` must wait, given the running streaks (the one rule for both limits). */
export function signInLimit(
  streaks: { account?: FailureStreak; address?: FailureStreak },
  at: Date,
): SignInLimit | undefined {
  const waitUntil = (streak: FailureStreak, seconds: number) =>
    Math.ceil((streak.lastFailureAt.getTime() + seconds * 1000 - at.getTime()) / 1000);
  if (streaks.address && streaks.address.failures >= ADDRESS_LIMIT) {
    const retryAfterSeconds = waitUntil(streaks.address, STREAK_SECONDS);
    if (retryAfterSeconds > 0) return { limitedBy: 'address', retryAfterSeconds };
  }
  if (streaks.account && streaks.account.failures >= ACCOUNT_CEILING) {
    const delay = Math.min(STREAK_SECONDS, FIRST_DELAY_SECONDS * 2 ** (streaks.account.failures - ACCOUNT_CEILING));
    const retryAfterSeconds = waitUntil(streaks.account, delay);
    if (retryAfterSeconds > 0) return { limitedBy: 'account', retryAfterSeconds };
  }
  return undefined;
}

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

/**
 * `clientAddress` is the connection's address, or the one a trusted proxy forwarded (Fastify's
 * `request.ip` under TRUST_PROXY), never a header a client could set itself.
 */
export async function signIn(
  pool: Pool,
  signInName: string,
  password: string,
  clientAddress: string,
  at: Date = new Date(),
): Promise<SignInResult> {
  const parsed = parseSignInName(signInName);
  if (!parsed || parsed.username.length > 64 || parsed.tenantId.length > 40) {
    await verifyPassword(undefined, password);
    return { ok: false, reason: 'invalid' };
  }
  const limit = signInLimit(await findFailureStreaks(pool, parsed, clientAddress, at, STREAK_SECONDS), at);
  if (limit) return { ok: false, reason: 'throttled', ...limit };

  const user = await findCredentials(pool, parsed.tenantId, parsed.username);
  const valid = await verifyPassword(user?.passwordHash, password);
  if (!user || !valid || user.disabled) {
    await inTransaction(pool, (tx) => recordSignInFailure(tx, parsed, clientAddress, at, STREAK_SECONDS));
    return { ok: false, reason: 'invalid' };
  }
  // Only this address's failures go: a streak against the account from elsewhere keeps running.
  await clearAddressFailures(pool, parsed, clientAddress);
  const { passwordHash: _omit, ...record } = user;
  return { ok: true, user: record };
}

/** The user a session is signed in as, while that user exists and is enabled: a disabled user signs nobody in. */
export async function signedInUser(pool: Pool, userId: string): Promise<UserRecord | undefined> {
  const user = await findUserById(pool, userId);
  return user && !user.disabled ? user : undefined;
}
