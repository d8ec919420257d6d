// Users: the people of the admin's tenant — list (searchable, 50 a page by username), create,
// change role, disable (after a confirmation) or enable, and unlock after failed sign-ins. The
// work is services/tenant-users.ts and the directory (each change one audited transaction); an
// admin cannot demote or disable themselves, and the page says so. Every POST answers with a
// redirect to the user's page (post/redirect/get), so a reload repeats nothing.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { type Static, Type } from 'typebox';
import { AccordError } from '../../core/errors.js';
import type { UserRecord } from '../../db/users.js';
import type { UserWithSignInFailures } from '../../services/tenant-users.js';
import { CsrfOnlyBody, csrfField, stringEnum } from '../schema-parts.js';
import type { AdminCentreContext } from './deps.js';
import { inTenant, pageData, pageMessage, requireAdmin } from './guard.js';

const LIST = '/admin/users';
export const USERS_PAGE_SIZE = 50;

const UserIdParams = Type.Object({ userId: Type.String({ minLength: 1, maxLength: 200 }) });

const ListQuery = Type.Object({
  search: Type.Optional(Type.String({ maxLength: 200 })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});

/** `?done=…`: the user page's notice after a change. */
const DoneQuery = Type.Object({
  done: Type.Optional(stringEnum(['created', 'role', 'disabled', 'enabled', 'unlocked'])),
});

const NewUserForm = Type.Object({
  _csrf: csrfField,
  username: Type.Optional(Type.String({ maxLength: 200 })),
  display_name: Type.Optional(Type.String({ maxLength: 400 })),
  email: Type.Optional(Type.String({ maxLength: 400 })),
  password: Type.Optional(Type.String({ maxLength: 1024 })),
  role: Type.Optional(stringEnum(['user', 'admin'])),
});
type NewUserValues = Omit<Static<typeof NewUserForm>, '_csrf' | 'password'>;

const RoleForm = Type.Object({ _csrf: csrfField, role: stringEnum(['user', 'admin']) });

/** The create form's refusals in the page's language: which field, and why (the directory's rules). */
const FORM_MESSAGES: Record<string, string> = {
  username: 'admin:users.error.username',
  password: 'admin:users.error.password',
  email: 'admin:users.error.email',
  name: 'admin:users.error.name',
};

function inPageLanguage(error: AccordError): AccordError {
  if (error.status === 409) return error.withMessage('admin:users.error.exists');
  const key = FORM_MESSAGES[String(error.details.field)];
  return key && !error.messageKey ? error.withMessage(key) : error;
}

export const usersPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { users, directory, portal, navItems } = context;
  const base = (userId: string) => `${LIST}/${encodeURIComponent(userId)}`;

  function renderNew(reply: FastifyReply, admin: UserRecord, values: NewUserValues, error?: AccordError) {
    if (error) reply.status(error.status);
    return reply.view('admin/user-new', {
      ...pageData(reply, admin, 'users', navItems),
      values,
      error: error ? { message: pageMessage(reply, error), field: error.details.field } : undefined,
    });
  }

  function renderUser(
    reply: FastifyReply,
    admin: UserRecord,
    user: UserWithSignInFailures,
    extra: { done?: string | undefined; error?: AccordError } = {},
  ) {
    if (extra.error) reply.status(extra.error.status);
    return reply.view('admin/user', {
      ...pageData(reply, admin, 'users', navItems),
      person: user,
      self: user.id === admin.id,
      base: base(user.id),
      done: extra.done,
      error: extra.error ? pageMessage(reply, extra.error) : undefined,
    });
  }

  app.get(LIST, { schema: { querystring: ListQuery } }, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply, LIST);
    if (!admin) return reply;
    const search = request.query.search?.trim() || undefined;
    const { after } = request.query;
    const page = await users.page(admin.tenantId, { limit: USERS_PAGE_SIZE, after, search });
    const query = (extra: Record<string, string>) =>
      `${LIST}?${new URLSearchParams({ ...(search ? { search } : {}), ...extra }).toString()}`;
    return reply.view('admin/users', {
      ...pageData(reply, admin, 'users', navItems),
      people: page.users.map((user) => ({ ...user, href: base(user.id) })),
      search: search ?? '',
      next: page.next ? query({ after: page.next }) : undefined,
      first: after ? (search ? query({}) : LIST) : undefined,
    });
  });

  app.get(`${LIST}/new`, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply, `${LIST}/new`);
    if (!admin) return reply;
    return renderNew(reply, admin, { role: 'user' });
  });

  app.post(LIST, { preValidation: app.csrfProtection, schema: { body: NewUserForm } }, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply, `${LIST}/new`);
    if (!admin) return reply;
    const { _csrf, password = '', ...values } = request.body;
    try {
      const created = await directory.createUser(
        {
          tenantId: admin.tenantId,
          username: (values.username ?? '').trim(),
          password,
          role: values.role ?? 'user',
          displayName: values.display_name?.trim() || null,
          email: values.email?.trim() || null,
        },
        admin.id,
      );
      return reply.redirect(`${base(created.id)}?done=created`, 303);
    } catch (error) {
      if (error instanceof AccordError && error.status < 500)
        return renderNew(reply, admin, values, inPageLanguage(error));
      throw error;
    }
  });

  app.get(`${LIST}/:userId`, { schema: { params: UserIdParams, querystring: DoneQuery } }, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply);
    if (!admin) return reply;
    const user = await inTenant(users.find(admin.tenantId, request.params.userId));
    return renderUser(reply, admin, user, { done: request.query.done });
  });

  /** Applies `change` to the admin's tenant's user, then back to their page; a refusal is shown there. */
  async function change(
    request: { params: { userId: string }; url: string },
    reply: FastifyReply,
    admin: UserRecord,
    done: string,
    work: (user: UserWithSignInFailures) => Promise<unknown>,
  ) {
    const user = await inTenant(users.find(admin.tenantId, request.params.userId));
    try {
      await work(user);
    } catch (error) {
      // The one refusal here: an admin demoting or disabling themselves (a tenant keeps an admin).
      if (error instanceof AccordError && error.status === 409)
        return renderUser(reply, admin, user, { error: error.withMessage('admin:users.error.self') });
      throw error;
    }
    return reply.redirect(`${base(user.id)}?done=${done}`, 303);
  }

  app.post(
    `${LIST}/:userId/role`,
    { preValidation: app.csrfProtection, schema: { params: UserIdParams, body: RoleForm } },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, base(request.params.userId));
      if (!admin) return reply;
      return change(request, reply, admin, 'role', (user) =>
        users.update(admin.tenantId, user.id, { role: request.body.role }, admin.id),
      );
    },
  );

  app.get(`${LIST}/:userId/disable`, { schema: { params: UserIdParams } }, async (request, reply) => {
    const admin = await requireAdmin(portal, request, reply);
    if (!admin) return reply;
    const user = await inTenant(users.find(admin.tenantId, request.params.userId));
    const account = `${user.username}@${user.tenantId}`;
    return reply.view('admin/confirm', {
      ...pageData(reply, admin, 'users', navItems),
      marker: 'admin-user-disable',
      heading: { key: 'admin:users.disableHeading', vars: { account } },
      consequences: [
        { key: 'admin:users.disableSignIn' },
        { key: 'admin:users.disableTokens' },
        { key: 'admin:users.disableUndo' },
      ],
      action: `${base(user.id)}/disable`,
      confirmLabel: { key: 'admin:users.disableConfirm' },
      cancelUrl: base(user.id),
    });
  });

  for (const [action, done, disabled] of [
    ['disable', 'disabled', true],
    ['enable', 'enabled', false],
  ] as const) {
    app.post(
      `${LIST}/:userId/${action}`,
      { preValidation: app.csrfProtection, schema: { params: UserIdParams, body: CsrfOnlyBody } },
      async (request, reply) => {
        const admin = await requireAdmin(portal, request, reply, base(request.params.userId));
        if (!admin) return reply;
        return change(request, reply, admin, done, (user) =>
          users.update(admin.tenantId, user.id, { disabled }, admin.id),
        );
      },
    );
  }

  app.post(
    `${LIST}/:userId/unlock`,
    { preValidation: app.csrfProtection, schema: { params: UserIdParams, body: CsrfOnlyBody } },
    async (request, reply) => {
      const admin = await requireAdmin(portal, request, reply, base(request.params.userId));
      if (!admin) return reply;
      return change(request, reply, admin, 'unlocked', (user) => users.unlock(admin.tenantId, user.id, admin.id));
    },
  );
};
