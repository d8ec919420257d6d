// Consent as the provider sees it: evaluates the decision for a signed-in user and an app, keeps
// the user's oidc-provider Grant in step with what the user and their admin granted, and records
// new consent. Every change is one transaction with its audit event.
import type { Grant as GrantInstance } from 'oidc-provider';
import { type ConsentDecision, decideConsent } from '../core/consent-decision.js';
import type { PermissionCatalogue, ResourceName } from '../core/permission-catalogue.js';
import type { AppRecord } from '../db/apps.js';
import { recordAuditEvent } from '../db/audit-events.js';
import {
  type AccessRecord,
  claimGrantId,
  forgetEmptyConsent,
  loadAccess,
  lockTenantAppChanges,
  lockUserConsent,
  updateUserConsent,
  upsertAdminConsent,
} from '../db/consents.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import { findAppOnce, loadAccessOnce } from '../provider/request-memo.js';

/** The Grant model of one provider instance. */
export interface GrantModel {
  new (properties: { accountId: string; clientId: string }): GrantInstance;
  find(id: string): Promise<GrantInstance | undefined>;
}

/**
 * Accord's own portal (admin consent, My apps, admin centre) signs people in as this static,
 * first-party client: it asks only for `openid` and never shows a consent page.
 */
export const FIRST_PARTY_CLIENT_ID = 'accord-portal';

export interface ResourceIndicators {
  data: string;
  admin: string;
}

export interface ConsentEvaluation {
  app: AppRecord;
  access: AccessRecord;
  requestedScopes: string[];
  decision: ConsentDecision;
}

