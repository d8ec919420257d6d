// /tenants/{tenant}/users: the tenant's people — list, create, read, and change role, password or
// disabled state, unlock after failed sign-ins. The directory applies the rules and writes the audit events.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AdminApiDeps } from './deps.js';
import { userOf } from './presenters.js';
import { actorOf } from './require-tenant-admin.js';
import {
  answer,
  errorResponses,
  NewUserBody,
  TenantParams,
  USERS_PAGE_SIZE,
  UserChangesBody,
  UserParams,
  UserSchema,
  UsersPageSchema,
  UsersQuery,
} from './schemas.js';

const tags = ['Users'];

export const usersRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (app, { users, directory, apiUrl }) => {
  app.get(
    '/users',
    {
      schema: {
        tags,
        operationId: 'listUsers',
        summary: 'List the tenant’s users',
        description:
          'By username, a page at a time: follow `next` (as `after`). `search` matches part of the username, display name or email.',
        params: TenantParams,
        querystring: UsersQuery,
        response: { 200: UsersPageSchema, ...errorResponses() },
      },
    },
    async (request) => {
      // The schema's default fills `limit` in; the fallback only satisfies the type.
      const { limit = USERS_PAGE_SIZE, after, search } = request.query;
      const page = await users.page(request.params.tenant, { limit, after, search });
      return { value: page.users.map(userOf), next: page.next };
    },
  );

  app.post(
    '/users',
    {
      schema: {
        tags,
        operationId: 'createUser',
        summary: 'Create a user',
        description: 'The username is stored in lowercase and must be unique in the tenant (409 otherwise).',
        params: TenantParams,
        body: NewUserBody,
        response: { 201: answer(UserSchema, 'Created.'), ...errorResponses(409) },
      },
    },
    async (request, reply) => {
      const { tenant } = request.params;
      const { username, password, role = 'user', displayName, email } = request.body;
      const user = await directory.createUser(
        { tenantId: tenant, username, password, role, displayName: displayName ?? null, email: email ?? null },
        actorOf(request),
      );
      return reply
        .status(201)
        .header('location', `${apiUrl}/tenants/${tenant}/users/${user.id}`)
        .send(userOf({ ...user, signInFailures: 0 }));
    },
  );

  app.get(
    '/users/:id',
    {
      schema: {
        tags,
        operationId: 'getUser',
        summary: 'Read a user',
        params: UserParams,
        response: { 200: answer(UserSchema, 'The user.'), ...errorResponses(404) },
      },
    },
    async (request) => userOf(await users.find(request.params.tenant, request.params.id)),
  );

  app.patch(
    '/users/:id',
    {
      schema: {
        tags,
        operationId: 'updateUser',
        summary: 'Change a user’s role, password or disabled state',
        description:
          'Demoting an admin takes effect on their next call to this API. Disabling a user revokes their grants, so their tokens stop working. ' +
          'Admins cannot demote or disable themselves (409), so a tenant always keeps an admin.',
        params: UserParams,
        body: UserChangesBody,
        response: { 200: answer(UserSchema, 'The user as changed.'), ...errorResponses(404, 409) },
      },
    },
    async (request) =>
      userOf(await users.update(request.params.tenant, request.params.id, request.body, actorOf(request))),
  );

  app.post(
    '/users/:id/unlock',
    {
      schema: {
        tags,
        operationId: 'unlockUser',
        summary: 'Forget a user’s failed sign-ins',
        description:
          'Lifts at once the refusal of the addresses that made five failed sign-ins and the slowing of the account after twenty, ' +
          'so the user can sign in again. Audited as `user.unlocked`. Setting a new password does the same.',
        params: UserParams,
        response: { 200: answer(UserSchema, 'The user, with no failed sign-ins.'), ...errorResponses(404) },
      },
    },
    async (request) => userOf(await users.unlock(request.params.tenant, request.params.id, actorOf(request))),
  );
};
