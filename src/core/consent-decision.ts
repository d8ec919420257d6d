// Decides, from plain data, what a consent interaction does next (docs/consent.md, "The consent
// decision"), and says which rule or policy decided, in words.

import {
  type AppConsentPolicy,
  evaluatePolicies,
  type PolicyPermission,
  policiesInEffect,
  SIGN_IN_AND_PROFILE,
  type UserConsentSetting,
} from './app-consent-policies.js';
import type { AppTenantState, Impact, Role } from './types.js';

export interface ConsentInput {
  /** The user's tenant setting. */
  integratedAppsEnabled: boolean;
  /** The tenant's user consent setting: the built-in app consent policy in effect. */
  userConsent: UserConsentSetting;
  /** The tenant's custom app consent policies, in effect beside the built-in one. */
  customPolicies: readonly AppConsentPolicy[];
  /** The tenant's risk-based step-up: off, or on with how young an app counts as new. */
  riskStepUp: { enabled: boolean; newAppDays: number };
  /** The time of the request (risk-based step-up compares the app's registration with it). */
  now: Date;
  /** The app's state in the user's tenant. */
  appState: AppTenantState;
  app: {
    clientId: string;
    multiTenant: boolean;
    publisherTenantId: string;
    publisherVerified: boolean;
    registeredAt: Date;
  };
  userTenantId: string;
  userRole: Role;
  /**
   * What the app asks for in this request, already limited by the caller to the catalogue and to
   * the app's registration.
   */
  requestedScopes: readonly string[];
  /** From the permission catalogue: true for admin permissions. */
  adminConsentRequired: (scope: string) => boolean;
  /**
   * Each requested scope's class in the user's tenant and its API (`openid` for the OpenID
   * scopes). A scope missing here counts as high impact of no known API.
   */
  permissions: ReadonlyMap<string, { classification: Impact; api: string }>;
  /** The tenant-wide admin grant for this app (empty if none). */
  adminGrantedScopes: readonly string[];
  /** This user's own grant for this app (empty if none). */
  userGrantedScopes: readonly string[];
  /** The request carried `prompt=consent`. */
  promptConsent: boolean;
}

/** Which row of the table decided, with its particulars; `explanation` says it in words. */
export type DecisionRuleId =
  | 'app_blocked'
  | 'app_not_in_tenant'
  | 'all_granted'
  | 'admin'
  | 'admin_permission'
  | 'integrated_apps_off'
  | 'risky_app'
  | 'unverified_publisher'
  | 'not_low_impact'
  | 'policy_excluded'
  | 'policy_allowed';

export interface DecisionRule {
  /** The row of the table in docs/consent.md. */
  row: number;
  id: DecisionRuleId;
  /** The app consent policy that decided (rows 8 and 9). */
  policy?: { id: string; name: string };
  /** The permissions the rule is about (the admin permissions, the ones a policy did not allow). */
  scopes?: string[];
  explanation: string;
}

/**
 * In every outcome but `proceed`, `missingScopes` holds exactly the requested scopes not yet
 * granted (request order, no duplicates) and `alreadyGrantedScopes` the requested scopes already
 * granted, by the admin or by the user. Together they are the whole request, which is what an
 * admin's "on behalf of your organisation" choice records tenant-wide.
 */
export type ConsentDecision =
  | { outcome: 'proceed'; rule: DecisionRule }
  | {
      outcome: 'consent';
      missingScopes: string[];
      alreadyGrantedScopes: string[];
      offerOrgConsent: boolean;
      rule: DecisionRule;
    }
  | {
      outcome: 'needs_admin_approval';
      reason: 'integrated_apps_off' | 'admin_permission' | 'risky_app' | 'consent_policy';
      missingScopes: string[];
      adminScopes: string[];
      rule: DecisionRule;
    }
  | { outcome: 'refused'; reason: 'app_blocked' | 'app_not_in_tenant'; rule: DecisionRule };

/** The requested scopes that none of the grants covers, in request order, without duplicates. */
export function missingScopes(requested: readonly string[], ...granted: ReadonlyArray<readonly string[]>): string[] {
  const covered = new Set(granted.flat());
  return [...new Set(requested)].filter((scope) => !covered.has(scope));
}

const DAY_MS = 86_400_000;

/**
 * Risk-based step-up: a multi-tenant app from another tenant, from an unverified publisher,
 * registered less than `newAppDays` ago, asking for more than sign-in and profile.
 */
export function isRiskyRequest(input: ConsentInput, missing: readonly string[]): boolean {
  const { app } = input;
  return (
    input.riskStepUp.enabled &&
    app.multiTenant &&
    app.publisherTenantId !== input.userTenantId &&
    !app.publisherVerified &&
    input.now.getTime() - app.registeredAt.getTime() < input.riskStepUp.newAppDays * DAY_MS &&
    missing.some((scope) => !SIGN_IN_AND_PROFILE.includes(scope))
  );
}

/**
 * Applies the table of docs/consent.md ("The consent decision") top to bottom; the first row that matches decides.
 *
 * `prompt=consent` with nothing missing (the user or admin asked to see the page again): the
 * consent page is shown with `missingScopes` empty and every requested scope in
 * `alreadyGrantedScopes`, for admins and users alike, so accepting grants nothing new, except that
 * an admin may still choose to record the whole request for the organisation. This holds even when
 * Integrated Apps is off, because the setting, the policies and the step-up only govern missing
 * permissions and re-showing existing grants grants nothing.
 */
