// `accord tenant …`: create, list and show tenants; turn Integrated Apps on or off; the user
// consent setting and risk-based step-up (issue 14).
import type { TenantRecord } from '../db/tenants.js';
import { ConsentPolicies } from '../services/consent-policies.js';
import { DirectoryReads } from '../services/directory-reads.js';
import { IntegratedAppsPreview } from '../services/integrated-apps-preview.js';
import { arg, defineCommand, flag, onOff, requiredOption, stringOption, UsageError } from './command.js';
import { consentSettingsJson, consentSettingsText, previewJson, previewText } from './consent-output.js';
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

  defineCommand({
    name: 'tenant set-user-consent',
    usage: '<id> all|verified-low-impact [--dry-run]',
    summary: 'Choose what users may consent to: any user permission (all), or low-impact ones of verified apps.',
    help: `all: users may consent to any user permission of any app (the default).
verified-low-impact: only to permissions classified low (accord permission classify) of apps whose publisher is
verified; anything else goes to "needs admin approval". Grants already made are kept either way.
--dry-run: show which waiting sign-ins, open requests and apps in use the change would affect; change nothing.`,
    args: ['id', 'all|verified-low-impact'],
    options: { 'dry-run': { type: 'boolean' } },
    prepare: (parsed) => {
      const setting = arg(parsed, 1);
      if (setting !== 'all' && setting !== 'verified-low-impact')
        throw new UsageError(`the setting must be "all" or "verified-low-impact", not "${setting}"`);
      return { id: arg(parsed, 0), setting, dryRun: flag(parsed, 'dry-run') } as const;
    },
    run: async (ctx, input) => {
      if (input.dryRun) {
        const preview = await new IntegratedAppsPreview(ctx.pool, ctx.catalogue).previewChange(input.id, {
          userConsent: input.setting,
        });
        return { json: { ...previewJson(preview), changed: false }, text: `would change:\n${previewText(preview)}` };
      }
      const settings = await new ConsentPolicies(ctx.pool, ctx.catalogue).setUserConsent(
        input.id,
        input.setting,
        OPERATOR,
      );
      return { json: consentSettingsJson(input.id, settings), text: consentSettingsText(input.id, settings) };
    },
  }),

  defineCommand({
    name: 'tenant set-risk-step-up',
    usage: '<id> on|off [--days <n>] [--dry-run]',
    summary: 'Send risky apps to admin approval: new, unverified, multi-tenant apps from other tenants.',
    help: `On: a request is risky when the app is multi-tenant from another tenant, its publisher is unverified, it was
registered less than --days ago (default: the tenant's setting, initially 30) and it asks for more than sign-in
and profile; it goes to "needs admin approval" and writes the audit event consent.risky_app_detected.
--dry-run: show what the change would affect; change nothing.`,
    args: ['id', 'on|off'],
    options: { days: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    prepare: (parsed) => {
      const days = stringOption(parsed, 'days');
      if (days !== undefined && !/^[0-9]{1,4}$/.test(days))
        throw new UsageError(`--days must be a whole number of days, not "${days}"`);
      return {
        id: arg(parsed, 0),
        enabled: onOff(arg(parsed, 1), 'the setting'),
        days: days === undefined ? undefined : Number(days),
        dryRun: flag(parsed, 'dry-run'),
      };
    },
    run: async (ctx, input) => {
      if (input.dryRun) {
        const preview = await new IntegratedAppsPreview(ctx.pool, ctx.catalogue).previewChange(input.id, {
          riskStepUp: { enabled: input.enabled, days: input.days },
        });
        return { json: { ...previewJson(preview), changed: false }, text: `would change:\n${previewText(preview)}` };
      }
      const settings = await new ConsentPolicies(ctx.pool, ctx.catalogue).setRiskStepUp(
        input.id,
        input.enabled,
        input.days,
        OPERATOR,
      );
      return { json: consentSettingsJson(input.id, settings), text: consentSettingsText(input.id, settings) };
    },
  }),
];
