// The admin API's wire format, written once as TypeBox schemas: each is the JSON Schema that
// validation, serialisation and the OpenAPI document use, and `Static<typeof …>` is its
// TypeScript type (no interface is written beside a schema). presenters.ts turns records into
// these types.
//
// Conventions: field names are camelCase; collections are `{"value": [...]}`; errors are
// `{"error", "error_description"}`; timestamps are RFC 3339 strings; an app's secret appears only
// in the answers to POST /apps and POST /apps/{clientId}/secret.

import { type Static, type TSchema, type TSchemaOptions, Type } from 'typebox';
import { stringEnum } from '../schema-parts.js';

// ---- Building blocks ------------------------------------------------------------------------

/**
 * `T | null`, written `type: [T's type, 'null']` rather than TypeBox's `anyOf`: the form the
 * document has always had, and the one the serialiser handles without trying each branch.
 */
function nullable<T extends TSchema & { type: string }>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

/** A `$ref` to a shared schema (added with `addSchema`, named in the document by its `$id`), typed as it. */
export function refTo<T extends TSchema>(schema: T, options: TSchemaOptions = {}) {
  return Type.Unsafe<Static<T>>({ ...options, $ref: `${(schema as { $id?: string }).$id}#` });
}

/** A response in the document must say what it is: the schema with a description. */
export function described<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

const timestamp = (description?: string) =>
  Type.String({ format: 'date-time', ...(description ? { description } : {}) });
const nullableTimestamp = () => nullable(Type.String({ format: 'date-time' }));
const nullableString = (description: string, maxLength = 2000) => nullable(Type.String({ maxLength, description }));
const strings = (options: TSchemaOptions = {}) => Type.Array(Type.String(), options);

// ---- Parameters -----------------------------------------------------------------------------

const tenantId = Type.String({
  pattern: '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$',
  description: 'The tenant id (a URL-safe slug). The token’s user must be an admin of this tenant.',
});

/** User ids, client ids and request ids are opaque base64url strings. */
const OPAQUE_ID = '^[A-Za-z0-9_-]{1,64}$';
const opaqueId = (description?: string) => Type.String({ pattern: OPAQUE_ID, ...(description ? { description } : {}) });
const appClientId = opaqueId('The app’s OAuth client id.');

export const TenantParams = Type.Object({ tenant: tenantId }, { additionalProperties: false });
export const UserParams = Type.Object(
  { tenant: tenantId, id: opaqueId('The user’s id (their `sub` in tokens).') },
  { additionalProperties: false },
);
export const AppParams = Type.Object({ tenant: tenantId, clientId: appClientId }, { additionalProperties: false });
export const AppUserParams = Type.Object(
  { tenant: tenantId, clientId: appClientId, userId: opaqueId() },
  { additionalProperties: false },
);
export const ConsentRequestParams = Type.Object(
  { tenant: tenantId, requestId: opaqueId() },
  { additionalProperties: false },
);
export const MyAppParams = Type.Object({ clientId: opaqueId() }, { additionalProperties: false });

// ---- Shared representations (components of the document) ------------------------------------

export const ErrorSchema = Type.Object(
  {
    error: Type.String({ examples: ['invalid_request'] }),
    error_description: Type.String({ examples: ['body.username is required'] }),
  },
  {
    $id: 'Error',
    description: 'An error (RFC 6750 for token problems). The description names the offending field.',
  },
);

export const SettingsSchema = Type.Object(
  {
    id: Type.String({ description: 'The tenant id.' }),
    name: Type.String(),
    integratedAppsEnabled: Type.Boolean({
      description:
        'Integrated Apps: whether users may consent to apps for their own data. Turning it off keeps existing grants.',
    }),
  },
  { $id: 'Settings' },
);
export type Settings = Static<typeof SettingsSchema>;

const ROLES = ['user', 'admin'] as const;

export const UserSchema = Type.Object(
  {
    id: Type.String({ description: 'Opaque and stable; the user’s `sub` in every token.' }),
    tenant: Type.String(),
    username: Type.String({ description: 'Signs in as `username@tenant`.' }),
    displayName: Type.String(),
    email: nullableString('Email address, if known.', 254),
    role: stringEnum(ROLES),
    disabled: Type.Boolean({ description: 'A disabled user cannot sign in and their grants are revoked.' }),
    createdAt: timestamp('When the user was created.'),
    signInFailures: Type.Integer({
      minimum: 0,
      description:
        'Failed sign-ins in the current streak (0 when none runs; a streak ends 15 minutes after its last failure). ' +
        'Five from one address refuse that address; twenty from all together slow every sign-in. `unlock` clears them.',
    }),
  },
  { $id: 'User' },
);
export type User = Static<typeof UserSchema>;

