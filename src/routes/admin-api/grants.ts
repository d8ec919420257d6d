// Grants that live the life organisations need (issue 15), for the tenant's admins: lifetimes by
// impact class and per app, the consents expiring soon with renew and let lapse, and the
// over-privilege report with "reduce to what is used" (services/grant-lifecycle.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MAX_GRANT_LIFETIME_DAYS } from '../../core/grant-lifetime.js';
import type { ExpiringConsent, OverPrivilegedGrant, TenantGrantLifetimes } from '../../services/grant-lifecycle.js';
import type { AdminApiDeps } from './deps.js';
import { actorOf } from './require-tenant-admin.js';
import { AppParams, collectionOf, errorResponses, refTo, TenantParams } from './schemas.js';

const tags = ['Grants'];

const days = (description: string) =>
  Type.Unsafe<number | null>({
    type: ['integer', 'null'],
    minimum: 1,
    maximum: MAX_GRANT_LIFETIME_DAYS,
    description,
  });
const timestamp = (description: string) => Type.String({ format: 'date-time', description });
const nullableTimestamp = (description: string) =>
  Type.Unsafe<string | null>({ type: ['string', 'null'], format: 'date-time', description });
const nullableString = (description: string) => Type.Unsafe<string | null>({ type: ['string', 'null'], description });

const lifetimeClasses = {
  default: days('Days for every class without its own; null or absent: no expiry.'),
  low: days('Days for grants holding a low-impact permission.'),
  medium: days('Days for grants holding a medium-impact permission.'),
  high: days('Days for grants holding a high-impact permission.'),
};

const GrantLifetimesSchema = Type.Object(
  {
    classes: Type.Object(Type.Partial(Type.Object(lifetimeClasses)).properties, {
      description: 'Days by impact class. A grant lives as long as the shortest class of its permissions allows.',
    }),
    apps: Type.Array(
      Type.Object({
        clientId: Type.String(),
        lifetimeDays: days('The app’s own lifetime in this tenant; null: its grants never expire.'),
      }),
      { description: 'Apps whose lifetime replaces the classes in this tenant.' },
    ),
  },
  { $id: 'GrantLifetimes' },
);

const ExpiringConsentSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('user'), Type.Literal('admin')], {
      description: '`user`: a user’s own consent (it expires); `admin`: the admin consent (due for review).',
    }),
    clientId: Type.String(),
    appName: Type.String(),
    userId: nullableString('The user, for a user’s consent.'),
    username: nullableString('The user’s username, for a user’s consent.'),
    scopes: Type.Array(Type.String()),
    expiresAt: timestamp('When it expires (a user’s consent) or lapses unless renewed (an admin consent).'),
    lapseChosenAt: nullableTimestamp('When an admin chose to let it lapse; null when nobody did.'),
  },
  { $id: 'ExpiringConsent' },
);

const OverPrivilegedGrantSchema = Type.Object(
  {
    userId: Type.String(),
    username: Type.String(),
    clientId: Type.String(),
    appName: Type.String(),
    scopes: Type.Array(Type.String(), { description: 'What the user granted.' }),
    unusedScopes: Type.Array(Type.String(), { description: 'Granted scopes no token carried in the period.' }),
    unusedAltogether: Type.Boolean({ description: 'No token of the grant was issued in the period.' }),
    grantedAt: timestamp('When the user first consented.'),
    lastUsedAt: nullableTimestamp('When a token of the grant was last issued; null: never since recording began.'),
  },
  { $id: 'OverPrivilegedGrant' },
);

/** The shared schemas of this file, added by the admin API's mount. */
export const grantSchemas = [GrantLifetimesSchema, ExpiringConsentSchema, OverPrivilegedGrantSchema];

