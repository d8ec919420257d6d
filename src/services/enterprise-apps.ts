// Enterprise apps: the apps in use in a tenant, whoever published them, as the tenant's admins
// govern them — list and inspect every grant, block and unblock, remove, revoke one user's
// consent. Every change is one transaction that writes its audit event and revokes the tokens of
// the grants it ends (revocation.ts), so either all of it happens or none of it does.
import { NotFound } from '../core/errors.js';
import { matchesSearch } from '../core/search.js';
import { listPermissionGrantTimes, recordAuditEvent } from '../db/audit-events.js';
import {
  deleteAdminConsent,
  deleteTenantApp,
  deleteUserConsents,
  detachGrantsOfApp,
  findAdminConsent,
  findTenantApp,
  listAppUserGrants,
  listTenantApps,
  lockTenantAppChanges,
  setAppBlocked,
  type TenantAppSummary,
} from '../db/consents.js';
import { lastUseByUser } from '../db/grant-scope-use.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import type { Actor } from './directory.js';
import { revokeGrants } from './revocation.js';

export type EnterpriseAppSummary = TenantAppSummary;

/** `search` matches the app's name, publisher or client id; the others keep apps in that state only. */
export interface EnterpriseAppFilter {
  search?: string | undefined;
  blocked?: boolean | undefined;
  verified?: boolean | undefined;
}

/** One permission granted to the app, and when it was (last) granted. */
export interface PermissionGrant {
  scope: string;
  grantedAt: Date;
}

export interface EnterpriseAppDetail extends EnterpriseAppSummary {
  /** The tenant-wide admin consent, per permission; null when there is none. */
  adminConsent: { grantedBy: string; grantedAt: Date; permissions: PermissionGrant[] } | null;
  /**
   * Every user of the tenant with a consent row for the app, by username: what they consented to
   * themselves, per permission (empty when they use the app only under the admin consent), and
   * whether they currently hold tokens.
   */
  users: Array<{
    userId: string;
    username: string;
    displayName: string;
    grantedAt: Date;
    updatedAt: Date;
    active: boolean;
    permissions: PermissionGrant[];
    /** When the app last got a token for the user (issue 15); null: never since recording began. */
    lastUsedAt: Date | null;
  }>;
}

/** What a change did; `changed: false` when the app was already in the asked-for state. */
export interface EnterpriseAppChange {
  clientId: string;
  changed: boolean;
  revokedGrants: number;
}

export class EnterpriseApps {
  constructor(private readonly pool: Pool) {}

  /** The apps in use in the tenant (a tenant_apps row, an admin consent or a user consent), by name, filtered. */
  async list(tenantId: string, filter: EnterpriseAppFilter = {}): Promise<EnterpriseAppSummary[]> {
    const apps = await listTenantApps(this.pool, tenantId);
    return apps.filter(
      (app) =>
        matchesSearch(filter.search, app.name, app.publisherName, app.clientId) &&
        (filter.blocked === undefined || app.blocked === filter.blocked) &&
        (filter.verified === undefined || app.publisherVerified === filter.verified),
    );
  }

  /** One app in the tenant with every grant: the admin's and each user's, per permission, with times. */
  async detail(tenantId: string, clientId: string): Promise<EnterpriseAppDetail> {
    const [summary, admin, users, times, lastUse] = await Promise.all([
      findTenantApp(this.pool, tenantId, clientId),
      findAdminConsent(this.pool, tenantId, clientId),
      listAppUserGrants(this.pool, tenantId, clientId),
      listPermissionGrantTimes(this.pool, tenantId, clientId),
      lastUseByUser(this.pool, tenantId, clientId),
    ]);
    if (!summary) throw appNotInUse(tenantId);
    const timeOf = new Map(times.map((row) => [`${row.userId ?? ''} ${row.scope}`, row.grantedAt]));
    // A permission whose grant predates the audit trail falls back to the record's own time.
    const permissions = (who: string, scopes: readonly string[], fallback: Date): PermissionGrant[] =>
      scopes.map((scope) => ({ scope, grantedAt: timeOf.get(`${who} ${scope}`) ?? fallback }));
    return {
      ...summary,
      adminConsent: admin
        ? {
            grantedBy: admin.grantedBy,
            grantedAt: admin.grantedAt,
            permissions: permissions('', admin.scopes, admin.grantedAt),
          }
        : null,
      users: users.map(({ scopes, ...user }) => ({
        ...user,
        permissions: permissions(user.userId, scopes, user.grantedAt),
        lastUsedAt: lastUse.get(user.userId) ?? null,
      })),
    };
  }

