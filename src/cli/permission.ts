// `accord permission …`: a tenant's classes for the user permissions of every API it may use
// (issue 14): list them with their grant counts, and class one low, medium or high.
import type { Impact } from '../core/types.js';
import { ConsentPolicies, type PermissionClassification } from '../services/consent-policies.js';
import { IntegratedAppsPreview } from '../services/integrated-apps-preview.js';
import { arg, defineCommand, flag, UsageError } from './command.js';
import { previewJson, previewText } from './consent-output.js';
import { OPERATOR } from './context.js';
import { table } from './output.js';

const CLASSES: readonly Impact[] = ['low', 'medium', 'high'];

function classificationJson(entry: PermissionClassification) {
  return {
    scope: entry.scope,
    api: entry.api,
    api_name: entry.apiName,
    description: entry.userDescription,
    classification: entry.classification,
    source: entry.source,
    grants: entry.grants,
  };
}

export const permissionCommands = [
  defineCommand({
    name: 'permission list',
    usage: '<tenant>',
    summary: "List the tenant's user permissions by class (low, medium, high), with how many consents hold each.",
    help: `SOURCE says where the class comes from: tenant (classed with accord permission classify), default (low for
openid, profile, email, offline_access and User.Read) or api (the class its API's owner gave it).`,
    args: ['tenant'],
    prepare: (parsed) => arg(parsed, 0),
    run: async (ctx, tenantId) => {
      const entries = await new ConsentPolicies(ctx.pool, ctx.catalogue).classifications(tenantId);
      const byClass = CLASSES.flatMap((impact) => entries.filter((entry) => entry.classification === impact));
      return {
        json: { value: byClass.map(classificationJson) },
        text: table(
          ['CLASS', 'PERMISSION', 'SOURCE', 'GRANTS', 'DESCRIPTION'],
          byClass.map((entry) => [
            entry.classification,
            entry.scope,
            entry.source,
            String(entry.grants),
            entry.userDescription,
          ]),
          'no user permissions',
        ),
      };
    },
  }),

  defineCommand({
    name: 'permission classify',
    usage: '<tenant> <scope> low|medium|high [--dry-run]',
    summary: 'Class a user permission for the tenant: with verified-low-impact, users may consent to low ones only.',
    help: `<scope> is the permission's full request name (https://api.example/Invoices.Read) or, when only one API the
tenant may use has it, its short name (Invoices.Read). Admin permissions are not classed: only admins consent
to them. --dry-run: show what the change would affect; change nothing.`,
    args: ['tenant', 'scope', 'low|medium|high'],
    options: { 'dry-run': { type: 'boolean' } },
    prepare: (parsed) => {
      const classification = arg(parsed, 2);
      if (!(CLASSES as readonly string[]).includes(classification))
        throw new UsageError(`the class must be low, medium or high, not "${classification}"`);
      return {
        tenantId: arg(parsed, 0),
        scope: arg(parsed, 1),
        classification: classification as Impact,
        dryRun: flag(parsed, 'dry-run'),
      };
    },
    run: async (ctx, input) => {
      const policies = new ConsentPolicies(ctx.pool, ctx.catalogue);
      if (input.dryRun) {
        const permission = policies.resolveUserPermission(input.tenantId, input.scope);
        const preview = await new IntegratedAppsPreview(ctx.pool, ctx.catalogue).previewChange(input.tenantId, {
          classify: { scope: permission.scope, classification: input.classification },
        });
        return { json: { ...previewJson(preview), changed: false }, text: `would change:\n${previewText(preview)}` };
      }
      const result = await policies.classify(input.tenantId, input.scope, input.classification, OPERATOR);
      return {
        json: { tenant: input.tenantId, scope: result.scope, from: result.from, to: result.to },
        text: `${result.scope} is classified ${result.to} in tenant ${input.tenantId} (was ${result.from})\n`,
      };
    },
  }),
];