const LifetimesBody = Type.Object(Type.Partial(Type.Object(lifetimeClasses)).properties, {
  additionalProperties: false,
  minProperties: 1,
  description: 'The classes to change: days, or null for no expiry from that class. Classes not named stay.',
});
const AppLifetimeBody = Type.Object(
  { lifetimeDays: days('Days; null: the app’s grants never expire in this tenant.') },
  { additionalProperties: false },
);
const ConsentBody = Type.Object(
  {
    clientId: Type.String({ minLength: 1, maxLength: 200 }),
    userId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'The user, for a user’s consent; absent: the admin consent.',
      }),
    ),
  },
  { additionalProperties: false },
);
const ReduceBody = Type.Object(
  {
    clientId: Type.String({ minLength: 1, maxLength: 200 }),
    userId: Type.String({ minLength: 1, maxLength: 200 }),
    unusedDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'The period (default 90).' })),
  },
  { additionalProperties: false },
);
const ExpiringQuery = Type.Object(
  { days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, description: 'The window (default 30).' })) },
  { additionalProperties: false },
);
const UnusedQuery = Type.Object(
  {
    unusedDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 3650, description: 'Unused for this many days (default 90).' }),
    ),
  },
  { additionalProperties: false },
);

const lifetimesAnswer = refTo(GrantLifetimesSchema, { description: 'The tenant’s grant lifetimes.' });
const Renewed = Type.Object(
  { expiresAt: nullableTimestamp('The new expiry or review date; null: it no longer expires.') },
  { description: 'Renewed.' },
);

