// `accord api …`: register a tenant's API (a resource server), add and remove its scopes, list,
// show and delete APIs (issue 13). Removing shows what it revokes; `--dry-run` shows it without
// changing anything.
import type { Impact } from '../core/types.js';
import { type ApiDetail, type ApiScope, Apis, type ApiUsage, IMPACTS, type RemovalImpact } from '../services/apis.js';
import { arg, defineCommand, flag, requiredOption, stringOption, UsageError } from './command.js';
import type { Context } from './context.js';
import { OPERATOR } from './context.js';
import { fields, table } from './output.js';

const apisOf = (ctx: Context) => new Apis(ctx.pool, ctx.catalogue, ctx.config.issuer);

function scopeJson(scope: ApiScope) {
  return {
    scope: scope.scope,
    name: scope.name,
    description: scope.userDescription,
    admin_description: scope.adminDescription,
    admin_consent_required: scope.adminConsentRequired,
    impact: scope.impact,
  };
}

function apiJson(api: ApiDetail) {
  return {
    identifier: api.identifier,
    name: api.name,
    tenant: api.tenantId,
    multi_tenant: api.multiTenant,
    default_resource: api.defaultResource,
    created_at: api.createdAt.toISOString(),
    scopes: api.scopes.map(scopeJson),
  };
}

function impactJson(impact: RemovalImpact) {
  return {
    identifier: impact.identifier,
    scopes: impact.scopes,
    apps: impact.apps.map((app) => ({
      client_id: app.clientId,
      name: app.name,
      publisher_tenant: app.publisherTenantId,
    })),
    admin_consent_tenants: impact.adminConsentTenants,
    users: impact.users,
  };
}

function impactText(impact: RemovalImpact): string {
  return fields([
    ['permissions', impact.scopes.join(' ') || null],
    ['apps using them', impact.apps.map((app) => `${app.name} (${app.clientId})`).join(', ') || 'none'],
    ['admin consents', `${impact.adminConsentTenants} tenant(s)`],
    ['user consents', `${impact.users} user(s)`],
  ]);
}

function ownerText(api: ApiDetail): string {
  return api.tenantId ? `tenant ${api.tenantId}` : 'Accord (built in)';
}

function apiText(api: ApiUsage): string {
  const head = fields([
    ['identifier', api.identifier],
    ['name', api.name],
    ['owner', ownerText(api)],
    ['tenancy', api.multiTenant ? 'multi-tenant (users of any tenant)' : "single-tenant (the owner's users only)"],
    ['created', api.createdAt.toISOString()],
  ]);
  const usage = new Map(api.usage.map((entry) => [entry.scope, entry]));
  const scopes = table(
    ['SCOPE', 'CONSENT', 'IMPACT', 'APPS', 'USERS', 'DESCRIPTION'],
    api.scopes.map((scope) => [
      scope.scope,
      scope.adminConsentRequired ? 'admin' : 'user',
      scope.impact,
      String(usage.get(scope.scope)?.apps.length ?? 0),
      String(usage.get(scope.scope)?.users ?? 0),
      scope.userDescription,
    ]),
    'no scopes yet: add one with `accord api add-scope`',
  );
  return `${head}\n${scopes}`;
}

function impactOption(value: string | undefined): Impact | undefined {
  if (value === undefined) return undefined;
  if (!(IMPACTS as readonly string[]).includes(value))
    throw new UsageError(`--impact must be low, medium or high, not "${value}"`);
  return value as Impact;
}

