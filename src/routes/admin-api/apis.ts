// /tenants/{tenant}/apis: the APIs (resource servers) the tenant registers, their scopes, and
// their removal (issue 13). `{api}` is the API's identifier, percent-encoded as one path segment.
// Removing a scope or an API revokes what was granted for it: `GET …/impact` shows that first.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { ApiDetail, ApiScope, ApiUsage, RemovalImpact } from '../../services/apis.js';
import { stringEnum } from '../schema-parts.js';
import type { AdminApiDeps } from './deps.js';
import { actorOf } from './require-tenant-admin.js';
import { answer, collectionOf, errorResponses, refTo, TenantParams } from './schemas.js';

const tags = ['APIs'];
const IMPACT = stringEnum(['low', 'medium', 'high']);
const SCOPE_NAME = '^[A-Za-z][A-Za-z0-9._-]{0,99}$';
const description = (what: string) => Type.String({ minLength: 1, maxLength: 300, description: what });

const ApiScopeSchema = Type.Object(
  {
    scope: Type.String({
      description: 'The name apps request it by: `<identifier>/<name>` (short for Accord’s own APIs).',
    }),
    name: Type.String({ description: 'The scope’s name within the API, as access tokens carry it in `scope`.' }),
    description: Type.String({ description: 'What users read on the consent page.' }),
    adminDescription: Type.String({ description: 'What admins read when they grant it for everyone.' }),
    adminConsentRequired: Type.Boolean({ description: 'Only an admin may consent to it.' }),
    impact: IMPACT,
  },
  { $id: 'ApiScope' },
);

const usageProperties = {
  apps: Type.Array(Type.Object({ clientId: Type.String(), name: Type.String(), publisherTenant: Type.String() }), {
    description: 'Apps that register it.',
  }),
  users: Type.Integer({ description: 'Users who consented to it themselves.' }),
  adminConsentTenants: Type.Integer({ description: 'Tenants whose admin consented to it for everyone.' }),
};

const apiProperties = {
  identifier: Type.String({ description: 'The resource indicator (RFC 8707): tokens for the API carry it in `aud`.' }),
  name: Type.String(),
  tenant: Type.String({ description: 'The owner tenant.' }),
  multiTenant: Type.Boolean({ description: 'Users of any tenant may be granted its scopes (else the owner’s only).' }),
  createdAt: Type.String({ format: 'date-time' }),
  scopes: Type.Array(refTo(ApiScopeSchema)),
};

const ApiSchema = Type.Object(apiProperties, { $id: 'Api' });

const ApiWithUsageSchema = Type.Object(
  {
    ...apiProperties,
    usage: Type.Array(Type.Object({ scope: Type.String(), ...usageProperties }), {
      description: 'Per scope: the apps that register it and how many granted it.',
    }),
  },
  { $id: 'ApiWithUsage' },
);

const RemovalImpactSchema = Type.Object(
  {
    identifier: Type.String(),
    scopes: Type.Array(Type.String(), { description: 'The permissions removed (or that would be).' }),
    ...usageProperties,
  },
  {
    $id: 'ApiRemovalImpact',
    description:
      'What removing revokes: the apps lose the permissions, admin and user consents lose them, and the grants that held them end (their tokens are refused, refresh fails).',
  },
);

/** The shared schemas of this file, added by the admin API's mount. */
export const apiSchemas = [ApiScopeSchema, ApiSchema, ApiWithUsageSchema, RemovalImpactSchema];

