// Apps: the registrations (OAuth clients) the admin's tenant publishes — list, register, change,
// manage the client secrets (two at a time, each with an expiry), remove. Every POST answers with
// a redirect to a GET page (post/redirect/get), so a reload never repeats it; a new client secret
// is shown once, on the GET page after its POST (secret-reveal.ts). Replacing the secrets, removing
// a secret and removing the app each ask for confirmation on a page of their own first. A
// rejected form is shown again with the message and what was typed; nothing is written.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { type Static, Type } from 'typebox';
import { AccordError, NotFound } from '../../core/errors.js';
import type { AppRecord, AppWithSecrets } from '../../db/apps.js';
import type { UserRecord } from '../../db/users.js';
import { MAX_LIVE_SECRETS, MAX_SECRET_LIFETIME_DAYS, type NewSecret } from '../../services/app-secrets.js';
import { CsrfOnlyBody, csrfField, stringEnum } from '../schema-parts.js';
import type { AdminCentreContext } from './deps.js';
import { inTenant, NOT_IN_TENANT, pageData, pageMessage, requireAdmin } from './guard.js';
import { AppsListQuery, ClientIdParams } from './schemas.js';

/** The lifetimes offered for a new secret, in days (the API and CLI take any from 1 to 730). */
const LIFETIME_CHOICES = [30, 90, 180, 365, MAX_SECRET_LIFETIME_DAYS] as const;

const SecretParams = Type.Object({
  clientId: Type.String({ minLength: 1, maxLength: 200 }),
  // Secret ids are base64url (or `original`): anything else is a 400 before it reaches the database.
  secretId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
});

/** "Add a secret": its lifetime, one of the offered choices. */
const AddSecretBody = Type.Object({
  _csrf: csrfField,
  expires_in_days: Type.Optional(stringEnum(LIFETIME_CHOICES.map(String))),
});

/** `?done=…`: the detail page's notice after a change. */
const DetailQuery = Type.Object({
  updated: Type.Optional(Type.String({ maxLength: 10 })),
  done: Type.Optional(stringEnum(['secret-removed'])),
});

const LIST = '/admin/apps';

/** What the form shows: the app's values, or what the admin typed. */
interface AppFormValues {
  name: string;
  redirectUris: string;
  postLogoutRedirectUris: string;
  permissions: string[];
  optionalPermissions: string[];
  multiTenant: boolean;
  public: boolean;
  homepageUrl: string;
  privacyUrl: string;
  termsUrl: string;
  logoUrl: string;
}

/** The register and change forms: URIs one a line, checkboxes present when ticked. */
const AppFormBody = Type.Object({
  _csrf: csrfField,
  name: Type.Optional(Type.String({ maxLength: 2000 })),
  redirect_uris: Type.Optional(Type.String({ maxLength: 50_000 })),
  post_logout_redirect_uris: Type.Optional(Type.String({ maxLength: 50_000 })),
  permissions: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 200 })),
  optional_permissions: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 200 })),
  multi_tenant: Type.Optional(Type.String({ maxLength: 10 })),
  public: Type.Optional(Type.String({ maxLength: 10 })),
  homepage_url: Type.Optional(Type.String({ maxLength: 2000 })),
  privacy_url: Type.Optional(Type.String({ maxLength: 2000 })),
  terms_url: Type.Optional(Type.String({ maxLength: 2000 })),
  logo_url: Type.Optional(Type.String({ maxLength: 2000 })),
});

/** A link field: blank means none. */
const link = (value: string): string | null => value.trim() || null;

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
    optionalPermissions: body.optional_permissions ?? [],
    multiTenant: body.multi_tenant !== undefined,
    public: body.public !== undefined,
    homepageUrl: body.homepage_url ?? '',
    privacyUrl: body.privacy_url ?? '',
    termsUrl: body.terms_url ?? '',
    logoUrl: body.logo_url ?? '',
  };
}

function valuesOfApp(app: AppRecord): AppFormValues {
  return {
    name: app.name,
    redirectUris: app.redirectUris.join('\n'),
    postLogoutRedirectUris: app.postLogoutRedirectUris.join('\n'),
    permissions: app.scopes,
    optionalPermissions: app.optionalScopes,
    multiTenant: app.multiTenant,
    public: app.clientType === 'public',
    homepageUrl: app.homepageUrl ?? '',
    privacyUrl: app.privacyUrl ?? '',
    termsUrl: app.termsUrl ?? '',
    logoUrl: app.logoUrl ?? '',
  };
}

