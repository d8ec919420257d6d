// App consent policies (issue 14, Entra's model as data): which permissions of which apps a user
// may consent to. A policy has include and exclude condition sets; a user may consent to what is
// missing when every missing permission is included by some policy in effect and no policy in
// effect excludes any of them. The tenant's user consent setting picks one built-in policy; the
// tenant's custom policies are in effect beside it. Pure data and functions: the decision
// (core/consent-decision.ts) applies them, services store them.
import type { Impact } from './types.js';

export const IMPACTS: readonly Impact[] = ['low', 'medium', 'high'];

/** The tenant's user consent setting: the built-in policy its users consent under. */
export type UserConsentSetting = 'all' | 'verified-low-impact';
export const USER_CONSENT_SETTINGS: readonly UserConsentSetting[] = ['all', 'verified-low-impact'];

/** Low by default in every tenant, whatever their API says: signing in and the basic profile. */
export const LOW_BY_DEFAULT: readonly string[] = ['openid', 'profile', 'email', 'offline_access', 'User.Read'];

/** "Sign-in and profile": a request asking for nothing more is never risky (risk-based step-up). */
export const SIGN_IN_AND_PROFILE: readonly string[] = ['openid', 'profile', 'email', 'User.Read'];

/**
 * One condition set. Every field given must match (an absent field matches anything), so `{}`
 * matches every permission of every app.
 */
export interface ConditionSet {
  /** Permissions by request name (`User.Read`, `https://api.example/Invoices.Read`). */
  permissions?: string[];
  classifications?: Impact[];
  /** APIs by identifier (`/data/v1`, `https://api.example`), or `openid` for the OpenID scopes. */
  apis?: string[];
  clientAppIds?: string[];
  publisherTenantIds?: string[];
  /** true: only apps whose publisher is verified; false: only apps whose publisher is not. */
  verifiedPublisher?: boolean;
}

export const CONDITION_FIELDS = [
  'permissions',
  'classifications',
  'apis',
  'clientAppIds',
  'publisherTenantIds',
  'verifiedPublisher',
] as const;

export interface AppConsentPolicy {
  id: string;
  name: string;
  builtIn: boolean;
  includes: ConditionSet[];
  excludes: ConditionSet[];
}

export const BUILT_IN_POLICIES: Readonly<Record<UserConsentSetting, AppConsentPolicy>> = {
  all: {
    id: 'all',
    name: 'Users may consent to any user permission of any app',
    builtIn: true,
    includes: [{}],
    excludes: [],
  },
  'verified-low-impact': {
    id: 'verified-low-impact',
    name: 'Users may consent to low-impact permissions of apps from verified publishers',
    builtIn: true,
    includes: [{ classifications: ['low'], verifiedPublisher: true }],
    excludes: [],
  },
};

/** What a policy looks at of the app. */
export interface PolicyApp {
  clientId: string;
  publisherTenantId: string;
  publisherVerified: boolean;
}

/** What a policy looks at of one permission: its request name, the tenant's class for it, its API. */
export interface PolicyPermission {
  scope: string;
  classification: Impact;
  /** The API identifier, or `openid`. */
  api: string;
}

export function conditionSetMatches(set: ConditionSet, app: PolicyApp, permission: PolicyPermission): boolean {
  if (set.permissions && !set.permissions.includes(permission.scope)) return false;
  if (set.classifications && !set.classifications.includes(permission.classification)) return false;
  if (set.apis && !set.apis.includes(permission.api)) return false;
  if (set.clientAppIds && !set.clientAppIds.includes(app.clientId)) return false;
  if (set.publisherTenantIds && !set.publisherTenantIds.includes(app.publisherTenantId)) return false;
  if (set.verifiedPublisher !== undefined && set.verifiedPublisher !== app.publisherVerified) return false;
  return true;
}

export type PolicyVerdict =
  | { allowed: true; policy: AppConsentPolicy }
  | { allowed: false; kind: 'excluded'; policy: AppConsentPolicy; scopes: string[] }
  | { allowed: false; kind: 'not_included'; policy: AppConsentPolicy; scopes: string[] };

/**
 * Whether a user may consent to `permissions` (the missing ones) under `policies` (the built-in
 * policy of the setting first, then the custom ones). An exclusion beats every inclusion; the
 * verdict names the policy that decided: the excluding one, the one that included the first
 * permission, or, when something is included by none, the setting's built-in policy.
 */