const permissionList = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: 50,
  uniqueItems: true,
  description: 'The scopes the app may ask for (from the permission catalogue), e.g. `openid User.Read`.',
});

const optionalPermissionList = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  maxItems: 50,
  uniqueItems: true,
  description:
    'Those of `permissions` a user (or an admin, for the organisation) may untick when consenting; never `openid`. An empty list makes every permission required.',
});

const redirectUriList = (description: string, minItems: number) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), { minItems, maxItems: 20, description });
const redirectUris = redirectUriList(
  'Exact redirect URIs: https (http only on loopback) or a reverse-DNS private-use scheme; no fragment, no wildcard.',
  1,
);
const postLogoutRedirectUris = redirectUriList('Where the app may send users after sign-out.', 0);
const multiTenantDescription = 'Whether users of other tenants may use the app.';

export const AppSecretInfoSchema = Type.Object(
  {
    id: Type.String({ description: 'The secret’s id: remove it with `DELETE …/secrets/{secretId}`.' }),
    hint: nullableString('The secret’s first three characters, to tell secrets apart (null for older secrets).', 8),
    createdAt: timestamp('When the secret was added.'),
    expiresAt: timestamp('When it stops working.'),
  },
  {
    $id: 'AppSecretInfo',
    description: 'One of an app’s client secrets, never its value. An app holds at most two unexpired secrets.',
  },
);

const appProperties = {
  clientId: Type.String({ description: 'The OAuth `client_id`.' }),
  name: Type.String(),
  publisherTenant: Type.String({ description: 'The tenant that registered (publishes) the app.' }),
  publisherName: Type.String({ description: 'Shown on consent pages; the publishing tenant’s name.' }),
  publisherVerified: Type.Boolean({ description: 'Set by the operator only (`accord app verify-publisher`).' }),
  multiTenant: Type.Boolean({ description: multiTenantDescription }),
  public: Type.Boolean({ description: 'A public client (native or browser app) has no secret and uses PKCE only.' }),
  redirectUris,
  postLogoutRedirectUris,
  homepageUrl: nullableString('https URL.'),
  privacyUrl: nullableString('https URL.'),
  termsUrl: nullableString('https URL.'),
  logoUrl: nullableString('https URL.'),
  permissions: permissionList,
  optionalPermissions: optionalPermissionList,
  secrets: Type.Array(refTo(AppSecretInfoSchema), {
    description: 'The client secrets of a confidential app (none for a public app), oldest first.',
  }),
  createdAt: timestamp('When the app was registered.'),
  updatedAt: timestamp('When the registration last changed.'),
};

export const AppSchema = Type.Object(appProperties, { $id: 'App' });
export type App = Static<typeof AppSchema>;

const clientSecret = Type.String({ description: 'Shown once: store it now.' });

export const AppWithSecretSchema = Type.Object(
  { ...appProperties, clientSecret: Type.Optional(clientSecret) },
  {
    $id: 'AppWithSecret',
    description: 'A newly registered app. `clientSecret` (confidential apps only) is shown here once and never again.',
  },
);

export const AppSecretSchema = Type.Object(
  {
    clientId: Type.String(),
    clientSecret,
    secretId: Type.String({ description: 'The new secret’s id.' }),
    hint: Type.String({ description: 'Its first three characters.' }),
    createdAt: timestamp('When it was made.'),
    expiresAt: timestamp('When it stops working.'),
  },
  {
    $id: 'AppSecret',
    description: 'A new client secret, shown only here.',
  },
);

export const NewAppSecretBody = Type.Object(
  {
    expiresInDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 730, description: 'The secret’s lifetime in days (default 180).' }),
    ),
  },
  { additionalProperties: false },
);

export const AppSecretParams = Type.Object(
  { tenant: tenantId, clientId: appClientId, secretId: opaqueId('The secret’s id.') },
  { additionalProperties: false },
);