const ApiParams = Type.Object(
  {
    tenant: TenantParams.properties.tenant,
    api: Type.String({ minLength: 2, maxLength: 500, description: 'The API’s identifier, percent-encoded.' }),
  },
  { additionalProperties: false },
);
const ScopeParams = Type.Object(
  { ...ApiParams.properties, scope: Type.String({ pattern: SCOPE_NAME, description: 'The scope’s name.' }) },
  { additionalProperties: false },
);
const NewApiBody = Type.Object(
  {
    identifier: Type.String({ minLength: 1, maxLength: 500, description: 'An https:// or api:// URI, unique.' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    multiTenant: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const NewScopeBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'Letters, digits, dots, underscores, hyphens.' }),
    description: description('What users read on the consent page.'),
    adminDescription: Type.Optional(description('What admins read (default: the user-facing text).')),
    adminConsentRequired: Type.Optional(Type.Boolean({ description: 'Only an admin may consent (default false).' })),
    impact: Type.Optional(IMPACT),
  },
  { additionalProperties: false },
);
const ScopeChangesBody = Type.Object(
  {
    description: Type.Optional(description('What users read on the consent page.')),
    adminDescription: Type.Optional(description('What admins read.')),
    impact: Type.Optional(IMPACT),
  },
  { additionalProperties: false },
);

type Api = Static<typeof ApiSchema>;
type ApiScopeBody = Static<typeof ApiScopeSchema>;

function scopeOf(scope: ApiScope): ApiScopeBody {
  return {
    scope: scope.scope,
    name: scope.name,
    description: scope.userDescription,
    adminDescription: scope.adminDescription,
    adminConsentRequired: scope.adminConsentRequired,
    impact: scope.impact,
  };
}

function apiOf(api: ApiDetail): Api {
  return {
    identifier: api.identifier,
    name: api.name,
    tenant: api.tenantId!,
    multiTenant: api.multiTenant,
    createdAt: api.createdAt.toISOString(),
    scopes: api.scopes.map(scopeOf),
  };
}

const appsOf = (apps: RemovalImpact['apps']) =>
  apps.map((app) => ({ clientId: app.clientId, name: app.name, publisherTenant: app.publisherTenantId }));

function withUsageOf(api: ApiUsage): Static<typeof ApiWithUsageSchema> {
  return {
    ...apiOf(api),
    usage: api.usage.map((entry) => ({
      scope: entry.scope,
      apps: appsOf(entry.apps),
      users: entry.users,
      adminConsentTenants: entry.adminConsentTenants,
    })),
  };
}

function impactOf(impact: RemovalImpact): Static<typeof RemovalImpactSchema> {
  return {
    identifier: impact.identifier,
    scopes: impact.scopes,
    apps: appsOf(impact.apps),
    users: impact.users,
    adminConsentTenants: impact.adminConsentTenants,
  };
}