export function evaluatePolicies(
  policies: readonly AppConsentPolicy[],
  app: PolicyApp,
  permissions: readonly PolicyPermission[],
): PolicyVerdict {
  for (const policy of policies) {
    const excluded = permissions.filter((permission) =>
      policy.excludes.some((set) => conditionSetMatches(set, app, permission)),
    );
    if (excluded.length > 0)
      return { allowed: false, kind: 'excluded', policy, scopes: excluded.map((permission) => permission.scope) };
  }
  const includedBy = (permission: PolicyPermission) =>
    policies.find((policy) => policy.includes.some((set) => conditionSetMatches(set, app, permission)));
  const notIncluded = permissions.filter((permission) => !includedBy(permission));
  if (notIncluded.length > 0)
    return {
      allowed: false,
      kind: 'not_included',
      policy: policies[0]!,
      scopes: notIncluded.map((permission) => permission.scope),
    };
  const first = permissions[0];
  return { allowed: true, policy: (first && includedBy(first)) ?? policies[0]! };
}

/** The policies in effect in a tenant: the setting's built-in one, then the custom ones. */
export function policiesInEffect(setting: UserConsentSetting, custom: readonly AppConsentPolicy[]): AppConsentPolicy[] {
  return [BUILT_IN_POLICIES[setting], ...custom];
}

/** A permission's class in a tenant: the tenant's own, else low for sign-in and profile, else its API's. */
export function classificationOf(
  scope: string,
  tenantClasses: ReadonlyMap<string, Impact>,
  apiImpact: Impact | undefined,
): Impact {
  return tenantClasses.get(scope) ?? (LOW_BY_DEFAULT.includes(scope) ? 'low' : (apiImpact ?? 'high'));
}

/**
 * Checks a condition set given as untyped input (API body, CLI JSON); returns it typed, or the
 * first problem in words. Known values (scopes, APIs) are checked by the caller, which knows them.
 */
export function parseConditionSet(input: unknown): { set: ConditionSet } | { problem: string } {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return { problem: 'a condition set must be a JSON object' };
  const record = input as Record<string, unknown>;
  const unknownField = Object.keys(record).find((key) => !(CONDITION_FIELDS as readonly string[]).includes(key));
  if (unknownField !== undefined)
    return { problem: `unknown condition "${unknownField}" (known: ${CONDITION_FIELDS.join(', ')})` };
  const set: ConditionSet = {};
  for (const field of ['permissions', 'apis', 'clientAppIds', 'publisherTenantIds'] as const) {
    const value = record[field];
    if (value === undefined) continue;
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      value.length > 100 ||
      !value.every((item) => typeof item === 'string' && item.length > 0 && item.length <= 700)
    )
      return { problem: `${field} must be a non-empty list of at most 100 names` };
    set[field] = [...new Set(value as string[])];
  }
  if (record.classifications !== undefined) {
    const value = record.classifications;
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      !value.every((item) => (IMPACTS as readonly unknown[]).includes(item))
    )
      return { problem: 'classifications must be a non-empty list of low, medium, high' };
    set.classifications = [...new Set(value as Impact[])];
  }
  if (record.verifiedPublisher !== undefined) {
    if (typeof record.verifiedPublisher !== 'boolean') return { problem: 'verifiedPublisher must be true or false' };
    set.verifiedPublisher = record.verifiedPublisher;
  }
  return { set };
}

/** A condition set in words, for pages, the CLI and audit events. */
export function describeConditionSet(set: ConditionSet): string {
  const parts: string[] = [];
  if (set.permissions) parts.push(`permission ${set.permissions.join(' or ')}`);
  if (set.classifications) parts.push(`classified ${set.classifications.join(' or ')}`);
  if (set.apis) parts.push(`of API ${set.apis.join(' or ')}`);
  if (set.clientAppIds) parts.push(`app ${set.clientAppIds.join(' or ')}`);
  if (set.publisherTenantIds) parts.push(`published by ${set.publisherTenantIds.join(' or ')}`);
  if (set.verifiedPublisher !== undefined)
    parts.push(set.verifiedPublisher ? 'from a verified publisher' : 'from an unverified publisher');
  return parts.length === 0 ? 'every permission of every app' : parts.join(', ');
}