export const grantsRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (app, { grantLifecycle }) => {
  app.get(
    '/grant-lifetimes',
    {
      schema: {
        tags,
        operationId: 'getGrantLifetimes',
        summary: 'How long grants live in the tenant, by impact class and per app',
        params: TenantParams,
        response: { 200: lifetimesAnswer, ...errorResponses() },
      },
    },
    async (request) => lifetimesOf(await grantLifecycle.lifetimes(request.params.tenant)),
  );

  app.patch(
    '/grant-lifetimes',
    {
      schema: {
        tags,
        operationId: 'updateGrantLifetimes',
        summary: 'Change the lifetimes of grants by impact class',
        description:
          'Applies to consents given or renewed from now on. A lifetime is 1 to 36,500 days; below one day is refused and nothing changes.',
        params: TenantParams,
        body: LifetimesBody,
        response: { 200: lifetimesAnswer, ...errorResponses() },
      },
    },
    async (request) =>
      lifetimesOf(
        await grantLifecycle.setTenantLifetimes(
          request.params.tenant,
          Object.fromEntries(Object.entries(request.body).filter(([, value]) => value !== undefined)),
          actorOf(request),
        ),
      ),
  );

  app.patch(
    '/enterprise-apps/:clientId/grant-lifetime',
    {
      schema: {
        tags,
        operationId: 'setAppGrantLifetime',
        summary: 'Give one app’s grants a lifetime of their own in the tenant',
        params: AppParams,
        body: AppLifetimeBody,
        response: { 200: lifetimesAnswer, ...errorResponses(404) },
      },
    },
    async (request) =>
      lifetimesOf(
        await grantLifecycle.setAppLifetime(
          request.params.tenant,
          request.params.clientId,
          request.body.lifetimeDays,
          actorOf(request),
        ),
      ),
  );

  app.delete(
    '/enterprise-apps/:clientId/grant-lifetime',
    {
      schema: {
        tags,
        operationId: 'removeAppGrantLifetime',
        summary: 'Let one app’s grants follow the tenant’s classes again',
        params: AppParams,
        response: { 200: lifetimesAnswer, ...errorResponses(404) },
      },
    },
    async (request) =>
      lifetimesOf(
        await grantLifecycle.setAppLifetime(
          request.params.tenant,
          request.params.clientId,
          'inherit',
          actorOf(request),
        ),
      ),
  );

  app.get(
    '/expiring-consents',
    {
      schema: {
        tags,
        operationId: 'listExpiringConsents',
        summary: 'Users’ consents and admin consents expiring soon, soonest first',
        params: TenantParams,
        querystring: ExpiringQuery,
        response: {
          200: collectionOf(refTo(ExpiringConsentSchema), 'Expiring within the window (default 30 days).'),
          ...errorResponses(),
        },
      },
    },
    async (request) => ({
      value: (await grantLifecycle.expiring(request.params.tenant, request.query.days)).map(expiringOf),
    }),
  );

  app.post(
    '/expiring-consents/renew',
    {
      schema: {
        tags,
        operationId: 'renewConsent',
        summary: 'Renew a user’s consent or the admin consent for a new lifetime from now (audited)',
        params: TenantParams,
        body: ConsentBody,
        response: { 200: Renewed, ...errorResponses(404, 409) },
      },
    },
    async (request) => {
      const { tenant } = request.params;
      const { clientId, userId } = request.body;
      const expiresAt = userId
        ? await grantLifecycle.renewUserConsent(tenant, userId, clientId, actorOf(request))
        : await grantLifecycle.renewAdminConsent(tenant, clientId, actorOf(request));
      return { expiresAt: expiresAt?.toISOString() ?? null };
    },
  );

  app.post(
    '/expiring-consents/let-lapse',
    {
      schema: {
        tags,
        operationId: 'letConsentLapse',
        summary: 'Record that a consent is to lapse at its expiry (audited)',
        params: TenantParams,
        body: ConsentBody,
        response: { 204: Type.Unsafe<undefined>({ type: 'null', description: 'Recorded.' }), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const { tenant } = request.params;
      const { clientId, userId } = request.body;
      if (userId) await grantLifecycle.letUserConsentLapse(tenant, userId, clientId, actorOf(request));
      else await grantLifecycle.letAdminConsentLapse(tenant, clientId, actorOf(request));
      return reply.status(204).send();
    },
  );

  app.get(
    '/over-privileged-grants',
    {
      schema: {
        tags,
        operationId: 'listOverPrivilegedGrants',
        summary: 'Users’ grants holding scopes no token carried for a period',
        params: TenantParams,
        querystring: UnusedQuery,
        response: {
          200: collectionOf(refTo(OverPrivilegedGrantSchema), 'Over-privileged grants, by app then user.'),
          ...errorResponses(),
        },
      },
    },
    async (request) => ({
      value: (await grantLifecycle.overPrivileged(request.params.tenant, request.query.unusedDays)).map(
        overPrivilegedOf,
      ),
    }),
  );

  app.post(
    '/over-privileged-grants/reduce',
    {
      schema: {
        tags,
        operationId: 'reduceGrantToUsed',
        summary: 'Remove the unused scopes from a user’s grant (audited)',
        description:
          'The grant that held them is narrowed in place: a token carrying a removed scope is refused at its next request, a refresh yields what is left (same grant_id), and the next sign-in gets it without asking. What the organisation’s admin consent grants stays; a grant left with nothing is revoked.',
        params: TenantParams,
        body: ReduceBody,
        response: {
          200: Type.Object(
            {
              removed: Type.Array(Type.String()),
              scopes: Type.Array(Type.String(), { description: 'What the user’s consent holds now.' }),
            },
            { description: 'Reduced.' },
          ),
          ...errorResponses(404, 409),
        },
      },
    },
    async (request) => {
      const { clientId, userId, unusedDays } = request.body;
      return grantLifecycle.reduceToUsed(request.params.tenant, userId, clientId, actorOf(request), unusedDays);
    },
  );
};

function lifetimesOf(lifetimes: TenantGrantLifetimes) {
  return { classes: lifetimes.classes, apps: lifetimes.apps };
}

function expiringOf(item: ExpiringConsent) {
  return {
    kind: item.kind,
    clientId: item.clientId,
    appName: item.appName,
    userId: item.userId,
    username: item.username,
    scopes: item.scopes,
    expiresAt: item.expiresAt.toISOString(),
    lapseChosenAt: item.lapseChosenAt?.toISOString() ?? null,
  };
}

function overPrivilegedOf(grant: OverPrivilegedGrant) {
  return {
    ...grant,
    grantedAt: grant.grantedAt.toISOString(),
    lastUsedAt: grant.lastUsedAt?.toISOString() ?? null,
  };
}
