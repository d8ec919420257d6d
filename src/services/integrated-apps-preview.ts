// What a change of a tenant's consent settings would do, counted before the admin saves: turning
// Integrated Apps on or off, the user consent setting, risk-based step-up, adding or removing an
// app consent policy, classing a permission. It re-decides, under the settings as they are and
// as they would be, the sign-ins paused at a consent step, the users' open requests for approval,
// and a new consent to each app in use in the tenant. Existing grants are kept whatever changes.
// Everything is read for the given tenant only; nothing is written.

import {
  type AppConsentPolicy,
  type ConditionSet,
  IMPACTS,
  policiesInEffect,
  type UserConsentSetting,
} from '../core/app-consent-policies.js';
import type { ConsentDecision } from '../core/consent-decision.js';
import { NotFound } from '../core/errors.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import type { Impact } from '../core/types.js';
import { type AppRecord, findApp } from '../db/apps.js';
import { listOpenConsentRequestScopes, listOpenConsentRequestsWithRequester } from '../db/consent-requests.js';
import { type AccessRecord, countUserConsentHolders, listTenantApps } from '../db/consents.js';
import { listWaitingConsentInteractions, type WaitingConsentInteraction } from '../db/oidc-models.js';
import type { Pool } from '../db/pool.js';
import { findTenant, findTenantConsentSettings } from '../db/tenants.js';
import { readTenantConsentPolicies, type TenantConsentPolicies } from './consent-policy-cache.js';
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

/** One change of the tenant's consent settings, as the preview takes it (each field optional). */
export interface ConsentSettingsChange {
  integratedAppsEnabled?: boolean;
  userConsent?: UserConsentSetting;
  riskStepUp?: { enabled: boolean; days?: number };
  /** A custom policy to add, already validated (ConsentPolicies.validatePolicy). */
  addPolicy?: AppConsentPolicy;
  removePolicyId?: string;
  classify?: { scope: string; classification: Impact };
}

interface Verdict {
  outcome: ConsentDecision['outcome'];
  rule: string;
  explanation: string;
}

export interface ConsentSettingsPreview {
  tenantId: string;
  /** After the change some policy in effect excludes every permission of every app: users may consent to nothing new. */
  excludesEverything: boolean;
  /** Always true: no change of these settings revokes or narrows a grant. */
  existingGrantsKept: true;
  waitingSignIns: number;
  /** Paused sign-ins whose outcome changes between "consent page" and "needs admin approval". */
  signInsChanged: Array<{ username: string; clientId: string; appName: string; before: Verdict; after: Verdict }>;
  openRequests: number;
  /** Open requests the requesting user could grant themselves after the change, or no longer could. */
  requestsChanged: Array<{
    id: string;
    username: string;
    clientId: string;
    appName: string;
    scopes: string[];
    before: Verdict;
    after: Verdict;
  }>;
  /** Apps in use in the tenant for which a user's next consent is decided differently; `users` hold a consent to it. */
  appsChanged: Array<{ clientId: string; name: string; users: number; before: Verdict; after: Verdict }>;
}

type Settings = Pick<AccessRecord, 'integratedAppsEnabled' | 'userConsent' | 'riskStepUp' | 'riskStepUpDays'>;

