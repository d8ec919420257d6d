// How long a grant lives (issue 15): a tenant gives grants a lifetime by the impact class of the
// permissions they hold, or a default for every class, and may set one app's lifetime instead.

import { InvalidRequest } from './errors.js';
import type { Impact } from './types.js';

export const GRANT_LIFETIME_CLASSES = ['default', 'low', 'medium', 'high'] as const;
export type GrantLifetimeClass = (typeof GRANT_LIFETIME_CLASSES)[number];

/** The longest lifetime a policy may name (100 years); the shortest is one day. */
export const MAX_GRANT_LIFETIME_DAYS = 36_500;
const DAY_MS = 24 * 60 * 60 * 1000;
/** oidc-provider's lifetime of a Grant whose consent does not expire (a year, renewed as it is used). */
export const UNEXPIRING_GRANT_SECONDS = 365 * 24 * 60 * 60;

export interface GrantLifetimePolicy {
  /** Days per impact class ('default': every class without its own); a class absent: no expiry from it. */
  classes: Partial<Record<GrantLifetimeClass, number>>;
  /**
   * The app's own lifetime in this tenant, in place of the classes: a number of days, null for
   * "never expires", undefined when the app follows the classes.
   */
  app?: number | null;
}

/**
 * The lifetime in days of a grant holding permissions of these impact classes: the app's own when
 * set, else the shortest of its classes' lifetimes; null when it does not expire.
 */
export function grantLifetimeDays(policy: GrantLifetimePolicy, impacts: Iterable<Impact>): number | null {
  if (policy.app !== undefined) return policy.app;
  let shortest: number | null = null;
  for (const impact of new Set(impacts)) {
    const days = policy.classes[impact] ?? policy.classes.default;
    if (days !== undefined && (shortest === null || days < shortest)) shortest = days;
  }
  return shortest;
}

/** When a grant made at `now` with this lifetime expires (null: never). */
export function expiryAfter(now: Date, days: number | null): Date | null {
  return days === null ? null : new Date(now.getTime() + days * DAY_MS);
}

/** The earlier of two expiries, null meaning never. */
export function earlierExpiry(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return a <= b ? a : b;
}

/**
 * A lifetime as an operator or admin writes it: a whole number of days (1–36,500), or `none`
 * (null). Anything else is refused, naming the rule; below one day especially.
 */
export function parseGrantLifetime(input: string | number | null, field = 'days'): number | null {
  if (input === null || input === 'none') return null;
  const text = String(input).trim();
  const days = Number(text);
  if (text === '' || !Number.isFinite(days))
    throw InvalidRequest(`${field} must be a number of days or none`, { field });
  if (days < 1) throw InvalidRequest(`a grant lifetime is at least one day (${field} was ${text})`, { field });
  if (!Number.isInteger(days)) throw InvalidRequest(`${field} must be a whole number of days`, { field });
  if (days > MAX_GRANT_LIFETIME_DAYS)
    throw InvalidRequest(`a grant lifetime is at most ${MAX_GRANT_LIFETIME_DAYS} days`, { field });
  return days;
}

export function isGrantLifetimeClass(value: string): value is GrantLifetimeClass {
  return (GRANT_LIFETIME_CLASSES as readonly string[]).includes(value);
}

/**
 * When a user's grant ends (epoch seconds, as oidc-provider keeps `exp`): the earlier of its
 * sources that grant something, live at `now`; with none that expires, the unexpiring lifetime.
 */
export function grantEnd(
  sources: {
    userScopes: readonly string[];
    userExpiresAt: Date | null;
    adminScopes: readonly string[];
    adminReviewAt: Date | null;
  },
  now: Date,
): number {
  const live = (at: Date | null) => at === null || at > now;
  const user = sources.userScopes.length > 0 && live(sources.userExpiresAt) ? sources.userExpiresAt : undefined;
  const admin = sources.adminScopes.length > 0 && live(sources.adminReviewAt) ? sources.adminReviewAt : undefined;
  const ends = [user, admin].filter((at): at is Date => at instanceof Date);
  if (ends.length === 0) return Math.floor(now.getTime() / 1000) + UNEXPIRING_GRANT_SECONDS;
  return Math.floor(Math.min(...ends.map((at) => at.getTime())) / 1000);
}
