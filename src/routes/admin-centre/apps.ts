// Apps: the registrations (OAuth clients) the admin's tenant publishes — list, register, change,
// rotate the secret, remove. A client secret is shown once, on the page answering the POST that
// made it, and never again. A rejected form is shown again with the message and what was typed;
// nothing is written.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { type Static, Type } from 'typebox';
import { AccordError } from '../../core/errors.js';
import type { AppRecord } from '../../db/apps.js';
import type { UserRecord } from '../../db/users.js';
import { CsrfOnlyBody, csrfField } from '../schema-parts.js';
import type { AdminCentreContext } from './deps.js';
import { inTenant, NOT_IN_TENANT, pageData, pageMessage, requireAdmin } from './guard.js';
import { ClientIdParams, RemovedQuery } from './schemas.js';

const LIST = '/admin/apps';

/** What the form shows: the app's values, or what the admin typed. */
interface AppFormValues {
  name: string;
  redirectUris: string;
  postLogoutRedirectUris: string;
  permissions: string[];
  multiTenant: boolean;
  public: boolean;
}

/** The register and change forms: URIs one a line, checkboxes present when ticked. */
const AppFormBody = Type.Object({
  _csrf: csrfField,
  name: Type.Optional(Type.String({ maxLength: 2000 })),
  redirect_uris: Type.Optional(Type.String({ maxLength: 50_000 })),
  post_logout_redirect_uris: Type.Optional(Type.String({ maxLength: 50_000 })),
  permissions: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 200 })),
  multi_tenant: Type.Optional(Type.String({ maxLength: 10 })),
  public: Type.Optional(Type.String({ maxLength: 10 })),
});

