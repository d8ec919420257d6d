// `accord app …`: register, list, show, change and delete apps (OAuth clients); manage client
// secrets (add a second one, remove one, replace them all); mark a publisher verified. Commands that change an app act for the app's publisher
// tenant, read from the app itself; `--tenant <publisher>`, when given, must name that tenant.
import { InvalidRequest, NotFound } from '../core/errors.js';
import type { AppChanges } from '../db/apps.js';
import {
  DEFAULT_SECRET_LIFETIME_DAYS,
  MAX_LIVE_SECRETS,
  MAX_SECRET_LIFETIME_DAYS,
  type NewSecret,
  secretLifetimeDays,
} from '../services/app-secrets.js';
import { DirectoryReads } from '../services/directory-reads.js';
import {
  arg,
  defineCommand,
  flag,
  listOption,
  onOff,
  type Parsed,
  requiredOption,
  scopesOf,
  stringOption,
  UsageError,
} from './command.js';
import { type Context, OPERATOR } from './context.js';
import { appJson, appText, fields, table } from './output.js';

const URL_OPTIONS = ['homepage-url', 'privacy-url', 'terms-url', 'logo-url'] as const;
const urlOptions = Object.fromEntries(URL_OPTIONS.map((name) => [name, { type: 'string' as const }]));

const REDIRECT_HELP = `Redirect URIs are compared exactly: https, or http only on loopback (localhost, 127.0.0.1, [::1]),
or a reverse-DNS private-use scheme for native apps (com.example.app:/cb); no fragment, no wildcard.`;

/** The tenant that publishes the app; `--tenant`, when given, must be it. */
async function publisherOf(ctx: Context, clientId: string, tenant: string | undefined): Promise<string> {
  const app = await new DirectoryReads(ctx.pool).findApp(clientId);
  if (!app) throw NotFound(`app "${clientId}" not found`);
  if (tenant !== undefined && tenant !== app.publisherTenantId)
    throw NotFound(`app "${clientId}" is not published by tenant "${tenant}"`);
  return app.publisherTenantId;
}

/** `--expires-in-days`: a whole number; its range is the service's rule (secretLifetimeDays). */
function daysOption(parsed: Parsed): number | undefined {
  const value = stringOption(parsed, 'expires-in-days');
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value)) throw new UsageError('--expires-in-days must be a whole number of days');
  return secretLifetimeDays(Number(value));
}

/** A secret just made, as `--json` prints it: the only time its value appears. */
function newSecretJson(clientId: string, secret: NewSecret) {
  return {
    client_id: clientId,
    client_secret: secret.value,
    secret_id: secret.id,
    hint: secret.hint,
    created_at: secret.createdAt.toISOString(),
    expires_at: secret.expiresAt.toISOString(),
  };
}

/** What `rotate-secret` and `add-secret` print: the new secret, once, after a line saying what happened. */
function newSecretOutput(clientId: string, secret: NewSecret, heading: string) {
  return {
    json: newSecretJson(clientId, secret),
    text: `${heading}\n${secretText(clientId, secret.value)}  expires:       ${secret.expiresAt.toISOString()}\n`,
  };
}

/** The input of a command that makes a secret: the app, its publisher if given, the secret's lifetime. */
function newSecretInput(parsed: Parsed) {
  return { clientId: arg(parsed, 0), tenant: stringOption(parsed, 'tenant'), days: daysOption(parsed) };
}

function secretText(clientId: string, secret: string | undefined): string {
  if (!secret) return `  client_id:     ${clientId}\n  (a public client: no secret; it must use PKCE)\n`;
  return `  client_id:     ${clientId}\n  client_secret: ${secret}\n  The secret is shown only now: store it safely.\n`;
}

// The Directory falls back to the tenant's name when a new app has none; a name given must be usable.
function publisherNameOption(parsed: Parsed): string | undefined {
  const value = stringOption(parsed, 'publisher-name')?.trim();
  if (value !== undefined && (!value || value.length > 200))
    throw InvalidRequest('publisher name must be 1–200 characters', { field: 'publisher_name' });
  return value;
}

