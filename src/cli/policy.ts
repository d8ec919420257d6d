// `accord policy …`: a tenant's app consent policies (issue 14): list and show them (the built-in
// `all` and `verified-low-impact` among them), create and delete custom ones, and the what-if —
// the consent decision for an app, a user and scopes, with its rule in words, granting nothing.
import { ConsentPolicies } from '../services/consent-policies.js';
import { IntegratedAppsPreview } from '../services/integrated-apps-preview.js';
import { arg, defineCommand, flag, listOption, requiredOption, scopesOf, stringOption, UsageError } from './command.js';
import { decisionJson, decisionText, policyJson, policyText, previewJson, previewText } from './consent-output.js';
import type { Context } from './context.js';
import { OPERATOR } from './context.js';
import { table } from './output.js';

const policiesOf = (ctx: Context) => new ConsentPolicies(ctx.pool, ctx.catalogue);

/** `--include '{"permissions":["Calendars.Read"]}'`, once per condition set. */
function conditionSets(values: string[] | undefined, option: string): unknown[] {
  return (values ?? []).map((value, index) => {
    try {
      return snakeToCamel(JSON.parse(value));
    } catch {
      throw new UsageError(
        `--${option} #${index + 1} is not JSON: give a condition set such as '{"classifications":["low"]}'`,
      );
    }
  });
}

/** Condition sets may be written in the CLI's snake_case (client_app_ids) or as the API writes them. */
function snakeToCamel(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()),
      inner,
    ]),
  );
}

