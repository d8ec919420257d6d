// Graduated consent (issue 14): the tenant's user consent setting and risk-based step-up
// (`/consent-settings`), its permission classifications (`/permission-classifications`), its
// custom app consent policies (`/consent-policies`), the preview of a change before it is saved,
// and the what-if (`POST /consent-policies/evaluate`), which decides without granting anything.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { ConsentDecision } from '../../core/consent-decision.js';
import type { PolicyView } from '../../services/consent-policies.js';
import type { ConsentSettingsPreview } from '../../services/integrated-apps-preview.js';
import { stringEnum } from '../schema-parts.js';
import type { AdminApiDeps } from './deps.js';
import { actorOf } from './require-tenant-admin.js';
import { answer, collectionOf, errorResponses, noContent, refTo, TenantParams } from './schemas.js';

const tags = ['Consent policies'];
const IMPACT = stringEnum(['low', 'medium', 'high']);
const SETTING = stringEnum(['all', 'verified-low-impact'], {
  description:
    '`all`: users may consent to any user permission (the default). `verified-low-impact`: only to low-impact permissions of apps from verified publishers.',
});
const names = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 700 }), { minItems: 1, maxItems: 100, description });

const conditionSetProperties = {
  permissions: Type.Optional(names('Permissions by full or short name.')),
  classifications: Type.Optional(Type.Array(IMPACT, { minItems: 1, maxItems: 3 })),
  apis: Type.Optional(names('API identifiers (as the catalogue names them), or `openid` for the OpenID scopes.')),
  clientAppIds: Type.Optional(names('Apps by client id.')),
  publisherTenantIds: Type.Optional(names('Publisher tenants by id.')),
  verifiedPublisher: Type.Optional(Type.Boolean({ description: 'Only apps whose publisher is (or is not) verified.' })),
};
const conditionSetDescription = 'Every field given must match; an empty set matches every permission of every app.';
const ConditionSetSchema = Type.Object(conditionSetProperties, {
  $id: 'ConditionSet',
  additionalProperties: false,
  description: conditionSetDescription,
});
/** The same, inline: request bodies are validated without the shared schemas. */
const ConditionSetBody = Type.Object(conditionSetProperties, {
  additionalProperties: false,
  description: conditionSetDescription,
});

const ConsentSettingsSchema = Type.Object(
  {
    userConsent: SETTING,
    riskStepUp: Type.Boolean({
      description:
        'Risk-based step-up: a new multi-tenant app from another tenant and an unverified publisher asking for more than sign-in and profile goes to admin approval.',
    }),
    riskStepUpDays: Type.Integer({ description: 'An app registered fewer days ago than this counts as new.' }),
  },
  { $id: 'ConsentSettings' },
);

const ClassificationSchema = Type.Object(
  {
    scope: Type.String({ description: 'The permission’s full request name.' }),
    api: Type.String({ description: 'Its API’s identifier, or `openid`.' }),
    apiName: Type.String(),
    description: Type.String({ description: 'What users read on the consent page.' }),
    classification: IMPACT,
    source: stringEnum(['tenant', 'default', 'api'], {
      description:
        '`tenant`: classed by this tenant; `default`: low for sign-in and profile; `api`: its API owner’s class.',
    }),
    grants: Type.Integer({ description: 'Consents in the tenant holding it (users’ own and the admin consents).' }),
  },
  { $id: 'PermissionClassification' },
);

const PolicySchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    builtIn: Type.Boolean(),
    inEffect: Type.Boolean({ description: 'Whether it decides in the tenant now.' }),
    includes: Type.Array(refTo(ConditionSetSchema)),
    excludes: Type.Array(refTo(ConditionSetSchema)),
    includesText: Type.Array(Type.String(), { description: 'The include condition sets in words.' }),
    excludesText: Type.Array(Type.String(), { description: 'The exclude condition sets in words.' }),
  },
  { $id: 'ConsentPolicy' },
);

