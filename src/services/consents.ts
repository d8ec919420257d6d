// Consent, the domain: evaluates the decision for a signed-in user and an app
// (core/consent-decision.ts) and records new consent, each change one transaction with its audit
// event. The oidc-provider side — the Grant the provider is handed, the interaction policy — is
// provider/'s (provider/grant-sync.ts, provider/consent-policy.ts).
import { classificationOf } from '../core/app-consent-policies.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type ConsentDecision, decideConsent } from '../core/consent-decision.js';
import { FIRST_PARTY_CLIENT_ID } from '../core/first-party-client.js';
import { earlierExpiry } from '../core/grant-lifetime.js';
import { setAsideDeclined } from '../core/optional-permissions.js';
import { OPENID_RESOURCE, type PermissionCatalogue } from '../core/permission-catalogue.js';
import type { Impact } from '../core/types.js';
import { type AppRecord, findApp } from '../db/apps.js';
import { recordAuditEvent, recordAuditEventOnce } from '../db/audit-events.js';
import { lockAdminConsentReview, setAdminConsentReview, setUserConsentExpiry } from '../db/consent-expiry.js';
import {
  type AccessRecord,
  loadAccessOfUser,
  lockTenantAppChanges,
  lockUserConsent,
  unblockApp,
  updateUserConsent,
  upsertAdminConsent,
} from '../db/consents.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import { readTenantConsentPolicies, type TenantConsentPolicies } from './consent-policy-cache.js';
import { consentExpiry } from './grant-lifecycle.js';

/**
 * The reads a consent decision is made from. Straight from the database by default
 * (databaseConsentReads); the provider injects reads done once per provider request
 * (provider/request-memo.ts), so that the decision, the Grant it loads and the provider's other
 * hooks read each row once.
 */
export interface ConsentReads {
  findApp(clientId: string): Promise<AppRecord | undefined>;
  loadAccess(userId: string, clientId: string): Promise<AccessRecord | undefined>;
}

/** The reads straight from the database, each done when asked (expiry judged by `clock`). */
export function databaseConsentReads(db: Queryable, clock: Clock = systemClock): ConsentReads {
  return {
    findApp: (clientId) => findApp(db, clientId),
    loadAccess: (userId, clientId) => loadAccessOfUser(db, userId, clientId, clock()),
  };
}

export interface ConsentEvaluation {
  app: AppRecord;
  access: AccessRecord;
  requestedScopes: string[];
  decision: ConsentDecision;
}

export class Consents {
  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
    private readonly reads: ConsentReads = databaseConsentReads(pool),
    /** The tenant's classifications and custom policies: from the per-process cache in the server. */
    private readonly tenantPolicies: (tenantId: string) => Promise<TenantConsentPolicies> = (tenantId) =>
      readTenantConsentPolicies(pool, tenantId),
    /** The time the decision and grant expiry are judged by (issue 15: tests move it). */
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * The decision for this user, app and request, from the database as it is now. `promptConsent`:
   * the request carried `prompt=consent`; `answered`: it resumes from the consent page the user
   * has just answered (core/optional-permissions.ts).
   */
  async evaluate(
    userId: string,
    clientId: string,
    requested: Iterable<string>,
    { promptConsent = false, answered = false }: { promptConsent?: boolean; answered?: boolean } = {},
  ): Promise<ConsentEvaluation | undefined> {
    // First-party portal: no consent decision, the flow goes straight on (and grants only openid).
    if (clientId === FIRST_PARTY_CLIENT_ID) {
      const access = await this.reads.loadAccess(userId, clientId);
      if (!access) return undefined;
      const requestedScopes = [...new Set(requested)].filter((scope) => scope === 'openid');
      return { app: firstPartyApp(access.tenantId), access, requestedScopes, decision: FIRST_PARTY_DECISION };
    }
    const [app, access] = await Promise.all([this.reads.findApp(clientId), this.reads.loadAccess(userId, clientId)]);
    if (!app || !access || access.disabled) return undefined;
    const requestedScopes = setAsideDeclined({
      requestedScopes: this.requestable(app, requested, access.tenantId),
      // A permission the app has since made required is asked for again.
      declinedScopes: access.userDeclinedScopes.filter((scope) => app.optionalScopes.includes(scope)),
      promptConsent,
      answered,
      isSignInScope: (scope) => this.catalogue.resourceOf(scope) === OPENID_RESOURCE,
    });
    const policies = await this.tenantPolicies(access.tenantId);
    const decision = decideAccess(this.catalogue, app, access, policies, requestedScopes, promptConsent, this.clock());
    return { app, access, requestedScopes, decision };
  }