export const policyCommands = [
  defineCommand({
    name: 'policy list',
    usage: '<tenant>',
    summary: "List the tenant's app consent policies: the built-in ones (one in effect) and its own.",
    args: ['tenant'],
    prepare: (parsed) => arg(parsed, 0),
    run: async (ctx, tenantId) => {
      const policies = await policiesOf(ctx).listPolicies(tenantId);
      return {
        json: { value: policies.map(policyJson) },
        text: table(
          ['ID', 'KIND', 'IN EFFECT', 'NAME'],
          policies.map((policy) => [
            policy.id,
            policy.builtIn ? 'built-in' : 'custom',
            policy.inEffect ? 'yes' : 'no',
            policy.name,
          ]),
          'no policies',
        ),
      };
    },
  }),

  defineCommand({
    name: 'policy show',
    usage: '<tenant> <id>',
    summary: 'Show an app consent policy and its condition sets in words.',
    args: ['tenant', 'id'],
    prepare: (parsed) => ({ tenantId: arg(parsed, 0), id: arg(parsed, 1) }),
    run: async (ctx, input) => {
      const policy = await policiesOf(ctx).showPolicy(input.tenantId, input.id);
      return { json: policyJson(policy), text: policyText(policy) };
    },
  }),

  defineCommand({
    name: 'policy create',
    usage: '<tenant> <id> --name <name> [--include <json>]... [--exclude <json>]... [--dry-run]',
    summary: 'Add a custom app consent policy: condition sets that include or exclude what users may consent to.',
    help: `A user may consent when every missing permission is included by some policy in effect (the built-in one the
user consent setting names, and every custom one) and no policy excludes any of them. Each --include and
--exclude is one condition set, a JSON object whose given fields must all match:
  permissions        ["Calendars.Read", "https://api.example/Invoices.Read"]  (full or short names)
  classifications    ["low", "medium", "high"]
  apis               ["/data/v1", "https://api.example", "openid"]
  client_app_ids     ["<client id>"]
  publisher_tenant_ids ["<tenant id>"]
  verified_publisher true | false
An empty set {} matches every permission of every app: --exclude '{}' stops all user consent (admins still can).
--dry-run: check the policy and show what it would change; save nothing.
Example: accord policy create contoso calendar-app --name "Calendar app may read calendars" \\
           --include '{"client_app_ids":["abc"],"permissions":["Calendars.Read"]}'`,
    args: ['tenant', 'id'],
    options: {
      name: { type: 'string' },
      include: { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean' },
    },
    prepare: (parsed) => ({
      tenantId: arg(parsed, 0),
      policy: {
        id: arg(parsed, 1),
        name: requiredOption(parsed, 'name'),
        includes: conditionSets(listOption(parsed, 'include'), 'include'),
        excludes: conditionSets(listOption(parsed, 'exclude'), 'exclude'),
      },
      dryRun: flag(parsed, 'dry-run'),
    }),
    run: async (ctx, input) => {
      const policies = policiesOf(ctx);
      if (input.dryRun) {
        const policy = await policies.validatePolicy(input.tenantId, input.policy);
        const preview = await new IntegratedAppsPreview(ctx.pool, ctx.catalogue).previewChange(input.tenantId, {
          addPolicy: policy,
        });
        return { json: { ...previewJson(preview), changed: false }, text: `would change:\n${previewText(preview)}` };
      }
      const policy = await policies.createPolicy(input.tenantId, input.policy, OPERATOR);
      return { json: policyJson(policy), text: `created policy ${policy.id}\n${policyText(policy)}` };
    },
  }),

  defineCommand({
    name: 'policy delete',
    usage: '<tenant> <id> [--dry-run]',
    summary: 'Remove a custom app consent policy (the built-in ones are chosen with tenant set-user-consent).',
    help: '--dry-run: show what removing it would change; change nothing.',
    args: ['tenant', 'id'],
    options: { 'dry-run': { type: 'boolean' } },
    prepare: (parsed) => ({ tenantId: arg(parsed, 0), id: arg(parsed, 1), dryRun: flag(parsed, 'dry-run') }),
    run: async (ctx, input) => {
      const policies = policiesOf(ctx);
      if (input.dryRun) {
        const policy = await policies.showPolicy(input.tenantId, input.id);
        if (policy.builtIn)
          throw new UsageError(`"${input.id}" is a built-in policy: change the user consent setting instead`);
        const preview = await new IntegratedAppsPreview(ctx.pool, ctx.catalogue).previewChange(input.tenantId, {
          removePolicyId: input.id,
        });
        return { json: { ...previewJson(preview), changed: false }, text: `would change:\n${previewText(preview)}` };
      }
      await policies.deletePolicy(input.tenantId, input.id, OPERATOR);
      return { json: { tenant: input.tenantId, id: input.id, deleted: true }, text: `deleted policy ${input.id}\n` };
    },
  }),

  defineCommand({
    name: 'policy evaluate',
    usage: '<tenant> --app <client_id> --user <id|username> --scopes <scopes> [--prompt-consent]',
    summary: 'What-if: the consent decision for an app, a user and scopes, and the rule that decided. Grants nothing.',
    args: ['tenant'],
    options: {
      app: { type: 'string' },
      user: { type: 'string' },
      scopes: { type: 'string', multiple: true },
      'prompt-consent': { type: 'boolean' },
    },
    prepare: (parsed) => {
      const scopes = scopesOf(listOption(parsed, 'scopes') ?? []);
      if (scopes.length === 0) throw new UsageError('--scopes is required');
      return {
        tenantId: arg(parsed, 0),
        clientId: requiredOption(parsed, 'app'),
        user: requiredOption(parsed, 'user'),
        scopes,
        promptConsent: flag(parsed, 'prompt-consent') || stringOption(parsed, 'prompt') === 'consent',
      };
    },
    run: async (ctx, input) => {
      const result = await policiesOf(ctx).evaluate(input.tenantId, input);
      return {
        json: {
          tenant: result.tenantId,
          client_id: result.clientId,
          user_id: result.userId,
          requested_scopes: result.requestedScopes,
          ignored_scopes: result.ignoredScopes,
          decision: decisionJson(result.decision),
        },
        text:
          decisionText(result.decision) +
          result.ignoredScopes.map((entry) => `ignored ${entry.scope}: ${entry.why}\n`).join(''),
      };
    },
  }),
];