/** One URI a line; blank lines and surrounding spaces ignored. */
function lines(text: string | undefined): string[] {
  return (text ?? '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

function valuesOfBody(body: Static<typeof AppFormBody>): AppFormValues {
  return {
    name: body.name ?? '',
    redirectUris: body.redirect_uris ?? '',
    postLogoutRedirectUris: body.post_logout_redirect_uris ?? '',
    permissions: body.permissions ?? [],
    multiTenant: body.multi_tenant !== undefined,
    public: body.public !== undefined,
  };
}

function valuesOfApp(app: AppRecord): AppFormValues {
  return {
    name: app.name,
    redirectUris: app.redirectUris.join('\n'),
    postLogoutRedirectUris: app.postLogoutRedirectUris.join('\n'),
    permissions: app.scopes,
    multiTenant: app.multiTenant,
    public: app.clientType === 'public',
  };
}

/** A rejected form: the message in the page's language, and the field it is about. */
function formError(reply: FastifyReply, error: AccordError) {
  return { message: pageMessage(reply, error), field: error.details.field };
}

export const appsPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { apps: publishedApps, portal, directory, catalogue, navItems } = context;

  /** The admin's tenant's own registration, or 404 (another tenant's app is answered as none). */
  const ownApp = (user: UserRecord, clientId: string) =>
    inTenant(publishedApps.findOwned(user.tenantId, clientId, NOT_IN_TENANT));

  /** What the tenant's apps may ask for: a single-tenant API of another tenant is not offered. */
  const permissionsView = (user: UserRecord) =>
    catalogue.permissions.filter((permission) => catalogue.availableTo(permission.scope, user.tenantId));

  function renderNew(reply: FastifyReply, user: UserRecord, values: AppFormValues, error?: AccordError) {
    if (error) reply.status(error.status);
    return reply.view('admin/app-new', {
      ...pageData(reply, user, 'apps', navItems),
      values,
      permissions: permissionsView(user),
      error: error ? formError(reply, error) : undefined,
    });
  }

  function renderDetail(
    reply: FastifyReply,
    user: UserRecord,
    record: AppRecord,
    extra: { values?: AppFormValues; error?: AccordError; updated?: boolean } = {},
  ) {
    if (extra.error) reply.status(extra.error.status);
    return reply.view('admin/app', {
      ...pageData(reply, user, 'apps', navItems),
      app: record,
      values: extra.values ?? valuesOfApp(record),
      permissions: permissionsView(user),
      adminPermissions: record.scopes
        .filter((scope) => catalogue.adminConsentRequired(scope))
        .map((scope) => catalogue.get(scope))
        .filter((permission) => permission !== undefined),
      updated: extra.updated ?? false,
      error: extra.error ? formError(reply, extra.error) : undefined,
      base: `${LIST}/${encodeURIComponent(record.clientId)}`,
    });
  }

  app.get(LIST, { schema: { querystring: RemovedQuery } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, LIST);
    if (!user) return reply;
    const apps = await publishedApps.list(user.tenantId);
    return reply.view('admin/apps', {
      ...pageData(reply, user, 'apps', navItems),
      apps,
      removed: request.query.removed,
    });
  });

  app.get(`${LIST}/new`, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, `${LIST}/new`);
    if (!user) return reply;
    return renderNew(reply, user, {
      name: '',
      redirectUris: '',
      postLogoutRedirectUris: '',
      permissions: ['openid', 'profile', 'User.Read'],
      multiTenant: false,
      public: false,
    });
  });

  app.post(LIST, { preValidation: app.csrfProtection, schema: { body: AppFormBody } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, `${LIST}/new`);
    if (!user) return reply;
    const values = valuesOfBody(request.body);
    try {
      const { app: created, clientSecret } = await directory.createApp(
        {
          publisherTenantId: user.tenantId,
          name: values.name,
          multiTenant: values.multiTenant,
          public: values.public,
          redirectUris: lines(values.redirectUris),
          postLogoutRedirectUris: lines(values.postLogoutRedirectUris),
          scopes: values.permissions,
        },
        user.id,
      );
      return reply.status(201).view('admin/app-secret', {
        ...pageData(reply, user, 'apps', navItems),
        app: created,
        secret: clientSecret,
        reason: 'registered',
      });
    } catch (error) {
      if (error instanceof AccordError && error.status < 500) return renderNew(reply, user, values, error);
      throw error;
    }
  });

  app.get(
    `${LIST}/:clientId`,
    {
      schema: {
        params: ClientIdParams,
        querystring: Type.Object({ updated: Type.Optional(Type.String({ maxLength: 10 })) }),
      },
    },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply);
      if (!user) return reply;
      return renderDetail(reply, user, await ownApp(user, request.params.clientId), {
        updated: request.query.updated !== undefined,
      });
    },
  );

  app.post(
    `${LIST}/:clientId`,
    { preValidation: app.csrfProtection, schema: { params: ClientIdParams, body: AppFormBody } },
    async (request, reply) => {
      const page = `${LIST}/${encodeURIComponent(request.params.clientId)}`;
      const user = await requireAdmin(portal, request, reply, page);
      if (!user) return reply;
      const record = await ownApp(user, request.params.clientId);
      const values = { ...valuesOfBody(request.body), public: record.clientType === 'public' };
      try {
        await directory.updateApp(
          user.tenantId,
          record.clientId,
          {
            name: values.name,
            redirectUris: lines(values.redirectUris),
            postLogoutRedirectUris: lines(values.postLogoutRedirectUris),
            scopes: values.permissions,
            multiTenant: values.multiTenant,
          },
          user.id,
        );
      } catch (error) {
        if (error instanceof AccordError && error.status < 500 && error.status !== 404)
          return renderDetail(reply, user, record, { values, error });
        throw error;
      }
      return reply.redirect(`${page}?updated=1`, 303);
    },
  );

  app.post(
    `${LIST}/:clientId/secret`,
    { preValidation: app.csrfProtection, schema: { params: ClientIdParams, body: CsrfOnlyBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, `${LIST}/${encodeURIComponent(request.params.clientId)}`);
      if (!user) return reply;
      const record = await ownApp(user, request.params.clientId);
      const secret = await directory.rotateAppSecret(user.tenantId, record.clientId, user.id);
      return reply.view('admin/app-secret', {
        ...pageData(reply, user, 'apps', navItems),
        app: record,
        secret,
        reason: 'rotated',
      });
    },
  );

  app.get(`${LIST}/:clientId/remove`, { schema: { params: ClientIdParams } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply);
    if (!user) return reply;
    const record = await ownApp(user, request.params.clientId);
    return reply.view('admin/confirm', {
      ...pageData(reply, user, 'apps', navItems),
      marker: 'admin-app-remove',
      heading: { key: 'admin:appRemove.heading', vars: { name: record.name } },
      consequences: [
        { key: 'admin:appRemove.deleted' },
        { key: 'admin:appRemove.consents' },
        { key: 'admin:appRemove.final' },
      ],
      action: `${LIST}/${encodeURIComponent(record.clientId)}/remove`,
      confirmLabel: { key: 'admin:appRemove.confirm' },
      cancelUrl: `${LIST}/${encodeURIComponent(record.clientId)}`,
    });
  });

  app.post(
    `${LIST}/:clientId/remove`,
    { preValidation: app.csrfProtection, schema: { params: ClientIdParams, body: CsrfOnlyBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, LIST);
      if (!user) return reply;
      const record = await ownApp(user, request.params.clientId);
      await directory.deleteApp(user.tenantId, record.clientId, user.id);
      return reply.redirect(`${LIST}?${new URLSearchParams({ removed: record.name }).toString()}`, 303);
    },
  );
};