  /**
   * Risk-based step-up sent a request to an admin: `consent.risky_app_detected`, with why, in the
   * user's tenant (written when the user is shown the page, not on the silent path), once per
   * sign-in (`interactionUid`): reloading the page records nothing more.
   */
  async recordRiskyAppDetected(userId: string, evaluation: ConsentEvaluation, interactionUid: string): Promise<void> {
    const { app, access, decision } = evaluation;
    // An interaction lives an hour at most (provider/create-provider.ts): no older event can name it.
    const since = new Date(this.clock().getTime() - 60 * 60 * 1000);
    await inTransaction(this.pool, (tx) =>
      recordAuditEventOnce(
        tx,
        {
          tenantId: access.tenantId,
          actor: userId,
          action: 'consent.risky_app_detected',
          target: app.clientId,
          details: {
            publisherTenantId: app.publisherTenantId,
            registeredAt: app.createdAt.toISOString(),
            scopes: decision.outcome === 'needs_admin_approval' ? decision.missingScopes : evaluation.requestedScopes,
            rule: decision.rule.id,
            because: decision.rule.explanation,
          },
        },
        { interaction: interactionUid },
        since,
      ),
    );
  }

  /**
   * Records the user's own consent to `scopes` (added to what they granted before) and the
   * optional permissions they unticked (`declined`, issue 15), which are then not asked again
   * without `prompt=consent` (core/optional-permissions.ts). Accepting a permission declined
   * before takes it off the declined list.
   */
  async grantUserConsent(
    userId: string,
    clientId: string,
    scopes: readonly string[],
    declined: readonly string[] = [],
    tx?: Queryable,
  ): Promise<void> {
    const record = async (tx: Queryable) => {
      const now = this.clock();
      const access = await loadAccessOfUser(tx, userId, clientId, now);
      if (!access) throw new Error('user not found');
      const row = await lockUserConsent(tx, access.tenantId, userId, clientId);
      // An expired consent counts as absent (issue 15): accepting again starts a new one.
      const current = row.expiresAt !== null && row.expiresAt <= now ? [] : row.scopes;
      const added = scopes.filter((scope) => !current.includes(scope));
      const nextDeclined = this.catalogue.sort([
        ...row.declinedScopes.filter((scope) => !scopes.includes(scope)),
        ...declined.filter((scope) => !row.declinedScopes.includes(scope)),
      ]);
      const declinedChanged = nextDeclined.join(' ') !== row.declinedScopes.join(' ');
      if (added.length === 0 && !declinedChanged) return;
      const next = this.catalogue.sort([...current, ...added]);
      const key = { tenantId: access.tenantId, userId, clientId };
      await updateUserConsent(tx, key, { scopes: next, grantId: row.grantId, declinedScopes: nextDeclined });
      if (added.length > 0) {
        // Adding a permission never extends a live consent's expiry; it may shorten it.
        const lifetime = await consentExpiry(tx, this.catalogue, access.tenantId, clientId, next, now);
        await setUserConsentExpiry(tx, key, earlierExpiry(current.length > 0 ? row.expiresAt : null, lifetime));
      }
      await recordAuditEvent(tx, {
        tenantId: access.tenantId,
        actor: userId,
        action: 'consent.user.granted',
        target: clientId,
        details: { added, scopes: next, ...(declined.length > 0 ? { declined: [...declined] } : {}) },
      });
    };
    await (tx ? record(tx) : inTransaction(this.pool, record));
  }

  /**
   * An admin's "on behalf of your organisation" on the consent page: the admin consent, and the
   * optional permissions the admin left out recorded as the admin's own declines (so the admin is
   * not asked about them again, while the organisation's users may still consent to them), in one
   * transaction.
   */
  async grantOnBehalfOfOrganisation(
    tenantId: string,
    adminId: string,
    clientId: string,
    scopes: readonly string[],
    declined: readonly string[],
  ): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      await this.grantAdminConsent(tenantId, adminId, clientId, scopes, 'consent_page', tx);
      if (declined.length > 0) await this.grantUserConsent(adminId, clientId, [], declined, tx);
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
      // Locking the admin consent's row locks nothing while the app has no admin consent yet: two
      // first consents would both start from nothing and the later upsert would drop the other's scopes.
      await lockTenantAppChanges(tx, tenantId, clientId);
      const now = this.clock();
      const locked = await lockAdminConsentReview(tx, tenantId, clientId);
      // A lapsed admin consent counts as absent (issue 15); consenting again is its review.
      const before = locked && (locked.reviewAt === null || locked.reviewAt > now) ? locked.scopes : [];
      const next = this.catalogue.sort([...before, ...scopes]);
      await upsertAdminConsent(tx, { tenantId, clientId, scopes: next, grantedBy: adminId });
      await setAdminConsentReview(
        tx,
        tenantId,
        clientId,
        await consentExpiry(tx, this.catalogue, tenantId, clientId, next, now),
      );
      // Re-consenting lifts an earlier block: the admin has just said the app is trusted.
      await unblockApp(tx, tenantId, clientId, adminId);
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

