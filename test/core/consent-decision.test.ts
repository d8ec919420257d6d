// The consent decision, case by case against the table of docs/consent.md; no server needed.

import t from 'tap';
import {
  type ConsentDecision,
  type ConsentInput,
  decideConsent,
  missingScopes,
} from '../../src/core/consent-decision.js';

// A tenant's own API (issue 13) has its scopes by full name; the same rules apply to them.
const HR = 'https://hr.contoso.example';
const ADMIN_PERMISSIONS = new Set([
  'Sites.Read.All',
  'User.Read.All',
  'Organization.ReadWrite.All',
  `${HR}/Salaries.Read`,
]);

// A multi-tenant app from another tenant, asked for by an ordinary user of contoso with
// Integrated Apps on and nothing granted yet.
const base: ConsentInput = {
  integratedAppsEnabled: true,
  appState: 'unconfigured',
  app: { multiTenant: true, publisherTenantId: 'fabrikam' },
  userTenantId: 'contoso',
  userRole: 'user',
  requestedScopes: ['openid', 'profile'],
  adminConsentRequired: (scope) => ADMIN_PERMISSIONS.has(scope),
  adminGrantedScopes: [],
  userGrantedScopes: [],
  promptConsent: false,
};

const singleTenantApp = { multiTenant: false, publisherTenantId: 'fabrikam' };

interface Case {
  name: string;
  input: Partial<ConsentInput>;
  expected: ConsentDecision;
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
    input: { app: { multiTenant: false, publisherTenantId: 'contoso' } },
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
];

for (const { name, input, expected } of cases) {
  t.test(name, async (t) => {
    t.same(decideConsent({ ...base, ...input }), expected);
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
