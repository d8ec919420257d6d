// Graduated consent (issue 14), the use cases: a tenant's user consent setting, risk-based
// step-up, permission classifications and custom app consent policies — each change one
// transaction with its audit event, announced so every process forgets its cached copy — and the
// what-if: the consent decision for an app, a user and scopes, without granting anything.
import {
  type AppConsentPolicy,
  BUILT_IN_POLICIES,
  type ConditionSet,
  classificationOf,
  describeConditionSet,
  IMPACTS,
  LOW_BY_DEFAULT,
  parseConditionSet,
  USER_CONSENT_SETTINGS,
  type UserConsentSetting,
} from '../core/app-consent-policies.js';
import type { ConsentDecision } from '../core/consent-decision.js';
import { Conflict, InvalidRequest, NotFound } from '../core/errors.js';
import { OPENID_RESOURCE, type PermissionCatalogue } from '../core/permission-catalogue.js';
import type { Impact, Permission } from '../core/types.js';
import {
  announceConsentPolicyChange,
  countGrantsByScope,
  deletePolicy,
  findClassification,
  findPolicyForUpdate,
  insertPolicy,
  upsertClassification,
} from '../db/app-consent-policies.js';
import { type AppRecord, findApp } from '../db/apps.js';
import { recordAuditEvent } from '../db/audit-events.js';
import { loadAccess } from '../db/consents.js';
import { inTransaction, type Pool } from '../db/pool.js';
import {
  findTenant,
  findTenantConsentSettings,
  lockTenantConsentSettings,
  type TenantConsentSettings,
  updateTenantConsentSettings,
} from '../db/tenants.js';
import { findUserByUsername, findUserInTenant } from '../db/users.js';
import { readTenantConsentPolicies, type TenantConsentPolicies } from './consent-policy-cache.js';
import { decideAccess, requestableScopes } from './consents.js';
import type { Actor } from './directory.js';

export const MIN_RISK_DAYS = 1;
export const MAX_RISK_DAYS = 3650;
/** A policy id: lowercase letters, digits and hyphens; the built-in policies' ids are taken. */
const POLICY_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;
const MAX_CONDITION_SETS = 20;

/** Where a permission's class in a tenant comes from. */
export type ClassificationSource = 'tenant' | 'default' | 'api';

export interface PermissionClassification {
  scope: string;
  /** The API identifier, or `openid`. */
  api: string;
  apiName: string;
  userDescription: string;
  classification: Impact;
  source: ClassificationSource;
  /** Consents holding it in the tenant: users' own and the admin consents. */
  grants: number;
}

export interface PolicyView extends AppConsentPolicy {
  /** Whether it decides in the tenant now (a built-in one only when the setting names it). */
  inEffect: boolean;
  includesText: string[];
  excludesText: string[];
}

export interface NewPolicy {
  id: string;
  name: string;
  includes?: unknown;
  excludes?: unknown;
}

export interface WhatIfInput {
  clientId: string;
  /** The user by id or by username within the tenant. */
  user: string;
  scopes: readonly string[];
  promptConsent?: boolean;
}

export interface WhatIfResult {
  tenantId: string;
  clientId: string;
  userId: string;
  /** The scopes the decision was made on: requested, known, registered by the app, available to the tenant. */
  requestedScopes: string[];
  /** The scopes left out, and why each one. */
  ignoredScopes: Array<{ scope: string; why: string }>;
  decision: ConsentDecision;
}