export const AuditEventSchema = Type.Object(
  {
    id: Type.String({ description: 'Increasing; pass the last id of a page as `before` to get the next page.' }),
    at: timestamp('When it happened.'),
    actor: Type.String({ description: 'The id of the user who did it, or `operator` for the command line.' }),
    actorName: nullable(
      Type.String({ description: 'The actor’s `username@tenant`; null for the operator or a user since deleted.' }),
    ),
    action: Type.String({ examples: ['tenant.integrated_apps.changed', 'user.created', 'app.secret.rotated'] }),
    target: nullable(Type.String({ description: 'The tenant, user id or client id acted on.' })),
    targetName: nullable(
      Type.String({
        description: 'The target’s name: a user’s `username@tenant`, an app’s or a tenant’s name; null when unknown.',
      }),
    ),
    // Any JSON object: written out, since TypeBox's Record would add a `patternProperties`.
    details: Type.Unsafe<Record<string, unknown>>({
      type: 'object',
      additionalProperties: true,
      description: 'What changed, e.g. `{"from": true, "to": false}`.',
    }),
  },
  { $id: 'AuditEvent' },
);
export type AuditEventBody = Static<typeof AuditEventSchema>;

/** Schemas added to the API's scope with `addSchema`, so the OpenAPI document names them. */
export const sharedSchemas = [
  ErrorSchema,
  SettingsSchema,
  UserSchema,
  AppSecretInfoSchema,
  AppSchema,
  AppWithSecretSchema,
  AppSecretSchema,
  AuditEventSchema,
];

// ---- Answers --------------------------------------------------------------------------------

/** `{"value": [...]}`: a collection of `items`. */
export const collectionOf = <T extends TSchema>(items: T, description: string) =>
  Type.Object({ value: Type.Array(items) }, { description });

/** A successful answer holding a shared schema. */
export const answer = <T extends TSchema>(schema: T, description: string) => refTo(schema, { description });

/**
 * No body (204). Documented as `type: null`, as it always has been; typed `undefined` because the
 * handler sends nothing (nothing is serialised, so no content-type is set).
 */
export const noContent = (description: string) => Type.Unsafe<undefined>({ type: 'null', description });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed: an unknown field, a value too long, an invalid id or URI. The description names the field.',
  401: 'No access token, or it is invalid, expired or revoked, or not issued for this API (`WWW-Authenticate` says why).',
  403: 'The token lacks `Organization.ReadWrite.All`, or its user is not (or no longer) an admin of `{tenant}`.',
  404: 'No such object in this tenant.',
  409: 'The object already exists, or the change would conflict with its current state.',
};

/** The error answers every route may give (plus the route's own). */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    [400, 401, 403, ...statuses].map((status) => [status, answer(ErrorSchema, ERROR_DESCRIPTIONS[status]!)]),
  );
}

export const AuditPageSchema = Type.Object(
  { value: Type.Array(refTo(AuditEventSchema)), next: nullable(Type.String()) },
  { description: 'Newest first. `next` is the `before` value for the next (older) page, or null on the last page.' },
);

// ---- Enterprise apps ------------------------------------------------------------------------

const permissionGrants = Type.Array(Type.Object({ scope: Type.String(), grantedAt: timestamp() }));

const enterpriseAppSummaryProperties = {
  clientId: Type.String(),
  name: Type.String(),
  publisherTenant: Type.String({ description: 'The tenant that registered the app.' }),
  publisherName: Type.String(),
  publisherVerified: Type.Boolean(),
  multiTenant: Type.Boolean(),
  blocked: Type.Boolean({ description: 'Blocked: nobody in the tenant can sign in to it or use its tokens.' }),
  adminPermissions: strings({ description: 'Granted for the whole tenant by an admin.' }),
  adminGrantedBy: nullable(Type.String()),
  adminGrantedAt: nullableTimestamp(),
  userCount: Type.Integer({ description: 'Users of the tenant who use the app.' }),
  userPermissions: strings({ description: 'Granted by users for themselves (the union over users).' }),
};

export const EnterpriseAppSummarySchema = Type.Object(enterpriseAppSummaryProperties);
export type EnterpriseAppSummaryBody = Static<typeof EnterpriseAppSummarySchema>;