function appChanges(parsed: Parsed): AppChanges {
  const changes: AppChanges = {};
  const name = stringOption(parsed, 'name');
  if (name !== undefined) changes.name = name;
  const publisherName = publisherNameOption(parsed);
  if (publisherName !== undefined) changes.publisherName = publisherName;
  const multiTenant = stringOption(parsed, 'multi-tenant');
  if (multiTenant !== undefined) changes.multiTenant = onOff(multiTenant, '--multi-tenant');
  const redirectUris = listOption(parsed, 'redirect-uri');
  if (redirectUris) changes.redirectUris = redirectUris;
  // `--post-logout-redirect-uri ""` clears the list.
  const postLogout = listOption(parsed, 'post-logout-redirect-uri');
  if (postLogout) changes.postLogoutRedirectUris = postLogout.filter(Boolean);
  const permissions = listOption(parsed, 'permissions');
  if (permissions) changes.scopes = scopesOf(permissions);
  // `--optional-permissions ""` makes every permission required again.
  const optional = listOption(parsed, 'optional-permissions');
  if (optional) changes.optionalScopes = scopesOf(optional);
  const urls = {
    'homepage-url': 'homepageUrl',
    'privacy-url': 'privacyUrl',
    'terms-url': 'termsUrl',
    'logo-url': 'logoUrl',
  } as const;
  for (const option of URL_OPTIONS) {
    const value = stringOption(parsed, option);
    if (value !== undefined) changes[urls[option]] = value || null; // "" clears it
  }
  if (Object.keys(changes).length === 0) throw new UsageError('nothing to update: give at least one option');
  return changes;
}