export class ConsentService {
  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
    private readonly resources: ResourceIndicators,
  ) {}

  /** The decision for this user, app and request, from the database as it is now. */
  async evaluate(
    userId: string,
    clientId: string,
    requested: Iterable<string>,
    promptConsent: boolean,
  ): Promise<ConsentEvaluation | undefined> {
    // First-party portal: no consent decision, the flow goes straight on (and grants only openid).
    if (clientId === FIRST_PARTY_CLIENT_ID) {
      const access = await loadAccessOnce(this.pool, userId, clientId);
      if (!access) return undefined;
      const requestedScopes = [...new Set(requested)].filter((scope) => scope === 'openid');
      return { app: firstPartyApp(access.tenantId), access, requestedScopes, decision: { outcome: 'proceed' } };
    }
    const [app, access] = await Promise.all([
      findAppOnce(this.pool, clientId),
      loadAccessOnce(this.pool, userId, clientId),
    ]);
    if (!app || !access || access.disabled) return undefined;
    const requestedScopes = this.requestable(app, requested);
    const decision = decideAccess(this.catalogue, app, access, requestedScopes, promptConsent);
    return { app, access, requestedScopes, decision };
  }

  /**
   * The user's Grant for this app, holding exactly what the admin and the user granted (limited
   * to what the app registers). Consent lives in our tables, not in the browser session, so a
   * user who consented is not asked again in a new session. Returns undefined when nothing is
   * granted, or the app is blocked or not available in the user's tenant.
   */
  async loadGrant(Grant: GrantModel, userId: string, clientId: string): Promise<GrantInstance | undefined> {
    // First-party portal: a fresh `openid`-only grant per sign-in, never recorded as consent (the
    // portal revokes it once the sign-in is confirmed; see routes/portal-session.ts).
    if (clientId === FIRST_PARTY_CLIENT_ID) {
      const access = await loadAccessOnce(this.pool, userId, clientId);
      if (!access || access.disabled) return undefined;
      const grant = new Grant({ accountId: userId, clientId });
      grant.addOIDCScope('openid');
      await grant.save();
      return grant;
    }
    const [app, access] = await Promise.all([
      findAppOnce(this.pool, clientId),
      loadAccessOnce(this.pool, userId, clientId),
    ]);
    if (!app || !access || access.disabled || access.blocked) return undefined;
    if (!app.multiTenant && app.publisherTenantId !== access.tenantId) return undefined;
    const granted = this.requestable(app, [...access.adminScopes, ...access.userScopes]);
    if (granted.length === 0) return undefined;

    let grant: GrantInstance | undefined;
    if (access.grantId) {
      const found = await Grant.find(access.grantId);
      if (found && found.accountId === userId && found.clientId === clientId) {
        // Unchanged, so nothing was written: a revocation committing from now on deletes or
        // narrows the stored grant, and the token endpoint reads the stored one. No re-check.
        if (!this.applyScopes(found, granted)) return found;
        await found.save();
        grant = found;
      }
    }
    if (!grant) {
      // First grant for this user and app (or its Grant expired). Concurrent requests may each
      // create one; a single conditional upsert picks the winner and the losers use it. (No
      // transaction here: Grant.save takes its own pool connection.)
      const created = new Grant({ accountId: userId, clientId });
      this.applyScopes(created, granted);
      const createdId = await created.save();
      const winnerId = await claimGrantId(
        this.pool,
        { tenantId: access.tenantId, userId, clientId },
        createdId,
        access.grantId,
      );
      if (winnerId === createdId) {
        grant = created;
      } else {
        await created.destroy();
        grant = await Grant.find(winnerId);
      }
    }
    return grant && this.confirmGrant(grant, app, userId);
  }

  /**
   * A revocation may have committed while the grant was read, built or saved. Check again: the
   * grant handed to the provider is the one recorded for the user and holds no more than is
   * granted now; otherwise it is destroyed. (A revocation after this check finds the grant
   * recorded and revokes it.)
   */
  private async confirmGrant(grant: GrantInstance, app: AppRecord, userId: string): Promise<GrantInstance | undefined> {
    const access = await loadAccess(this.pool, userId, app.clientId);
    const granted =
      access && !access.disabled && !access.blocked
        ? this.requestable(app, [...access.adminScopes, ...access.userScopes])
        : [];
    if (!access || access.grantId !== grant.jti || granted.length === 0) {
      await grant.destroy();
      if (access)
        await forgetEmptyConsent(this.pool, { tenantId: access.tenantId, userId, clientId: app.clientId }, grant.jti);
      return undefined;
    }
    if (this.applyScopes(grant, granted)) await grant.save();
    return grant;
  }

  /** Records the user's own consent to `scopes` (added to what they granted before). */
  async grantUserConsent(userId: string, clientId: string, scopes: readonly string[]): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      const access = await loadAccess(tx, userId, clientId);
      if (!access) throw new Error('user not found');
      const row = await lockUserConsent(tx, access.tenantId, userId, clientId);
      const added = scopes.filter((scope) => !row.scopes.includes(scope));
      if (added.length === 0) return;
      const next = this.catalogue.sort([...row.scopes, ...added]);
      await updateUserConsent(
        tx,
        { tenantId: access.tenantId, userId, clientId },
        { scopes: next, grantId: row.grantId },
      );
      await recordAuditEvent(tx, {
        tenantId: access.tenantId,
        actor: userId,
        action: 'consent.user.granted',
        target: clientId,
        details: { added, scopes: next },
      });
    });
  }

  /**
   * Records a tenant-wide admin consent: the union of what was granted before and `scopes`.
   * Runs in `tx` when given (a caller's larger transaction), else in its own.
   */
  async grantAdminConsent(
    tenantId: string,
    adminId: string,
    clientId: string,
    scopes: readonly string[],
    via: string,
    tx?: Queryable,
  ): Promise<string[]> {
    const record = async (tx: Queryable) => {
      // FOR UPDATE below locks nothing while the app has no admin consent yet: two first consents
      // would both start from nothing and the later upsert would drop the other's scopes.
      await lockTenantAppChanges(tx, tenantId, clientId);
      const { rows } = await tx.query<{ scopes: string[] }>(
        'SELECT scopes FROM admin_consents WHERE tenant_id = $1::text AND client_id = $2::text FOR UPDATE',
        [tenantId, clientId],
      );
      const before = rows[0]?.scopes ?? [];
      const next = this.catalogue.sort([...before, ...scopes]);
      await upsertAdminConsent(tx, { tenantId, clientId, scopes: next, grantedBy: adminId });
      // Re-consenting lifts an earlier block: the admin has just said the app is trusted.
      await tx.query(
        'UPDATE tenant_apps SET blocked = false, updated_by = $3::text, updated_at = now() WHERE tenant_id = $1::text AND client_id = $2::text AND blocked',
        [tenantId, clientId, adminId],
      );
      await recordAuditEvent(tx, {
        tenantId,
        actor: adminId,
        action: 'consent.admin.granted',
        target: clientId,
        details: { before, scopes: next, via },
      });
      return next;
    };
    return tx ? record(tx) : inTransaction(this.pool, record);
  }

  /** The scopes of `requested` that are in the catalogue and registered by the app, deduplicated. */
  requestable(app: AppRecord, requested: Iterable<string>): string[] {
    return requestableScopes(this.catalogue, app.scopes, requested);
  }

  /** Makes the grant hold exactly `scopes`; returns whether it changed. */
  private applyScopes(grant: GrantInstance, scopes: readonly string[]): boolean {
    const before = JSON.stringify({ openid: grant.openid?.scope ?? '', resources: grant.resources ?? {} });
    const byResource = new Map<ResourceName, string[]>();
    for (const scope of scopes) {
      const resource = this.catalogue.resourceOf(scope);
      if (resource) byResource.set(resource, [...(byResource.get(resource) ?? []), scope]);
    }
    const openid = byResource.get('openid') ?? [];
    const resources: Record<string, string> = {};
    for (const [resource, list] of byResource) {
      if (resource !== 'openid') resources[this.resources[resource]] = list.join(' ');
    }
    const after = JSON.stringify({ openid: openid.join(' '), resources });
    if (before === after) return false;
    grant.openid = openid.length > 0 ? { scope: openid.join(' ') } : undefined;
    grant.resources = Object.keys(resources).length > 0 ? resources : undefined;
    return true;
  }
}