  /**
   * The scopes of `requested` that are in the catalogue, registered by the app and available to
   * users of `tenantId`, deduplicated.
   */
  requestable(app: AppRecord, requested: Iterable<string>, tenantId: string): string[] {
    return requestableScopes(this.catalogue, app.scopes, requested, tenantId);
  }
}

/**
 * The scopes of `requested` that are in the catalogue, registered by the app and available to
 * users of `tenantId` (a single-tenant API serves its own tenant only), deduplicated.
 */
export function requestableScopes(
  catalogue: PermissionCatalogue,
  appScopes: readonly string[],
  requested: Iterable<string>,
  tenantId: string,
): string[] {
  const registered = new Set(appScopes);
  return [...new Set(requested)].filter(
    (scope) => registered.has(scope) && catalogue.has(scope) && catalogue.availableTo(scope, tenantId),
  );
}

/** The consent decision (core/consent-decision.ts) for one user's access to one app, from their records. */
export function decideAccess(
  catalogue: PermissionCatalogue,
  app: Pick<AppRecord, 'clientId' | 'multiTenant' | 'publisherTenantId' | 'publisherVerified' | 'createdAt'>,
  access: Pick<
    AccessRecord,
    | 'integratedAppsEnabled'
    | 'userConsent'
    | 'riskStepUp'
    | 'riskStepUpDays'
    | 'blocked'
    | 'adminScopes'
    | 'userScopes'
    | 'tenantId'
    | 'role'
  >,
  tenantPolicies: TenantConsentPolicies,
  requestedScopes: string[],
  promptConsent: boolean,
  now: Date,
): ConsentDecision {
  return decideConsent({
    integratedAppsEnabled: access.integratedAppsEnabled,
    userConsent: access.userConsent,
    customPolicies: tenantPolicies.policies,
    riskStepUp: { enabled: access.riskStepUp, newAppDays: access.riskStepUpDays },
    now,
    appState: access.blocked ? 'blocked' : access.adminScopes.length > 0 ? 'admin_consented' : 'unconfigured',
    app: {
      clientId: app.clientId,
      multiTenant: app.multiTenant,
      publisherTenantId: app.publisherTenantId,
      publisherVerified: app.publisherVerified,
      registeredAt: app.createdAt,
    },
    userTenantId: access.tenantId,
    userRole: access.role,
    requestedScopes,
    adminConsentRequired: catalogue.adminConsentRequired,
    permissions: permissionFacts(catalogue, tenantPolicies, requestedScopes),
    adminGrantedScopes: access.adminScopes,
    userGrantedScopes: access.userScopes,
    promptConsent,
  });
}

/** Each scope's class in the tenant and its API, as the decision reads them. */
export function permissionFacts(
  catalogue: PermissionCatalogue,
  tenantPolicies: Pick<TenantConsentPolicies, 'classifications'>,
  scopes: readonly string[],
): Map<string, { classification: Impact; api: string }> {
  return new Map(
    scopes.map((scope) => {
      const permission = catalogue.get(scope);
      return [
        scope,
        {
          classification: classificationOf(scope, tenantPolicies.classifications, permission?.impact),
          api: permission?.resource ?? '',
        },
      ];
    }),
  );
}

/** The portal's decision: no consent step, ever. */
const FIRST_PARTY_DECISION: ConsentDecision = {
  outcome: 'proceed',
  rule: { row: 0, id: 'all_granted', explanation: "Accord's own portal asks for sign-in only and needs no consent" },
};

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
    redirectUris: [],
    postLogoutRedirectUris: [],
    homepageUrl: null,
    privacyUrl: null,
    termsUrl: null,
    logoUrl: null,
    scopes: ['openid'],
    optionalScopes: [],
    createdAt: epoch,
    updatedAt: epoch,
  };
}