export const appCommands = [
  defineCommand({
    name: 'app create',
    usage: `--tenant <publisher> --name <name> --redirect-uri <uri> [--redirect-uri <uri>…]
      [--post-logout-redirect-uri <uri>…] [--multi-tenant] [--public]
      --permissions "<space-separated scopes>" [--optional-permissions "<scopes>"] [--publisher-name <name>]
      [--homepage-url <url>] [--privacy-url <url>] [--terms-url <url>] [--logo-url <url>]`,
    summary: 'Register an app published by a tenant; prints its client_id and, once, its client_secret.',
    help: `--multi-tenant: usable by users of any tenant (default: only the publisher's own users).
--public: a public client (native or single-page app) with no secret; it must use PKCE.
--permissions: the scopes the app asks for, from the permission catalogue (e.g. "openid profile User.Read").
--optional-permissions: those of --permissions a user may untick on the consent page (never openid).
--publisher-name: the publisher shown on consent pages (default: the tenant's name); it shows as
not verified until \`accord app verify-publisher <client_id> on\`.
${REDIRECT_HELP}
JSON: {"client_id": "…", "client_secret": "…" (absent for --public), "name": "…", …}`,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'multi-tenant': { type: 'boolean' },
      public: { type: 'boolean' },
      permissions: { type: 'string', multiple: true },
      'optional-permissions': { type: 'string', multiple: true },
      'publisher-name': { type: 'string' },
      ...urlOptions,
    },
    prepare: (parsed) => {
      const publisherTenantId = requiredOption(parsed, 'tenant');
      const name = requiredOption(parsed, 'name');
      const redirectUris = listOption(parsed, 'redirect-uri');
      if (!redirectUris) throw new UsageError('--redirect-uri is required');
      const permissions = listOption(parsed, 'permissions');
      if (!permissions) throw new UsageError('--permissions is required');
      return {
        publisherTenantId,
        name,
        publisherName: publisherNameOption(parsed),
        multiTenant: flag(parsed, 'multi-tenant'),
        public: flag(parsed, 'public'),
        redirectUris,
        postLogoutRedirectUris: listOption(parsed, 'post-logout-redirect-uri') ?? [],
        homepageUrl: stringOption(parsed, 'homepage-url') || null,
        privacyUrl: stringOption(parsed, 'privacy-url') || null,
        termsUrl: stringOption(parsed, 'terms-url') || null,
        logoUrl: stringOption(parsed, 'logo-url') || null,
        scopes: scopesOf(permissions),
        optionalScopes: scopesOf(listOption(parsed, 'optional-permissions') ?? []),
      };
    },
    run: async (ctx, input) => {
      const directory = await ctx.directory();
      const { app, clientSecret } = await directory.createApp(input, OPERATOR);
      const { client_id, ...registration } = appJson(app);
      return {
        json: { client_id, ...(clientSecret ? { client_secret: clientSecret } : {}), ...registration },
        text:
          `registered ${app.multiTenant ? 'multi-tenant' : 'single-tenant'} ${app.clientType} app "${app.name}", published by ${app.publisherTenantId}\n` +
          secretText(app.clientId, clientSecret),
      };
    },
  }),

  defineCommand({
    name: 'app list',
    usage: '[--tenant <publisher>]',
    summary: 'List registered apps, or only those a tenant publishes.',
    options: { tenant: { type: 'string' } },
    prepare: (parsed) => stringOption(parsed, 'tenant'),
    run: async (ctx, tenant) => {
      const reads = new DirectoryReads(ctx.pool);
      if (tenant !== undefined) await reads.requireTenant(tenant);
      const apps = await reads.listApps(tenant);
      return {
        json: { value: apps.map(appJson) },
        text: table(
          ['CLIENT_ID', 'PUBLISHER', 'VERIFIED', 'TENANCY', 'TYPE', 'NAME'],
          apps.map((app) => [
            app.clientId,
            app.publisherTenantId,
            app.publisherVerified ? 'yes' : 'no',
            app.multiTenant ? 'multi' : 'single',
            app.clientType,
            app.name,
          ]),
          'no apps',
        ),
      };
    },
  }),

  defineCommand({
    name: 'app show',
    usage: '<client_id>',
    summary: 'Show an app registration (never its secret).',
    args: ['client_id'],
    prepare: (parsed) => arg(parsed, 0),
    run: async (ctx, clientId) => {
      const app = await new DirectoryReads(ctx.pool).findAppWithSecrets(clientId);
      if (!app) throw NotFound(`app "${clientId}" not found`);
      return { json: appJson(app), text: appText(app) };
    },
  }),

  defineCommand({
    name: 'app update',
    usage: `<client_id> [--tenant <publisher>] [--name <name>] [--publisher-name <name>]
      [--redirect-uri <uri>…] [--post-logout-redirect-uri <uri>…] [--permissions "<scopes>"]
      [--optional-permissions "<scopes>"] [--multi-tenant on|off] [--homepage-url <url>] [--privacy-url <url>] [--terms-url <url>] [--logo-url <url>]`,
    summary: "Change an app's registration; options not given stay as they are.",
    help: `--redirect-uri, --post-logout-redirect-uri, --permissions and --optional-permissions replace the whole registered list.
An empty value ("") clears --post-logout-redirect-uri, --optional-permissions and the URL options.
${REDIRECT_HELP}`,
    args: ['client_id'],
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      'publisher-name': { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      permissions: { type: 'string', multiple: true },
      'optional-permissions': { type: 'string', multiple: true },
      'multi-tenant': { type: 'string' },
      ...urlOptions,
    },
    prepare: (parsed) => ({
      clientId: arg(parsed, 0),
      tenant: stringOption(parsed, 'tenant'),
      changes: appChanges(parsed),
    }),
    run: async (ctx, input) => {
      const publisher = await publisherOf(ctx, input.clientId, input.tenant);
      const directory = await ctx.directory();
      const app = await directory.updateApp(publisher, input.clientId, input.changes, OPERATOR);
      return { json: appJson(app), text: `updated app ${app.clientId}\n${appText(app)}` };
    },
  }),

  defineCommand({
    name: 'app rotate-secret',
    usage: '<client_id> [--tenant <publisher>] [--expires-in-days <n>]',
    summary:
      'Replace every client secret of a confidential app with a new one; prints it, once. The others stop working at once (use add-secret and remove-secret to change a secret without an outage).',
    args: ['client_id'],
    options: { tenant: { type: 'string' }, 'expires-in-days': { type: 'string' } },
    prepare: newSecretInput,
    run: async (ctx, input) => {
      const publisher = await publisherOf(ctx, input.clientId, input.tenant);
      const directory = await ctx.directory();
      const secret = await directory.secrets.replace(publisher, input.clientId, OPERATOR, input.days);
      return newSecretOutput(
        input.clientId,
        secret,
        `new client secret for ${input.clientId} (every other secret was removed)`,
      );
    },
  }),

  defineCommand({
    name: 'app add-secret',
    usage: '<client_id> [--tenant <publisher>] [--expires-in-days <n>]',
    summary: `Add a client secret beside the current one (at most ${MAX_LIVE_SECRETS} at a time); prints it, once. Both work until one is removed or expires.`,
    help: `--expires-in-days: 1 to ${MAX_SECRET_LIFETIME_DAYS} (default ${DEFAULT_SECRET_LIFETIME_DAYS}).
Rotation without an outage: add-secret, switch the app to the new secret, remove-secret the old one.
JSON: {"client_id", "secret_id", "client_secret", "hint", "created_at", "expires_at"}`,
    args: ['client_id'],
    options: { tenant: { type: 'string' }, 'expires-in-days': { type: 'string' } },
    prepare: newSecretInput,
    run: async (ctx, input) => {
      const publisher = await publisherOf(ctx, input.clientId, input.tenant);
      const directory = await ctx.directory();
      const secret = await directory.secrets.add(publisher, input.clientId, OPERATOR, input.days);
      return newSecretOutput(input.clientId, secret, `added client secret ${secret.id} to ${input.clientId}`);
    },
  }),

  defineCommand({
    name: 'app remove-secret',
    usage: '<client_id> <secret_id> [--tenant <publisher>]',
    summary: 'Remove one client secret of an app: it stops working at once. `app show` lists the secret ids.',
    args: ['client_id', 'secret_id'],
    options: { tenant: { type: 'string' } },
    prepare: (parsed) => ({
      clientId: arg(parsed, 0),
      secretId: arg(parsed, 1),
      tenant: stringOption(parsed, 'tenant'),
    }),
    run: async (ctx, input) => {
      const publisher = await publisherOf(ctx, input.clientId, input.tenant);
      const directory = await ctx.directory();
      await directory.secrets.remove(publisher, input.clientId, input.secretId, OPERATOR);
      return {
        json: { client_id: input.clientId, secret_id: input.secretId, removed: true },
        text: `removed client secret ${input.secretId} of ${input.clientId}: it no longer works\n`,
      };
    },
  }),

  defineCommand({
    name: 'app delete',
    usage: '<client_id> [--tenant <publisher>]',
    summary: 'Delete an app everywhere: every tenant loses its consents, and the tokens it holds stop working.',
    args: ['client_id'],
    options: { tenant: { type: 'string' } },
    prepare: (parsed) => ({ clientId: arg(parsed, 0), tenant: stringOption(parsed, 'tenant') }),
    run: async (ctx, input) => {
      const publisher = await publisherOf(ctx, input.clientId, input.tenant);
      const directory = await ctx.directory();
      await directory.deleteApp(publisher, input.clientId, OPERATOR);
      return { json: { client_id: input.clientId, deleted: true }, text: `deleted app ${input.clientId}\n` };
    },
  }),

  defineCommand({
    name: 'app verify-publisher',
    usage: '<client_id> on|off',
    summary: "Mark an app's publisher as verified (on) or not (off); consent pages show it.",
    args: ['client_id', 'on|off'],
    prepare: (parsed) => ({ clientId: arg(parsed, 0), verified: onOff(arg(parsed, 1), 'the verification') }),
    run: async (ctx, input) => {
      const directory = await ctx.directory();
      const app = await directory.setPublisherVerified(input.clientId, input.verified, OPERATOR);
      return {
        json: appJson(app),
        text: fields([
          ['client_id', app.clientId],
          ['publisher', `${app.publisherName} (${app.publisherVerified ? 'verified' : 'not verified'})`],
        ]),
      };
    },
  }),
];
