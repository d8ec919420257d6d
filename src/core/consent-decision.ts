// Decides, from plain data, what a consent interaction does next (docs/consent.md, "The consent decision").

import type { AppTenantState, Role } from './types.js';

export interface ConsentInput {
  /** The user's tenant setting. */
  integratedAppsEnabled: boolean;
  /** The app's state in the user's tenant. */
  appState: AppTenantState;
  app: { multiTenant: boolean; publisherTenantId: string };
  userTenantId: string;
  userRole: Role;
  /**
   * What the app asks for in this request, already limited by the caller to the catalogue and to
   * the app's registration.
   */
  requestedScopes: readonly string[];
  /** From the permission catalogue: true for admin permissions. */
  adminConsentRequired: (scope: string) => boolean;
  /** The tenant-wide admin grant for this app (empty if none). */
  adminGrantedScopes: readonly string[];
  /** This user's own grant for this app (empty if none). */
  userGrantedScopes: readonly string[];
  /** The request carried `prompt=consent`. */
  promptConsent: boolean;
}

/**
 * In every outcome `missingScopes` holds exactly the requested scopes not yet granted (request
 * order, no duplicates) and `alreadyGrantedScopes` the requested scopes already granted, by the
 * admin or by the user. Together they are the whole request, which is what an admin's
 * "on behalf of your organisation" choice records tenant-wide.
 */
export type ConsentDecision =
  | { outcome: 'proceed' }
  | {
      outcome: 'consent';
      missingScopes: string[];
      alreadyGrantedScopes: string[];
      offerOrgConsent: boolean;
    }
  | {
      outcome: 'needs_admin_approval';
      reason: 'integrated_apps_off' | 'admin_permission';
      missingScopes: string[];
      adminScopes: string[];
    }
  | { outcome: 'refused'; reason: 'app_blocked' | 'app_not_in_tenant' };

/** The requested scopes that none of the grants covers, in request order, without duplicates. */
export function missingScopes(requested: readonly string[], ...granted: ReadonlyArray<readonly string[]>): string[] {
  const covered = new Set(granted.flat());
  return [...new Set(requested)].filter((scope) => !covered.has(scope));
}

/**
 * Applies the table of docs/consent.md ("The consent decision") top to bottom; the first row that matches decides.
 *
 * `prompt=consent` with nothing missing (the user or admin asked to see the page again): the
 * consent page is shown with `missingScopes` empty and every requested scope in
 * `alreadyGrantedScopes`, for admins and users alike, so accepting grants nothing new, except that
 * an admin may still choose to record the whole request for the organisation. This holds even when
 * Integrated Apps is off, because the setting only governs missing permissions and re-showing
 * existing grants grants nothing.
 */
export function decideConsent(input: ConsentInput): ConsentDecision {
  const { requestedScopes, adminGrantedScopes, userGrantedScopes } = input;

  // Row 1: blocked or removed by the tenant's admin; beats every grant and the admin role.
  if (input.appState === 'blocked') return { outcome: 'refused', reason: 'app_blocked' };

  // Row 2: a single-tenant app is not available outside its publisher's tenant.
  if (!input.app.multiTenant && input.app.publisherTenantId !== input.userTenantId) {
    return { outcome: 'refused', reason: 'app_not_in_tenant' };
  }

  const missing = missingScopes(requestedScopes, adminGrantedScopes, userGrantedScopes);
  const alreadyGranted = [...new Set(requestedScopes)].filter((scope) => !missing.includes(scope));

  // Row 3: everything is granted already (admin and user grants together) and no prompt=consent.
  if (missing.length === 0 && !input.promptConsent) return { outcome: 'proceed' };

  // Row 4: an admin may consent to anything, for themself or the organisation, setting or not.
  if (input.userRole === 'admin') {
    return {
      outcome: 'consent',
      missingScopes: missing,
      alreadyGrantedScopes: alreadyGranted,
      offerOrgConsent: true,
    };
  }

  // Row 5: only an admin may consent to an admin permission.
  const adminScopes = missing.filter((scope) => input.adminConsentRequired(scope));
  if (adminScopes.length > 0) {
    return {
      outcome: 'needs_admin_approval',
      reason: 'admin_permission',
      missingScopes: missing,
      adminScopes,
    };
  }

  // Row 6: with Integrated Apps off users may not consent; it only concerns missing permissions
  // ("grants already made keep working"), so prompt=consent with nothing missing falls through.
  if (!input.integratedAppsEnabled && missing.length > 0) {
    return {
      outcome: 'needs_admin_approval',
      reason: 'integrated_apps_off',
      missingScopes: missing,
      adminScopes: [],
    };
  }

  // Row 7: incremental consent, listing only what is missing.
  return {
    outcome: 'consent',
    missingScopes: missing,
    alreadyGrantedScopes: alreadyGranted,
    offerOrgConsent: false,
  };
}
