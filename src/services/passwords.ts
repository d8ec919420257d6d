// Password hashing: argon2id at OWASP's parameters (m=19 MiB, t=2, p=1) on libuv's thread pool,
// so hashing never blocks the event loop for other requests.

import { availableParallelism } from 'node:os';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import pLimit from 'p-limit';
import { InvalidRequest } from '../core/errors.js';

const ARGON2ID = 2 as Algorithm; // a const enum upstream; isolatedModules cannot read it
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/**
 * At most one hash per core at a time. Each holds 19 MiB while it runs, and more at once than
 * there are cores adds memory but no throughput; it would also take every thread of libuv's pool
 * (4), where token signing (WebCrypto) waits behind it.
 */
const hashing = pLimit(availableParallelism());

/** How many hashes run now, how many wait, and how many may run at once. */
export function passwordHashingLoad(): { running: number; waiting: number; limit: number } {
  return { running: hashing.activeCount, waiting: hashing.pendingCount, limit: hashing.concurrency };
}

/** Longer input is refused before hashing: argon2 would hash it, but nobody types 1 KiB. */
export const MAX_PASSWORD_BYTES = 1024;
export const MIN_PASSWORD_LENGTH = 8;

export function checkPasswordAcceptable(password: string): void {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES)
    throw InvalidRequest(`password must be at most ${MAX_PASSWORD_BYTES} bytes`, { field: 'password' });
  if (password.length < MIN_PASSWORD_LENGTH)
    throw InvalidRequest(`password must be at least ${MIN_PASSWORD_LENGTH} characters`, { field: 'password' });
}

export async function hashPassword(password: string): Promise<string> {
  checkPasswordAcceptable(password);
  return hashing(() => hash(password, OPTIONS));
}

// Verified against when the user does not exist, so both cases take the same time.
let decoyHash: Promise<string> | undefined;

export async function verifyPassword(passwordHash: string | undefined, password: string): Promise<boolean> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
  decoyHash ??= hashing(() => hash('decoy password for unknown users', OPTIONS));
  const target = passwordHash ?? (await decoyHash);
  const ok = await hashing(() => verify(target, password)).catch(() => false);
  return ok && passwordHash !== undefined;
}
