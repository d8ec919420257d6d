// Client secrets: random 256-bit strings shown once, stored as a keyed hash. A password hash
// (argon2) is for low-entropy secrets; for these an HMAC under a server key is enough and fast.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function newClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string, key: string): string {
  return createHmac('sha256', key).update(secret).digest('base64url');
}

/**
 * Whether a presented secret matches one of the stored hashes (the app's live secrets, separated
 * by spaces: db/apps.ts clientMetadataOf). Each is compared in constant time, and all of them.
 */
export function clientSecretMatches(presented: unknown, storedHashes: string | undefined, key: string): boolean {
  if (typeof presented !== 'string' || !storedHashes) return false;
  const a = Buffer.from(hashClientSecret(presented, key));
  let matched = false;
  for (const storedHash of storedHashes.split(' ')) {
    const b = Buffer.from(storedHash);
    if (a.length === b.length && timingSafeEqual(a, b)) matched = true;
  }
  return matched;
}