// The detail has always been documented without `required` lists; kept so for clients.
export const EnterpriseAppDetailSchema = Type.Partial(
  Type.Object({
    ...enterpriseAppSummaryProperties,
    adminConsent: nullable(
      Type.Partial(Type.Object({ grantedBy: Type.String(), grantedAt: timestamp(), permissions: permissionGrants })),
    ),
    users: Type.Array(
      Type.Partial(
        Type.Object({
          userId: Type.String(),
          username: Type.String(),
          displayName: Type.String(),
          grantedAt: timestamp(),
          updatedAt: timestamp(),
          active: Type.Boolean({ description: 'Whether the user holds tokens for the app now.' }),
          permissions: permissionGrants,
          lastUsedAt: nullable(
            Type.String({
              format: 'date-time',
              description: 'When the app last got a token for the user; null: never since recording began.',
            }),
          ),
        }),
      ),
    ),
  }),
);
export type EnterpriseAppDetailBody = Static<typeof EnterpriseAppDetailSchema>;

export const EnterpriseAppChangeSchema = Type.Object({
  clientId: Type.String(),
  changed: Type.Boolean({ description: 'False when the app was already in the asked-for state.' }),
  revokedGrants: Type.Integer({ description: 'How many grants (and all their tokens) were revoked.' }),
});

// ---- Consent requests -----------------------------------------------------------------------

const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'expired'] as const;

export const ConsentRequestSchema = Type.Object({
  id: Type.String(),
  userId: Type.String({ description: 'Who asked.' }),
  clientId: Type.String(),
  permissions: strings({ description: 'What the app still needed when the user asked.' }),
  reason: Type.String(),
  status: stringEnum(REQUEST_STATUSES),
  approvedPermissions: Type.Optional(nullable(strings())),
  decidedBy: Type.Optional(nullable(Type.String())),
  decisionReason: Type.Optional(nullable(Type.String())),
  createdAt: timestamp(),
  expiresAt: timestamp(),
  decidedAt: Type.Optional(nullableTimestamp()),
  approvalRule: Type.Optional(
    nullable(
      Type.Object(
        {
          row: Type.Integer(),
          id: Type.String(),
          explanation: Type.String(),
          policy: Type.Optional(Type.Object({ id: Type.String(), name: Type.String() })),
          scopes: Type.Optional(strings()),
        },
        { description: 'Why the user needed an admin when they asked: the consent decision’s rule, in words.' },
      ),
    ),
  ),
});
export type ConsentRequestBody = Static<typeof ConsentRequestSchema>;

export const ConsentRequestQuery = Type.Object(
  { status: Type.Optional(stringEnum(REQUEST_STATUSES)) },
  { additionalProperties: false },
);

