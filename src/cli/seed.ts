// `accord seed --demo`: the demo tenants, users and app, with their credentials.
import { Conflict } from '../core/errors.js';
import { DirectoryReads } from '../services/directory-reads.js';
import { defineCommand, flag, UsageError } from './command.js';

const DEMO_TENANTS = ['contoso', 'fabrikam'];

export const seedCommands = [
  defineCommand({
    name: 'seed',
    usage: '--demo',
    summary: 'Create the demo tenants, users and app, and print their credentials.',
    help: `Creates tenants contoso and fabrikam, an admin and two users in each, and a multi-tenant third-party
app published by fabrikam. The passwords and the client secret are random and shown only now.
JSON: {"tenants": [{"id", "name"}], "users": [{"id", "tenant", "username", "sign_in", "role", "password"}],
       "app": {"client_id", "client_secret", "name", "publisher", "redirect_uris", "permissions"}}`,
    options: { demo: { type: 'boolean' } },
    prepare: (parsed) => {
      if (!flag(parsed, 'demo')) throw new UsageError('seed needs --demo (the demo data set is the only one)');
    },
    run: async (ctx) => {
      // Checked first so that a second run changes nothing rather than stopping half-way.
      const reads = new DirectoryReads(ctx.pool);
      for (const id of DEMO_TENANTS) {
        if (await reads.findTenant(id))
          throw Conflict(
            `tenant "${id}" already exists; the demo needs a database without ${DEMO_TENANTS.join(' and ')}`,
          );
      }
      // Loaded here, not at the top: it brings the Directory and with it oidc-provider.
      const { describeSeed, seedDemo } = await import('../services/demo-seed.js');
      const seed = await seedDemo(ctx.pool, ctx.config.dataDir);
      return {
        json: {
          tenants: seed.tenants.map((tenant) => ({ id: tenant.id, name: tenant.name })),
          users: seed.users.map((user) => ({
            id: user.id,
            tenant: user.tenant,
            username: user.username,
            sign_in: user.signIn,
            role: user.role,
            password: user.password,
          })),
          app: {
            client_id: seed.app.client_id,
            client_secret: seed.app.client_secret,
            name: seed.app.name,
            publisher: seed.app.publisher,
            redirect_uris: seed.app.redirect_uris,
            permissions: seed.app.permissions,
          },
        },
        text: describeSeed(seed, ctx.config.issuer),
      };
    },
  }),
];
