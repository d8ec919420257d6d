// How the CLI shows records: one JSON shape per kind (snake_case, like the OAuth wire formats;
// lists are `{"value": [...]}` like the data API), and plain-text tables for people.
import type { AppSecretRecord } from '../db/app-secrets.js';
import type { AppWithSecrets } from '../db/apps.js';
import type { AuditEvent } from '../db/audit-events.js';
import type { TenantRecord } from '../db/tenants.js';
import type { UserRecord } from '../db/users.js';

export function tenantJson(tenant: TenantRecord) {
  return {
    id: tenant.id,
    name: tenant.name,
    integrated_apps_enabled: tenant.integratedAppsEnabled,
    created_at: tenant.createdAt.toISOString(),
  };
}

export function userJson(user: UserRecord) {
  return {
    id: user.id,
    tenant: user.tenantId,
    username: user.username,
    role: user.role,
    display_name: user.displayName,
    email: user.email,
    disabled: user.disabled,
    created_at: user.createdAt.toISOString(),
  };
}

/** A client secret as listed: its id, hint and dates — never the secret nor its hash. */
export function appSecretJson(secret: AppSecretRecord) {
  return {
    id: secret.id,
    hint: secret.hint,
    created_at: secret.createdAt.toISOString(),
    expires_at: secret.expiresAt.toISOString(),
  };
}

/** Never the secret nor its hash: a client secret is shown once, when created or rotated. */
export function appJson(app: AppWithSecrets) {
  return {
    client_id: app.clientId,
    name: app.name,
    publisher_tenant: app.publisherTenantId,
    publisher_name: app.publisherName,
    publisher_verified: app.publisherVerified,
    multi_tenant: app.multiTenant,
    client_type: app.clientType,
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris,
    homepage_url: app.homepageUrl,
    privacy_url: app.privacyUrl,
    terms_url: app.termsUrl,
    logo_url: app.logoUrl,
    permissions: app.scopes,
    optional_permissions: app.optionalScopes,
    secrets: app.secrets.map(appSecretJson),
    created_at: app.createdAt.toISOString(),
    updated_at: app.updatedAt.toISOString(),
  };
}

export function auditEventJson(event: AuditEvent) {
  return {
    id: event.id,
    tenant: event.tenantId,
    at: event.at.toISOString(),
    actor: event.actor,
    actor_name: event.actorName,
    action: event.action,
    target: event.target,
    target_name: event.targetName,
    details: snakeCaseKeys(event.details),
  };
}

/**
 * `value` with every object key in snake_case, as all of the CLI's JSON is: audit details are
 * stored as the services wrote them (camelCase, as the admin API shows them).
 */
export function snakeCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCaseKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key.replace(/[A-Z]/g, (upper) => `_${upper.toLowerCase()}`),
      snakeCaseKeys(inner),
    ]),
  );
}

export const onOffText = (enabled: boolean) => (enabled ? 'on' : 'off');

/** Aligned `label: value` lines. */
export function fields(pairs: [string, string | null | undefined][]): string {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 2;
  return `${pairs.map(([label, value]) => `${`${label}:`.padEnd(width)}${value ?? '-'}`.trimEnd()).join('\n')}\n`;
}

/** Columns separated by two spaces; `empty` when there are no rows. */
export function table(header: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `${empty}\n`;
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export function appText(app: AppWithSecrets): string {
  return fields([
    ['client_id', app.clientId],
    ['name', app.name],
    [
      'publisher',
      `${app.publisherName} (tenant ${app.publisherTenantId}, ${app.publisherVerified ? 'verified' : 'not verified'})`,
    ],
    ['tenancy', app.multiTenant ? 'multi-tenant' : 'single-tenant'],
    ['client type', app.clientType],
    ['redirect URIs', app.redirectUris.join(' ')],
    ['post-logout URIs', app.postLogoutRedirectUris.join(' ') || null],
    ['permissions', app.scopes.join(' ')],
    ['optional permissions', app.optionalScopes.join(' ') || null],
    ['homepage', app.homepageUrl],
    ['privacy', app.privacyUrl],
    ['terms', app.termsUrl],
    ['logo', app.logoUrl],
    ...app.secrets.map((secret): [string, string] => [
      `secret ${secret.id}`,
      `${secret.hint ? `${secret.hint}… ` : ''}expires ${secret.expiresAt.toISOString()}`,
    ]),
    ['created', app.createdAt.toISOString()],
    ['updated', app.updatedAt.toISOString()],
  ]);
}