export const apisRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (app, { apis, apiUrl }) => {
  const impactAnswer = answer(RemovalImpactSchema, 'What was revoked.');

  app.get(
    '/apis',
    {
      schema: {
        tags,
        operationId: 'listApis',
        summary: 'List the APIs this tenant registered',
        params: TenantParams,
        response: { 200: collectionOf(refTo(ApiSchema), 'The tenant’s APIs with their scopes.'), ...errorResponses() },
      },
    },
    async (request) => ({ value: (await apis.list(request.params.tenant)).map(apiOf) }),
  );

  app.post(
    '/apis',
    {
      schema: {
        tags,
        operationId: 'createApi',
        summary: 'Register an API',
        description:
          'Apps then request its scopes as `<identifier>/<scope>`; tokens for it carry the identifier in `aud`.',
        params: TenantParams,
        body: NewApiBody,
        response: { 201: answer(ApiSchema, 'Registered, with no scopes yet.'), ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const { tenant } = request.params;
      const created = await apis.create(
        { tenantId: tenant, multiTenant: request.body.multiTenant ?? false, ...request.body },
        actorOf(request),
      );
      return reply
        .status(201)
        .header('location', `${apiUrl}/tenants/${tenant}/apis/${encodeURIComponent(created.identifier)}`)
        .send(apiOf(created));
    },
  );

  app.get(
    '/apis/:api',
    {
      schema: {
        tags,
        operationId: 'getApi',
        summary: 'Read an API, its scopes and their use',
        params: ApiParams,
        response: { 200: answer(ApiWithUsageSchema, 'The API.'), ...errorResponses(404) },
      },
    },
    async (request) => withUsageOf(await apis.show(request.params.api, request.params.tenant)),
  );

  app.get(
    '/apis/:api/impact',
    {
      schema: {
        tags,
        operationId: 'getApiRemovalImpact',
        summary: 'What deleting the API would revoke',
        params: ApiParams,
        response: { 200: answer(RemovalImpactSchema, 'Nothing is changed.'), ...errorResponses(404) },
      },
    },
    async (request) => impactOf(await apis.removalImpact(request.params.api, undefined, request.params.tenant)),
  );

  app.delete(
    '/apis/:api',
    {
      schema: {
        tags,
        operationId: 'deleteApi',
        summary: 'Delete an API and its scopes',
        description: 'Revokes every grant that held one of its scopes, in one transaction with its audit event.',
        params: ApiParams,
        response: { 200: impactAnswer, ...errorResponses(404) },
      },
    },
    async (request) => impactOf(await apis.delete(request.params.api, actorOf(request), request.params.tenant)),
  );

  app.post(
    '/apis/:api/scopes',
    {
      schema: {
        tags,
        operationId: 'addApiScope',
        summary: 'Add a scope to an API',
        params: ApiParams,
        body: NewScopeBody,
        response: { 201: answer(ApiScopeSchema, 'Added.'), ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const scope = await apis.addScope(
        request.params.api,
        {
          name: body.name,
          userDescription: body.description,
          ...(body.adminDescription !== undefined ? { adminDescription: body.adminDescription } : {}),
          adminConsentRequired: body.adminConsentRequired ?? false,
          ...(body.impact !== undefined ? { impact: body.impact } : {}),
        },
        actorOf(request),
        request.params.tenant,
      );
      return reply.status(201).send(scopeOf(scope));
    },
  );

  app.patch(
    '/apis/:api/scopes/:scope',
    {
      schema: {
        tags,
        operationId: 'updateApiScope',
        summary: 'Change a scope’s descriptions or impact',
        description:
          'Audited; the next consent page shows the new words. Whether the scope needs an admin is fixed: remove the scope and add a new one instead.',
        params: ScopeParams,
        body: ScopeChangesBody,
        response: { 200: answer(ApiScopeSchema, 'The scope as changed.'), ...errorResponses(404) },
      },
    },
    async (request) => {
      const { body } = request;
      return scopeOf(
        await apis.editScope(
          request.params.api,
          request.params.scope,
          {
            ...(body.description !== undefined ? { userDescription: body.description } : {}),
            ...(body.adminDescription !== undefined ? { adminDescription: body.adminDescription } : {}),
            ...(body.impact !== undefined ? { impact: body.impact } : {}),
          },
          actorOf(request),
          request.params.tenant,
        ),
      );
    },
  );

  app.get(
    '/apis/:api/scopes/:scope/impact',
    {
      schema: {
        tags,
        operationId: 'getApiScopeRemovalImpact',
        summary: 'What removing the scope would revoke',
        params: ScopeParams,
        response: { 200: answer(RemovalImpactSchema, 'Nothing is changed.'), ...errorResponses(404) },
      },
    },
    async (request) =>
      impactOf(await apis.removalImpact(request.params.api, request.params.scope, request.params.tenant)),
  );

  app.delete(
    '/apis/:api/scopes/:scope',
    {
      schema: {
        tags,
        operationId: 'removeApiScope',
        summary: 'Remove a scope',
        description: 'Revokes every grant that held it, in one transaction with its audit event.',
        params: ScopeParams,
        response: { 200: impactAnswer, ...errorResponses(404) },
      },
    },
    async (request) =>
      impactOf(
        await apis.removeScope(request.params.api, request.params.scope, actorOf(request), request.params.tenant),
      ),
  );
};