export class IntegratedAppsPreview {
  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async preview(tenantId: string, desired: boolean): Promise<IntegratedAppsPreviewResult> {
    const tenant = await findTenant(this.pool, tenantId);
    if (!tenant) throw NotFound(`tenant "${tenantId}" not found`);
    const [counts, interactions, requests, settings, policies] = await Promise.all([
      countUserConsentHolders(this.pool, tenantId),
      listWaitingConsentInteractions(this.pool, tenantId),
      listOpenConsentRequestScopes(this.pool, tenantId),
      findTenantConsentSettings(this.pool, tenantId),
      readTenantConsentPolicies(this.pool, tenantId),
    ]);
    const current: Settings = { integratedAppsEnabled: tenant.integratedAppsEnabled, ...settings! };
    const after: Settings = { ...current, integratedAppsEnabled: desired };

    let nowNeeding = 0;
    let noLongerNeeding = 0;
    for (const row of interactions) {
      const before = this.decideWaiting(row, current, policies).outcome;
      const next = this.decideWaiting(row, after, policies).outcome;
      if (before !== 'needs_admin_approval' && next === 'needs_admin_approval') nowNeeding++;
      if (before === 'needs_admin_approval' && next !== 'needs_admin_approval') noLongerNeeding++;
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

  /** What a change of the user consent setting, step-up, a policy or a class would change. */
  async previewChange(tenantId: string, change: ConsentSettingsChange): Promise<ConsentSettingsPreview> {
    const tenant = await findTenant(this.pool, tenantId);
    if (!tenant) throw NotFound(`tenant "${tenantId}" not found`);
    const [interactions, requests, settings, policies, apps] = await Promise.all([
      listWaitingConsentInteractions(this.pool, tenantId),
      listOpenConsentRequestsWithRequester(this.pool, tenantId),
      findTenantConsentSettings(this.pool, tenantId),
      readTenantConsentPolicies(this.pool, tenantId),
      listTenantApps(this.pool, tenantId),
    ]);
    const current: Settings = { integratedAppsEnabled: tenant.integratedAppsEnabled, ...settings! };
    const next: Settings = {
      integratedAppsEnabled: change.integratedAppsEnabled ?? current.integratedAppsEnabled,
      userConsent: change.userConsent ?? current.userConsent,
      riskStepUp: change.riskStepUp?.enabled ?? current.riskStepUp,
      riskStepUpDays: change.riskStepUp?.days ?? current.riskStepUpDays,
    };
    const nextPolicies = changedPolicies(policies, change);

    const signInsChanged: ConsentSettingsPreview['signInsChanged'] = [];
    for (const row of interactions) {
      const before = verdict(this.decideWaiting(row, current, policies));
      const after = verdict(this.decideWaiting(row, next, nextPolicies));
      if (changed(before, after))
        signInsChanged.push({ username: row.username, clientId: row.clientId, appName: row.appName, before, after });
    }

    const appRecords = new Map<string, AppRecord | undefined>();
    const appOf = async (clientId: string) => {
      if (!appRecords.has(clientId)) appRecords.set(clientId, await findApp(this.pool, clientId));
      return appRecords.get(clientId);
    };
    const summaries = new Map(apps.map((app) => [app.clientId, app]));

    const requestsChanged: ConsentSettingsPreview['requestsChanged'] = [];
    for (const request of requests) {
      const app = await appOf(request.clientId);
      if (!app) continue;
      const summary = summaries.get(app.clientId);
      const access = (settings: Settings) => ({
        ...settings,
        tenantId,
        role: request.role,
        blocked: summary?.blocked ?? false,
        adminScopes: summary?.adminScopes ?? [],
        userScopes: [],
      });
      const scopes = requestableScopes(this.catalogue, app.scopes, request.scopes, tenantId);
      const before = verdict(this.decide(app, access(current), policies, scopes));
      const after = verdict(this.decide(app, access(next), nextPolicies, scopes));
      if (changed(before, after))
        requestsChanged.push({
          id: request.id,
          username: request.username,
          clientId: app.clientId,
          appName: app.name,
          scopes,
          before,
          after,
        });
    }

    const appsChanged: ConsentSettingsPreview['appsChanged'] = [];
    for (const summary of apps) {
      const app = await appOf(summary.clientId);
      if (!app) continue;
      // A user's next consent to everything the app registers, with nothing granted by them yet.
      const access = (settings: Settings) => ({
        ...settings,
        tenantId,
        role: 'user' as const,
        blocked: summary.blocked,
        adminScopes: summary.adminScopes,
        userScopes: [],
      });
      const scopes = requestableScopes(this.catalogue, app.scopes, app.scopes, tenantId);
      const before = verdict(this.decide(app, access(current), policies, scopes));
      const after = verdict(this.decide(app, access(next), nextPolicies, scopes));
      if (changed(before, after))
        appsChanged.push({ clientId: app.clientId, name: app.name, users: summary.userCount, before, after });
    }

    return {
      tenantId,
      excludesEverything: policiesInEffect(next.userConsent, nextPolicies.policies).some((policy) =>
        policy.excludes.some(excludesEverything),
      ),
      existingGrantsKept: true,
      waitingSignIns: interactions.length,
      signInsChanged,
      openRequests: requests.length,
      requestsChanged,
      appsChanged,
    };
  }

  private decide(
    app: AppRecord,
    access: Parameters<typeof decideAccess>[2],
    policies: TenantConsentPolicies,
    scopes: string[],
  ): ConsentDecision {
    return decideAccess(this.catalogue, app, access, policies, scopes, false, this.now());
  }

  /** The consent decision for the paused sign-in under the given settings (the one rule set, core/consent-decision). */
  private decideWaiting(row: WaitingConsentInteraction, settings: Settings, policies: TenantConsentPolicies) {
    const access = {
      ...settings,
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
    return decideAccess(
      this.catalogue,
      row,
      access,
      policies,
      requestedScopes,
      row.prompt.split(' ').includes('consent'),
      this.now(),
    );
  }
}

function verdict(decision: ConsentDecision): Verdict {
  return { outcome: decision.outcome, rule: decision.rule.id, explanation: decision.rule.explanation };
}

/** Only a change between being able to consent and needing an admin counts. */
function changed(before: Verdict, after: Verdict): boolean {
  return (before.outcome === 'needs_admin_approval') !== (after.outcome === 'needs_admin_approval');
}

function changedPolicies(policies: TenantConsentPolicies, change: ConsentSettingsChange): TenantConsentPolicies {
  let list = [...policies.policies];
  if (change.removePolicyId !== undefined) list = list.filter((policy) => policy.id !== change.removePolicyId);
  if (change.addPolicy) list = [...list.filter((policy) => policy.id !== change.addPolicy!.id), change.addPolicy];
  const classifications = new Map(policies.classifications);
  if (change.classify) classifications.set(change.classify.scope, change.classify.classification);
  return { policies: list, classifications };
}

/** Whether a condition set matches every permission of every app. */
function excludesEverything(set: ConditionSet): boolean {
  return (
    set.permissions === undefined &&
    set.apis === undefined &&
    set.clientAppIds === undefined &&
    set.publisherTenantIds === undefined &&
    set.verifiedPublisher === undefined &&
    (set.classifications === undefined || IMPACTS.every((impact) => set.classifications!.includes(impact)))
  );
}