export const apiCommands = [
  defineCommand({
    name: 'api create',
    usage: '--tenant <owner> --name <name> --identifier <uri> [--multi-tenant]',
    summary: 'Register an API (a resource server) owned by a tenant; apps request its scopes as <identifier>/<scope>.',
    help: `--identifier: an https:// or api:// URI, unique on this server and not on Accord's own origin; tokens
for the API carry it in \`aud\`.
--multi-tenant: users of any tenant may be granted its scopes (default: the owner's users only).
JSON: {"identifier": "…", "name": "…", "tenant": "…", "multi_tenant": false, "scopes": [], …}`,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      identifier: { type: 'string' },
      'multi-tenant': { type: 'boolean' },
    },
    prepare: (parsed) => ({
      tenantId: requiredOption(parsed, 'tenant'),
      name: requiredOption(parsed, 'name'),
      identifier: requiredOption(parsed, 'identifier'),
      multiTenant: flag(parsed, 'multi-tenant'),
    }),
    run: async (ctx, input) => {
      const api = await apisOf(ctx).create(input, OPERATOR);
      return {
        json: apiJson(api),
        text: `registered API "${api.name}" (${api.identifier}), owned by ${api.tenantId}\n`,
      };
    },
  }),

  defineCommand({
    name: 'api add-scope',
    usage: `<identifier> <scope> --description "<user-facing text>"
      [--admin-description "<text>"] [--admin] [--impact low|medium|high]`,
    summary: 'Add a scope (a permission) to an API.',
    help: `<scope>: a letter, then letters, digits, dots, underscores or hyphens; apps request it as <identifier>/<scope>.
--description: what users read on the consent page ("Read your invoices").
--admin-description: what admins read (default: the user-facing text).
--admin: only an admin may consent to it (for the whole organisation).
--impact: how much it reaches (default: high for --admin, else low).`,
    args: ['identifier', 'scope'],
    options: {
      description: { type: 'string' },
      'admin-description': { type: 'string' },
      admin: { type: 'boolean' },
      impact: { type: 'string' },
    },
    prepare: (parsed) => ({
      identifier: arg(parsed, 0),
      scope: {
        name: arg(parsed, 1),
        userDescription: requiredOption(parsed, 'description'),
        adminDescription: stringOption(parsed, 'admin-description'),
        adminConsentRequired: flag(parsed, 'admin'),
        impact: impactOption(stringOption(parsed, 'impact')),
      },
    }),
    run: async (ctx, input) => {
      const scope = await apisOf(ctx).addScope(input.identifier, input.scope, OPERATOR);
      return {
        json: { identifier: input.identifier, ...scopeJson(scope) },
        text: `added ${scope.adminConsentRequired ? 'admin' : 'user'} scope ${scope.scope} (impact ${scope.impact})\n`,
      };
    },
  }),

  defineCommand({
    name: 'api list',
    usage: '[--tenant <t>]',
    summary: "List the registered APIs, or one tenant's.",
    options: { tenant: { type: 'string' } },
    prepare: (parsed) => stringOption(parsed, 'tenant'),
    run: async (ctx, tenantId) => {
      const apis = await apisOf(ctx).list(tenantId);
      return {
        json: { value: apis.map(apiJson) },
        text: table(
          ['IDENTIFIER', 'OWNER', 'TENANCY', 'SCOPES', 'NAME'],
          apis.map((api) => [
            api.identifier,
            api.tenantId ?? '(Accord)',
            api.multiTenant ? 'multi' : 'single',
            String(api.scopes.length),
            api.name,
          ]),
          'no APIs',
        ),
      };
    },
  }),

  defineCommand({
    name: 'api show',
    usage: '<identifier>',
    summary: 'Show an API, its scopes, the apps that use each and how many users granted it.',
    args: ['identifier'],
    prepare: (parsed) => arg(parsed, 0),
    run: async (ctx, identifier) => {
      const api = await apisOf(ctx).show(identifier);
      const usage = new Map(api.usage.map((entry) => [entry.scope, entry]));
      return {
        json: {
          ...apiJson(api),
          scopes: api.scopes.map((scope) => ({
            ...scopeJson(scope),
            apps: (usage.get(scope.scope)?.apps ?? []).map((app) => ({ client_id: app.clientId, name: app.name })),
            users: usage.get(scope.scope)?.users ?? 0,
            admin_consent_tenants: usage.get(scope.scope)?.adminConsentTenants ?? 0,
          })),
        },
        text: apiText(api),
      };
    },
  }),

  defineCommand({
    name: 'api remove-scope',
    usage: '<identifier> <scope> [--dry-run]',
    summary: 'Remove a scope: revokes it from every app, admin consent and user consent (tokens stop working).',
    help: `Prints what it revokes. --dry-run: print it and change nothing.`,
    args: ['identifier', 'scope'],
    options: { 'dry-run': { type: 'boolean' } },
    prepare: (parsed) => ({ identifier: arg(parsed, 0), name: arg(parsed, 1), dryRun: flag(parsed, 'dry-run') }),
    run: async (ctx, input) => {
      const apis = apisOf(ctx);
      const impact = input.dryRun
        ? await apis.removalImpact(input.identifier, input.name)
        : await apis.removeScope(input.identifier, input.name, OPERATOR);
      return {
        json: { ...impactJson(impact), removed: !input.dryRun },
        text: `${input.dryRun ? 'would revoke' : `removed scope ${input.name}; revoked`}:\n${impactText(impact)}`,
      };
    },
  }),

  defineCommand({
    name: 'api delete',
    usage: '<identifier> [--dry-run]',
    summary: 'Delete an API and its scopes: revokes every grant of them (tokens stop working).',
    help: `Prints what it revokes. --dry-run: print it and change nothing.`,
    args: ['identifier'],
    options: { 'dry-run': { type: 'boolean' } },
    prepare: (parsed) => ({ identifier: arg(parsed, 0), dryRun: flag(parsed, 'dry-run') }),
    run: async (ctx, input) => {
      const apis = apisOf(ctx);
      const impact = input.dryRun
        ? await apis.removalImpact(input.identifier)
        : await apis.delete(input.identifier, OPERATOR);
      return {
        json: { ...impactJson(impact), removed: !input.dryRun },
        text: `${input.dryRun ? 'would revoke' : `deleted API ${input.identifier}; revoked`}:\n${impactText(impact)}`,
      };
    },
  }),
];