export class ConsentPolicies {
  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
    /** Forgets this process's cached copy at once (others hear the announcement). */
    private readonly forgetCached: (tenantId: string) => void = () => {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  async settings(tenantId: string): Promise<TenantConsentSettings> {
    const settings = await findTenantConsentSettings(this.pool, tenantId);
    if (!settings) throw NotFound(`tenant "${tenantId}" not found`);
    return settings;
  }

  /** `all` or `verified-low-impact`; audited as `tenant.user_consent.changed`. */
  async setUserConsent(tenantId: string, setting: string, actor: Actor): Promise<TenantConsentSettings> {
    return this.updateSettings(tenantId, { userConsent: setting }, actor);
  }

  /** Risk-based step-up on or off, and how young an app counts as new (days); audited as `tenant.risk_step_up.changed`. */
  async setRiskStepUp(tenantId: string, enabled: boolean, days: number | undefined, actor: Actor) {
    return this.updateSettings(tenantId, { riskStepUp: enabled, riskStepUpDays: days }, actor);
  }

  /** Any of the settings, checked first, changed in one transaction with an audit event per setting changed. */
  async updateSettings(
    tenantId: string,
    changes: { userConsent?: string; riskStepUp?: boolean; riskStepUpDays?: number },
    actor: Actor,
  ): Promise<TenantConsentSettings> {
    const userConsent = changes.userConsent === undefined ? undefined : parseUserConsentSetting(changes.userConsent);
    const days = changes.riskStepUpDays;
    if (days !== undefined && !(Number.isInteger(days) && days >= MIN_RISK_DAYS && days <= MAX_RISK_DAYS))
      throw InvalidRequest(`days must be a whole number from ${MIN_RISK_DAYS} to ${MAX_RISK_DAYS}`, {
        field: 'riskStepUpDays',
      });
    return inTransaction(this.pool, async (tx) => {
      const before = await lockTenantConsentSettings(tx, tenantId);
      if (!before) throw NotFound(`tenant "${tenantId}" not found`);
      const after: TenantConsentSettings = {
        userConsent: userConsent ?? before.userConsent,
        riskStepUp: changes.riskStepUp ?? before.riskStepUp,
        riskStepUpDays: days ?? before.riskStepUpDays,
      };
      await updateTenantConsentSettings(tx, tenantId, after);
      if (after.userConsent !== before.userConsent)
        await recordAuditEvent(tx, {
          tenantId,
          actor,
          action: 'tenant.user_consent.changed',
          target: tenantId,
          details: { from: before.userConsent, to: after.userConsent },
        });
      if (after.riskStepUp !== before.riskStepUp || after.riskStepUpDays !== before.riskStepUpDays)
        await recordAuditEvent(tx, {
          tenantId,
          actor,
          action: 'tenant.risk_step_up.changed',
          target: tenantId,
          details: {
            from: { enabled: before.riskStepUp, days: before.riskStepUpDays },
            to: { enabled: after.riskStepUp, days: after.riskStepUpDays },
          },
        });
      return after;
    });
  }

  /**
   * The request name of a permission given by its full or short name (`Invoices.Read` for
   * `https://api.example/Invoices.Read` when only one API available to the tenant has it).
   * Only user permissions are classified: admin permissions are never users' to consent to.
   */
  resolveUserPermission(tenantId: string, name: string): Permission {
    const candidates = this.catalogue.has(name)
      ? [this.catalogue.get(name)!]
      : this.catalogue.permissions.filter((permission) => permission.name === name);
    const available = candidates.filter((permission) => this.catalogue.availableTo(permission.scope, tenantId));
    if (available.length === 0) throw InvalidRequest(`unknown permission "${name}"`, { field: 'scope' });
    if (available.length > 1)
      throw InvalidRequest(
        `"${name}" names more than one permission: ${available.map((permission) => permission.scope).join(', ')}; give the full name`,
        { field: 'scope' },
      );
    const permission = available[0]!;
    if (permission.adminConsentRequired)
      throw InvalidRequest(
        `${permission.scope} is an admin permission: only admins consent to it, whatever its class`,
        {
          field: 'scope',
        },
      );
    return permission;
  }

  /** Classes a user permission for the tenant; audited as `permission.classified` with the class before. */
  async classify(tenantId: string, scope: string, classification: string, actor: Actor) {
    if (!(IMPACTS as readonly string[]).includes(classification))
      throw InvalidRequest('the class must be low, medium or high', { field: 'classification' });
    const permission = this.resolveUserPermission(tenantId, scope);
    const result = await inTransaction(this.pool, async (tx) => {
      if (!(await lockTenantConsentSettings(tx, tenantId))) throw NotFound(`tenant "${tenantId}" not found`);
      const existing = await findClassification(tx, tenantId, permission.scope);
      const before = existing?.classification ?? defaultClassification(permission);
      await upsertClassification(tx, tenantId, permission.scope, classification as Impact, actor);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'permission.classified',
        target: permission.scope,
        details: { from: before, to: classification, fromSource: existing ? 'tenant' : defaultSource(permission) },
      });
      await announceConsentPolicyChange(tx, tenantId);
      return { scope: permission.scope, from: before, to: classification as Impact };
    });
    this.forgetCached(tenantId);
    return result;
  }

  /** Every user permission available to the tenant, with its class there, in catalogue order. */
  async classifications(tenantId: string): Promise<PermissionClassification[]> {
    await this.requireTenant(tenantId);
    const [policies, grants] = await Promise.all([
      readTenantConsentPolicies(this.pool, tenantId),
      countGrantsByScope(this.pool, tenantId),
    ]);
    return this.catalogue.permissions
      .filter(
        (permission) => !permission.adminConsentRequired && this.catalogue.availableTo(permission.scope, tenantId),
      )
      .map((permission) => {
        const own = policies.classifications.get(permission.scope);
        return {
          scope: permission.scope,
          api: permission.resource,
          apiName: permission.api?.name ?? 'OpenID Connect',
          userDescription: permission.userDescription,
          classification: own ?? defaultClassification(permission),
          source: own ? 'tenant' : defaultSource(permission),
          grants: grants.get(permission.scope) ?? 0,
        };
      });
  }

  /** The built-in policies (marking the one in effect), then the tenant's own. */
  async listPolicies(tenantId: string): Promise<PolicyView[]> {
    const settings = await this.settings(tenantId);
    const { policies } = await readTenantConsentPolicies(this.pool, tenantId);
    return [
      ...USER_CONSENT_SETTINGS.map((setting) => view(BUILT_IN_POLICIES[setting], setting === settings.userConsent)),
      ...policies.map((policy) => view(policy, true)),
    ];
  }

  async showPolicy(tenantId: string, id: string): Promise<PolicyView> {
    const policy = (await this.listPolicies(tenantId)).find((candidate) => candidate.id === id);
    if (!policy) throw NotFound(`policy "${id}" not found in tenant "${tenantId}"`);
    return policy;
  }

  /** Checks a new policy against the catalogue, the apps and the tenants; the first problem is a 400. */
  async validatePolicy(tenantId: string, input: NewPolicy): Promise<AppConsentPolicy> {
    if (typeof input.id !== 'string' || !POLICY_ID.test(input.id))
      throw InvalidRequest(
        'the policy id must be 1–40 lowercase letters, digits or hyphens, starting with a letter or digit',
        {
          field: 'id',
        },
      );
    if ((USER_CONSENT_SETTINGS as readonly string[]).includes(input.id))
      throw InvalidRequest(`"${input.id}" is a built-in policy's id`, { field: 'id' });
    if (typeof input.name !== 'string' || !input.name.trim() || input.name.length > 200)
      throw InvalidRequest('the policy name must be 1–200 characters', { field: 'name' });
    const includes = await this.conditionSets(tenantId, input.includes, 'includes');
    const excludes = await this.conditionSets(tenantId, input.excludes, 'excludes');
    if (includes.length === 0 && excludes.length === 0)
      throw InvalidRequest('a policy needs at least one include or exclude condition set', { field: 'includes' });
    return { id: input.id, name: input.name.trim(), builtIn: false, includes, excludes };
  }

  private async conditionSets(tenantId: string, input: unknown, field: 'includes' | 'excludes') {
    if (input === undefined) return [];
    if (!Array.isArray(input) || input.length > MAX_CONDITION_SETS)
      throw InvalidRequest(`${field} must be a list of at most ${MAX_CONDITION_SETS} condition sets`, { field });
    const sets: ConditionSet[] = [];
    for (const [index, item] of input.entries()) {
      const parsed = parseConditionSet(item);
      if ('problem' in parsed) throw InvalidRequest(`${field}[${index}]: ${parsed.problem}`, { field });
      const set = parsed.set;
      const where = `${field}[${index}]`;
      if (set.permissions) {
        const resolved: string[] = [];
        for (const name of set.permissions) {
          try {
            resolved.push(this.resolveUserPermission(tenantId, name).scope);
          } catch (error) {
            throw InvalidRequest(`${where}: ${(error as Error).message}`, { field });
          }
        }
        set.permissions = [...new Set(resolved)];
      }
      const apiIds = new Set([OPENID_RESOURCE, ...this.catalogue.apis.map((api) => api.identifier)]);
      const unknownApi = set.apis?.find((api) => !apiIds.has(api));
      if (unknownApi !== undefined) throw InvalidRequest(`${where}: unknown API "${unknownApi}"`, { field });
      for (const clientId of set.clientAppIds ?? [])
        if (!(await findApp(this.pool, clientId)))
          throw InvalidRequest(`${where}: unknown app "${clientId}"`, { field });
      for (const publisher of set.publisherTenantIds ?? [])
        if (!(await findTenant(this.pool, publisher)))
          throw InvalidRequest(`${where}: unknown publisher tenant "${publisher}"`, { field });
      sets.push(set);
    }
    return sets;
  }

  /** Adds a custom policy; audited as `consent_policy.created` with its condition sets. */
  async createPolicy(tenantId: string, input: NewPolicy, actor: Actor): Promise<PolicyView> {
    await this.requireTenant(tenantId);
    const policy = await this.validatePolicy(tenantId, input);
    await inTransaction(this.pool, async (tx) => {
      if (!(await lockTenantConsentSettings(tx, tenantId))) throw NotFound(`tenant "${tenantId}" not found`);
      if (!(await insertPolicy(tx, tenantId, { ...policy, createdBy: actor })))
        throw Conflict(`tenant "${tenantId}" already has a policy "${policy.id}"`);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'consent_policy.created',
        target: policy.id,
        details: { name: policy.name, includes: policy.includes, excludes: policy.excludes },
      });
      await announceConsentPolicyChange(tx, tenantId);
    });
    this.forgetCached(tenantId);
    return view(policy, true);
  }

  /** Removes a custom policy; audited as `consent_policy.deleted` with what it was. */
  async deletePolicy(tenantId: string, id: string, actor: Actor): Promise<void> {
    if ((USER_CONSENT_SETTINGS as readonly string[]).includes(id))
      throw InvalidRequest(`"${id}" is a built-in policy: change the user consent setting instead`, { field: 'id' });
    await inTransaction(this.pool, async (tx) => {
      if (!(await lockTenantConsentSettings(tx, tenantId))) throw NotFound(`tenant "${tenantId}" not found`);
      const policy = await findPolicyForUpdate(tx, tenantId, id);
      if (!policy) throw NotFound(`policy "${id}" not found in tenant "${tenantId}"`);
      await deletePolicy(tx, tenantId, id);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'consent_policy.deleted',
        target: id,
        details: { name: policy.name, includes: policy.includes, excludes: policy.excludes },
      });
      await announceConsentPolicyChange(tx, tenantId);
    });
    this.forgetCached(tenantId);
  }

  /** What-if: the decision for this user, app and scopes as the tenant is now; nothing is written. */
  async evaluate(tenantId: string, input: WhatIfInput): Promise<WhatIfResult> {
    await this.requireTenant(tenantId);
    const user =
      (await findUserInTenant(this.pool, tenantId, input.user)) ??
      (await findUserByUsername(this.pool, tenantId, input.user));
    if (!user) throw InvalidRequest(`unknown user "${input.user}" in tenant "${tenantId}"`, { field: 'user' });
    const app = await findApp(this.pool, input.clientId);
    if (!app) throw InvalidRequest(`unknown app "${input.clientId}"`, { field: 'clientId' });
    const scopes = [...new Set(input.scopes)];
    if (scopes.length === 0) throw InvalidRequest('give at least one scope', { field: 'scopes' });
    const [access, policies] = await Promise.all([
      loadAccess(this.pool, user, app.clientId),
      readTenantConsentPolicies(this.pool, tenantId),
    ]);
    if (!access) throw InvalidRequest(`unknown user "${input.user}" in tenant "${tenantId}"`, { field: 'user' });
    const requested = requestableScopes(this.catalogue, app.scopes, scopes, tenantId);
    const ignoredScopes = scopes
      .filter((scope) => !requested.includes(scope))
      .map((scope) => ({
        scope,
        why: !this.catalogue.has(scope)
          ? 'not a known permission'
          : !app.scopes.includes(scope)
            ? 'the app does not register it'
            : 'its API does not serve this organisation',
      }));
    const decision = decideAccess(
      this.catalogue,
      app,
      access,
      policies,
      requested,
      input.promptConsent ?? false,
      this.now(),
    );
    return { tenantId, clientId: app.clientId, userId: user.id, requestedScopes: requested, ignoredScopes, decision };
  }

  /** The decision under hypothetical settings and policies (the preview's second opinion). */
  decideUnder(
    app: AppRecord,
    access: Parameters<typeof decideAccess>[2],
    policies: TenantConsentPolicies,
    requested: string[],
  ): ConsentDecision {
    return decideAccess(this.catalogue, app, access, policies, requested, false, this.now());
  }

  private async requireTenant(tenantId: string) {
    const tenant = await findTenant(this.pool, tenantId);
    if (!tenant) throw NotFound(`tenant "${tenantId}" not found`);
    return tenant;
  }
}

export function parseUserConsentSetting(value: string): UserConsentSetting {
  if (!(USER_CONSENT_SETTINGS as readonly string[]).includes(value))
    throw InvalidRequest(`the user consent setting must be ${USER_CONSENT_SETTINGS.join(' or ')}`, {
      field: 'userConsent',
    });
  return value as UserConsentSetting;
}

function defaultClassification(permission: Permission): Impact {
  return classificationOf(permission.scope, new Map(), permission.api ? permission.impact : 'low');
}

function defaultSource(permission: Permission): ClassificationSource {
  return LOW_BY_DEFAULT.includes(permission.scope) || !permission.api ? 'default' : 'api';
}

function view(policy: AppConsentPolicy, inEffect: boolean): PolicyView {
  return {
    ...policy,
    inEffect,
    includesText: policy.includes.map(describeConditionSet),
    excludesText: policy.excludes.map(describeConditionSet),
  };
}
