// The one showing of a new client secret, after post/redirect/get. The POST that makes a secret
// (registration, "add a secret", "replace") cannot show it itself — reloading that answer would
// make another secret — so it redirects to a GET page, and the secret travels to that page in a
// cookie that the page consumes:
//
// - encrypted and authenticated (AES-256-GCM under a key derived from the server's cookie key), so
//   the secret is never readable in the browser's cookie store or in a proxy's logs, and cannot be
//   forged or altered;
// - bound to the admin who made it and to the app, valid for five minutes, httpOnly,
//   SameSite=Strict, and sent only to /admin/apps/;
// - cleared by the page that shows it: a reload, Back or a second tab finds no secret, says so,
//   and changes nothing. Nothing of the secret is stored on the server but its hash.
//
// A server-side flash would have to keep the secret itself in the database for those minutes;
// the cookie keeps it only in the browser of the admin who just made it.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const COOKIE = '__accord_new_secret';
const COOKIE_PATH = '/admin/apps/';
const TTL_SECONDS = 5 * 60;

/** Why a secret is shown: the app was registered, a secret added, or every secret replaced. */
export type RevealReason = 'registered' | 'added' | 'rotated';

export interface RevealedSecret {
  clientId: string;
  reason: RevealReason;
  /** Absent for a public app's registration: it has no secret, only the notice. */
  secret?: { id: string; value: string; expiresAt: string };
}

interface Sealed extends RevealedSecret {
  userId: string;
  /** Epoch milliseconds after which the cookie is worthless even if the browser kept it. */
  until: number;
}

export class SecretReveal {
  private readonly key: Buffer;

  constructor(
    cookieKey: string,
    private readonly secureCookies: boolean,
  ) {
    this.key = createHash('sha256').update('accord:new-client-secret\0').update(cookieKey).digest();
  }

  /** Hands the secret to the next GET of the admin `userId` (and only theirs). */
  stash(reply: FastifyReply, userId: string, revealed: RevealedSecret): void {
    const sealed: Sealed = { ...revealed, userId, until: Date.now() + TTL_SECONDS * 1000 };
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(sealed), 'utf8'), cipher.final()]);
    const value = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    reply.setCookie(COOKIE, value, {
      httpOnly: true,
      sameSite: 'strict',
      secure: this.secureCookies,
      path: COOKIE_PATH,
      maxAge: TTL_SECONDS,
    });
  }

  /**
   * The secret for this admin and app, if one waits; the cookie is cleared either way, so it is
   * shown at most once.
   */
  take(request: FastifyRequest, reply: FastifyReply, userId: string, clientId: string): RevealedSecret | undefined {
    const raw = request.cookies[COOKIE];
    if (raw === undefined) return undefined;
    reply.clearCookie(COOKIE, { path: COOKIE_PATH });
    const sealed = this.open(raw);
    if (!sealed || sealed.userId !== userId || sealed.clientId !== clientId || sealed.until < Date.now())
      return undefined;
    return { clientId: sealed.clientId, reason: sealed.reason, ...(sealed.secret ? { secret: sealed.secret } : {}) };
  }

  private open(raw: string): Sealed | undefined {
    try {
      const bytes = Buffer.from(raw, 'base64url');
      if (bytes.length < 29) return undefined;
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12));
      decipher.setAuthTag(bytes.subarray(12, 28));
      const text = Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
      return JSON.parse(text) as Sealed;
    } catch {
      // Altered, forged, or sealed under another key: nothing to show.
      return undefined;
    }
  }
}
