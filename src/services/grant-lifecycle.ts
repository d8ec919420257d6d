// Grants that live the life organisations need (issue 15): a tenant's lifetimes by impact class,
// overridable per app; the expiry a new consent gets from them; the consents expiring soon, with
// "renew" and "let lapse"; the over-privilege report and "reduce to what is used". Each change is
// one transaction with its audit event.
import type { Clock } from '../core/clock.js';
import { Conflict, InvalidRequest, NotFound } from '../core/errors.js';
import {
  expiryAfter,
  type GrantLifetimeClass,
  type GrantLifetimePolicy,
  grantEnd,
  grantLifetimeDays,
  isGrantLifetimeClass,
  parseGrantLifetime,
} from '../core/grant-lifetime.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import type { Impact } from '../core/types.js';
import { findApp } from '../db/apps.js';
import { recordAuditEvent } from '../db/audit-events.js';
import {
  chooseAdminConsentLapse,
  chooseUserConsentLapse,
  type ExpiringConsent,
  listExpiringConsents,
  listGrantExpirySources,
  lockAdminConsentReview,
  setAdminConsentReview,
  setUserConsentExpiry,
} from '../db/consent-expiry.js';
import { findAdminConsent, findUserConsentForUpdate, updateUserConsent } from '../db/consents.js';
import {
  type AppGrantLifetime,
  listAppGrantLifetimes,
  loadGrantLifetimePolicy,
  setAppGrantLifetime,
  setTenantGrantLifetime,
} from '../db/grant-lifetimes.js';
import { type GrantUse, listGrantUses } from '../db/grant-scope-use.js';
import {
  type GrantScopes,
  listGrantsCreatedUnder,
  lockGrantScopes,
  setGrantExpiries,
  setGrantScopes,
} from '../db/oidc-models.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import { findTenant } from '../db/tenants.js';
import { revokeGrants } from './revocation.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The admin centre's and the API's window for "expiring soon". */
export const EXPIRING_WINDOW_DAYS = 30;
/** A granted scope no token carried for this long is unused (the report's default). */
export const UNUSED_AFTER_DAYS = 90;

export interface TenantGrantLifetimes {
  classes: Partial<Record<GrantLifetimeClass, number>>;
  apps: AppGrantLifetime[];
}

/** A user's grant with scopes no token carried for the report's period. */
export interface OverPrivilegedGrant {
  userId: string;
  username: string;
  clientId: string;
  appName: string;
  scopes: string[];
  unusedScopes: string[];
  /** No scope was used in the period (or ever). */
  unusedAltogether: boolean;
  grantedAt: Date;
  /** When any of its tokens was last issued; null: never since recording began. */
  lastUsedAt: Date | null;
}

/**
 * When a consent to `scopes` of the app, given now, expires: by the tenant's policy (the app's own
 * lifetime, else the shortest of its permissions' classes). Null: it does not expire.
 */
export async function consentExpiry(
  db: Queryable,
  catalogue: PermissionCatalogue,
  tenantId: string,
  clientId: string,
  scopes: readonly string[],
  now: Date,
): Promise<Date | null> {
  const policy = await loadGrantLifetimePolicy(db, tenantId, clientId);
  return expiryAfter(now, grantLifetimeDays(policy, impactsOf(catalogue, scopes)));
}

function impactsOf(catalogue: PermissionCatalogue, scopes: readonly string[]): Impact[] {
  return scopes.map((scope) => catalogue.get(scope)?.impact ?? 'high');
}

