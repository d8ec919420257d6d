// What turning Integrated Apps on or off would do in one tenant, counted before the admin saves:
// the user consents that are kept either way, and the sign-ins and requests whose outcome the
// change affects. Everything is read for the given tenant only; nothing is written.

import { NotFound } from '../core/errors.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import type { Role } from '../core/types.js';
import type { Pool } from '../db/pool.js';
import { findTenant } from '../db/tenants.js';
import { decideAccess, requestableScopes } from './consent-service.js';

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

interface WaitingInteraction {
  role: Role;
  userTenantId: string;
  requested: string;
  prompt: string;
  appScopes: string[];
  multiTenant: boolean;
  publisherTenantId: string;
  blocked: boolean;
  adminScopes: string[];
  userScopes: string[];
}

export class IntegratedAppsPreview {
  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
  ) {}

  async preview(tenantId: string, desired: boolean): Promise<IntegratedAppsPreviewResult> {
    const tenant = await findTenant(this.pool, tenantId);
    if (!tenant) throw NotFound(`tenant "${tenantId}" not found`);
    const [consents, interactions, requests] = await Promise.all([
      this.pool.query<{ users: number; apps: number }>(
        `SELECT count(DISTINCT user_id)::int AS users, count(DISTINCT client_id)::int AS apps
           FROM user_consents
          WHERE tenant_id = $1::text AND cardinality(scopes) > 0`,
        [tenantId],
      ),
      // The interaction's account must be a user of this tenant: the join on users.tenant_id is
      // what keeps other tenants' sign-ins out. The portal client has no row in apps and never
      // asks for consent, so the join on apps leaves it out too.
      this.pool.query<WaitingInteraction>(
        `SELECT u.role, u.tenant_id AS "userTenantId",
                COALESCE(i.payload->'params'->>'scope', '') AS requested,
                COALESCE(i.payload->'params'->>'prompt', '') AS prompt,
                a.scopes AS "appScopes", a.multi_tenant AS "multiTenant", a.publisher_tenant_id AS "publisherTenantId",
                COALESCE(ta.blocked, false) AS blocked,
                COALESCE(ac.scopes, '{}') AS "adminScopes",
                COALESCE(uc.scopes, '{}') AS "userScopes"
           FROM oidc_models i
           JOIN users u ON u.tenant_id = $1::text AND u.id = i.payload->'session'->>'accountId' AND NOT u.disabled
           JOIN apps a ON a.client_id = i.payload->'params'->>'client_id'
           LEFT JOIN tenant_apps ta ON ta.tenant_id = u.tenant_id AND ta.client_id = a.client_id
           LEFT JOIN admin_consents ac ON ac.tenant_id = u.tenant_id AND ac.client_id = a.client_id
           LEFT JOIN user_consents uc ON uc.tenant_id = u.tenant_id AND uc.user_id = u.id AND uc.client_id = a.client_id
          WHERE i.model = 'Interaction'
            AND i.expires_at > now()
            AND i.payload->'prompt'->>'name' = 'consent'
            AND NOT (i.payload ? 'result')`,
        [tenantId],
      ),
      this.pool.query<{ scopes: string[] }>(
        `SELECT scopes FROM consent_requests
          WHERE tenant_id = $1::text AND status = 'pending' AND expires_at > now()`,
        [tenantId],
      ),
    ]);

    let nowNeeding = 0;
    let noLongerNeeding = 0;
    for (const row of interactions.rows) {
      const before = this.outcome(row, tenant.integratedAppsEnabled);
      const after = this.outcome(row, desired);
      if (before !== 'needs_admin_approval' && after === 'needs_admin_approval') nowNeeding++;
      if (before === 'needs_admin_approval' && after !== 'needs_admin_approval') noLongerNeeding++;
    }
    const counts = consents.rows[0]!;
    return {
      tenantId,
      current: tenant.integratedAppsEnabled,
      desired,
      usersWithUserConsents: counts.users,
      appsWithUserConsents: counts.apps,
      waitingConsentSignIns: interactions.rows.length,
      signInsNowNeedingApproval: nowNeeding,
      signInsNoLongerNeedingApproval: noLongerNeeding,
      openRequests: requests.rows.length,
      openRequestsForUserPermissionsOnly: requests.rows.filter(
        (row) => !row.scopes.some(this.catalogue.adminConsentRequired),
      ).length,
    };
  }

  /** The consent decision for the paused sign-in under the given setting (the one rule set, core/consent-decision). */
  private outcome(row: WaitingInteraction, integratedAppsEnabled: boolean) {
    const access = {
      integratedAppsEnabled,
      blocked: row.blocked,
      adminScopes: row.adminScopes,
      userScopes: row.userScopes,
      tenantId: row.userTenantId,
      role: row.role,
    };
    const requestedScopes = requestableScopes(this.catalogue, row.appScopes, row.requested.split(' '));
    return decideAccess(this.catalogue, row, access, requestedScopes, row.prompt.split(' ').includes('consent'))
      .outcome;
  }
}
