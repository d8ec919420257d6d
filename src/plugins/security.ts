// Security headers, cookies, CSRF protection and rate limiting for Fastify's own routes.
// (oidc-provider's endpoints set their own headers.)
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type CountHit, postgresRateLimitStore } from './rate-limit-store.js';

export interface SecurityOptions {
  cookieSecret: string;
  secureCookies: boolean;
  /** The rate limits' shared counter (plugins/rate-limit-store.ts). */
  countHit: CountHit;
}

export const securityPlugin = fp(async (app: FastifyInstance, options: SecurityOptions) => {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        'img-src': ["'self'", 'https:', 'data:'],
        // Clickjacking: no page of ours may be framed (RFC 9700 §4.16).
        'frame-ancestors': ["'none'"],
        // form-action is left out: Chrome applies it to the redirect after the consent POST,
        // which must reach the app's registered redirect_uri on another origin.
        'form-action': null,
      },
    },
    frameguard: { action: 'deny' },
    // RFC 9700 §4.2.4: never leak codes or interaction ids through the Referer header.
    referrerPolicy: { policy: 'no-referrer' },
    hsts: options.secureCookies,
  });
  await app.register(cookie, { secret: options.cookieSecret });
  await app.register(csrf, {
    cookieKey: '__accord_csrf',
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'lax', path: '/', secure: options.secureCookies },
  });
  // Per-IP limits on the routes that opt in (sign-in), counted in PostgreSQL for every process
  // alike, as the per-account limits are. No database, no count: the request fails with 503.
  await app.register(rateLimit, { global: false, store: postgresRateLimitStore(options.countHit), skipOnError: false });
});
