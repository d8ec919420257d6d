// The admin API's wire format: JSON schemas (shared by validation, serialisation and the OpenAPI
// document) and the functions that turn records into representations.
//
// Conventions: field names are camelCase; collections are `{"value": [...]}`; errors are
// `{"error", "error_description"}`; timestamps are RFC 3339 strings; an app's secret appears only
// in the answers to POST /apps and POST /apps/{clientId}/secret.

import type { Role } from '../../core/types.js';
import type { AppRecord } from '../../db/apps.js';
import type { AuditEvent } from '../../db/audit-events.js';
import type { TenantRecord } from '../../db/tenants.js';
import type { UserRecord } from '../../db/users.js';

/** The one permission this API accepts (docs/consent.md, "Permissions"). */
export const ADMIN_SCOPE = 'Organization.ReadWrite.All';

// ---- Parameters -----------------------------------------------------------------------------

const tenantParam = {
  type: 'string',
  pattern: '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$',
  description: 'The tenant id (a URL-safe slug). The token’s user must be an admin of this tenant.',
} as const;

/** User ids and client ids are opaque base64url strings. */
const opaqueId = (description: string) => ({ type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description }) as const;

export const tenantParams = {
  type: 'object',
  required: ['tenant'],
  additionalProperties: false,
  properties: { tenant: tenantParam },
} as const;

export const userParams = {
  type: 'object',
  required: ['tenant', 'id'],
  additionalProperties: false,
  properties: { tenant: tenantParam, id: opaqueId('The user’s id (their `sub` in tokens).') },
} as const;

export const appParams = {
  type: 'object',
  required: ['tenant', 'clientId'],
  additionalProperties: false,
  properties: { tenant: tenantParam, clientId: opaqueId('The app’s OAuth client id.') },
} as const;

export interface TenantParams {
  tenant: string;
}
export interface UserParams extends TenantParams {
  id: string;
}
export interface AppParams extends TenantParams {
  clientId: string;
}

// ---- Representations ------------------------------------------------------------------------

const nullableString = (description: string, maxLength = 2000) =>
  ({ type: ['string', 'null'], maxLength, description }) as const;
const timestamp = (description: string) => ({ type: 'string', format: 'date-time', description }) as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'An error (RFC 6750 for token problems). The description names the offending field.',
  required: ['error', 'error_description'],
  properties: {
    error: { type: 'string', examples: ['invalid_request'] },
    error_description: { type: 'string', examples: ['body.username is required'] },
  },
} as const;

export const settingsSchema = {
  $id: 'Settings',
  type: 'object',
  required: ['id', 'name', 'integratedAppsEnabled'],
  properties: {
    id: { type: 'string', description: 'The tenant id.' },
    name: { type: 'string' },
    integratedAppsEnabled: {
      type: 'boolean',
      description:
        'Integrated Apps: whether users may consent to apps for their own data. Turning it off keeps existing grants.',
    },
  },
} as const;

export const userSchema = {
  $id: 'User',
  type: 'object',
  required: ['id', 'tenant', 'username', 'displayName', 'email', 'role', 'disabled', 'createdAt'],
  properties: {
    id: { type: 'string', description: 'Opaque and stable; the user’s `sub` in every token.' },
    tenant: { type: 'string' },
    username: { type: 'string', description: 'Signs in as `username@tenant`.' },
    displayName: { type: 'string' },
    email: nullableString('Email address, if known.', 254),
    role: { type: 'string', enum: ['user', 'admin'] },
    disabled: { type: 'boolean', description: 'A disabled user cannot sign in and their grants are revoked.' },
    createdAt: timestamp('When the user was created.'),
  },
} as const;

const permissionList = {
  type: 'array',
  minItems: 1,
  maxItems: 50,
  uniqueItems: true,
  items: { type: 'string', minLength: 1, maxLength: 100 },
  description: 'The scopes the app may ask for (from the permission catalogue), e.g. `openid User.Read`.',
} as const;

const redirectUriList = (description: string, minItems: number) =>
  ({
    type: 'array',
    minItems,
    maxItems: 20,
    items: { type: 'string', minLength: 1, maxLength: 2000 },
    description,
  }) as const;

const REDIRECT_URIS_DESCRIPTION =
  'Exact redirect URIs: https (http only on loopback) or a reverse-DNS private-use scheme; no fragment, no wildcard.';