const RuleSchema = Type.Object(
  {
    row: Type.Integer({ description: 'The row of the consent decision table (docs/consent.md).' }),
    id: Type.String({ description: 'The rule, e.g. `unverified_publisher`, `not_low_impact`, `risky_app`.' }),
    explanation: Type.String({ description: 'Why, in words.' }),
    policy: Type.Optional(Type.Object({ id: Type.String(), name: Type.String() })),
    scopes: Type.Optional(Type.Array(Type.String())),
  },
  { $id: 'DecisionRule' },
);

const EvaluationSchema = Type.Object(
  {
    outcome: stringEnum(['proceed', 'consent', 'needs_admin_approval', 'refused']),
    reason: Type.Optional(Type.String()),
    rule: refTo(RuleSchema),
    requestedScopes: Type.Array(Type.String(), { description: 'The scopes decided on.' }),
    ignoredScopes: Type.Array(Type.Object({ scope: Type.String(), why: Type.String() }), {
      description: 'Scopes of the request left out (unknown, not registered by the app, not served to this tenant).',
    }),
    missingScopes: Type.Array(Type.String()),
    alreadyGrantedScopes: Type.Array(Type.String()),
    adminScopes: Type.Array(Type.String()),
    offerOrgConsent: Type.Boolean(),
  },
  { $id: 'ConsentEvaluation', description: 'The decision; nothing was granted or recorded.' },
);

const VerdictSchema = Type.Object({ outcome: Type.String(), rule: Type.String(), explanation: Type.String() });
const PreviewSchema = Type.Object(
  {
    excludesEverything: Type.Boolean({
      description:
        'After the change a policy excludes every permission of every app: users could consent to nothing new.',
    }),
    existingGrantsKept: Type.Boolean({ description: 'Always true: no grant is revoked or narrowed.' }),
    waitingSignIns: Type.Integer(),
    signInsChanged: Type.Array(
      Type.Object({
        username: Type.String(),
        clientId: Type.String(),
        appName: Type.String(),
        before: VerdictSchema,
        after: VerdictSchema,
      }),
    ),
    openRequests: Type.Integer(),
    requestsChanged: Type.Array(
      Type.Object({
        id: Type.String(),
        username: Type.String(),
        clientId: Type.String(),
        appName: Type.String(),
        scopes: Type.Array(Type.String()),
        before: VerdictSchema,
        after: VerdictSchema,
      }),
    ),
    appsChanged: Type.Array(
      Type.Object({
        clientId: Type.String(),
        name: Type.String(),
        users: Type.Integer({ description: 'Users holding a consent to the app: their next consents change.' }),
        before: VerdictSchema,
        after: VerdictSchema,
      }),
    ),
  },
  { $id: 'ConsentSettingsPreview', description: 'What the change would change; nothing is saved.' },
);

/** The shared schemas of this file, added by the admin API's mount. */
export const consentPolicySchemas = [
  ConditionSetSchema,
  ConsentSettingsSchema,
  ClassificationSchema,
  PolicySchema,
  RuleSchema,
  EvaluationSchema,
  PreviewSchema,
];

