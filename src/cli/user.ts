// `accord user …`: create and list a tenant's users; change a role or password; disable or enable;
// unlock after failed sign-ins.
// Users are addressed as `<tenant> <username>`, the two halves of their sign-in name.
import { NotFound } from '../core/errors.js';
import type { Role } from '../core/types.js';
import type { UserRecord } from '../db/users.js';
import { DirectoryReads } from '../services/directory-reads.js';
import { arg, defineCommand, flag, stringOption, UsageError } from './command.js';
import { type Context, OPERATOR } from './context.js';
import { table, userJson } from './output.js';
import { readPassword } from './password.js';

const PASSWORD_HELP = `The password is the first line of stdin with --password-stdin (e.g. printf '%s\\n' "$PW" | accord …);
without it, in a terminal, it is prompted for (twice, not echoed). It is never taken as an argument.
At least 8 characters.`;

async function findUser(ctx: Context, tenantId: string, username: string): Promise<UserRecord> {
  const reads = new DirectoryReads(ctx.pool);
  await reads.requireTenant(tenantId);
  const user = await reads.findUserByUsername(tenantId, username.toLowerCase());
  if (!user) throw NotFound(`user "${username}" not found in tenant "${tenantId}"`);
  return user;
}

function role(value: string): Role {
  if (value !== 'user' && value !== 'admin') throw new UsageError(`the role must be "user" or "admin", not "${value}"`);
  return value;
}

const userAddress = { args: ['tenant', 'username'] };

function setDisabled(disabled: boolean) {
  return defineCommand({
    name: disabled ? 'user disable' : 'user enable',
    usage: '<tenant> <username>',
    summary: disabled
      ? 'Disable a user: they can no longer sign in, and every token they hold stops working.'
      : 'Enable a disabled user again; apps they had consented to need no new consent.',
    ...userAddress,
    prepare: (parsed) => ({ tenant: arg(parsed, 0), username: arg(parsed, 1) }),
    run: async (ctx, input) => {
      const user = await findUser(ctx, input.tenant, input.username);
      const directory = await ctx.directory();
      await directory.setUserDisabled(user.tenantId, user.id, disabled, OPERATOR);
      const reads = new DirectoryReads(ctx.pool);
      const after = (await reads.findUserByUsername(user.tenantId, user.username)) ?? { ...user, disabled };
      return {
        json: userJson(after),
        text: `${disabled ? 'disabled' : 'enabled'} ${user.username}@${user.tenantId}\n`,
      };
    },
  });
}

export const userCommands = [
  defineCommand({
    name: 'user create',
    usage: '<tenant> <username> [--admin] [--email <e>] [--name <n>] [--password-stdin]',
    summary: 'Create a user (role user, or admin with --admin); they sign in as username@tenant.',
    help: `<username>: 1–64 lowercase letters, digits, dots, hyphens or underscores.
--name is the display name (default: the username).
${PASSWORD_HELP}
JSON: {"id": "…", "tenant": "…", "username": "…", "role": "user|admin"}; the id is the user's sub in tokens.`,
    ...userAddress,
    options: {
      admin: { type: 'boolean' },
      email: { type: 'string' },
      name: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
    prepare: async (parsed) => ({
      tenantId: arg(parsed, 0),
      username: arg(parsed, 1),
      role: (flag(parsed, 'admin') ? 'admin' : 'user') as Role,
      email: stringOption(parsed, 'email') || null,
      displayName: stringOption(parsed, 'name') ?? null,
      password: await readPassword({ fromStdin: flag(parsed, 'password-stdin') }),
    }),
    run: async (ctx, input) => {
      const directory = await ctx.directory();
      const user = await directory.createUser(input, OPERATOR);
      return {
        json: { id: user.id, tenant: user.tenantId, username: user.username, role: user.role },
        text: `created ${user.role} ${user.username}@${user.tenantId} (id ${user.id})\n`,
      };
    },
  }),

  defineCommand({
    name: 'user list',
    usage: '<tenant>',
    summary: "List a tenant's users.",
    args: ['tenant'],
    prepare: (parsed) => arg(parsed, 0),
    run: async (ctx, tenantId) => {
      const reads = new DirectoryReads(ctx.pool);
      await reads.requireTenant(tenantId);
      const users = await reads.listUsers(tenantId);
      return {
        json: { value: users.map(userJson) },
        text: table(
          ['USERNAME', 'ROLE', 'STATUS', 'ID', 'NAME', 'EMAIL'],
          users.map((user) => [
            user.username,
            user.role,
            user.disabled ? 'disabled' : 'active',
            user.id,
            user.displayName,
            user.email ?? '',
          ]),
          `no users in tenant ${tenantId}`,
        ),
      };
    },
  }),

  defineCommand({
    name: 'user set-role',
    usage: '<tenant> <username> user|admin',
    summary: 'Make a user an admin of their tenant, or a plain user again.',
    args: ['tenant', 'username', 'user|admin'],
    prepare: (parsed) => ({ tenant: arg(parsed, 0), username: arg(parsed, 1), role: role(arg(parsed, 2)) }),
    run: async (ctx, input) => {
      const user = await findUser(ctx, input.tenant, input.username);
      const directory = await ctx.directory();
      const after = await directory.setUserRole(user.tenantId, user.id, input.role, OPERATOR);
      return {
        json: userJson(after),
        text: `${after.username}@${after.tenantId} is now ${after.role === 'admin' ? 'an admin' : 'a user'}\n`,
      };
    },
  }),

  defineCommand({
    name: 'user set-password',
    usage: '<tenant> <username> [--password-stdin]',
    summary: "Set a user's password.",
    help: PASSWORD_HELP,
    ...userAddress,
    options: { 'password-stdin': { type: 'boolean' } },
    prepare: async (parsed) => ({
      tenant: arg(parsed, 0),
      username: arg(parsed, 1),
      password: await readPassword({ fromStdin: flag(parsed, 'password-stdin') }),
    }),
    run: async (ctx, input) => {
      const user = await findUser(ctx, input.tenant, input.username);
      const directory = await ctx.directory();
      await directory.setUserPassword(user.tenantId, user.id, input.password, OPERATOR);
      return { json: userJson(user), text: `password changed for ${user.username}@${user.tenantId}\n` };
    },
  }),

  setDisabled(true),
  setDisabled(false),

  defineCommand({
    name: 'user unlock',
    usage: '<tenant> <username>',
    summary: "Forget a user's failed sign-ins from every address, so they can sign in again at once.",
    help: `Failed sign-ins refuse the address that made them after 5, and slow every sign-in to the account
after 20 from all addresses together; each limit ends by itself 15 minutes after the last failure.
set-password clears them too. JSON: the user, with "sign_in_failures_cleared": the failures forgotten.`,
    ...userAddress,
    prepare: (parsed) => ({ tenant: arg(parsed, 0), username: arg(parsed, 1) }),
    run: async (ctx, input) => {
      const user = await findUser(ctx, input.tenant, input.username);
      const directory = await ctx.directory();
      const { failures } = await directory.unlockUser(user.tenantId, user.id, OPERATOR);
      return {
        json: { ...userJson(user), sign_in_failures_cleared: failures },
        text: `unlocked ${user.username}@${user.tenantId} (${failures} failed sign-in${failures === 1 ? '' : 's'} forgotten)\n`,
      };
    },
  }),
];