  /**
   * Nobody in the tenant may sign in to the app or get tokens from it, and the tokens it holds
   * stop working: every user's grant is revoked (refresh tokens deleted; JWT access tokens fail
   * the data API's revocation check). Consent records stay, so unblocking restores access
   * without asking anyone again (new grants are made at the next sign-in).
   */
  async block(tenantId: string, clientId: string, actor: Actor): Promise<EnterpriseAppChange> {
    return inTransaction(this.pool, async (tx) => {
      const state = await this.lockInUse(tx, tenantId, clientId);
      if (state.blocked) return { clientId, changed: false, revokedGrants: 0 };
      await setAppBlocked(tx, tenantId, clientId, true, actor);
      const grantIds = await detachGrantsOfApp(tx, tenantId, clientId);
      await revokeGrants(tx, grantIds);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'app.blocked',
        target: clientId,
        details: { revokedGrants: grantIds.length },
      });
      return { clientId, changed: true, revokedGrants: grantIds.length };
    });
  }

  /** Lets the app in again, with the consents it had when it was blocked. */
  async unblock(tenantId: string, clientId: string, actor: Actor): Promise<EnterpriseAppChange> {
    return inTransaction(this.pool, async (tx) => {
      const state = await this.lockInUse(tx, tenantId, clientId);
      if (!state.blocked) return { clientId, changed: false, revokedGrants: 0 };
      await setAppBlocked(tx, tenantId, clientId, false, actor);
      await recordAuditEvent(tx, { tenantId, actor, action: 'app.unblocked', target: clientId });
      return { clientId, changed: true, revokedGrants: 0 };
    });
  }

  /**
   * Removes the app from the tenant: the admin consent and every user consent there go, with
   * their tokens, and so does the app's state (a block included). The app is then as if never
   * used in the tenant: a new consent (a user's, where allowed, or an admin's) adds it again.
   */
  async remove(tenantId: string, clientId: string, actor: Actor): Promise<EnterpriseAppChange> {
    return inTransaction(this.pool, async (tx) => {
      const state = await this.lockInUse(tx, tenantId, clientId);
      await deleteAdminConsent(tx, tenantId, clientId);
      const removed = await deleteUserConsents(tx, { tenantId, clientId });
      await deleteTenantApp(tx, tenantId, clientId);
      const grantIds = removed.flatMap((row) => (row.grantId ? [row.grantId] : []));
      await revokeGrants(tx, grantIds);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'app.removed',
        target: clientId,
        details: {
          adminScopes: state.adminScopes,
          users: removed.map((row) => row.userId),
          wasBlocked: state.blocked,
          revokedGrants: grantIds.length,
        },
      });
      return { clientId, changed: true, revokedGrants: grantIds.length };
    });
  }

  /**
   * Withdraws one user's consent to the app and revokes that user's tokens for it. A tenant-wide
   * admin consent, if any, still applies to them: at their next sign-in they get what it grants.
   */
  async revokeUserConsent(
    tenantId: string,
    clientId: string,
    userId: string,
    actor: Actor,
  ): Promise<EnterpriseAppChange> {
    return inTransaction(this.pool, async (tx) => {
      const [removed] = await deleteUserConsents(tx, { tenantId, userId, clientId });
      if (!removed) throw NotFound('this user has no consent to the app in the tenant');
      const grantIds = removed.grantId ? [removed.grantId] : [];
      await revokeGrants(tx, grantIds);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'consent.user.revoked',
        target: clientId,
        details: { userId, scopes: removed.scopes, revokedGrants: grantIds.length },
      });
      return { clientId, changed: true, revokedGrants: grantIds.length };
    });
  }

  /** Takes the app's change lock in the tenant, then reads its state there (NotFound when not in use). */
  private async lockInUse(tx: Queryable, tenantId: string, clientId: string): Promise<TenantAppSummary> {
    await lockTenantAppChanges(tx, tenantId, clientId);
    // findTenantApp joins apps: an unknown client id is not in use either.
    const state = await findTenantApp(tx, tenantId, clientId);
    if (!state) throw appNotInUse(tenantId);
    return state;
  }
}

function appNotInUse(tenantId: string) {
  return NotFound(`the app is not in use in tenant "${tenantId}"`);
}
