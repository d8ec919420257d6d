// `accord tenant set-grant-lifetime`, `accord tenant grant-lifetimes`, `accord app set-grant-lifetime`:
// how long grants live in a tenant, by impact class and per app (issue 15; services/grant-lifecycle.ts).
import { systemClock } from '../core/clock.js';
import { GRANT_LIFETIME_CLASSES, isGrantLifetimeClass, parseGrantLifetime } from '../core/grant-lifetime.js';
import { GrantLifecycle, type TenantGrantLifetimes } from '../services/grant-lifecycle.js';
import { arg, defineCommand, UsageError } from './command.js';
import { type Context, OPERATOR } from './context.js';

const lifecycleOf = (ctx: Context) => new GrantLifecycle(ctx.pool, ctx.catalogue, systemClock);

function lifetimesJson(tenantId: string, lifetimes: TenantGrantLifetimes) {
  return {
    tenant: tenantId,
    classes: Object.fromEntries(GRANT_LIFETIME_CLASSES.map((name) => [name, lifetimes.classes[name] ?? null])),
    apps: lifetimes.apps.map((app) => ({ client_id: app.clientId, lifetime_days: app.lifetimeDays })),
  };
}

function lifetimesText(tenantId: string, lifetimes: TenantGrantLifetimes): string {
  const days = (value: number | null | undefined) => (value == null ? 'no expiry' : `${value} days`);
  const lines = GRANT_LIFETIME_CLASSES.map((name) => `  ${name.padEnd(8)} ${days(lifetimes.classes[name])}`);
  const apps = lifetimes.apps.map((app) => `  ${app.clientId} ${days(app.lifetimeDays)}`);
  return `Grant lifetimes in tenant ${tenantId}:\n${lines.join('\n')}\n${
    apps.length > 0 ? `Apps with their own lifetime:\n${apps.join('\n')}\n` : ''
  }`;
}

export const grantCommands = [
  defineCommand({
    name: 'tenant set-grant-lifetime',
    usage: '<tenant> default|low|medium|high <days|none>',
    summary: 'Give grants holding permissions of an impact class a lifetime (or none).',
    help: `A grant lives as long as the shortest lifetime of its permissions' classes allows; "default" applies
to every class without its own. After it, the user is asked again at their next sign-in (silent requests get
consent_required) and refresh tokens stop. Applies to consents given or renewed from now on. A lifetime is a
whole number of days from 1 to 36500; "none" removes it.`,
    args: ['tenant', 'class', 'days|none'],
    prepare: (parsed) => {
      const appliesTo = arg(parsed, 1);
      if (!isGrantLifetimeClass(appliesTo))
        throw new UsageError(`the class must be default, low, medium or high, not "${appliesTo}"`);
      return { tenant: arg(parsed, 0), appliesTo, days: arg(parsed, 2) };
    },
    run: async (ctx, input) => {
      const days = parseGrantLifetime(input.days, 'days');
      const lifetimes = await lifecycleOf(ctx).setTenantLifetime(input.tenant, input.appliesTo, days, OPERATOR);
      return { json: lifetimesJson(input.tenant, lifetimes), text: lifetimesText(input.tenant, lifetimes) };
    },
  }),

  defineCommand({
    name: 'tenant grant-lifetimes',
    usage: '<tenant>',
    summary: 'Show how long grants live in a tenant, by impact class and per app.',
    args: ['tenant'],
    prepare: (parsed) => ({ tenant: arg(parsed, 0) }),
    run: async (ctx, input) => {
      const lifetimes = await lifecycleOf(ctx).lifetimes(input.tenant);
      return { json: lifetimesJson(input.tenant, lifetimes), text: lifetimesText(input.tenant, lifetimes) };
    },
  }),

  defineCommand({
    name: 'app set-grant-lifetime',
    usage: '<tenant> <client_id> <days|none|inherit>',
    summary: "Give one app's grants in a tenant a lifetime of their own, in place of the tenant's classes.",
    help: `"none": the app's grants never expire in the tenant; "inherit": the tenant's classes apply again.`,
    args: ['tenant', 'client_id', 'days|none|inherit'],
    prepare: (parsed) => ({ tenant: arg(parsed, 0), clientId: arg(parsed, 1), days: arg(parsed, 2) }),
    run: async (ctx, input) => {
      const days = input.days === 'inherit' ? 'inherit' : parseGrantLifetime(input.days, 'days');
      const lifetimes = await lifecycleOf(ctx).setAppLifetime(input.tenant, input.clientId, days, OPERATOR);
      return { json: lifetimesJson(input.tenant, lifetimes), text: lifetimesText(input.tenant, lifetimes) };
    },
  }),
];
