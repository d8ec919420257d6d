// The sample data API (`<issuer>/data/v1`, docs/interfaces.md, "The data API"):
// a user's profile, calendar, files and sent mail, and the tenant's sites. A real resource server:
// every route checks the access token and its scope before anything else (onRequest, so a caller
// without a token learns nothing about the request's shape), and a token reaches only its own
// user's rows — or, with an admin-consented `*.All` permission, rows inside its own tenant.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, type TSchema, Type } from 'typebox';
import type { UserRecord } from '../db/users.js';
import {
  BearerError,
  type ResourceServerOptions,
  requireOwner,
  resourceServerPlugin,
} from '../plugins/resource-server.js';
import { useStrictValidation } from '../plugins/strict-validation.js';
import type { Owner, Page, SampleData } from '../services/sample-data.js';

export interface DataApiOptions {
  sampleData: SampleData;
  /** Token checks for this resource (audience `<issuer>/data/v1`). */
  resourceServer: ResourceServerOptions;
}

// ---- schemas: each gives its type (Static) --------------------------------------------------

/**
 * A validated query or body as it is: Ajv (`useDefaults`) has given every optional field its
 * default, and every optional field of these request schemas has one (Static cannot say so).
 */
function withDefaults<T extends object>(validated: T): Required<T> {
  return validated as Required<T>;
}

const Id = Type.String({ minLength: 1, maxLength: 100 });
const DateTimeText = Type.String({ format: 'date-time' });
/** The handlers reply with Dates; the serialiser writes them as RFC 3339 date-times. */
const Timestamp = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
/**
 * Written as a type list, as JSON Schema allows: TypeBox would write an `anyOf`, which changes
 * the validation messages and makes the serialiser test each branch.
 */
const NullableString = { type: ['string', 'null'] } as const;
/** No body: the reply is sent empty. */
const NoContent = Type.Unsafe<undefined>({ type: 'null' });
const IdParams = Type.Object({ id: Id });

const PAGE_SIZE_MAX = 100;
const PageQuery = Type.Object({
  $top: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, default: PAGE_SIZE_MAX })),
  $skip: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, default: 0 })),
});

/** RFC 6750 error body (the WWW-Authenticate header carries the same code). */
const ErrorBody = Type.Object({
  error: Type.Optional(Type.String()),
  error_description: Type.Optional(Type.String()),
});

/** `{"value": [ … ]}`, with `@odata.nextLink` when another page follows. */
function collectionOf<Item extends TSchema>(item: Item) {
  return Type.Object({ value: Type.Array(item), '@odata.nextLink': Type.Optional(Type.String()) });
}

/** The success reply plus the error replies every route can give. */
function replies<Status extends number, Body extends TSchema>(status: Status, body: Body) {
  return { [status]: body, '4xx': ErrorBody } as { [S in Status]: Body } & { '4xx': typeof ErrorBody };
}

const Profile = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  username: Type.String(),
  displayName: Type.String(),
  email: NullableString,
});

const CalendarEvent = Type.Object({
  id: Id,
  subject: Type.String(),
  body: Type.String(),
  location: NullableString,
  start: Timestamp,
  end: Timestamp,
  createdAt: Timestamp,
});
const NewCalendarEvent = Type.Object(
  {
    subject: Type.String({ minLength: 1, maxLength: 200 }),
    body: Type.Optional(Type.String({ maxLength: 10_000, default: '' })),
    location: Type.Optional({ ...NullableString, maxLength: 200, default: null } as const),
    start: DateTimeText,
    end: DateTimeText,
  },
  { additionalProperties: false },
);

const driveFileProperties = {
  id: Id,
  name: Type.String(),
  contentType: Type.String(),
  size: Type.Integer(),
  createdAt: Timestamp,
};
const DriveFile = Type.Object(driveFileProperties);
const DriveFileWithContent = Type.Object({ ...driveFileProperties, content: Type.String() });
const NewDriveFile = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\u0000-\\u001f]+$' }),
    contentType: Type.Optional(
      Type.String({ maxLength: 100, pattern: '^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$', default: 'text/plain' }),
    ),
    content: Type.String({ maxLength: 32_768 }),
  },
  { additionalProperties: false },
);

