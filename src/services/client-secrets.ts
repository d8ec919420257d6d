// Client secrets: random 256-bit strings shown once, stored as a keyed hash. A password hash
// (argon2) is for low-entropy secrets; for these an HMAC under a server key is enough and fast.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function newClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string, key: string): string {
  return createHmac('sha256', key).update(secret).digest('base64url');
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function clientSecretMatches(presented: unknown, storedHash: string | undefined, key: string): boolean {
  if (typeof presented !== 'string' || !storedHash) return false;
  const a = Buffer.from(hashClientSecret(presented, key));
  const b = Buffer.from(storedHash);
  return a.length === b.length && timingSafeEqual(a, b);
}