export function decideConsent(input: ConsentInput): ConsentDecision {
  const { requestedScopes, adminGrantedScopes, userGrantedScopes } = input;

  // Row 1: blocked or removed by the tenant's admin; beats every grant, policy and the admin role.
  if (input.appState === 'blocked')
    return {
      outcome: 'refused',
      reason: 'app_blocked',
      rule: rule(1, 'app_blocked', 'your organisation blocked this app'),
    };

  // Row 2: a single-tenant app is not available outside its publisher's tenant.
  if (!input.app.multiTenant && input.app.publisherTenantId !== input.userTenantId) {
    return {
      outcome: 'refused',
      reason: 'app_not_in_tenant',
      rule: rule(2, 'app_not_in_tenant', 'the app is single-tenant and published by another organisation'),
    };
  }

  const missing = missingScopes(requestedScopes, adminGrantedScopes, userGrantedScopes);
  const alreadyGranted = [...new Set(requestedScopes)].filter((scope) => !missing.includes(scope));
  const consent = (offerOrgConsent: boolean, decidedBy: DecisionRule): ConsentDecision => ({
    outcome: 'consent',
    missingScopes: missing,
    alreadyGrantedScopes: alreadyGranted,
    offerOrgConsent,
    rule: decidedBy,
  });
  const needsApproval = (
    reason: Extract<ConsentDecision, { outcome: 'needs_admin_approval' }>['reason'],
    decidedBy: DecisionRule,
    adminScopes: string[] = [],
  ): ConsentDecision => ({
    outcome: 'needs_admin_approval',
    reason,
    missingScopes: missing,
    adminScopes,
    rule: decidedBy,
  });

  // Row 3: everything is granted already (admin and user grants together) and no prompt=consent.
  if (missing.length === 0 && !input.promptConsent)
    return { outcome: 'proceed', rule: rule(3, 'all_granted', 'everything the app asks for is granted already') };

  // Row 4: an admin may consent to anything, for themself or the organisation, setting or not.
  if (input.userRole === 'admin')
    return consent(true, rule(4, 'admin', 'admins may consent for themselves or for the whole organisation'));

  // Row 5: only an admin may consent to an admin permission.
  const adminScopes = missing.filter((scope) => input.adminConsentRequired(scope));
  if (adminScopes.length > 0) {
    return needsApproval(
      'admin_permission',
      rule(5, 'admin_permission', `only an admin may consent to ${adminScopes.join(', ')}`, { scopes: adminScopes }),
      adminScopes,
    );
  }

  // Rows 6–8 govern missing permissions only ("grants already made keep working"), so
  // prompt=consent with nothing missing goes straight to the consent page.
  if (missing.length === 0)
    return consent(false, rule(9, 'all_granted', 'everything the app asks for is granted already'));

  // Row 6: with Integrated Apps off users may not consent.
  if (!input.integratedAppsEnabled)
    return needsApproval(
      'integrated_apps_off',
      rule(6, 'integrated_apps_off', 'your organisation does not let users consent to apps'),
    );

  // Row 7: risk-based step-up sends a risky app to an admin.
  if (isRiskyRequest(input, missing))
    return needsApproval(
      'risky_app',
      rule(
        7,
        'risky_app',
        `the app is new (registered less than ${input.riskStepUp.newAppDays} days ago), from another organisation and an unverified publisher, and asks for more than sign-in and profile`,
      ),
    );

  // Row 8: the app consent policies in effect (the setting's built-in one and the tenant's own).
  const policies = policiesInEffect(input.userConsent, input.customPolicies);
  const facts: PolicyPermission[] = missing.map((scope) => {
    const known = input.permissions.get(scope);
    return { scope, classification: known?.classification ?? 'high', api: known?.api ?? '' };
  });
  const verdict = evaluatePolicies(policies, input.app, facts);
  const policy = { id: verdict.policy.id, name: verdict.policy.name };
  if (!verdict.allowed) {
    if (verdict.kind === 'excluded')
      return needsApproval(
        'consent_policy',
        rule(
          8,
          'policy_excluded',
          `your organisation's policy "${policy.name}" excludes ${verdict.scopes.join(', ')}`,
          {
            policy,
            scopes: verdict.scopes,
          },
        ),
      );
    // Not included by any policy: only the built-in `verified-low-impact` leaves anything out
    // (`all` includes everything), so its two conditions say why.
    if (!input.app.publisherVerified)
      return needsApproval(
        'consent_policy',
        rule(8, 'unverified_publisher', 'your organisation only lets you consent to apps from verified publishers', {
          policy,
          scopes: verdict.scopes,
        }),
      );
    return needsApproval(
      'consent_policy',
      rule(
        8,
        'not_low_impact',
        `your organisation only lets you consent to low-impact permissions; ${describeClasses(verdict.scopes, facts)}`,
        { policy, scopes: verdict.scopes },
      ),
    );
  }

  // Row 9: incremental consent, listing only what is missing.
  return consent(
    false,
    rule(9, 'policy_allowed', `your organisation's policy "${policy.name}" lets you consent`, { policy }),
  );
}

function rule(
  row: number,
  id: DecisionRuleId,
  explanation: string,
  extra: { policy?: DecisionRule['policy']; scopes?: string[] } = {},
): DecisionRule {
  return { row, id, ...extra, explanation };
}

function describeClasses(scopes: readonly string[], facts: readonly PolicyPermission[]): string {
  return scopes
    .map((scope) => `${scope} is classified ${facts.find((fact) => fact.scope === scope)?.classification ?? 'high'}`)
    .join(', ');
}