export const appSchema = {
  $id: 'App',
  type: 'object',
  required: [
    'clientId',
    'name',
    'publisherTenant',
    'publisherName',
    'publisherVerified',
    'multiTenant',
    'public',
    'redirectUris',
    'postLogoutRedirectUris',
    'homepageUrl',
    'privacyUrl',
    'termsUrl',
    'logoUrl',
    'permissions',
    'createdAt',
    'updatedAt',
  ],
  properties: {
    clientId: { type: 'string', description: 'The OAuth `client_id`.' },
    name: { type: 'string' },
    publisherTenant: { type: 'string', description: 'The tenant that registered (publishes) the app.' },
    publisherName: { type: 'string', description: 'Shown on consent pages; the publishing tenant’s name.' },
    publisherVerified: { type: 'boolean', description: 'Set by the operator only (`accord app verify-publisher`).' },
    multiTenant: { type: 'boolean', description: 'Whether users of other tenants may use the app.' },
    public: {
      type: 'boolean',
      description: 'A public client (native or browser app) has no secret and uses PKCE only.',
    },
    redirectUris: redirectUriList(REDIRECT_URIS_DESCRIPTION, 1),
    postLogoutRedirectUris: redirectUriList('Where the app may send users after sign-out.', 0),
    homepageUrl: nullableString('https URL.'),
    privacyUrl: nullableString('https URL.'),
    termsUrl: nullableString('https URL.'),
    logoUrl: nullableString('https URL.'),
    permissions: permissionList,
    createdAt: timestamp('When the app was registered.'),
    updatedAt: timestamp('When the registration last changed.'),
  },
} as const;

export const appWithSecretSchema = {
  $id: 'AppWithSecret',
  description: 'A newly registered app. `clientSecret` (confidential apps only) is shown here once and never again.',
  type: 'object',
  properties: {
    ...appSchema.properties,
    clientSecret: { type: 'string', description: 'Shown once: store it now.' },
  },
  required: appSchema.required,
} as const;

export const appSecretSchema = {
  $id: 'AppSecret',
  type: 'object',
  description: 'A new client secret. The previous one stops working at once; this one is shown only here.',
  required: ['clientId', 'clientSecret'],
  properties: {
    clientId: { type: 'string' },
    clientSecret: { type: 'string', description: 'Shown once: store it now.' },
  },
} as const;

export const auditEventSchema = {
  $id: 'AuditEvent',
  type: 'object',
  required: ['id', 'at', 'actor', 'action', 'target', 'details'],
  properties: {
    id: { type: 'string', description: 'Increasing; pass the last id of a page as `before` to get the next page.' },
    at: timestamp('When it happened.'),
    actor: { type: 'string', description: 'The id of the user who did it, or `operator` for the command line.' },
    action: { type: 'string', examples: ['tenant.integrated_apps.changed', 'user.created', 'app.secret.rotated'] },
    target: { type: ['string', 'null'], description: 'The tenant, user id or client id acted on.' },
    details: {
      type: 'object',
      additionalProperties: true,
      description: 'What changed, e.g. `{"from": true, "to": false}`.',
    },
  },
} as const;

/** Schemas added to the API's scope with `addSchema`, so the OpenAPI document names them. */
export const sharedSchemas = [
  errorSchema,
  settingsSchema,
  userSchema,
  appSchema,
  appWithSecretSchema,
  appSecretSchema,
  auditEventSchema,
];

export const collectionOf = (ref: string, description: string) =>
  ({
    type: 'object',
    description,
    required: ['value'],
    properties: { value: { type: 'array', items: { $ref: `${ref}#` } } },
  }) as const;

/** A successful answer holding a shared schema. */
export const answer = (ref: string, description: string) => ({ description, $ref: `${ref}#` }) as const;

/** The error answers every route may give (plus the route's own). */
export function errorResponses(...statuses: number[]) {
  const described: Record<number, string> = {
    400: 'The request is malformed: an unknown field, a value too long, an invalid id or URI. The description names the field.',
    401: 'No access token, or it is invalid, expired or revoked, or not issued for this API (`WWW-Authenticate` says why).',
    403: 'The token lacks `Organization.ReadWrite.All`, or its user is not (or no longer) an admin of `{tenant}`.',
    404: 'No such object in this tenant.',
    409: 'The object already exists, or the change would conflict with its current state.',
  };
  return Object.fromEntries(
    [400, 401, 403, ...statuses].map((status) => [status, { description: described[status], $ref: 'Error#' }]),
  );
}

