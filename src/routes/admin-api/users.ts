// /tenants/{tenant}/users: the tenant's people — list, create, read, and change role, password or
// disabled state. The directory applies the rules and writes the audit events.
import type { FastifyInstance } from 'fastify';
import type { AdminApiDeps } from './deps.js';
import { actorOf } from './require-tenant-admin.js';
import {
  answer,
  collectionOf,
  errorResponses,
  type NewUserBody,
  newUserBody,
  type TenantParams,
  tenantParams,
  type UserChangesBody,
  type UserParams,
  userChangesBody,
  userOf,
  userParams,
} from './schemas.js';

const tags = ['Users'];

export async function usersRoutes(app: FastifyInstance, { users, directory, apiUrl }: AdminApiDeps): Promise<void> {
  app.get<{ Params: TenantParams }>(
    '/users',
    {
      schema: {
        tags,
        operationId: 'listUsers',
        summary: 'List the tenant’s users',
        params: tenantParams,
        response: { 200: collectionOf('User', 'Every user of the tenant, by username.'), ...errorResponses() },
      },
    },
    async (request) => ({ value: (await users.list(request.params.tenant)).map(userOf) }),
  );

  app.post<{ Params: TenantParams; Body: NewUserBody }>(
    '/users',
    {
      schema: {
        tags,
        operationId: 'createUser',
        summary: 'Create a user',
        description: 'The username is stored in lowercase and must be unique in the tenant (409 otherwise).',
        params: tenantParams,
        body: newUserBody,
        response: { 201: answer('User', 'Created.'), ...errorResponses(409) },
      },
    },
    async (request, reply) => {
      const { tenant } = request.params;
      const { username, password, role = 'user', displayName, email } = request.body;
      const user = await directory.createUser(
        { tenantId: tenant, username, password, role, displayName: displayName ?? null, email: email ?? null },
        actorOf(request),
      );
      return reply.status(201).header('location', `${apiUrl}/tenants/${tenant}/users/${user.id}`).send(userOf(user));
    },
  );

  app.get<{ Params: UserParams }>(
    '/users/:id',
    {
      schema: {
        tags,
        operationId: 'getUser',
        summary: 'Read a user',
        params: userParams,
        response: { 200: answer('User', 'The user.'), ...errorResponses(404) },
      },
    },
    async (request) => userOf(await users.find(request.params.tenant, request.params.id)),
  );

  app.patch<{ Params: UserParams; Body: UserChangesBody }>(
    '/users/:id',
    {
      schema: {
        tags,
        operationId: 'updateUser',
        summary: 'Change a user’s role, password or disabled state',
        description:
          'Demoting an admin takes effect on their next call to this API. Disabling a user revokes their grants, so their tokens stop working. ' +
          'Admins cannot demote or disable themselves (409), so a tenant always keeps an admin.',
        params: userParams,
        body: userChangesBody,
        response: { 200: answer('User', 'The user as changed.'), ...errorResponses(404, 409) },
      },
    },
    async (request) =>
      userOf(await users.update(request.params.tenant, request.params.id, request.body, actorOf(request))),
  );
}