const NewMail = Type.Object(
  {
    to: Type.Array(Type.String({ format: 'email', maxLength: 254 }), { minItems: 1, maxItems: 50 }),
    subject: Type.String({ maxLength: 200 }),
    body: Type.Optional(Type.String({ maxLength: 32_768, default: '' })),
  },
  { additionalProperties: false },
);

const SiteParams = Type.Object({
  site: Type.String({ maxLength: 64, pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$' }),
});
const SiteItem = Type.Object({ id: Id, title: Type.String(), content: Type.String(), createdAt: Timestamp });

// ---- who the token reaches -----------------------------------------------------------------

/**
 * The token's user and tenant. An app's own token (client credentials) has no `tid` (and, RFC 9068
 * §2.2, its `sub` is the client id), so it reaches no user's data.
 */
function tokenUser(request: FastifyRequest): Owner {
  const token = request.accessToken!;
  if (!token.sub || !token.tid)
    throw new BearerError(403, 'insufficient_scope', "A token without a signed-in user reaches no user's data.");
  return { tenantId: token.tid, userId: token.sub };
}

function toProfile(user: UserRecord): Static<typeof Profile> {
  return {
    id: user.id,
    tenant: user.tenantId,
    username: user.username,
    displayName: user.displayName,
    email: user.email,
  };
}

// ---- routes --------------------------------------------------------------------------------

export async function dataApiRoutes(instance: FastifyInstance, options: DataApiOptions): Promise<void> {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { sampleData } = options;
  await app.register(resourceServerPlugin, options.resourceServer);
  useStrictValidation(app);
  // Per-user data: never stored by a cache.
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  const scope = app.resourceServer.requireScope;
  const resourceUrl = options.resourceServer.audience;

  /** One page of a collection: `$top` items from `$skip`, and a link to the next page if any. */
  async function page<T>(request: FastifyRequest, query: Static<typeof PageQuery>, load: (page: Page) => Promise<T[]>) {
    const { $top, $skip } = withDefaults(query);
    const rows = await load({ limit: $top + 1, offset: $skip });
    if (rows.length <= $top) return { value: rows };
    const next = new URL(request.url, options.resourceServer.issuer);
    next.searchParams.set('$top', String($top));
    next.searchParams.set('$skip', String($skip + $top));
    return { value: rows.slice(0, $top), '@odata.nextLink': next.href };
  }

  // -- profiles

  app.get(
    '/me',
    { onRequest: scope('User.Read', 'User.Read.All'), schema: { response: replies(200, Profile) } },
    async (request) => {
      const { tenantId, userId } = tokenUser(request);
      return toProfile(await sampleData.user(tenantId, userId));
    },
  );

  app.get(
    '/users/:id',
    { onRequest: scope('User.Read', 'User.Read.All'), schema: { params: IdParams, response: replies(200, Profile) } },
    async (request) => {
      const { tenantId } = tokenUser(request);
      // Another user's profile needs the admin permission, and stays inside the token's tenant:
      // a user of another tenant is "not found", as if absent.
      if (!request.accessToken!.scopes.has('User.Read.All')) requireOwner(request, request.params.id);
      return toProfile(await sampleData.user(tenantId, request.params.id));
    },
  );

  // -- calendar

  const readCalendar = scope('Calendars.Read', 'Calendars.ReadWrite');
  const listEvents = { querystring: PageQuery, response: replies(200, collectionOf(CalendarEvent)) };

  app.get('/me/calendar/events', { onRequest: readCalendar, schema: listEvents }, async (request) => {
    const owner = tokenUser(request);
    return page(request, request.query, (rows) => sampleData.calendarEvents(owner, rows));
  });

  // There is no Calendars.Read.All: another user's calendar is never reachable.
  app.get(
    '/users/:id/calendar/events',
    { onRequest: readCalendar, schema: { params: IdParams, ...listEvents } },
    async (request) => {
      const owner = tokenUser(request);
      requireOwner(request, request.params.id);
      return page(request, request.query, (rows) => sampleData.calendarEvents(owner, rows));
    },
  );

  app.get(
    '/me/calendar/events/:id',
    { onRequest: readCalendar, schema: { params: IdParams, response: replies(200, CalendarEvent) } },
    async (request) => sampleData.calendarEvent(tokenUser(request), request.params.id),
  );

  app.post(
    '/me/calendar/events',
    {
      onRequest: scope('Calendars.ReadWrite'),
      schema: { body: NewCalendarEvent, response: replies(201, CalendarEvent) },
    },
    async (request, reply) => {
      const event = await sampleData.addCalendarEvent(tokenUser(request), withDefaults(request.body));
      return reply.code(201).header('location', `${resourceUrl}/me/calendar/events/${event.id}`).send(event);
    },
  );

  app.delete(
    '/me/calendar/events/:id',
    { onRequest: scope('Calendars.ReadWrite'), schema: { params: IdParams, response: replies(204, NoContent) } },
    async (request, reply) => {
      await sampleData.deleteCalendarEvent(tokenUser(request), request.params.id);
      return reply.code(204).send();
    },
  );

  // -- files

  const readFiles = scope('Files.Read', 'Files.ReadWrite');

  app.get(
    '/me/drive/files',
    { onRequest: readFiles, schema: { querystring: PageQuery, response: replies(200, collectionOf(DriveFile)) } },
    async (request) => {
      const owner = tokenUser(request);
      return page(request, request.query, (rows) => sampleData.driveFiles(owner, rows));
    },
  );

  app.get(
    '/me/drive/files/:id',
    { onRequest: readFiles, schema: { params: IdParams, response: replies(200, DriveFileWithContent) } },
    async (request) => sampleData.driveFile(tokenUser(request), request.params.id),
  );

  app.post(
    '/me/drive/files',
    {
      onRequest: scope('Files.ReadWrite'),
      schema: { body: NewDriveFile, response: replies(201, DriveFileWithContent) },
    },
    async (request, reply) => {
      const file = await sampleData.addDriveFile(tokenUser(request), withDefaults(request.body));
      return reply.code(201).header('location', `${resourceUrl}/me/drive/files/${file.id}`).send(file);
    },
  );

  app.delete(
    '/me/drive/files/:id',
    { onRequest: scope('Files.ReadWrite'), schema: { params: IdParams, response: replies(204, NoContent) } },
    async (request, reply) => {
      await sampleData.deleteDriveFile(tokenUser(request), request.params.id);
      return reply.code(204).send();
    },
  );

  // -- mail: stored as the user's sent items, delivered nowhere; 202 as the send is asynchronous.

  app.post(
    '/me/sendMail',
    { onRequest: scope('Mail.Send'), schema: { body: NewMail, response: replies(202, NoContent) } },
    async (request, reply) => {
      const { to, subject, body } = withDefaults(request.body);
      await sampleData.sendMail(tokenUser(request), {
        clientId: request.accessToken!.clientId,
        recipients: to,
        subject,
        body,
      });
      return reply.code(202).send();
    },
  );

  // -- sites: an admin permission, inside the token's own tenant only.

  app.get(
    '/sites/:site/items',
    {
      onRequest: scope('Sites.Read.All'),
      schema: { params: SiteParams, querystring: PageQuery, response: replies(200, collectionOf(SiteItem)) },
    },
    async (request) => {
      const { tenantId } = tokenUser(request);
      return page(request, request.query, (rows) => sampleData.siteItems(tenantId, request.params.site, rows));
    },
  );
}