// ---- Mapping --------------------------------------------------------------------------------

export interface Settings {
  id: string;
  name: string;
  integratedAppsEnabled: boolean;
}

export function settingsOf(tenant: TenantRecord): Settings {
  return { id: tenant.id, name: tenant.name, integratedAppsEnabled: tenant.integratedAppsEnabled };
}

export function userOf(user: UserRecord) {
  return {
    id: user.id,
    tenant: user.tenantId,
    username: user.username,
    displayName: user.displayName,
    email: user.email,
    role: user.role,
    disabled: user.disabled,
    createdAt: user.createdAt.toISOString(),
  };
}

/** Never includes the secret's hash. */
export function appOf(app: AppRecord) {
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
    createdAt: app.createdAt.toISOString(),
    updatedAt: app.updatedAt.toISOString(),
  };
}

export function auditEventOf(event: AuditEvent) {
  return {
    id: event.id,
    at: event.at.toISOString(),
    actor: event.actor,
    action: event.action,
    target: event.target,
    details: event.details,
  };
}

// ---- Request bodies -------------------------------------------------------------------------

export interface NewUserBody {
  username: string;
  password: string;
  role?: Role;
  displayName?: string;
  email?: string | null;
}

export interface UserChangesBody {
  role?: Role;
  disabled?: boolean;
  password?: string;
}

/** Lengths are capped here; the directory applies the rules (username shape, password strength). */
const password = {
  type: 'string',
  minLength: 1,
  maxLength: 1024,
  description: 'At least 8 characters, at most 1 KiB.',
} as const;

export const newUserBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: {
    username: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description: 'Lowercase letters, digits, `.`, `-`, `_`; unique in the tenant.',
    },
    password,
    role: { type: 'string', enum: ['user', 'admin'], default: 'user' },
    displayName: { type: 'string', minLength: 1, maxLength: 200, description: 'Defaults to the username.' },
    email: { type: ['string', 'null'], minLength: 3, maxLength: 254, description: 'Optional; null for none.' },
  },
} as const;

export const userChangesBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    role: { type: 'string', enum: ['user', 'admin'] },
    disabled: {
      type: 'boolean',
      description: 'Disabling revokes every grant the user holds, so their tokens stop working.',
    },
    password: { ...password, description: 'Sets a new password.' },
  },
} as const;

export interface NewAppBody {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  multiTenant?: boolean;
  public?: boolean;
  permissions: string[];
  homepageUrl?: string | null;
  privacyUrl?: string | null;
  termsUrl?: string | null;
  logoUrl?: string | null;
}

export type AppChangesBody = Partial<Omit<NewAppBody, 'public'>>;

const optionalUrl = {
  type: ['string', 'null'],
  minLength: 1,
  maxLength: 2000,
  description: 'https URL, or null to remove it.',
} as const;

const appChangeProperties = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  redirectUris: redirectUriList(REDIRECT_URIS_DESCRIPTION, 1),
  postLogoutRedirectUris: redirectUriList('Where the app may send users after sign-out.', 0),
  multiTenant: { type: 'boolean', description: 'Whether users of other tenants may use the app.' },
  permissions: permissionList,
  homepageUrl: optionalUrl,
  privacyUrl: optionalUrl,
  termsUrl: optionalUrl,
  logoUrl: optionalUrl,
} as const;

export const newAppBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'redirectUris', 'permissions'],
  properties: {
    ...appChangeProperties,
    multiTenant: { ...appChangeProperties.multiTenant, default: false },
    public: { type: 'boolean', default: false, description: 'Register a public client (no secret).' },
  },
} as const;

/** `publisherVerified` is not here: only the operator sets it. Whether an app is public is fixed at registration. */
export const appChangesBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: appChangeProperties,
} as const;

export interface AuditQuery {
  limit: number;
  before?: string;
}

export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 50, description: 'Page size.' },
    before: {
      type: 'string',
      pattern: '^[1-9][0-9]{0,17}$',
      description: 'Only events older than this id: the `next` value of the previous page.',
    },
  },
} as const;

export const auditPageSchema = {
  type: 'object',
  description: 'Newest first. `next` is the `before` value for the next (older) page, or null on the last page.',
  required: ['value', 'next'],
  properties: {
    value: { type: 'array', items: { $ref: 'AuditEvent#' } },
    next: { type: ['string', 'null'] },
  },
} as const;