export class GrantLifecycle {
  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
    private readonly clock: Clock,
  ) {}

  async lifetimes(tenantId: string): Promise<TenantGrantLifetimes> {
    await this.requireTenant(this.pool, tenantId);
    const [policy, apps] = await Promise.all([
      loadGrantLifetimePolicy(this.pool, tenantId, null),
      listAppGrantLifetimes(this.pool, tenantId),
    ]);
    return { classes: policy.classes, apps };
  }

  /** Sets (days) or removes (null: no expiry from this class) the lifetime of grants of one impact class. */
  async setTenantLifetime(
    tenantId: string,
    appliesTo: GrantLifetimeClass,
    days: number | null,
    actor: string,
  ): Promise<TenantGrantLifetimes> {
    return this.setTenantLifetimes(tenantId, { [appliesTo]: days }, actor);
  }

  /** Changes several classes at once, in one transaction (an event per class changed). */
  async setTenantLifetimes(
    tenantId: string,
    changes: Partial<Record<GrantLifetimeClass, number | null>>,
    actor: string,
  ): Promise<TenantGrantLifetimes> {
    for (const [appliesTo, days] of Object.entries(changes)) {
      if (!isGrantLifetimeClass(appliesTo))
        throw InvalidRequest('the class is one of default, low, medium, high', { field: appliesTo });
      parseGrantLifetime(days, appliesTo);
    }
    await inTransaction(this.pool, async (tx) => {
      await this.requireTenant(tx, tenantId);
      for (const [appliesTo, days] of Object.entries(changes) as Array<[GrantLifetimeClass, number | null]>) {
        const before = await setTenantGrantLifetime(tx, tenantId, appliesTo, days);
        await recordAuditEvent(tx, {
          tenantId,
          actor,
          action: 'tenant.grant_lifetime.changed',
          target: tenantId,
          details: { appliesTo, before, after: days },
        });
      }
    });
    return this.lifetimes(tenantId);
  }

  /** The app's own lifetime in the tenant: days, null (never expires) or `inherit` (the tenant's classes). */
  async setAppLifetime(
    tenantId: string,
    clientId: string,
    days: number | null | 'inherit',
    actor: string,
  ): Promise<TenantGrantLifetimes> {
    if (days !== 'inherit') parseGrantLifetime(days);
    await inTransaction(this.pool, async (tx) => {
      await this.requireTenant(tx, tenantId);
      if (!(await findApp(tx, clientId))) throw NotFound(`no app with client id "${clientId}"`);
      const before = await setAppGrantLifetime(tx, tenantId, clientId, days);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'app.grant_lifetime.changed',
        target: clientId,
        details: { before: before === undefined ? 'inherit' : before, after: days },
      });
    });
    return this.lifetimes(tenantId);
  }

  /** Users' consents and admin consents that expire within `withinDays`, soonest first. */
  async expiring(tenantId: string, withinDays = EXPIRING_WINDOW_DAYS): Promise<ExpiringConsent[]> {
    await this.requireTenant(this.pool, tenantId);
    const now = this.clock();
    return listExpiringConsents(this.pool, tenantId, now, new Date(now.getTime() + withinDays * DAY_MS));
  }

  /** Gives the user's consent a new lifetime from now, by the policy as it is now. Returns its new expiry. */
  async renewUserConsent(tenantId: string, userId: string, clientId: string, actor: string): Promise<Date | null> {
    return inTransaction(this.pool, async (tx) => {
      const now = this.clock();
      const row = await findUserConsentForUpdate(tx, tenantId, userId, clientId);
      if (!row || row.scopes.length === 0) throw NotFound('this user has no consent of their own to the app');
      if (row.expiresAt !== null && row.expiresAt <= now)
        throw Conflict('the consent has expired: the user is asked again at their next sign-in');
      const expiresAt = await consentExpiry(tx, this.catalogue, tenantId, clientId, row.scopes, now);
      await setUserConsentExpiry(tx, { tenantId, userId, clientId }, expiresAt);
      await this.moveGrantEnds(tx, tenantId, clientId, userId, now);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'consent.user.renewed',
        target: clientId,
        details: { userId, before: row.expiresAt?.toISOString() ?? null, after: expiresAt?.toISOString() ?? null },
      });
      return expiresAt;
    });
  }

  /** Gives the admin consent a new review date from now. Returns it. */
  async renewAdminConsent(tenantId: string, clientId: string, actor: string): Promise<Date | null> {
    return inTransaction(this.pool, async (tx) => {
      const now = this.clock();
      const consent = await lockAdminConsentReview(tx, tenantId, clientId);
      if (!consent) throw NotFound('the organisation has no admin consent to the app');
      if (consent.reviewAt !== null && consent.reviewAt <= now)
        throw Conflict('the admin consent has lapsed: an admin consents again to restore it');
      const reviewAt = await consentExpiry(tx, this.catalogue, tenantId, clientId, consent.scopes, now);
      await setAdminConsentReview(tx, tenantId, clientId, reviewAt);
      await this.moveGrantEnds(tx, tenantId, clientId, null, now);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'consent.admin.renewed',
        target: clientId,
        details: { before: consent.reviewAt?.toISOString() ?? null, after: reviewAt?.toISOString() ?? null },
      });
      return reviewAt;
    });
  }

  /** Records that the user's consent is to lapse at its expiry (nothing else changes until then). */
  async letUserConsentLapse(tenantId: string, userId: string, clientId: string, actor: string): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      if (!(await chooseUserConsentLapse(tx, { tenantId, userId, clientId }, this.clock())))
        throw NotFound('this user has no expiring consent to the app');
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'consent.user.lapse_chosen',
        target: clientId,
        details: { userId },
      });
    });
  }

  /** Records that the admin consent is to lapse at its review date. */
  async letAdminConsentLapse(tenantId: string, clientId: string, actor: string): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      if (!(await chooseAdminConsentLapse(tx, tenantId, clientId, this.clock())))
        throw NotFound('the organisation has no admin consent to the app with a review date to come');
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'consent.admin.lapse_chosen',
        target: clientId,
        details: {},
      });
    });
  }

  /**
   * Users' grants holding scopes that no token carried for `unusedDays` (default 90), among those
   * granted at least that long ago (a newer grant has not had the time to be used).
   */
  async overPrivileged(tenantId: string, unusedDays = UNUSED_AFTER_DAYS): Promise<OverPrivilegedGrant[]> {
    checkUnusedDays(unusedDays);
    await this.requireTenant(this.pool, tenantId);
    const now = this.clock();
    const cutoff = new Date(now.getTime() - unusedDays * DAY_MS);
    return (await listGrantUses(this.pool, tenantId, now))
      .map((grant) => overPrivilege(grant, cutoff))
      .filter((grant): grant is OverPrivilegedGrant => grant !== undefined);
  }

  /**
   * Removes from the user's consent the scopes no token carried for `unusedDays`, and narrows the
   * grant that held them in place: a token carrying one is refused at its next request, a refresh
   * yields the narrower set (the grant and its refresh tokens live on), and so does the next
   * sign-in. What the organisation's admin consent grants stays in the grant. A grant left with
   * nothing is revoked. Returns the scopes removed from the user's consent.
   */
  async reduceToUsed(
    tenantId: string,
    userId: string,
    clientId: string,
    actor: string,
    unusedDays = UNUSED_AFTER_DAYS,
  ): Promise<{ removed: string[]; scopes: string[] }> {
    checkUnusedDays(unusedDays);
    return inTransaction(this.pool, async (tx) => {
      const now = this.clock();
      const row = await findUserConsentForUpdate(tx, tenantId, userId, clientId);
      if (!row || row.scopes.length === 0 || (row.expiresAt !== null && row.expiresAt <= now))
        throw NotFound('this user has no live consent of their own to the app');
      const [grant] = await listGrantUses(tx, tenantId, now, { userId, clientId });
      const report = grant && overPrivilege(grant, new Date(now.getTime() - unusedDays * DAY_MS));
      if (!report) throw Conflict(`every scope of this grant was used in the last ${unusedDays} days`);
      const scopes = row.scopes.filter((scope) => !report.unusedScopes.includes(scope));
      const admin = await findAdminConsent(tx, tenantId, clientId);
      const byAdmin = admin && !(admin.reviewAt !== null && admin.reviewAt <= now) ? admin.scopes : [];
      const dropped = report.unusedScopes.filter((scope) => !byAdmin.includes(scope));
      const held = row.grantId ? await lockGrantScopes(tx, row.grantId) : undefined;
      const narrowed = held && withoutScopes(held, dropped);
      const keepsGrant = narrowed !== undefined && holdsAny(narrowed);
      await updateUserConsent(tx, { tenantId, userId, clientId }, { scopes, grantId: keepsGrant ? row.grantId : null });
      if (keepsGrant) await setGrantScopes(tx, row.grantId!, narrowed);
      const revoked = row.grantId && !keepsGrant ? [row.grantId] : [];
      await revokeGrants(tx, revoked);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'consent.user.reduced',
        target: clientId,
        details: {
          userId,
          removed: report.unusedScopes,
          scopes,
          unusedDays,
          narrowedGrants: keepsGrant ? 1 : 0,
          revokedGrants: revoked.length,
        },
      });
      return { removed: report.unusedScopes, scopes };
    });
  }

  /**
   * After a renewal, the Grants resting on the consent end when it now ends, so that their refresh
   * tokens work on without a new sign-in (refresh tokens already issued keep their own cap); and so
   * do the grants the app created under them (Grant Management), which end when their grant ends.
   */
  private async moveGrantEnds(tx: Queryable, tenantId: string, clientId: string, userId: string | null, now: Date) {
    const grants = await listGrantExpirySources(tx, tenantId, clientId, userId);
    const ends = new Map(grants.map((grant) => [grant.grantId, grantEnd(grant, now)]));
    const created = await listGrantsCreatedUnder(tx, [...ends.keys()]);
    await setGrantExpiries(tx, [
      ...[...ends].map(([grantId, exp]) => ({ grantId, exp })),
      ...created.map(({ grantId, createdUnder }) => ({ grantId, exp: ends.get(createdUnder)! })),
    ]);
  }

  private async requireTenant(db: Queryable, tenantId: string): Promise<void> {
    if (!(await findTenant(db, tenantId))) throw NotFound(`no tenant "${tenantId}"`);
  }
}

