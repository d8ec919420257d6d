// What turning Integrated Apps on or off would do in one tenant, counted before the admin saves:
// the user consents that are kept either way, and the sign-ins and requests whose outcome the
// change affects. Everything is read for the given tenant only; nothing is written.

import { NotFound } from '../core/errors.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import { listOpenConsentRequestScopes } from '../db/consent-requests.js';
import { countUserConsentHolders } from '../db/consents.js';
import { listWaitingConsentInteractions, type WaitingConsentInteraction } from '../db/oidc-models.js';
import type { Pool } from '../db/pool.js';
import { findTenant } from '../db/tenants.js';
import { decideAccess, requestableScopes } from './consents.js';

export interface IntegratedAppsPreviewResult {
  tenantId: string;
  current: boolean;
  desired: boolean;
  /** Distinct users of the tenant holding a consent they gave themselves (non-empty user_consents.scopes). */
  usersWithUserConsents: number;
  /** Distinct apps holding at least one such user consent in the tenant. */
  appsWithUserConsents: number;
  /**
   * Sign-ins of the tenant's (enabled) users paused at a consent step right now: unexpired,
   * unfinished oidc-provider interactions (model 'Interaction') whose prompt is `consent`.
   */
  waitingConsentSignIns: number;
  /** Of those, the ones a user could consent to now but that would need admin approval after the change. */
  signInsNowNeedingApproval: number;
  /** Of those, the ones that need admin approval now only because of the setting, and that the user could consent to after the change. */
  signInsNoLongerNeedingApproval: number;
  /** Users' open (pending, unexpired) requests for admin approval. Unaffected: they wait for an admin either way. */
  openRequests: number;
  /** Of those, the ones asking only for user permissions, which the requesting user could grant themselves with Integrated Apps on. */
  openRequestsForUserPermissionsOnly: number;
}

export class IntegratedAppsPreview {
  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
  ) {}

  async preview(tenantId: string, desired: boolean): Promise<IntegratedAppsPreviewResult> {
    const tenant = await findTenant(this.pool, tenantId);
    if (!tenant) throw NotFound(`tenant "${tenantId}" not found`);
    const [counts, interactions, requests] = await Promise.all([
      countUserConsentHolders(this.pool, tenantId),
      listWaitingConsentInteractions(this.pool, tenantId),
      listOpenConsentRequestScopes(this.pool, tenantId),
    ]);

    let nowNeeding = 0;
    let noLongerNeeding = 0;
    for (const row of interactions) {
      const before = this.outcome(row, tenant.integratedAppsEnabled);
      const after = this.outcome(row, desired);
      if (before !== 'needs_admin_approval' && after === 'needs_admin_approval') nowNeeding++;
      if (before === 'needs_admin_approval' && after !== 'needs_admin_approval') noLongerNeeding++;
    }
    return {
      tenantId,
      current: tenant.integratedAppsEnabled,
      desired,
      usersWithUserConsents: counts.users,
      appsWithUserConsents: counts.apps,
      waitingConsentSignIns: interactions.length,
      signInsNowNeedingApproval: nowNeeding,
      signInsNoLongerNeedingApproval: noLongerNeeding,
      openRequests: requests.length,
      openRequestsForUserPermissionsOnly: requests.filter((scopes) => !scopes.some(this.catalogue.adminConsentRequired))
        .length,
    };
  }

  /** The consent decision for the paused sign-in under the given setting (the one rule set, core/consent-decision). */
  private outcome(row: WaitingConsentInteraction, integratedAppsEnabled: boolean) {
    const access = {
      integratedAppsEnabled,
      blocked: row.blocked,
      adminScopes: row.adminScopes,
      userScopes: row.userScopes,
      tenantId: row.userTenantId,
      role: row.role,
    };
    const requestedScopes = requestableScopes(
      this.catalogue,
      row.appScopes,
      row.requested.split(' '),
      row.userTenantId,
    );
    return decideAccess(this.catalogue, row, access, requestedScopes, row.prompt.split(' ').includes('consent'))
      .outcome;
  }
}
