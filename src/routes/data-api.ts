// The sample data API (`<issuer>/data/v1`, docs/interfaces.md, "The data API"):
// a user's profile, calendar, files and sent mail, and the tenant's sites. A real resource server:
// every route checks the access token and its scope before anything else (onRequest, so a caller
// without a token learns nothing about the request's shape), and a token reaches only its own
// user's rows — or, with an admin-consented `*.All` permission, rows inside its own tenant.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidRequest, NotFound } from '../core/errors.js';
import * as calendarEvents from '../db/calendar-events.js';
import * as driveFiles from '../db/drive-files.js';
import type { Pool } from '../db/pool.js';
import { insertSentMail } from '../db/sent-mail.js';
import { listSiteItems } from '../db/site-items.js';
import { findSite } from '../db/sites.js';
import { findUserInTenant, type UserRecord } from '../db/users.js';
import {
  BearerError,
  type ResourceServerOptions,
  requireOwner,
  resourceServerPlugin,
} from '../plugins/resource-server.js';
import { useStrictValidation } from '../plugins/strict-validation.js';

export interface DataApiOptions {
  pool: Pool;
  /** Token checks for this resource (audience `<issuer>/data/v1`). */
  resourceServer: ResourceServerOptions;
}

// ---- schemas -------------------------------------------------------------------------------

const id = { type: 'string', minLength: 1, maxLength: 100 } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const idParams = { type: 'object', required: ['id'], properties: { id } } as const;

const PAGE_SIZE_MAX = 100;
const pageQuery = {
  type: 'object',
  properties: {
    $top: { type: 'integer', minimum: 1, maximum: PAGE_SIZE_MAX, default: PAGE_SIZE_MAX },
    $skip: { type: 'integer', minimum: 0, maximum: 100_000, default: 0 },
  },
} as const;
interface PageQuery {
  $top: number;
  $skip: number;
}

/** RFC 6750 error body (the WWW-Authenticate header carries the same code). */
const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, error_description: { type: 'string' } },
} as const;

/** `{"value": [ … ]}`, with `@odata.nextLink` when another page follows. */
function collectionOf(item: object) {
  return {
    type: 'object',
    required: ['value'],
    properties: { value: { type: 'array', items: item }, '@odata.nextLink': { type: 'string' } },
  };
}

/** The success reply plus the error replies every route can give. */
function replies(status: number, body: object) {
  return { [status]: body, '4xx': errorBody };
}

const profile = {
  type: 'object',
  required: ['id', 'tenant', 'username', 'displayName', 'email'],
  properties: {
    id: { type: 'string' },
    tenant: { type: 'string' },
    username: { type: 'string' },
    displayName: { type: 'string' },
    email: { type: ['string', 'null'] },
  },
} as const;

const calendarEvent = {
  type: 'object',
  required: ['id', 'subject', 'body', 'location', 'start', 'end', 'createdAt'],
  properties: {
    id,
    subject: { type: 'string' },
    body: { type: 'string' },
    location: { type: ['string', 'null'] },
    start: dateTime,
    end: dateTime,
    createdAt: dateTime,
  },
} as const;
const newCalendarEvent = {
  type: 'object',
  required: ['subject', 'start', 'end'],
  additionalProperties: false,
  properties: {
    subject: { type: 'string', minLength: 1, maxLength: 200 },
    body: { type: 'string', maxLength: 10_000, default: '' },
    location: { type: ['string', 'null'], maxLength: 200, default: null },
    start: dateTime,
    end: dateTime,
  },
} as const;
interface NewCalendarEvent {
  subject: string;
  body: string;
  location: string | null;
  start: string;
  end: string;
}

const driveFile = {
  type: 'object',
  required: ['id', 'name', 'contentType', 'size', 'createdAt'],
  properties: {
    id,
    name: { type: 'string' },
    contentType: { type: 'string' },
    size: { type: 'integer' },
    createdAt: dateTime,
  },
} as const;
const driveFileWithContent = {
  ...driveFile,
  required: [...driveFile.required, 'content'],
  properties: { ...driveFile.properties, content: { type: 'string' } },
};
const newDriveFile = {
  type: 'object',
  required: ['name', 'content'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\u0000-\\u001f]+$' },
    contentType: {
      type: 'string',
      maxLength: 100,
      pattern: '^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$',
      default: 'text/plain',
    },
    content: { type: 'string', maxLength: 32_768 },
  },
} as const;
interface NewDriveFile {
  name: string;
  contentType: string;
  content: string;
}