/** A rejected form: the message in the page's language, and the field it is about. */
function formError(reply: FastifyReply, error: AccordError) {
  return { message: pageMessage(reply, error), field: error.details.field };
}

export const appsPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { apps: publishedApps, portal, directory, catalogue, navItems, secretReveal } = context;
  const base = (clientId: string) => `${LIST}/${encodeURIComponent(clientId)}`;

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
    record: AppWithSecrets,
    extra: {
      values?: AppFormValues;
      error?: AccordError;
      secretError?: AccordError;
      updated?: boolean;
      done?: string;
    } = {},
  ) {
    const now = Date.now();
    const refusal = extra.error ?? extra.secretError;
    if (refusal) reply.status(refusal.status);
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
      done: extra.done,
      error: extra.error ? formError(reply, extra.error) : undefined,
      secretError: extra.secretError ? pageMessage(reply, extra.secretError) : undefined,
      base: base(record.clientId),
      secrets: record.secrets.map((secret) => ({ ...secret, expired: secret.expiresAt.getTime() <= now })),
      canAddSecret: record.secrets.filter((secret) => secret.expiresAt.getTime() > now).length < MAX_LIVE_SECRETS,
      maxSecrets: MAX_LIVE_SECRETS,
      lifetimes: LIFETIME_CHOICES,
    });
  }

  app.get(LIST, { schema: { querystring: AppsListQuery } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, LIST);
    if (!user) return reply;
    const search = request.query.search?.trim() ?? '';
    const apps = await publishedApps.list(user.tenantId, { search });
    return reply.view('admin/apps', {
      ...pageData(reply, user, 'apps', navItems),
      apps,
      search,
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
      optionalPermissions: [],
      multiTenant: false,
      public: false,
      homepageUrl: '',
      privacyUrl: '',
      termsUrl: '',
      logoUrl: '',
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
          optionalScopes: values.optionalPermissions,
          homepageUrl: link(values.homepageUrl),
          privacyUrl: link(values.privacyUrl),
          termsUrl: link(values.termsUrl),
          logoUrl: link(values.logoUrl),
        },
        user.id,
      );
      const secret = created.secrets[0];
      secretReveal.stash(reply, user.id, {
        clientId: created.clientId,
        reason: 'registered',
        ...(clientSecret && secret
          ? { secret: { id: secret.id, value: clientSecret, expiresAt: secret.expiresAt.toISOString() } }
          : {}),
      });
      return reply.redirect(`${base(created.clientId)}/new-secret`, 303);
    } catch (error) {
      if (error instanceof AccordError && error.status < 500) return renderNew(reply, user, values, error);
      throw error;
    }
  });

  app.get(
    `${LIST}/:clientId`,
    {
      schema: { params: ClientIdParams, querystring: DetailQuery },
    },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply);
      if (!user) return reply;
      return renderDetail(reply, user, await ownApp(user, request.params.clientId), {
        updated: request.query.updated !== undefined,
        ...(request.query.done ? { done: request.query.done } : {}),
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
            optionalScopes: values.optionalPermissions,
            multiTenant: values.multiTenant,
            homepageUrl: link(values.homepageUrl),
            privacyUrl: link(values.privacyUrl),
            termsUrl: link(values.termsUrl),
            logoUrl: link(values.logoUrl),
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

  // The one showing of a secret just made (or, for a public app, of its registration).
  app.get(`${LIST}/:clientId/new-secret`, { schema: { params: ClientIdParams } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply);
    if (!user) return reply;
    const record = await ownApp(user, request.params.clientId);
    const revealed = secretReveal.take(request, reply, user.id, record.clientId);
    return reply.view('admin/app-secret', {
      ...pageData(reply, user, 'apps', navItems),
      app: record,
      reason: revealed?.reason,
      secret: revealed?.secret,
    });
  });

  // Replace every secret with a new one: confirm first, as the app stops working until it has it.
  app.get(`${LIST}/:clientId/secret`, { schema: { params: ClientIdParams } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply);
    if (!user) return reply;
    const record = await ownApp(user, request.params.clientId);
    return reply.view('admin/confirm', {
      ...pageData(reply, user, 'apps', navItems),
      marker: 'admin-app-rotate',
      heading: { key: 'admin:secrets.rotateHeading', vars: { name: record.name } },
      consequences: [
        { key: 'admin:secrets.rotateNew' },
        { key: 'admin:secrets.rotateOld', vars: { count: record.secrets.length } },
        { key: 'admin:secrets.rotateInstead' },
      ],
      action: `${base(record.clientId)}/secret`,
      confirmLabel: { key: 'admin:secrets.rotateConfirm' },
      cancelUrl: base(record.clientId),
    });
  });

  app.post(
    `${LIST}/:clientId/secret`,
    { preValidation: app.csrfProtection, schema: { params: ClientIdParams, body: CsrfOnlyBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, base(request.params.clientId));
      if (!user) return reply;
      const record = await ownApp(user, request.params.clientId);
      const secret = await directory.secrets.replace(user.tenantId, record.clientId, user.id);
      return showOnce(reply, user, record, 'rotated', secret);
    },
  );

  // Add a second secret beside the current one (no confirmation: nothing stops working).
  app.post(
    `${LIST}/:clientId/secrets`,
    { preValidation: app.csrfProtection, schema: { params: ClientIdParams, body: AddSecretBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, base(request.params.clientId));
      if (!user) return reply;
      const record = await ownApp(user, request.params.clientId);
      const days = request.body.expires_in_days === undefined ? undefined : Number(request.body.expires_in_days);
      try {
        const secret = await directory.secrets.add(user.tenantId, record.clientId, user.id, days);
        return showOnce(reply, user, record, 'added', secret);
      } catch (error) {
        if (error instanceof AccordError && error.status === 409)
          return renderDetail(reply, user, record, { secretError: error });
        throw error;
      }
    },
  );

  app.get(
    `${LIST}/:clientId/secrets/:secretId/remove`,
    { schema: { params: SecretParams } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply);
      if (!user) return reply;
      const record = await ownApp(user, request.params.clientId);
      const secret = record.secrets.find((candidate) => candidate.id === request.params.secretId);
      if (!secret) throw NotFound('the app has no client secret with this id').withMessage('admin:secrets.notFound');
      const live = record.secrets.filter((candidate) => candidate.expiresAt.getTime() > Date.now());
      const lastLive = live.length === 1 && live[0]!.id === secret.id;
      return reply.view('admin/confirm', {
        ...pageData(reply, user, 'apps', navItems),
        marker: 'admin-app-secret-remove',
        heading: { key: 'admin:secrets.removeHeading', vars: { hint: secret.hint ?? secret.id, name: record.name } },
        consequences: [
          { key: 'admin:secrets.removeStops' },
          lastLive ? { key: 'admin:secrets.removeLast' } : { key: 'admin:secrets.removeOther' },
        ],
        action: `${base(record.clientId)}/secrets/${encodeURIComponent(secret.id)}/remove`,
        confirmLabel: { key: 'admin:secrets.removeConfirm' },
        cancelUrl: base(record.clientId),
      });
    },
  );

  app.post(
    `${LIST}/:clientId/secrets/:secretId/remove`,
    { preValidation: app.csrfProtection, schema: { params: SecretParams, body: CsrfOnlyBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, base(request.params.clientId));
      if (!user) return reply;
      const record = await ownApp(user, request.params.clientId);
      await directory.secrets.remove(user.tenantId, record.clientId, request.params.secretId, user.id);
      return reply.redirect(`${base(record.clientId)}?done=secret-removed`, 303);
    },
  );

  /** Post/redirect/get for a new secret: stashed for the next GET, which shows it once. */
  function showOnce(
    reply: FastifyReply,
    user: UserRecord,
    record: AppRecord,
    reason: 'added' | 'rotated',
    secret: NewSecret,
  ) {
    secretReveal.stash(reply, user.id, {
      clientId: record.clientId,
      reason,
      secret: { id: secret.id, value: secret.value, expiresAt: secret.expiresAt.toISOString() },
    });
    return reply.redirect(`${base(record.clientId)}/new-secret`, 303);
  }

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
