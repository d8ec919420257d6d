// Records as the admin API shows them: each presenter returns the type of its schema in
// schemas.ts (so a field missing or misnamed here does not compile), with timestamps as RFC 3339
// strings and Accord's scopes called permissions. Never a secret or its hash.
import type { AppSecretRecord } from '../../db/app-secrets.js';
import type { AppWithSecrets } from '../../db/apps.js';
import type { AuditEvent } from '../../db/audit-events.js';
import type { ConsentRequestRecord } from '../../db/consent-requests.js';
import type { TenantRecord } from '../../db/tenants.js';
import type { UserWithSignInFailures } from '../../db/users.js';
import type { NewSecret } from '../../services/app-secrets.js';
import type { EnterpriseAppDetail, EnterpriseAppSummary, PermissionGrant } from '../../services/enterprise-apps.js';
import type { MyApp } from '../../services/my-apps.js';
import type {
  App,
  AuditEventBody,
  ConsentRequestBody,
  EnterpriseAppDetailBody,
  EnterpriseAppSummaryBody,
  MyAppBody,
  Settings,
  User,
} from './schemas.js';

const isoOrNull = (date: Date | null | undefined) => date?.toISOString() ?? null;

export function settingsOf(tenant: TenantRecord): Settings {
  return { id: tenant.id, name: tenant.name, integratedAppsEnabled: tenant.integratedAppsEnabled };
}

export function userOf(user: UserWithSignInFailures): User {
  return {
    id: user.id,
    tenant: user.tenantId,
    username: user.username,
    displayName: user.displayName,
    email: user.email,
    role: user.role,
    disabled: user.disabled,
    createdAt: user.createdAt.toISOString(),
    signInFailures: user.signInFailures,
  };
}

export function appOf(app: AppWithSecrets): App {
  return {
    clientId: app.clientId,
    name: app.name,
    publisherTenant: app.publisherTenantId,
    publisherName: app.publisherName,
    publisherVerified: app.publisherVerified,
    multiTenant: app.multiTenant,
    public: app.clientType === 'public',
    redirectUris: app.redirectUris,
    postLogoutRedirectUris: app.postLogoutRedirectUris,
    homepageUrl: app.homepageUrl,
    privacyUrl: app.privacyUrl,
    termsUrl: app.termsUrl,
    logoUrl: app.logoUrl,
    permissions: app.scopes,
    optionalPermissions: app.optionalScopes,
    secrets: app.secrets.map(appSecretInfoOf),
    createdAt: app.createdAt.toISOString(),
    updatedAt: app.updatedAt.toISOString(),
  };
}

/** A client secret as listed: never its value nor its hash. */
export function appSecretInfoOf(secret: AppSecretRecord) {
  return {
    id: secret.id,
    hint: secret.hint,
    createdAt: secret.createdAt.toISOString(),
    expiresAt: secret.expiresAt.toISOString(),
  };
}

/** A secret just made: the only answer that holds its value. */
export function newSecretOf(clientId: string, secret: NewSecret) {
  return {
    clientId,
    clientSecret: secret.value,
    secretId: secret.id,
    hint: secret.hint,
    createdAt: secret.createdAt.toISOString(),
    expiresAt: secret.expiresAt.toISOString(),
  };
}

export function auditEventOf(event: AuditEvent): AuditEventBody {
  return {
    id: event.id,
    at: event.at.toISOString(),
    actor: event.actor,
    actorName: event.actorName,
    action: event.action,
    target: event.target,
    targetName: event.targetName,
    details: event.details,
  };
}

export function enterpriseAppSummaryOf(app: EnterpriseAppSummary): EnterpriseAppSummaryBody {
  return {
    clientId: app.clientId,
    name: app.name,
    publisherTenant: app.publisherTenantId,
    publisherName: app.publisherName,
    publisherVerified: app.publisherVerified,
    multiTenant: app.multiTenant,
    blocked: app.blocked,
    adminPermissions: app.adminScopes,
    adminGrantedBy: app.adminGrantedBy,
    adminGrantedAt: isoOrNull(app.adminGrantedAt),
    userCount: app.userCount,
    userPermissions: app.userScopes,
  };
}

const grantsOf = (grants: readonly PermissionGrant[]) =>
  grants.map(({ scope, grantedAt }) => ({ scope, grantedAt: grantedAt.toISOString() }));

export function enterpriseAppDetailOf(app: EnterpriseAppDetail): EnterpriseAppDetailBody {
  const { adminConsent } = app;
  return {
    ...enterpriseAppSummaryOf(app),
    adminConsent: adminConsent && {
      grantedBy: adminConsent.grantedBy,
      grantedAt: adminConsent.grantedAt.toISOString(),
      permissions: grantsOf(adminConsent.permissions),
    },
    users: app.users.map((user) => ({
      userId: user.userId,
      username: user.username,
      displayName: user.displayName,
      grantedAt: user.grantedAt.toISOString(),
      updatedAt: user.updatedAt.toISOString(),
      active: user.active,
      permissions: grantsOf(user.permissions),
      lastUsedAt: user.lastUsedAt?.toISOString() ?? null,
    })),
  };
}

export function consentRequestOf(record: ConsentRequestRecord): ConsentRequestBody {
  return {
    id: record.id,
    userId: record.userId,
    clientId: record.clientId,
    permissions: record.scopes,
    reason: record.reason,
    status: record.status,
    approvedPermissions: record.approvedScopes,
    decidedBy: record.decidedBy,
    decisionReason: record.decisionReason,
    createdAt: record.createdAt.toISOString(),
    expiresAt: record.expiresAt.toISOString(),
    decidedAt: isoOrNull(record.decidedAt),
    approvalRule: record.approvalRule,
  };
}

export function myAppOf(entry: MyApp): MyAppBody {
  return {
    clientId: entry.app.clientId,
    name: entry.app.name,
    publisherName: entry.app.publisherName,
    publisherVerified: entry.app.publisherVerified,
    fromTenant: entry.fromTenantName ?? null,
    origin: entry.origin,
    ownPermissions: entry.ownScopes,
    ownGrantedAt: isoOrNull(entry.ownGrantedAt),
    organisationPermissions: entry.organisationScopes,
    organisationGrantedAt: isoOrNull(entry.organisationGrantedAt),
    lastUsedAt: isoOrNull(entry.lastUsedAt),
  };
}