/** The grant's scopes without `scopes` (named as in requests and grants: unique across APIs). */
function withoutScopes(held: GrantScopes, scopes: readonly string[]): GrantScopes {
  const keep = (list: string[]) => list.filter((scope) => !scopes.includes(scope));
  return {
    openid: keep(held.openid),
    resources: Object.fromEntries(Object.entries(held.resources).map(([resource, list]) => [resource, keep(list)])),
  };
}

function holdsAny(scopes: GrantScopes): boolean {
  return scopes.openid.length > 0 || Object.values(scopes.resources).some((list) => list.length > 0);
}

function checkUnusedDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw InvalidRequest('unusedDays must be a whole number of days from 1 to 3650', { field: 'unusedDays' });
}

/** The grant's over-privilege as of `cutoff`, or undefined when it has none (or is too new to judge). */
function overPrivilege(grant: GrantUse, cutoff: Date): OverPrivilegedGrant | undefined {
  if (grant.grantedAt > cutoff) return undefined;
  const unusedScopes = grant.scopes.filter((scope) => !(grant.lastUsed[scope] && grant.lastUsed[scope] >= cutoff));
  if (unusedScopes.length === 0) return undefined;
  const times = Object.values(grant.lastUsed).map((at) => at.getTime());
  return {
    userId: grant.userId,
    username: grant.username,
    clientId: grant.clientId,
    appName: grant.appName,
    scopes: grant.scopes,
    unusedScopes,
    unusedAltogether: unusedScopes.length === grant.scopes.length,
    grantedAt: grant.grantedAt,
    lastUsedAt: times.length > 0 ? new Date(Math.max(...times)) : null,
  };
}

export type { ExpiringConsent, GrantLifetimePolicy };
