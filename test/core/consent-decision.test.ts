// The consent decision, case by case against the table of docs/consent.md; no server needed.
// Then the app consent policies in combination, and properties checked over many generated
// inputs (a seeded generator: the same inputs on every run).

import t from 'tap';
import type { AppConsentPolicy, ConditionSet } from '../../src/core/app-consent-policies.js';
import {
  type ConsentDecision,
  type ConsentInput,
  decideConsent,
  missingScopes,
} from '../../src/core/consent-decision.js';
import type { Impact } from '../../src/core/types.js';

// A tenant's own API (issue 13) has its scopes by full name; the same rules apply to them.
const HR = 'https://hr.contoso.example';
const ADMIN_PERMISSIONS = new Set([
  'Sites.Read.All',
  'User.Read.All',
  'Organization.ReadWrite.All',
  `${HR}/Salaries.Read`,
]);

/** Each scope's class in contoso and its API, as the caller hands them to the decision. */
const CLASSES: Record<string, [Impact, string]> = {
  openid: ['low', 'openid'],
  profile: ['low', 'openid'],
  email: ['low', 'openid'],
  offline_access: ['low', 'openid'],
  'User.Read': ['low', '/data/v1'],
  'Calendars.Read': ['medium', '/data/v1'],
  'Calendars.ReadWrite': ['medium', '/data/v1'],
  'Files.Read': ['medium', '/data/v1'],
  'Files.ReadWrite': ['medium', '/data/v1'],
  'Mail.Send': ['high', '/data/v1'],
  'Sites.Read.All': ['high', '/data/v1'],
  'User.Read.All': ['high', '/data/v1'],
  'Organization.ReadWrite.All': ['high', '/api/v1'],
  [`${HR}/Leave.Read`]: ['low', HR],
  [`${HR}/Salaries.Read`]: ['high', HR],
};

function permissionsWith(overrides: Record<string, Impact> = {}): ConsentInput['permissions'] {
  return new Map(
    Object.entries(CLASSES).map(([scope, [classification, api]]) => [
      scope,
      { classification: overrides[scope] ?? classification, api },
    ]),
  );
}