export const ApproveBody = Type.Object(
  {
    permissions: Type.Optional(
      Type.Array(Type.String({ maxLength: 100 }), {
        minItems: 1,
        maxItems: 50,
        uniqueItems: true,
        description: 'Default: all requested.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DenyBody = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);

// ---- My apps --------------------------------------------------------------------------------

export const MyAppSchema = Type.Object({
  clientId: Type.String(),
  name: Type.String(),
  publisherName: Type.String(),
  publisherVerified: Type.Boolean(),
  fromTenant: Type.Optional(
    nullable(Type.String({ description: 'The publishing organisation, when it is not yours.' })),
  ),
  origin: stringEnum(['own', 'organisation', 'both'], { description: 'Whose consent gives the app access.' }),
  ownPermissions: strings(),
  ownGrantedAt: Type.Optional(nullableTimestamp()),
  organisationPermissions: strings(),
  organisationGrantedAt: Type.Optional(nullableTimestamp()),
  lastUsedAt: Type.Optional(nullableTimestamp()),
});
export type MyAppBody = Static<typeof MyAppSchema>;

// ---- Request bodies and queries -------------------------------------------------------------

export const SettingsBody = Type.Object({ integratedAppsEnabled: Type.Boolean() }, { additionalProperties: false });

/** Lengths are capped here; the directory applies the rules (username shape, password strength). */
const password = (description: string) => Type.String({ minLength: 1, maxLength: 1024, description });

export const NewUserBody = Type.Object(
  {
    username: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Lowercase letters, digits, `.`, `-`, `_`; unique in the tenant.',
    }),
    password: password('At least 8 characters, at most 1 KiB.'),
    role: Type.Optional(stringEnum(ROLES, { default: 'user' })),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Defaults to the username.' })),
    email: Type.Optional(
      nullable(Type.String({ minLength: 3, maxLength: 254, description: 'Optional; null for none.' })),
    ),
  },
  { additionalProperties: false },
);

export const UserChangesBody = Type.Object(
  {
    role: Type.Optional(stringEnum(ROLES)),
    disabled: Type.Optional(
      Type.Boolean({ description: 'Disabling revokes every grant the user holds, so their tokens stop working.' }),
    ),
    password: Type.Optional(password('Sets a new password.')),
  },
  { additionalProperties: false, minProperties: 1 },
);

const optionalUrl = nullable(
  Type.String({ minLength: 1, maxLength: 2000, description: 'https URL, or null to remove it.' }),
);

/** What an app's owner may change. */
const appChangeProperties = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  redirectUris,
  postLogoutRedirectUris,
  multiTenant: Type.Boolean({ description: multiTenantDescription }),
  permissions: permissionList,
  optionalPermissions: optionalPermissionList,
  homepageUrl: optionalUrl,
  privacyUrl: optionalUrl,
  termsUrl: optionalUrl,
  logoUrl: optionalUrl,
};

export const NewAppBody = Type.Object(
  {
    name: appChangeProperties.name,
    redirectUris,
    postLogoutRedirectUris: Type.Optional(postLogoutRedirectUris),
    multiTenant: Type.Optional(Type.Boolean({ description: multiTenantDescription, default: false })),
    permissions: permissionList,
    optionalPermissions: Type.Optional(optionalPermissionList),
    homepageUrl: Type.Optional(optionalUrl),
    privacyUrl: Type.Optional(optionalUrl),
    termsUrl: Type.Optional(optionalUrl),
    logoUrl: Type.Optional(optionalUrl),
    public: Type.Optional(Type.Boolean({ default: false, description: 'Register a public client (no secret).' })),
  },
  { additionalProperties: false },
);

/** `publisherVerified` is not here: only the operator sets it. Whether an app is public is fixed at registration. */
export const AppChangesBody = Type.Partial(Type.Object(appChangeProperties), {
  additionalProperties: false,
  minProperties: 1,
});

export const AUDIT_PAGE_SIZE = 50;

export const AuditQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 200, default: AUDIT_PAGE_SIZE, description: 'Page size.' }),
    ),
    before: Type.Optional(
      Type.String({
        pattern: '^[1-9][0-9]{0,17}$',
        description: 'Only events older than this id: the `next` value of the previous page.',
      }),
    ),
    actor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Only events by this actor: a user id, a username of the tenant, or `operator`.',
      }),
    ),
    action: Type.Optional(
      Type.String({
        pattern: '^[a-z_]+(?:\\.[a-z_]+)*\\.?$',
        maxLength: 100,
        description: 'Only this action (`user.created`), or a family of actions ending in a dot (`consent.`).',
      }),
    ),
    from: Type.Optional(isoDate('Only events on or after this day (UTC), `YYYY-MM-DD`.')),
    to: Type.Optional(isoDate('Only events on or before this day (UTC), `YYYY-MM-DD`.')),
  },
  { additionalProperties: false },
);

function isoDate(description: string) {
  return Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description });
}

export const USERS_PAGE_SIZE = 100;

export const UsersQuery = Type.Object(
  {
    search: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Part of the username, display name or email.' }),
    ),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 500, default: USERS_PAGE_SIZE, description: 'Page size.' }),
    ),
    after: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'Only users after this username: the `next` value of the previous page.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const UsersPageSchema = Type.Object(
  { value: Type.Array(refTo(UserSchema)), next: nullable(Type.String()) },
  { description: 'By username. `next` is the `after` value for the next page, or null on the last page.' },
);

const searchParameter = (description: string) =>
  Type.Optional(Type.String({ minLength: 1, maxLength: 200, description }));

export const AppsQuery = Type.Object(
  { search: searchParameter('Only apps whose name or client id contain every word of this.') },
  { additionalProperties: false },
);

export const EnterpriseAppsQuery = Type.Object(
  {
    search: searchParameter('Only apps whose name, publisher or client id contain every word of this.'),
    blocked: Type.Optional(Type.Boolean({ description: 'Only blocked (true) or unblocked (false) apps.' })),
    verified: Type.Optional(
      Type.Boolean({ description: 'Only apps of verified (true) or unverified (false) publishers.' }),
    ),
  },
  { additionalProperties: false },
);