const SettingsChangesBody = Type.Object(
  {
    userConsent: Type.Optional(SETTING),
    riskStepUp: Type.Optional(Type.Boolean()),
    riskStepUpDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  { additionalProperties: false },
);
const ScopeParams = Type.Object(
  {
    tenant: TenantParams.properties.tenant,
    scope: Type.String({
      minLength: 1,
      maxLength: 700,
      description: 'The permission, full or short name, percent-encoded.',
    }),
  },
  { additionalProperties: false },
);
const ClassifyBody = Type.Object({ classification: IMPACT }, { additionalProperties: false });
const PolicyParams = Type.Object(
  { tenant: TenantParams.properties.tenant, id: Type.String({ minLength: 1, maxLength: 40 }) },
  { additionalProperties: false },
);
const NewPolicyBody = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 40, description: 'Lowercase letters, digits, hyphens.' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    includes: Type.Optional(Type.Array(ConditionSetBody, { maxItems: 20 })),
    excludes: Type.Optional(Type.Array(ConditionSetBody, { maxItems: 20 })),
  },
  { additionalProperties: false },
);
const PolicyPreviewBody = Type.Object(
  {
    add: Type.Optional(NewPolicyBody),
    remove: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'A custom policy’s id.' })),
  },
  { additionalProperties: false },
);
const EvaluateBody = Type.Object(
  {
    clientId: Type.String({ minLength: 1, maxLength: 64 }),
    user: Type.String({ minLength: 1, maxLength: 64, description: 'The user’s id or username in the tenant.' }),
    scopes: Type.Array(Type.String({ minLength: 1, maxLength: 700 }), { minItems: 1, maxItems: 100 }),
    promptConsent: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

function policyOf(policy: PolicyView): Static<typeof PolicySchema> {
  return {
    id: policy.id,
    name: policy.name,
    builtIn: policy.builtIn,
    inEffect: policy.inEffect,
    includes: policy.includes,
    excludes: policy.excludes,
    includesText: policy.includesText,
    excludesText: policy.excludesText,
  };
}

function evaluationOf(
  decision: ConsentDecision,
  requestedScopes: string[],
  ignoredScopes: Array<{ scope: string; why: string }>,
): Static<typeof EvaluationSchema> {
  return {
    outcome: decision.outcome,
    ...('reason' in decision ? { reason: decision.reason } : {}),
    rule: decision.rule,
    requestedScopes,
    ignoredScopes,
    missingScopes: decision.outcome === 'proceed' || decision.outcome === 'refused' ? [] : decision.missingScopes,
    alreadyGrantedScopes:
      decision.outcome === 'consent'
        ? decision.alreadyGrantedScopes
        : decision.outcome === 'proceed'
          ? requestedScopes
          : [],
    adminScopes: decision.outcome === 'needs_admin_approval' ? decision.adminScopes : [],
    offerOrgConsent: decision.outcome === 'consent' && decision.offerOrgConsent,
  };
}

const previewOf = (preview: ConsentSettingsPreview): Static<typeof PreviewSchema> => preview;

export const consentPoliciesRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (
  app,
  { consentPolicies, consentPreview },
) => {
  app.get(
    '/consent-settings',
    {
      schema: {
        tags,
        operationId: 'getConsentSettings',
        summary: 'Read the user consent setting and risk-based step-up',
        params: TenantParams,
        response: { 200: answer(ConsentSettingsSchema, 'The settings.'), ...errorResponses(404) },
      },
    },
    async (request) => consentPolicies.settings(request.params.tenant),
  );

  app.patch(
    '/consent-settings',
    {
      schema: {
        tags,
        operationId: 'updateConsentSettings',
        summary: 'Change the user consent setting or risk-based step-up',
        description: 'Grants already made are kept. Each change is recorded in the audit events.',
        params: TenantParams,
        body: SettingsChangesBody,
        response: { 200: answer(ConsentSettingsSchema, 'The settings as changed.'), ...errorResponses(404) },
      },
    },
    async (request) => consentPolicies.updateSettings(request.params.tenant, request.body, actorOf(request)),
  );

  app.post(
    '/consent-settings/preview',
    {
      schema: {
        tags,
        operationId: 'previewConsentSettings',
        summary: 'What a change of the settings would change, before saving it',
        params: TenantParams,
        body: SettingsChangesBody,
        response: { 200: answer(PreviewSchema, 'Nothing is saved.'), ...errorResponses(404) },
      },
    },
    async (request) => {
      const { userConsent, riskStepUp, riskStepUpDays } = request.body;
      const current = await consentPolicies.settings(request.params.tenant);
      return previewOf(
        await consentPreview.previewChange(request.params.tenant, {
          ...(userConsent ? { userConsent } : {}),
          ...(riskStepUp !== undefined || riskStepUpDays !== undefined
            ? { riskStepUp: { enabled: riskStepUp ?? current.riskStepUp, days: riskStepUpDays } }
            : {}),
        }),
      );
    },
  );

  app.get(
    '/permission-classifications',
    {
      schema: {
        tags,
        operationId: 'listPermissionClassifications',
        summary: 'Every user permission available to the tenant, with its class and grant count',
        params: TenantParams,
        response: {
          200: collectionOf(refTo(ClassificationSchema), 'In catalogue order.'),
          ...errorResponses(404),
        },
      },
    },
    async (request) => ({
      value: (await consentPolicies.classifications(request.params.tenant)).map((entry) => ({
        scope: entry.scope,
        api: entry.api,
        apiName: entry.apiName,
        description: entry.userDescription,
        classification: entry.classification,
        source: entry.source,
        grants: entry.grants,
      })),
    }),
  );

  app.patch(
    '/permission-classifications/:scope',
    {
      schema: {
        tags,
        operationId: 'classifyPermission',
        summary: 'Class a user permission low, medium or high for this tenant',
        params: ScopeParams,
        body: ClassifyBody,
        response: {
          200: Type.Object(
            { scope: Type.String(), from: IMPACT, to: IMPACT },
            { description: 'Classed; `from` is the class it had.' },
          ),
          ...errorResponses(404),
        },
      },
    },
    async (request) =>
      consentPolicies.classify(
        request.params.tenant,
        request.params.scope,
        request.body.classification,
        actorOf(request),
      ),
  );

  app.get(
    '/consent-policies',
    {
      schema: {
        tags,
        operationId: 'listConsentPolicies',
        summary: 'The built-in app consent policies and the tenant’s own',
        params: TenantParams,
        response: { 200: collectionOf(refTo(PolicySchema), 'Built-in first.'), ...errorResponses(404) },
      },
    },
    async (request) => ({ value: (await consentPolicies.listPolicies(request.params.tenant)).map(policyOf) }),
  );

  app.post(
    '/consent-policies',
    {
      schema: {
        tags,
        operationId: 'createConsentPolicy',
        summary: 'Add a custom app consent policy',
        description:
          'A user may consent when every missing permission is included by some policy in effect and no policy excludes any of them. Preview first with `POST …/consent-policies/preview`.',
        params: TenantParams,
        body: NewPolicyBody,
        response: { 201: answer(PolicySchema, 'Added; in effect at once.'), ...errorResponses(404, 409) },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(policyOf(await consentPolicies.createPolicy(request.params.tenant, request.body, actorOf(request)))),
  );

  app.post(
    '/consent-policies/preview',
    {
      schema: {
        tags,
        operationId: 'previewConsentPolicy',
        summary: 'What adding or removing a policy would change, before saving it',
        params: TenantParams,
        body: PolicyPreviewBody,
        response: { 200: answer(PreviewSchema, 'Nothing is saved.'), ...errorResponses(404) },
      },
    },
    async (request) => {
      const { tenant } = request.params;
      const { add, remove } = request.body;
      if (remove !== undefined) await consentPolicies.showPolicy(tenant, remove);
      return previewOf(
        await consentPreview.previewChange(tenant, {
          ...(add ? { addPolicy: await consentPolicies.validatePolicy(tenant, add) } : {}),
          ...(remove !== undefined ? { removePolicyId: remove } : {}),
        }),
      );
    },
  );

  app.post(
    '/consent-policies/evaluate',
    {
      schema: {
        tags,
        operationId: 'evaluateConsent',
        summary: 'What-if: the consent decision for an app, a user and scopes',
        description: 'Decides as a sign-in would now, with the rule that decided in words. Nothing is granted.',
        params: TenantParams,
        body: EvaluateBody,
        response: { 200: answer(EvaluationSchema, 'The decision.'), ...errorResponses(404) },
      },
    },
    async (request) => {
      const result = await consentPolicies.evaluate(request.params.tenant, request.body);
      return evaluationOf(result.decision, result.requestedScopes, result.ignoredScopes);
    },
  );

  app.get(
    '/consent-policies/:id',
    {
      schema: {
        tags,
        operationId: 'getConsentPolicy',
        summary: 'Read an app consent policy',
        params: PolicyParams,
        response: { 200: answer(PolicySchema, 'The policy.'), ...errorResponses(404) },
      },
    },
    async (request) => policyOf(await consentPolicies.showPolicy(request.params.tenant, request.params.id)),
  );

  app.delete(
    '/consent-policies/:id',
    {
      schema: {
        tags,
        operationId: 'deleteConsentPolicy',
        summary: 'Remove a custom app consent policy',
        params: PolicyParams,
        response: { 204: noContent('Removed.'), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await consentPolicies.deletePolicy(request.params.tenant, request.params.id, actorOf(request));
      return reply.status(204).send();
    },
  );
};
