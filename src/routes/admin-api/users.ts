// /tenants/{tenant}/users: the tenant's people — list, create, read, and change role, password or
// disabled state. The directory applies the rules and writes the audit events.
import type { FastifyInstance } from 'fastify';
import { Conflict, NotFound } from '../../core/errors.js';
import type { Pool } from '../../db/pool.js';
import { findUserInTenant, listUsers } from '../../db/users.js';
import type { Directory } from '../../services/directory.js';
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

export async function usersRoutes(app: FastifyInstance, { pool, directory, apiUrl }: AdminApiDeps): Promise<void> {
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
    async (request) => ({ value: (await listUsers(pool, request.params.tenant)).map(userOf) }),
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
    async (request) => {
      const user = await findUserInTenant(pool, request.params.tenant, request.params.id);
      if (!user) throw NotFound('user not found');
      return userOf(user);
    },
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
    async (request) => userOf(await updateUser(pool, directory, request.params, request.body, actorOf(request))),
  );
}

/**
 * Applies the changes in the order least likely to leave a half-done update: every check first,
 * then the password (refused before anything is written when it is unacceptable), then the role,
 * then the disabled state. Each step is one directory transaction with its audit event.
 */
async function updateUser(
  pool: Pool,
  directory: Directory,
  { tenant, id }: UserParams,
  changes: UserChangesBody,
  actor: string,
) {
  const user = await findUserInTenant(pool, tenant, id);
  if (!user) throw NotFound('user not found');
  if (id === actor && ((changes.role !== undefined && changes.role !== 'admin') || changes.disabled === true)) {
    throw Conflict('You cannot remove your own admin role or disable yourself; another admin must do it.', {
      field: changes.role ? 'role' : 'disabled',
    });
  }
  if (changes.password !== undefined) await directory.setUserPassword(tenant, id, changes.password, actor);
  if (changes.role !== undefined && changes.role !== user.role)
    await directory.setUserRole(tenant, id, changes.role, actor);
  if (changes.disabled !== undefined && changes.disabled !== user.disabled)
    await directory.setUserDisabled(tenant, id, changes.disabled, actor);
  const updated = await findUserInTenant(pool, tenant, id);
  if (!updated) throw NotFound('user not found');
  return updated;
}
