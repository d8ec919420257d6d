// /tenants/{tenant}/apps: the apps (OAuth clients) the tenant publishes — register, read, change,
// delete, and manage the client secrets: list, add (at most two live, for a rotation without an
// outage), remove, replace all. A secret is shown once, in the answer that created it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import { AccordError } from '../../core/errors.js';
import type { AppChanges } from '../../db/apps.js';
import type { AdminApiDeps } from './deps.js';
import { appOf, appSecretInfoOf, newSecretOf } from './presenters.js';
import { actorOf } from './require-tenant-admin.js';
import {
  AppChangesBody,
  AppParams,
  AppSchema,
  AppSecretInfoSchema,
  AppSecretParams,
  AppSecretSchema,
  AppsQuery,
  AppWithSecretSchema,
  answer,
  collectionOf,
  errorResponses,
  NewAppBody,
  NewAppSecretBody,
  noContent,
  refTo,
  TenantParams,
} from './schemas.js';

const tags = ['Apps'];

export const appsRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (app, { apps, directory, apiUrl }) => {
  app.get(
    '/apps',
    {
      schema: {
        tags,
        operationId: 'listApps',
        summary: 'List the apps this tenant registered',
        params: TenantParams,
        querystring: AppsQuery,
        response: {
          200: collectionOf(
            refTo(AppSchema),
            'The apps published by the tenant, oldest first. Secrets are never shown.',
          ),
          ...errorResponses(),
        },
      },
    },
    async (request) => ({ value: (await apps.list(request.params.tenant, request.query)).map(appOf) }),
  );

  app.post(
    '/apps',
    {
      schema: {
        tags,
        operationId: 'createApp',
        summary: 'Register an app',
        description:
          'Returns the app with its `clientSecret` (confidential apps): the only time the secret is shown. The publisher is this tenant, unverified until the operator verifies it.',
        params: TenantParams,
        body: NewAppBody,
        response: {
          201: answer(AppWithSecretSchema, 'Registered. The only answer that shows the secret.'),
          ...errorResponses(),
        },
      },
    },
    async (request, reply) => {
      const { tenant } = request.params;
      const body = request.body;
      const { app: created, clientSecret } = await inApiTerms(() =>
        directory.createApp(
          {
            publisherTenantId: tenant,
            name: body.name,
            multiTenant: body.multiTenant ?? false,
            public: body.public ?? false,
            redirectUris: body.redirectUris,
            postLogoutRedirectUris: body.postLogoutRedirectUris ?? [],
            homepageUrl: body.homepageUrl ?? null,
            privacyUrl: body.privacyUrl ?? null,
            termsUrl: body.termsUrl ?? null,
            logoUrl: body.logoUrl ?? null,
            scopes: body.permissions,
            optionalScopes: body.optionalPermissions ?? [],
          },
          actorOf(request),
        ),
      );
      return reply
        .status(201)
        .header('location', `${apiUrl}/tenants/${tenant}/apps/${created.clientId}`)
        .send({ ...appOf(created), ...(clientSecret ? { clientSecret } : {}) });
    },
  );

  app.get(
    '/apps/:clientId',
    {
      schema: {
        tags,
        operationId: 'getApp',
        summary: 'Read an app',
        params: AppParams,
        response: { 200: answer(AppSchema, 'The app (never its secret).'), ...errorResponses(404) },
      },
    },
    async (request) => appOf(await apps.findOwned(request.params.tenant, request.params.clientId)),
  );

  app.patch(
    '/apps/:clientId',
    {
      schema: {
        tags,
        operationId: 'updateApp',
        summary: 'Change an app',
        description:
          'Only the fields sent change; a URL set to null is removed. `publisherVerified` is set by the operator only, and `public` is fixed at registration.',
        params: AppParams,
        body: AppChangesBody,
        response: { 200: answer(AppSchema, 'The app as changed.'), ...errorResponses(404) },
      },
    },
    async (request) => {
      const { tenant, clientId } = request.params;
      return appOf(
        await inApiTerms(() => directory.updateApp(tenant, clientId, appChangesOf(request.body), actorOf(request))),
      );
    },
  );

  app.delete(
    '/apps/:clientId',
    {
      schema: {
        tags,
        operationId: 'deleteApp',
        summary: 'Delete an app',
        description:
          'Removes the registration everywhere: every tenant’s consents to it go, and the tokens they gave with them.',
        params: AppParams,
        response: { 204: noContent('Deleted.'), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await directory.deleteApp(request.params.tenant, request.params.clientId, actorOf(request));
      return reply.status(204).send();
    },
  );

  app.post(
    '/apps/:clientId/secret',
    {
      schema: {
        tags,
        operationId: 'rotateAppSecret',
        summary: 'Replace every client secret of the app with a new one',
        description:
          'Every previous secret stops working at once (for a leaked secret). To change a secret without an outage, add one (`addAppSecret`), switch the app to it, then remove the old one (`removeAppSecret`). The new secret is in this answer only. A public app has no secret (400).',
        params: AppParams,
        response: { 200: answer(AppSecretSchema, 'The new secret, shown only here.'), ...errorResponses(404) },
      },
    },
    async (request) => {
      const { tenant, clientId } = request.params;
      return newSecretOf(clientId, await directory.secrets.replace(tenant, clientId, actorOf(request)));
    },
  );

  app.get(
    '/apps/:clientId/secrets',
    {
      schema: {
        tags,
        operationId: 'listAppSecrets',
        summary: 'List the app’s client secrets (never their values)',
        params: AppParams,
        response: {
          200: collectionOf(refTo(AppSecretInfoSchema), 'The secrets, oldest first, expired ones included.'),
          ...errorResponses(404),
        },
      },
    },
    async (request) => {
      const record = await apps.findOwned(request.params.tenant, request.params.clientId);
      return { value: record.secrets.map(appSecretInfoOf) };
    },
  );

  app.post(
    '/apps/:clientId/secrets',
    {
      schema: {
        tags,
        operationId: 'addAppSecret',
        summary: 'Add a client secret beside the current one',
        description:
          'The first step of a rotation without an outage: both secrets work at the token endpoint until one is removed or expires. At most two unexpired secrets (409 otherwise; expired ones are cleared away). The new secret is in this answer only.',
        params: AppParams,
        body: NewAppSecretBody,
        response: { 201: answer(AppSecretSchema, 'The new secret, shown only here.'), ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const { tenant, clientId } = request.params;
      const secret = await inApiTerms(() =>
        directory.secrets.add(tenant, clientId, actorOf(request), request.body?.expiresInDays),
      );
      return reply.status(201).send(newSecretOf(clientId, secret));
    },
  );

  app.delete(
    '/apps/:clientId/secrets/:secretId',
    {
      schema: {
        tags,
        operationId: 'removeAppSecret',
        summary: 'Remove one client secret',
        description: 'It stops working at once: the token endpoint refuses it with `invalid_client`.',
        params: AppSecretParams,
        response: { 204: noContent('Removed.'), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const { tenant, clientId, secretId } = request.params;
      await directory.secrets.remove(tenant, clientId, secretId, actorOf(request));
      return reply.status(204).send();
    },
  );
};

/** Only the fields present: the directory leaves the others as they are. */
function appChangesOf(body: Static<typeof AppChangesBody>): AppChanges {
  const changes: AppChanges = {};
  if (body.name !== undefined) changes.name = body.name;
  if (body.multiTenant !== undefined) changes.multiTenant = body.multiTenant;
  if (body.redirectUris !== undefined) changes.redirectUris = body.redirectUris;
  if (body.postLogoutRedirectUris !== undefined) changes.postLogoutRedirectUris = body.postLogoutRedirectUris;
  if (body.permissions !== undefined) changes.scopes = body.permissions;
  if (body.optionalPermissions !== undefined) changes.optionalScopes = body.optionalPermissions;
  if (body.homepageUrl !== undefined) changes.homepageUrl = body.homepageUrl;
  if (body.privacyUrl !== undefined) changes.privacyUrl = body.privacyUrl;
  if (body.termsUrl !== undefined) changes.termsUrl = body.termsUrl;
  if (body.logoUrl !== undefined) changes.logoUrl = body.logoUrl;
  return changes;
}

/** The directory names fields as the CLI does (`redirect_uris`); this API says `redirectUris`. */
const API_FIELDS: Record<string, string> = {
  redirect_uris: 'redirectUris',
  homepage_url: 'homepageUrl',
  privacy_url: 'privacyUrl',
  terms_url: 'termsUrl',
  logo_url: 'logoUrl',
  optional_permissions: 'optionalPermissions',
};

async function inApiTerms<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const field = error instanceof AccordError ? error.details.field : undefined;
    if (!(error instanceof AccordError) || typeof field !== 'string') throw error;
    const apiField = API_FIELDS[field] ?? field;
    const description = error.description.replaceAll(field, apiField);
    throw new AccordError(
      error.status,
      error.code,
      description.includes(apiField) ? description : `${apiField}: ${description}`,
      { ...error.details, field: apiField },
      error.headers,
    );
  }
}