const newMail = {
  type: 'object',
  required: ['to', 'subject'],
  additionalProperties: false,
  properties: {
    to: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', format: 'email', maxLength: 254 } },
    subject: { type: 'string', maxLength: 200 },
    body: { type: 'string', maxLength: 32_768, default: '' },
  },
} as const;
interface NewMail {
  to: string[];
  subject: string;
  body: string;
}

const siteParams = {
  type: 'object',
  required: ['site'],
  properties: { site: { type: 'string', maxLength: 64, pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$' } },
} as const;
const siteItem = {
  type: 'object',
  required: ['id', 'title', 'content', 'createdAt'],
  properties: { id, title: { type: 'string' }, content: { type: 'string' }, createdAt: dateTime },
} as const;

// ---- who the token reaches -----------------------------------------------------------------

/**
 * The token's user and tenant. An app's own token (client credentials) has no `tid` (and, RFC 9068
 * §2.2, its `sub` is the client id), so it reaches no user's data.
 */
function tokenUser(request: FastifyRequest): { tenantId: string; userId: string } {
  const token = request.accessToken!;
  if (!token.sub || !token.tid)
    throw new BearerError(403, 'insufficient_scope', "A token without a signed-in user reaches no user's data.");
  return { tenantId: token.tid, userId: token.sub };
}

function toProfile(user: UserRecord | undefined) {
  if (!user) throw NotFound('user not found');
  return {
    id: user.id,
    tenant: user.tenantId,
    username: user.username,
    displayName: user.displayName,
    email: user.email,
  };
}

// ---- routes --------------------------------------------------------------------------------

export async function dataApiRoutes(app: FastifyInstance, options: DataApiOptions): Promise<void> {
  const { pool } = options;
  await app.register(resourceServerPlugin, options.resourceServer);
  useStrictValidation(app);
  // Per-user data: never stored by a cache.
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  const scope = app.resourceServer.requireScope;
  const resourceUrl = options.resourceServer.audience;

  /** One page of a collection: `$top` items from `$skip`, and a link to the next page if any. */
  async function page<T>(
    request: FastifyRequest,
    query: PageQuery,
    load: (page: { limit: number; offset: number }) => Promise<T[]>,
  ) {
    const rows = await load({ limit: query.$top + 1, offset: query.$skip });
    if (rows.length <= query.$top) return { value: rows };
    const next = new URL(request.url, options.resourceServer.issuer);
    next.searchParams.set('$top', String(query.$top));
    next.searchParams.set('$skip', String(query.$skip + query.$top));
    return { value: rows.slice(0, query.$top), '@odata.nextLink': next.href };
  }

  // -- profiles

  app.get(
    '/me',
    { onRequest: scope('User.Read', 'User.Read.All'), schema: { response: replies(200, profile) } },
    async (request) => {
      const { tenantId, userId } = tokenUser(request);
      return toProfile(await findUserInTenant(pool, tenantId, userId));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/users/:id',
    { onRequest: scope('User.Read', 'User.Read.All'), schema: { params: idParams, response: replies(200, profile) } },
    async (request) => {
      const { tenantId } = tokenUser(request);
      // Another user's profile needs the admin permission, and stays inside the token's tenant:
      // a user of another tenant is "not found", as if absent.
      if (!request.accessToken!.scopes.has('User.Read.All')) requireOwner(request, request.params.id);
      return toProfile(await findUserInTenant(pool, tenantId, request.params.id));
    },
  );

  // -- calendar

  const readCalendar = scope('Calendars.Read', 'Calendars.ReadWrite');
  const listEvents = { querystring: pageQuery, response: replies(200, collectionOf(calendarEvent)) };

  app.get<{ Querystring: PageQuery }>(
    '/me/calendar/events',
    { onRequest: readCalendar, schema: listEvents },
    async (request) => {
      const { tenantId, userId } = tokenUser(request);
      return page(request, request.query, (rows) => calendarEvents.listCalendarEvents(pool, tenantId, userId, rows));
    },
  );

  // There is no Calendars.Read.All: another user's calendar is never reachable.
  app.get<{ Params: { id: string }; Querystring: PageQuery }>(
    '/users/:id/calendar/events',
    { onRequest: readCalendar, schema: { params: idParams, ...listEvents } },
    async (request) => {
      const { tenantId, userId } = tokenUser(request);
      requireOwner(request, request.params.id);
      return page(request, request.query, (rows) => calendarEvents.listCalendarEvents(pool, tenantId, userId, rows));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/me/calendar/events/:id',
    { onRequest: readCalendar, schema: { params: idParams, response: replies(200, calendarEvent) } },
    async (request) => {
      const { tenantId, userId } = tokenUser(request);
      const event = await calendarEvents.findCalendarEvent(pool, tenantId, userId, request.params.id);
      if (!event) throw NotFound('event not found');
      return event;
    },
  );

  app.post<{ Body: NewCalendarEvent }>(
    '/me/calendar/events',
    {
      onRequest: scope('Calendars.ReadWrite'),
      schema: { body: newCalendarEvent, response: replies(201, calendarEvent) },
    },
    async (request, reply) => {
      const { tenantId, userId } = tokenUser(request);
      if (Date.parse(request.body.end) < Date.parse(request.body.start))
        throw InvalidRequest('body.end must not be before body.start', { field: 'body.end' });
      const event = await calendarEvents.insertCalendarEvent(pool, tenantId, userId, request.body);
      return reply.code(201).header('location', `${resourceUrl}/me/calendar/events/${event.id}`).send(event);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/me/calendar/events/:id',
    { onRequest: scope('Calendars.ReadWrite'), schema: { params: idParams, response: replies(204, { type: 'null' }) } },
    async (request, reply) => {
      const { tenantId, userId } = tokenUser(request);
      if (!(await calendarEvents.deleteCalendarEvent(pool, tenantId, userId, request.params.id)))
        throw NotFound('event not found');
      return reply.code(204).send();
    },
  );

  // -- files

  const readFiles = scope('Files.Read', 'Files.ReadWrite');

  app.get<{ Querystring: PageQuery }>(
    '/me/drive/files',
    { onRequest: readFiles, schema: { querystring: pageQuery, response: replies(200, collectionOf(driveFile)) } },
    async (request) => {
      const { tenantId, userId } = tokenUser(request);
      return page(request, request.query, (rows) => driveFiles.listDriveFiles(pool, tenantId, userId, rows));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/me/drive/files/:id',
    { onRequest: readFiles, schema: { params: idParams, response: replies(200, driveFileWithContent) } },
    async (request) => {
      const { tenantId, userId } = tokenUser(request);
      const file = await driveFiles.findDriveFile(pool, tenantId, userId, request.params.id);
      if (!file) throw NotFound('file not found');
      return file;
    },
  );

  app.post<{ Body: NewDriveFile }>(
    '/me/drive/files',
    {
      onRequest: scope('Files.ReadWrite'),
      schema: { body: newDriveFile, response: replies(201, driveFileWithContent) },
    },
    async (request, reply) => {
      const { tenantId, userId } = tokenUser(request);
      const file = await driveFiles.insertDriveFile(pool, tenantId, userId, request.body);
      return reply.code(201).header('location', `${resourceUrl}/me/drive/files/${file.id}`).send(file);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/me/drive/files/:id',
    { onRequest: scope('Files.ReadWrite'), schema: { params: idParams, response: replies(204, { type: 'null' }) } },
    async (request, reply) => {
      const { tenantId, userId } = tokenUser(request);
      if (!(await driveFiles.deleteDriveFile(pool, tenantId, userId, request.params.id)))
        throw NotFound('file not found');
      return reply.code(204).send();
    },
  );

  // -- mail: stored as the user's sent items, delivered nowhere; 202 as the send is asynchronous.

  app.post<{ Body: NewMail }>(
    '/me/sendMail',
    { onRequest: scope('Mail.Send'), schema: { body: newMail, response: replies(202, { type: 'null' }) } },
    async (request, reply) => {
      const { tenantId, userId } = tokenUser(request);
      const { to, subject, body } = request.body;
      await insertSentMail(pool, tenantId, userId, {
        clientId: request.accessToken!.clientId,
        recipients: to,
        subject,
        body,
      });
      return reply.code(202).send();
    },
  );

  // -- sites: an admin permission, inside the token's own tenant only.

  app.get<{ Params: { site: string }; Querystring: PageQuery }>(
    '/sites/:site/items',
    {
      onRequest: scope('Sites.Read.All'),
      schema: { params: siteParams, querystring: pageQuery, response: replies(200, collectionOf(siteItem)) },
    },
    async (request) => {
      const { tenantId } = tokenUser(request);
      if (!(await findSite(pool, tenantId, request.params.site))) throw NotFound('site not found');
      return page(request, request.query, (rows) => listSiteItems(pool, tenantId, request.params.site, rows));
    },
  );
}