/** The scopes of `requested` that are in the catalogue and registered by the app, deduplicated. */
export function requestableScopes(
  catalogue: PermissionCatalogue,
  appScopes: readonly string[],
  requested: Iterable<string>,
): string[] {
  const registered = new Set(appScopes);
  return [...new Set(requested)].filter((scope) => registered.has(scope) && catalogue.has(scope));
}

/** The consent decision (core/consent-decision.ts) for one user's access to one app, from their records. */
export function decideAccess(
  catalogue: PermissionCatalogue,
  app: Pick<AppRecord, 'multiTenant' | 'publisherTenantId'>,
  access: Pick<AccessRecord, 'integratedAppsEnabled' | 'blocked' | 'adminScopes' | 'userScopes' | 'tenantId' | 'role'>,
  requestedScopes: string[],
  promptConsent: boolean,
): ConsentDecision {
  return decideConsent({
    integratedAppsEnabled: access.integratedAppsEnabled,
    appState: access.blocked ? 'blocked' : access.adminScopes.length > 0 ? 'admin_consented' : 'unconfigured',
    app: { multiTenant: app.multiTenant, publisherTenantId: app.publisherTenantId },
    userTenantId: access.tenantId,
    userRole: access.role,
    requestedScopes,
    adminConsentRequired: catalogue.adminConsentRequired,
    adminGrantedScopes: access.adminScopes,
    userGrantedScopes: access.userScopes,
    promptConsent,
  });
}

/** The portal as an AppRecord, for callers of evaluate(); it has no row in `apps`. */
function firstPartyApp(tenantId: string): AppRecord {
  const epoch = new Date(0);
  return {
    clientId: FIRST_PARTY_CLIENT_ID,
    publisherTenantId: tenantId,
    name: 'Accord',
    publisherName: 'Accord',
    publisherVerified: true,
    multiTenant: true,
    clientType: 'public',
    secretHash: null,
    redirectUris: [],
    postLogoutRedirectUris: [],
    homepageUrl: null,
    privacyUrl: null,
    termsUrl: null,
    logoUrl: null,
    scopes: ['openid'],
    createdAt: epoch,
    updatedAt: epoch,
  };
}