const NOW = new Date('2026-12-07T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000);

// A multi-tenant app from another tenant (unverified publisher, registered a year ago), asked for
// by an ordinary user of contoso with Integrated Apps on, user consent `all`, no custom policy,
// risk-based step-up off, and nothing granted yet.
const app = {
  clientId: 'fabrikam-app',
  multiTenant: true,
  publisherTenantId: 'fabrikam',
  publisherVerified: false,
  registeredAt: daysAgo(365),
};
const base: ConsentInput = {
  integratedAppsEnabled: true,
  userConsent: 'all',
  customPolicies: [],
  riskStepUp: { enabled: false, newAppDays: 30 },
  now: NOW,
  appState: 'unconfigured',
  app,
  userTenantId: 'contoso',
  userRole: 'user',
  requestedScopes: ['openid', 'profile'],
  adminConsentRequired: (scope) => ADMIN_PERMISSIONS.has(scope),
  permissions: permissionsWith(),
  adminGrantedScopes: [],
  userGrantedScopes: [],
  promptConsent: false,
};

const singleTenantApp = { ...app, multiTenant: false };
const verifiedApp = { ...app, publisherVerified: true };
const newApp = { ...app, registeredAt: daysAgo(5) };

type Expected =
  | { outcome: 'proceed' }
  | Omit<Extract<ConsentDecision, { outcome: 'consent' }>, 'rule'>
  | Omit<Extract<ConsentDecision, { outcome: 'needs_admin_approval' }>, 'rule'>
  | Omit<Extract<ConsentDecision, { outcome: 'refused' }>, 'rule'>;

interface Case {
  name: string;
  input: Partial<ConsentInput>;
  expected: Expected;
  /** The rule that must have decided, when the row alone does not say enough. */
  rule?: Partial<ConsentDecision['rule']>;
}

const cases: Case[] = [
  // Row 1: blocked
  {
    name: 'a blocked app is refused to a user who holds every permission',
    input: { appState: 'blocked', userGrantedScopes: ['openid', 'profile'] },
    expected: { outcome: 'refused', reason: 'app_blocked' },
  },
  {
    name: 'a blocked app is refused to an admin, even with a tenant-wide grant and prompt=consent',
    input: {
      appState: 'blocked',
      userRole: 'admin',
      adminGrantedScopes: ['openid', 'profile'],
      promptConsent: true,
    },
    expected: { outcome: 'refused', reason: 'app_blocked' },
  },
  {
    name: 'a blocked app is refused as blocked even when it is also single-tenant elsewhere',
    input: { appState: 'blocked', app: singleTenantApp },
    expected: { outcome: 'refused', reason: 'app_blocked' },
  },
  {
    name: 'a blocked app is refused even when Integrated Apps is off and nothing is missing',
    input: { appState: 'blocked', integratedAppsEnabled: false, userGrantedScopes: ['openid', 'profile'] },
    expected: { outcome: 'refused', reason: 'app_blocked' },
  },

  // Row 2: single-tenant app, user from another tenant
  {
    name: 'a single-tenant app is not available to a user from another tenant',
    input: { app: singleTenantApp },
    expected: { outcome: 'refused', reason: 'app_not_in_tenant' },
  },
  {
    name: 'a single-tenant app is not available to an admin from another tenant',
    input: { app: singleTenantApp, userRole: 'admin' },
    expected: { outcome: 'refused', reason: 'app_not_in_tenant' },
  },
  {
    name: 'a single-tenant app is refused in another tenant even if that tenant holds a grant',
    input: { app: singleTenantApp, appState: 'admin_consented', adminGrantedScopes: ['openid', 'profile'] },
    expected: { outcome: 'refused', reason: 'app_not_in_tenant' },
  },
  {
    name: "a single-tenant app asks its own tenant's users for consent",
    input: { app: { ...singleTenantApp, publisherTenantId: 'contoso' } },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'profile'],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
  },

  // Row 3: nothing missing
  {
    name: 'a tenant-wide admin grant lets the flow go straight on',
    input: { appState: 'admin_consented', adminGrantedScopes: ['openid', 'profile'] },
    expected: { outcome: 'proceed' },
  },
  {
    name: 'a tenant-wide admin grant lets the flow go straight on with Integrated Apps off',
    input: {
      integratedAppsEnabled: false,
      appState: 'admin_consented',
      adminGrantedScopes: ['openid', 'profile'],
    },
    expected: { outcome: 'proceed' },
  },
  {
    name: "a user's own grant keeps working after Integrated Apps is turned off",
    input: { integratedAppsEnabled: false, userGrantedScopes: ['openid', 'profile'] },
    expected: { outcome: 'proceed' },
  },
  {
    name: 'admin and user grants together cover the request, so the flow goes straight on',
    input: {
      requestedScopes: ['openid', 'profile', 'Sites.Read.All', 'Files.Read'],
      adminGrantedScopes: ['openid', 'Sites.Read.All'],
      userGrantedScopes: ['profile', 'Files.Read'],
    },
    expected: { outcome: 'proceed' },
  },
  {
    name: 'admin and user grants together cover the request with Integrated Apps off',
    input: {
      integratedAppsEnabled: false,
      requestedScopes: ['openid', 'Files.Read'],
      adminGrantedScopes: ['openid'],
      userGrantedScopes: ['Files.Read'],
    },
    expected: { outcome: 'proceed' },
  },
  {
    name: 'a granted admin permission needs no approval again',
    input: { requestedScopes: ['User.Read.All'], adminGrantedScopes: ['User.Read.All'] },
    expected: { outcome: 'proceed' },
  },
  {
    name: 'an admin with nothing missing goes straight on',
    input: { userRole: 'admin', userGrantedScopes: ['openid', 'profile'] },
    expected: { outcome: 'proceed' },
  },
  {
    name: 'a request with no scopes goes straight on',
    input: { requestedScopes: [] },
    expected: { outcome: 'proceed' },
  },
  {
    name: 'a request repeating granted scopes goes straight on',
    input: { requestedScopes: ['openid', 'openid', 'profile'], userGrantedScopes: ['profile', 'openid'] },
    expected: { outcome: 'proceed' },
  },

  // Row 4: admin
  {
    name: 'an admin is offered consent on behalf of the organisation',
    input: { userRole: 'admin' },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'profile'],
      alreadyGrantedScopes: [],
      offerOrgConsent: true,
    },
  },
  {
    name: 'an admin may consent, with the organisation option, when Integrated Apps is off',
    input: { userRole: 'admin', integratedAppsEnabled: false },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'profile'],
      alreadyGrantedScopes: [],
      offerOrgConsent: true,
    },
  },
  {
    name: 'an admin may consent to admin permissions',
    input: { userRole: 'admin', requestedScopes: ['openid', 'Sites.Read.All', 'User.Read.All'] },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'Sites.Read.All', 'User.Read.All'],
      alreadyGrantedScopes: [],
      offerOrgConsent: true,
    },
  },
  {
    name: 'an admin is asked only for what neither grant covers',
    input: {
      userRole: 'admin',
      requestedScopes: ['openid', 'profile', 'Files.Read', 'User.Read.All'],
      adminGrantedScopes: ['openid'],
      userGrantedScopes: ['profile'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['Files.Read', 'User.Read.All'],
      alreadyGrantedScopes: ['openid', 'profile'],
      offerOrgConsent: true,
    },
  },
  {
    name: 'prompt=consent re-shows the page to an admin with nothing missing, offering the organisation option',
    input: { userRole: 'admin', promptConsent: true, userGrantedScopes: ['openid', 'profile'] },
    expected: {
      outcome: 'consent',
      missingScopes: [],
      alreadyGrantedScopes: ['openid', 'profile'],
      offerOrgConsent: true,
    },
  },

  // Row 5: admin permission
  {
    name: 'an admin permission needs admin approval for a user even when Integrated Apps is on',
    input: { requestedScopes: ['openid', 'Sites.Read.All', 'profile', 'User.Read.All'] },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'admin_permission',
      missingScopes: ['openid', 'Sites.Read.All', 'profile', 'User.Read.All'],
      adminScopes: ['Sites.Read.All', 'User.Read.All'],
    },
  },
  {
    name: 'an admin permission is reported as such when Integrated Apps is also off',
    input: { integratedAppsEnabled: false, requestedScopes: ['openid', 'User.Read.All'] },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'admin_permission',
      missingScopes: ['openid', 'User.Read.All'],
      adminScopes: ['User.Read.All'],
    },
  },
  {
    name: 'an admin permission already granted tenant-wide leaves only user permissions to consent to',
    input: {
      requestedScopes: ['openid', 'Sites.Read.All', 'Files.Read'],
      adminGrantedScopes: ['Sites.Read.All'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'Files.Read'],
      alreadyGrantedScopes: ['Sites.Read.All'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'a user asking for more than the tenant-wide grant needs approval for the admin permission only',
    input: {
      appState: 'admin_consented',
      requestedScopes: ['openid', 'Sites.Read.All', 'User.Read.All'],
      adminGrantedScopes: ['openid', 'Sites.Read.All'],
    },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'admin_permission',
      missingScopes: ['User.Read.All'],
      adminScopes: ['User.Read.All'],
    },
  },

  // Row 6: Integrated Apps off
  {
    name: 'user consent is refused when Integrated Apps is off',
    input: { integratedAppsEnabled: false },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'integrated_apps_off',
      missingScopes: ['openid', 'profile'],
      adminScopes: [],
    },
  },
  {
    name: 'with Integrated Apps off a user with a partial grant needs approval for the rest only',
    input: {
      integratedAppsEnabled: false,
      requestedScopes: ['openid', 'profile', 'Calendars.Read'],
      userGrantedScopes: ['openid', 'profile'],
    },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'integrated_apps_off',
      missingScopes: ['Calendars.Read'],
      adminScopes: [],
    },
  },
  {
    name: 'with Integrated Apps off an app consented tenant-wide still needs approval for new permissions',
    input: {
      integratedAppsEnabled: false,
      appState: 'admin_consented',
      requestedScopes: ['openid', 'Mail.Send'],
      adminGrantedScopes: ['openid'],
    },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'integrated_apps_off',
      missingScopes: ['Mail.Send'],
      adminScopes: [],
    },
  },

  // Row 7: otherwise, incremental consent
  {
    name: 'a first consent lists every requested permission',
    input: {},
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'profile'],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
  },
  {
    name: 'incremental consent lists only the missing permissions',
    input: {
      requestedScopes: ['openid', 'profile', 'Calendars.Read', 'Files.Read'],
      userGrantedScopes: ['openid', 'profile', 'Files.Read'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['Calendars.Read'],
      alreadyGrantedScopes: ['openid', 'profile', 'Files.Read'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'incremental consent counts the tenant-wide grant as granted',
    input: {
      appState: 'admin_consented',
      requestedScopes: ['openid', 'profile', 'Mail.Send'],
      adminGrantedScopes: ['openid', 'profile'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['Mail.Send'],
      alreadyGrantedScopes: ['openid', 'profile'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'grants for scopes not requested are ignored',
    input: { requestedScopes: ['openid', 'Files.Read'], userGrantedScopes: ['openid', 'Mail.Send'] },
    expected: {
      outcome: 'consent',
      missingScopes: ['Files.Read'],
      alreadyGrantedScopes: ['openid'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'duplicates in the request are listed once, in request order',
    input: {
      requestedScopes: ['profile', 'openid', 'profile', 'Files.Read', 'openid', 'Files.Read'],
      userGrantedScopes: ['openid'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['profile', 'Files.Read'],
      alreadyGrantedScopes: ['openid'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'duplicated admin permissions are listed once in the approval request',
    input: { requestedScopes: ['User.Read.All', 'openid', 'User.Read.All'] },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'admin_permission',
      missingScopes: ['User.Read.All', 'openid'],
      adminScopes: ['User.Read.All'],
    },
  },

  // prompt=consent
  {
    name: 'prompt=consent re-shows the consent page when everything is granted',
    input: { promptConsent: true, userGrantedScopes: ['openid', 'profile'] },
    expected: {
      outcome: 'consent',
      missingScopes: [],
      alreadyGrantedScopes: ['openid', 'profile'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'prompt=consent re-shows the page for a tenant-wide grant, granting nothing new',
    input: { promptConsent: true, appState: 'admin_consented', adminGrantedScopes: ['openid', 'profile'] },
    expected: {
      outcome: 'consent',
      missingScopes: [],
      alreadyGrantedScopes: ['openid', 'profile'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'prompt=consent with nothing missing re-shows the page even when Integrated Apps is off',
    input: { promptConsent: true, integratedAppsEnabled: false, userGrantedScopes: ['openid', 'profile'] },
    expected: {
      outcome: 'consent',
      missingScopes: [],
      alreadyGrantedScopes: ['openid', 'profile'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'prompt=consent with an admin permission granted tenant-wide re-shows the page to a user',
    input: { promptConsent: true, requestedScopes: ['User.Read.All'], adminGrantedScopes: ['User.Read.All'] },
    expected: {
      outcome: 'consent',
      missingScopes: [],
      alreadyGrantedScopes: ['User.Read.All'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'prompt=consent with something missing still needs approval when Integrated Apps is off',
    input: {
      promptConsent: true,
      integratedAppsEnabled: false,
      requestedScopes: ['openid', 'Files.Read'],
      userGrantedScopes: ['openid'],
    },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'integrated_apps_off',
      missingScopes: ['Files.Read'],
      adminScopes: [],
    },
  },
  {
    name: 'prompt=consent with something missing lists only the missing permissions',
    input: { promptConsent: true, requestedScopes: ['openid', 'Files.Read'], userGrantedScopes: ['openid'] },
    expected: {
      outcome: 'consent',
      missingScopes: ['Files.Read'],
      alreadyGrantedScopes: ['openid'],
      offerOrgConsent: false,
    },
  },
  // Registered APIs (issue 13): the table applies unchanged to every API's scopes.
  {
    name: "a user may consent to a registered API's user scope",
    input: { requestedScopes: ['openid', `${HR}/Leave.Read`] },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', `${HR}/Leave.Read`],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
  },
  {
    name: "an admin-only scope of a registered API needs an admin, alongside another API's user scope",
    input: { requestedScopes: ['openid', 'User.Read', `${HR}/Leave.Read`, `${HR}/Salaries.Read`] },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'admin_permission',
      missingScopes: ['openid', 'User.Read', `${HR}/Leave.Read`, `${HR}/Salaries.Read`],
      adminScopes: [`${HR}/Salaries.Read`],
    },
  },
  {
    name: "Integrated Apps off stops users' consent to a registered API's scopes too",
    input: {
      integratedAppsEnabled: false,
      requestedScopes: ['openid', `${HR}/Leave.Read`],
      userGrantedScopes: ['openid'],
    },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'integrated_apps_off',
      missingScopes: [`${HR}/Leave.Read`],
      adminScopes: [],
    },
  },
  {
    name: "an admin's tenant-wide grant of a registered API's admin scope lets users through silently",
    input: {
      appState: 'admin_consented',
      requestedScopes: ['openid', `${HR}/Leave.Read`, `${HR}/Salaries.Read`],
      adminGrantedScopes: [`${HR}/Salaries.Read`],
      userGrantedScopes: ['openid', `${HR}/Leave.Read`],
    },
    expected: { outcome: 'proceed' },
  },

  // Row 7: risk-based step-up
  {
    name: 'with step-up on, a new unverified multi-tenant app from another tenant asking for a calendar needs an admin',
    input: {
      riskStepUp: { enabled: true, newAppDays: 30 },
      app: newApp,
      requestedScopes: ['openid', 'Calendars.Read'],
    },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'risky_app',
      missingScopes: ['openid', 'Calendars.Read'],
      adminScopes: [],
    },
    rule: { row: 7, id: 'risky_app' },
  },
  {
    name: 'with step-up on, a new unverified app asking only for sign-in and profile is no risk',
    input: {
      riskStepUp: { enabled: true, newAppDays: 30 },
      app: newApp,
      requestedScopes: ['openid', 'profile', 'email', 'User.Read'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'profile', 'email', 'User.Read'],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
  },
  {
    name: 'with step-up on, what is already granted does not make a request risky',
    input: {
      riskStepUp: { enabled: true, newAppDays: 30 },
      app: newApp,
      requestedScopes: ['openid', 'Calendars.Read', 'profile'],
      userGrantedScopes: ['Calendars.Read'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'profile'],
      alreadyGrantedScopes: ['Calendars.Read'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'with step-up on, a verified publisher is no risk',
    input: {
      riskStepUp: { enabled: true, newAppDays: 30 },
      app: { ...newApp, publisherVerified: true },
      requestedScopes: ['Calendars.Read'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['Calendars.Read'],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
  },
  {
    name: 'with step-up on, an app registered exactly N days ago is no longer new',
    input: {
      riskStepUp: { enabled: true, newAppDays: 30 },
      app: { ...app, registeredAt: daysAgo(30) },
      requestedScopes: ['Calendars.Read'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['Calendars.Read'],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
  },
  {
    name: 'with step-up on and N = 7, an app registered 10 days ago is no risk',
    input: {
      riskStepUp: { enabled: true, newAppDays: 7 },
      app: { ...app, registeredAt: daysAgo(10) },
      requestedScopes: ['Files.Read'],
    },
    expected: { outcome: 'consent', missingScopes: ['Files.Read'], alreadyGrantedScopes: [], offerOrgConsent: false },
  },
  {
    name: "with step-up on, the user's own tenant's new app is no risk",
    input: {
      riskStepUp: { enabled: true, newAppDays: 30 },
      app: { ...newApp, publisherTenantId: 'contoso' },
      requestedScopes: ['Calendars.Read'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['Calendars.Read'],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
  },
  {
    name: 'with step-up off, a new unverified app is decided by the policies as before',
    input: { app: newApp, requestedScopes: ['Calendars.Read'] },
    expected: {
      outcome: 'consent',
      missingScopes: ['Calendars.Read'],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
    rule: { row: 9, id: 'policy_allowed', policy: { id: 'all', name: String } as never },
  },
  {
    name: 'an admin may still consent to a risky app',
    input: {
      riskStepUp: { enabled: true, newAppDays: 30 },
      app: newApp,
      userRole: 'admin',
      requestedScopes: ['Calendars.Read'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['Calendars.Read'],
      alreadyGrantedScopes: [],
      offerOrgConsent: true,
    },
  },
  {
    name: 'Integrated Apps off is reported before the step-up',
    input: {
      integratedAppsEnabled: false,
      riskStepUp: { enabled: true, newAppDays: 30 },
      app: newApp,
      requestedScopes: ['Calendars.Read'],
    },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'integrated_apps_off',
      missingScopes: ['Calendars.Read'],
      adminScopes: [],
    },
  },

  // Row 8: the user consent setting `verified-low-impact`
  {
    name: 'verified-low-impact: a verified app asking for openid User.Read gets the consent page',
    input: { userConsent: 'verified-low-impact', app: verifiedApp, requestedScopes: ['openid', 'User.Read'] },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'User.Read'],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
    rule: { row: 9, id: 'policy_allowed', policy: { id: 'verified-low-impact', name: String } as never },
  },
  {
    name: 'verified-low-impact: a verified app asking for a medium permission needs an admin, naming it',
    input: { userConsent: 'verified-low-impact', app: verifiedApp, requestedScopes: ['openid', 'Calendars.Read'] },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'consent_policy',
      missingScopes: ['openid', 'Calendars.Read'],
      adminScopes: [],
    },
    rule: {
      row: 8,
      id: 'not_low_impact',
      scopes: ['Calendars.Read'],
      explanation:
        'your organisation only lets you consent to low-impact permissions; Calendars.Read is classified medium',
    },
  },
  {
    name: 'verified-low-impact: an unverified app asking for User.Read needs an admin',
    input: { userConsent: 'verified-low-impact', requestedScopes: ['User.Read'] },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'consent_policy',
      missingScopes: ['User.Read'],
      adminScopes: [],
    },
    rule: {
      row: 8,
      id: 'unverified_publisher',
      explanation: 'your organisation only lets you consent to apps from verified publishers',
    },
  },
  {
    name: 'verified-low-impact: a permission the tenant classed low may be consented to',
    input: {
      userConsent: 'verified-low-impact',
      app: verifiedApp,
      requestedScopes: ['openid', 'Calendars.Read'],
      permissions: permissionsWith({ 'Calendars.Read': 'low' }),
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'Calendars.Read'],
      alreadyGrantedScopes: [],
      offerOrgConsent: false,
    },
  },
  {
    name: 'verified-low-impact: only the missing permissions are judged',
    input: {
      userConsent: 'verified-low-impact',
      app: verifiedApp,
      requestedScopes: ['openid', 'Calendars.Read', 'User.Read'],
      adminGrantedScopes: ['Calendars.Read'],
    },
    expected: {
      outcome: 'consent',
      missingScopes: ['openid', 'User.Read'],
      alreadyGrantedScopes: ['Calendars.Read'],
      offerOrgConsent: false,
    },
  },
  {
    name: 'verified-low-impact: a scope the caller could not class counts as high',
    input: {
      userConsent: 'verified-low-impact',
      app: verifiedApp,
      requestedScopes: ['Unknown.Scope'],
      permissions: new Map(),
    },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'consent_policy',
      missingScopes: ['Unknown.Scope'],
      adminScopes: [],
    },
    rule: { id: 'not_low_impact', explanation: /Unknown.Scope is classified high/ as never },
  },
  {
    name: 'verified-low-impact: prompt=consent with nothing missing re-shows the page to an unverified app',
    input: {
      userConsent: 'verified-low-impact',
      promptConsent: true,
      requestedScopes: ['Mail.Send'],
      userGrantedScopes: ['Mail.Send'],
    },
    expected: { outcome: 'consent', missingScopes: [], alreadyGrantedScopes: ['Mail.Send'], offerOrgConsent: false },
    rule: { row: 9, id: 'all_granted' },
  },
  {
    name: 'verified-low-impact: an admin permission is still reported as one (row 5 first)',
    input: { userConsent: 'verified-low-impact', app: verifiedApp, requestedScopes: ['User.Read', 'User.Read.All'] },
    expected: {
      outcome: 'needs_admin_approval',
      reason: 'admin_permission',
      missingScopes: ['User.Read', 'User.Read.All'],
      adminScopes: ['User.Read.All'],
    },
  },
  {
    name: 'verified-low-impact: an admin consents to anything',
    input: { userConsent: 'verified-low-impact', userRole: 'admin', requestedScopes: ['Mail.Send'] },
    expected: { outcome: 'consent', missingScopes: ['Mail.Send'], alreadyGrantedScopes: [], offerOrgConsent: true },
  },
  {
    name: 'verified-low-impact: a blocked app is refused, a verified one too',
    input: {
      userConsent: 'verified-low-impact',
      appState: 'blocked',
      app: verifiedApp,
      requestedScopes: ['User.Read'],
    },
    expected: { outcome: 'refused', reason: 'app_blocked' },
  },
];

/** The row each outcome comes from (docs/consent.md): checks every case's rule against the table. */
function rowOf(expected: Expected): number {
  switch (expected.outcome) {
    case 'refused':
      return expected.reason === 'app_blocked' ? 1 : 2;
    case 'proceed':
      return 3;
    case 'consent':
      return expected.offerOrgConsent ? 4 : 9;
    case 'needs_admin_approval':
      return { admin_permission: 5, integrated_apps_off: 6, risky_app: 7, consent_policy: 8 }[expected.reason];
  }
}

for (const { name, input, expected, rule } of cases) {
  t.test(name, async (t) => {
    const { rule: decided, ...decision } = decideConsent({ ...base, ...input });
    t.same(decision, expected);
    t.equal(decided.row, rowOf(expected), `decided by row ${rowOf(expected)}`);
    t.type(decided.explanation, 'string');
    t.ok(decided.explanation.length > 10, 'the rule says why in words');
    if (rule) t.match(decided, rule);
  });
}

t.test('every case has a distinct name', async (t) => {
  t.equal(new Set(cases.map((c) => c.name)).size, cases.length);
});

t.test("the decision does not hand back the caller's arrays", async (t) => {
  const requestedScopes = ['openid', 'profile'];
  const decision = decideConsent({ ...base, requestedScopes });
  t.match(decision, { outcome: 'consent' });
  if (decision.outcome !== 'consent') return;
  decision.missingScopes.push('Mail.Send');
  t.same(requestedScopes, ['openid', 'profile']);
});

t.test('missingScopes', async (t) => {
  t.same(missingScopes(['a', 'b', 'c']), ['a', 'b', 'c'], 'nothing granted leaves everything missing');
  t.same(missingScopes(['c', 'a', 'b'], ['a'], ['b']), ['c'], 'subtracts every grant given');
  t.same(missingScopes(['b', 'a', 'b', 'c', 'a'], ['c']), ['b', 'a'], 'keeps request order, once each');
  t.same(missingScopes(['a'], ['a', 'z']), [], 'extra granted scopes do not matter');
  t.same(missingScopes([], ['a']), [], 'an empty request misses nothing');
});

// ---- App consent policies in combination ----------------------------------------------------

const policy = (id: string, includes: ConditionSet[], excludes: ConditionSet[] = []): AppConsentPolicy => ({
  id,
  name: `policy ${id}`,
  builtIn: false,
  includes,
  excludes,
});

interface PolicyCase {
  name: string;
  input: Partial<ConsentInput>;
  outcome: 'consent' | 'needs_admin_approval';
  rule: Partial<ConsentDecision['rule']>;
}

const policyCases: PolicyCase[] = [
  {
    name: 'a custom policy for one app lets users consent to its medium permission under verified-low-impact',
    input: {
      userConsent: 'verified-low-impact',
      customPolicies: [policy('calendar-app', [{ clientAppIds: ['fabrikam-app'], permissions: ['Calendars.Read'] }])],
      requestedScopes: ['Calendars.Read'],
    },
    outcome: 'consent',
    rule: { row: 9, id: 'policy_allowed', policy: { id: 'calendar-app', name: 'policy calendar-app' } },
  },
  {
    name: 'the built-in and a custom policy each include part of the request: together they allow it',
    input: {
      userConsent: 'verified-low-impact',
      app: verifiedApp,
      customPolicies: [policy('calendars', [{ permissions: ['Calendars.Read'] }])],
      requestedScopes: ['openid', 'User.Read', 'Calendars.Read'],
    },
    outcome: 'consent',
    rule: { id: 'policy_allowed', policy: { id: 'verified-low-impact', name: String } as never },
  },
  {
    name: 'a custom policy for another app includes nothing of this one',
    input: {
      userConsent: 'verified-low-impact',
      app: verifiedApp,
      customPolicies: [policy('other', [{ clientAppIds: ['other-app'] }])],
      requestedScopes: ['User.Read', 'Files.Read'],
    },
    outcome: 'needs_admin_approval',
    rule: { row: 8, id: 'not_low_impact', scopes: ['Files.Read'] },
  },
  {
    name: 'an exclusion beats the built-in `all`',
    input: {
      customPolicies: [policy('no-mail', [], [{ permissions: ['Mail.Send'] }])],
      requestedScopes: ['openid', 'Mail.Send'],
    },
    outcome: 'needs_admin_approval',
    rule: { row: 8, id: 'policy_excluded', policy: { id: 'no-mail', name: 'policy no-mail' }, scopes: ['Mail.Send'] },
  },
  {
    name: 'an exclusion beats an inclusion of the same policy',
    input: {
      customPolicies: [policy('hr', [{ apis: [HR] }], [{ classifications: ['high'] }])],
      userConsent: 'verified-low-impact',
      requestedScopes: [`${HR}/Leave.Read`, 'Mail.Send'],
    },
    outcome: 'needs_admin_approval',
    rule: { id: 'policy_excluded', scopes: ['Mail.Send'] },
  },
  {
    name: "an exclusion in one policy beats another policy's inclusion",
    input: {
      customPolicies: [
        policy('allow-app', [{ clientAppIds: ['fabrikam-app'] }]),
        policy('no-unverified', [], [{ verifiedPublisher: false }]),
      ],
      userConsent: 'verified-low-impact',
      requestedScopes: ['User.Read'],
    },
    outcome: 'needs_admin_approval',
    rule: { id: 'policy_excluded', policy: { id: 'no-unverified', name: String } as never },
  },
  {
    name: 'an exclusion of a publisher tenant leaves other publishers alone',
    input: {
      customPolicies: [policy('no-northwind', [], [{ publisherTenantIds: ['northwind'] }])],
      requestedScopes: ['User.Read'],
    },
    outcome: 'consent',
    rule: { id: 'policy_allowed', policy: { id: 'all', name: String } as never },
  },
  {
    name: 'an exclusion of a publisher tenant stops its apps',
    input: {
      customPolicies: [policy('no-fabrikam', [], [{ publisherTenantIds: ['fabrikam'] }])],
      requestedScopes: ['User.Read'],
    },
    outcome: 'needs_admin_approval',
    rule: { id: 'policy_excluded' },
  },
  {
    name: 'a policy excluding everything stops every user consent',
    input: { customPolicies: [policy('nothing', [], [{}])], app: verifiedApp, requestedScopes: ['openid'] },
    outcome: 'needs_admin_approval',
    rule: { id: 'policy_excluded', scopes: ['openid'] },
  },
  {
    name: 'a policy excluding everything does not stop an admin',
    input: { customPolicies: [policy('nothing', [], [{}])], userRole: 'admin', requestedScopes: ['openid'] },
    outcome: 'consent',
    rule: { row: 4, id: 'admin' },
  },
  {
    name: 'every field of a condition set must match: a low permission of an unverified app is not included',
    input: {
      userConsent: 'verified-low-impact',
      customPolicies: [policy('low-hr', [{ apis: [HR], classifications: ['low'], verifiedPublisher: true }])],
      requestedScopes: [`${HR}/Leave.Read`],
    },
    outcome: 'needs_admin_approval',
    rule: { id: 'unverified_publisher' },
  },
  {
    name: 'a condition on the OpenID pseudo-API includes the sign-in scopes',
    input: {
      userConsent: 'verified-low-impact',
      customPolicies: [policy('sign-in', [{ apis: ['openid'] }])],
      requestedScopes: ['openid', 'profile', 'email'],
    },
    outcome: 'consent',
    rule: { id: 'policy_allowed', policy: { id: 'sign-in', name: String } as never },
  },
];

for (const { name, input, outcome, rule } of policyCases) {
  t.test(`policies: ${name}`, async (t) => {
    const decision = decideConsent({ ...base, ...input });
    t.equal(decision.outcome, outcome);
    if (decision.outcome === 'needs_admin_approval') t.equal(decision.reason, 'consent_policy');
    t.match(decision.rule, rule);
  });
}

// ---- Properties over generated inputs ---------------------------------------------------------

/** mulberry32: a small seeded generator, so a failure is the same on every run. */
function seeded(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const some = <T>(items: readonly T[]): T[] => items.filter(() => next() < 0.3);
  return { next, pick, some };
}

const ALL_SCOPES = Object.keys(CLASSES);
const IMPACT_VALUES: Impact[] = ['low', 'medium', 'high'];

function generate(random: ReturnType<typeof seeded>): ConsentInput {
  const { next, pick, some } = random;
  const conditionSet = (): ConditionSet => {
    const set: ConditionSet = {};
    if (next() < 0.4) set.permissions = some(ALL_SCOPES);
    if (next() < 0.4) set.classifications = some(IMPACT_VALUES);
    if (next() < 0.3) set.apis = some(['openid', '/data/v1', '/api/v1', HR]);
    if (next() < 0.3) set.clientAppIds = some(['fabrikam-app', 'other-app']);
    if (next() < 0.3) set.publisherTenantIds = some(['fabrikam', 'contoso', 'northwind']);
    if (next() < 0.3) set.verifiedPublisher = next() < 0.5;
    return set;
  };
  const policies = Array.from({ length: Math.floor(next() * 3) }, (_, index) =>
    policy(
      `p${index}`,
      Array.from({ length: Math.floor(next() * 3) }, conditionSet),
      Array.from({ length: Math.floor(next() * 2) }, conditionSet),
    ),
  );
  const overrides = Object.fromEntries(some(ALL_SCOPES).map((scope) => [scope, pick(IMPACT_VALUES)]));
  return {
    ...base,
    integratedAppsEnabled: next() < 0.8,
    userConsent: pick(['all', 'verified-low-impact'] as const),
    customPolicies: policies,
    riskStepUp: { enabled: next() < 0.5, newAppDays: pick([1, 7, 30, 90]) },
    appState: pick(['unconfigured', 'admin_consented', 'blocked'] as const),
    app: {
      clientId: pick(['fabrikam-app', 'other-app']),
      multiTenant: next() < 0.8,
      publisherTenantId: pick(['fabrikam', 'contoso', 'northwind']),
      publisherVerified: next() < 0.5,
      registeredAt: daysAgo(Math.floor(next() * 100)),
    },
    userRole: next() < 0.85 ? 'user' : 'admin',
    requestedScopes: some(ALL_SCOPES),
    permissions: permissionsWith(overrides),
    adminGrantedScopes: some(ALL_SCOPES),
    userGrantedScopes: some(ALL_SCOPES),
    promptConsent: next() < 0.2,
  };
}

const RUNS = 20_000;

t.test(`no policy lets a user consent to an admin-only permission (${RUNS} generated inputs)`, async (t) => {
  const random = seeded(14);
  let consents = 0;
  for (let run = 0; run < RUNS; run++) {
    const input = { ...generate(random), userRole: 'user' as const };
    const decision = decideConsent(input);
    if (decision.outcome !== 'consent') continue;
    consents++;
    const adminOnly = decision.missingScopes.filter((scope) => ADMIN_PERMISSIONS.has(scope));
    if (adminOnly.length > 0) {
      t.fail(`a user was offered ${adminOnly.join(', ')}`, { input });
      return;
    }
  }
  t.ok(consents > RUNS / 20, `the generator reaches the consent page too (${consents} times)`);
});

t.test(`no policy lets anyone consent to, or use, a blocked app (${RUNS} generated inputs)`, async (t) => {
  const random = seeded(1414);
  for (let run = 0; run < RUNS; run++) {
    const input = { ...generate(random), appState: 'blocked' as const };
    const decision = decideConsent(input);
    if (decision.outcome !== 'refused' || decision.reason !== 'app_blocked') {
      t.fail(`a blocked app was decided ${decision.outcome}`, { input });
      return;
    }
  }
  t.pass('every blocked app was refused');
});

t.test('adding an exclusion never lets a user consent to more', async (t) => {
  const random = seeded(141414);
  for (let run = 0; run < RUNS / 4; run++) {
    const input = generate(random);
    const before = decideConsent(input);
    const after = decideConsent({
      ...input,
      customPolicies: [...input.customPolicies, policy('extra', [], [{ permissions: random.some(ALL_SCOPES) }])],
    });
    if (before.outcome !== 'consent' && after.outcome === 'consent') {
      t.fail('an exclusion turned a refusal into consent', { input });
      return;
    }
  }
  t.pass('exclusions only ever take away');
});

t.test('under verified-low-impact alone, a user consents only to low permissions of verified apps', async (t) => {
  const random = seeded(7);
  for (let run = 0; run < RUNS / 4; run++) {
    const input: ConsentInput = {
      ...generate(random),
      userConsent: 'verified-low-impact',
      customPolicies: [],
      userRole: 'user',
    };
    const decision = decideConsent(input);
    if (decision.outcome !== 'consent' || decision.missingScopes.length === 0) continue;
    const bad = decision.missingScopes.filter((scope) => input.permissions.get(scope)?.classification !== 'low');
    if (!input.app.publisherVerified || bad.length > 0) {
      t.fail(`consent to ${bad.join(', ') || 'an unverified app'}`, { input });
      return;
    }
  }
  t.pass('held for every generated input');
});
