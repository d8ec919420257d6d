// `accord tenant …`: create, list and show tenants; turn Integrated Apps on or off.
import type { TenantRecord } from '../db/tenants.js';
import { DirectoryReads } from '../services/directory-reads.js';
import { arg, defineCommand, onOff, requiredOption, stringOption } from './command.js';
import { OPERATOR } from './context.js';
import { fields, onOffText, table, tenantJson } from './output.js';

function tenantText(tenant: TenantRecord): string {
  return fields([
    ['tenant', tenant.id],
    ['name', tenant.name],
    [
      'integrated apps',
      tenant.integratedAppsEnabled
        ? 'on (users may consent to apps for their own data)'
        : 'off (only admins may consent to apps, for the whole organisation)',
    ],
    ['created', tenant.createdAt.toISOString()],
  ]);
}

export const tenantCommands = [
  defineCommand({
    name: 'tenant create',
    usage: '<id> --name <name> [--integrated-apps on|off]',
    summary: 'Create a tenant (an organisation); Integrated Apps is on unless turned off.',
    help: `<id> is the tenant's URL slug: 1–40 lowercase letters, digits or hyphens, not one of the server's own
path names (api, admin, data, …). Its users sign in as username@<id>.`,
    args: ['id'],
    options: { name: { type: 'string' }, 'integrated-apps': { type: 'string' } },
    prepare: (parsed) => {
      const integratedApps = stringOption(parsed, 'integrated-apps');
      return {
        id: arg(parsed, 0),
        name: requiredOption(parsed, 'name'),
        integratedAppsEnabled: integratedApps === undefined ? true : onOff(integratedApps, '--integrated-apps'),
      };
    },
    run: async (ctx, input) => {
      const directory = await ctx.directory();
      const tenant = await directory.createTenant(input, OPERATOR);
      return {
        json: tenantJson(tenant),
        text: `created tenant ${tenant.id} (Integrated Apps ${onOffText(tenant.integratedAppsEnabled)})\n`,
      };
    },
  }),

  defineCommand({
    name: 'tenant list',
    usage: '',
    summary: 'List the tenants and their Integrated Apps setting.',
    prepare: () => undefined,
    run: async (ctx) => {
      const tenants = await new DirectoryReads(ctx.pool).listTenants();
      return {
        json: { value: tenants.map(tenantJson) },
        text: table(
          ['ID', 'INTEGRATED APPS', 'NAME'],
          tenants.map((tenant) => [tenant.id, onOffText(tenant.integratedAppsEnabled), tenant.name]),
          'no tenants',
        ),
      };
    },
  }),

  defineCommand({
    name: 'tenant show',
    usage: '<id>',
    summary: 'Show a tenant and its Integrated Apps setting.',
    args: ['id'],
    prepare: (parsed) => arg(parsed, 0),
    run: async (ctx, id) => {
      const tenant = await new DirectoryReads(ctx.pool).requireTenant(id);
      return { json: tenantJson(tenant), text: tenantText(tenant) };
    },
  }),

  defineCommand({
    name: 'tenant set-integrated-apps',
    usage: '<id> on|off',
    summary: "Turn a tenant's Integrated Apps setting on or off.",
    help: `On: users may consent to apps for their own data. Off: users can no longer consent; grants already
made keep working, and admins can still consent for the whole organisation.`,
    args: ['id', 'on|off'],
    prepare: (parsed) => ({ id: arg(parsed, 0), enabled: onOff(arg(parsed, 1), 'the setting') }),
    run: async (ctx, input) => {
      const directory = await ctx.directory();
      const tenant = await directory.setIntegratedApps(input.id, input.enabled, OPERATOR);
      return {
        json: tenantJson(tenant),
        text: `Integrated Apps is ${onOffText(tenant.integratedAppsEnabled)} for tenant ${tenant.id}\n`,
      };
    },
  }),
];
