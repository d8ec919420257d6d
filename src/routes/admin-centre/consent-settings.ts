// Settings › Consent (issue 14): the user consent setting, risk-based step-up, the permissions by
// class with their grant counts, the tenant's app consent policies, and a what-if form. Every
// change is shown first as a preview (which waiting sign-ins, open requests and apps in use it
// changes; existing grants are kept), then saved by a confirmed POST, then post/redirect/get.
// The preview and the what-if write nothing. A rejected form is shown again with its message.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { type Static, Type } from 'typebox';
import type { ConditionSet } from '../../core/app-consent-policies.js';
import { AccordError, InvalidRequest } from '../../core/errors.js';
import type { Impact } from '../../core/types.js';
import type { UserRecord } from '../../db/users.js';
import type { NewPolicy } from '../../services/consent-policies.js';
import type { ConsentSettingsChange } from '../../services/integrated-apps-preview.js';
import { csrfField } from '../schema-parts.js';
import type { AdminCentreContext } from './deps.js';
import { pageData, pageMessage, requireAdmin } from './guard.js';

const PAGE = '/admin/settings/consent';
const CHANGES = ['user-consent', 'risk', 'classify', 'add-policy', 'remove-policy'] as const;
type ChangeKind = (typeof CHANGES)[number];
const text = (maxLength: number) => Type.Optional(Type.String({ maxLength }));

/** Every change's form: `change` says which; the confirm form posts the same fields again. */
const ChangeBody = Type.Object({
  _csrf: csrfField,
  change: Type.Enum(CHANGES, { type: 'string' }),
  user_consent: text(40),
  risk_step_up: text(10),
  risk_days: text(10),
  scope: text(700),
  classification: text(10),
  policy_id: text(60),
  policy_name: text(400),
  effect: text(10),
  permissions: text(4000),
  class_low: text(10),
  class_medium: text(10),
  class_high: text(10),
  apis: text(4000),
  client_app_ids: text(4000),
  publisher_tenant_ids: text(4000),
  verified_publisher: text(10),
});
type ChangeForm = Static<typeof ChangeBody>;
const WhatIfBody = Type.Object({ _csrf: csrfField, client_id: text(100), user: text(100), scopes: text(4000) });
const PageQuery = Type.Object({ saved: Type.Optional(Type.Enum(CHANGES, { type: 'string' })) });

const listOf = (value: string | undefined) => (value ?? '').split(/[\s,]+/).filter(Boolean);

/** The policy the form describes: one condition set, included or excluded. */
function policyOf(form: ChangeForm): NewPolicy {
  const set: ConditionSet = {};
  const permissions = listOf(form.permissions);
  if (permissions.length > 0) set.permissions = permissions;
  const classifications = (['low', 'medium', 'high'] as const).filter((impact) => form[`class_${impact}`] === 'on');
  if (classifications.length > 0) set.classifications = classifications;
  const apis = listOf(form.apis);
  if (apis.length > 0) set.apis = apis;
  const clientAppIds = listOf(form.client_app_ids);
  if (clientAppIds.length > 0) set.clientAppIds = clientAppIds;
  const publisherTenantIds = listOf(form.publisher_tenant_ids);
  if (publisherTenantIds.length > 0) set.publisherTenantIds = publisherTenantIds;
  if (form.verified_publisher === 'yes') set.verifiedPublisher = true;
  if (form.verified_publisher === 'no') set.verifiedPublisher = false;
  if (form.effect !== 'include' && form.effect !== 'exclude')
    throw InvalidRequest('choose whether the policy lets users consent (include) or stops them (exclude)', {
      field: 'effect',
    });
  return {
    id: form.policy_id ?? '',
    name: form.policy_name ?? '',
    includes: form.effect === 'include' ? [set] : [],
    excludes: form.effect === 'exclude' ? [set] : [],
  };
}

function riskDaysOf(form: ChangeForm): number | undefined {
  if (!form.risk_days) return undefined;
  if (!/^[0-9]{1,4}$/.test(form.risk_days))
    throw InvalidRequest('days must be a whole number from 1 to 3650', { field: 'risk_days' });
  return Number(form.risk_days);
}

export const consentSettingsPages: FastifyPluginAsyncTypebox<AdminCentreContext> = async (app, context) => {
  const { consentPolicies, preview, portal, navItems } = context;

  async function render(
    reply: FastifyReply,
    user: UserRecord,
    extra: {
      saved?: ChangeKind;
      error?: AccordError;
      form?: ChangeForm;
      preview?: Awaited<ReturnType<typeof preview.previewChange>>;
      whatIf?: Awaited<ReturnType<typeof consentPolicies.evaluate>>;
      whatIfForm?: Static<typeof WhatIfBody>;
    } = {},
  ) {
    if (extra.error) reply.status(extra.error.status);
    const [settings, classifications, policies] = await Promise.all([
      consentPolicies.settings(user.tenantId),
      consentPolicies.classifications(user.tenantId),
      consentPolicies.listPolicies(user.tenantId),
    ]);
    const impacts: Impact[] = ['low', 'medium', 'high'];
    return reply.view('admin/consent-settings', {
      ...pageData(reply, user, 'consent-settings', navItems),
      settings,
      byClass: impacts.map((impact) => ({
        impact,
        permissions: classifications.filter((entry) => entry.classification === impact),
      })),
      impacts,
      policies,
      saved: extra.saved,
      error: extra.error ? { message: pageMessage(reply, extra.error), field: extra.error.details.field } : undefined,
      form: extra.form ?? {},
      preview: extra.preview,
      whatIf: extra.whatIf,
      whatIfForm: extra.whatIfForm ?? {},
    });
  }

  /** The change the form asks for, checked as saving would check it. */
  async function changeOf(user: UserRecord, form: ChangeForm): Promise<ConsentSettingsChange> {
    switch (form.change) {
      case 'user-consent':
        if (form.user_consent !== 'all' && form.user_consent !== 'verified-low-impact')
          throw InvalidRequest('choose all or verified-low-impact', { field: 'user_consent' });
        return { userConsent: form.user_consent };
      case 'risk':
        return { riskStepUp: { enabled: form.risk_step_up === 'on', days: riskDaysOf(form) } };
      case 'classify': {
        const permission = consentPolicies.resolveUserPermission(user.tenantId, form.scope ?? '');
        if (!['low', 'medium', 'high'].includes(form.classification ?? ''))
          throw InvalidRequest('the class must be low, medium or high', { field: 'classification' });
        return { classify: { scope: permission.scope, classification: form.classification as Impact } };
      }
      case 'add-policy':
        return { addPolicy: await consentPolicies.validatePolicy(user.tenantId, policyOf(form)) };
      case 'remove-policy': {
        const policy = await consentPolicies.showPolicy(user.tenantId, form.policy_id ?? '');
        if (policy.builtIn) throw InvalidRequest('a built-in policy is chosen with the user consent setting');
        return { removePolicyId: policy.id };
      }
    }
  }

  async function save(user: UserRecord, form: ChangeForm): Promise<void> {
    switch (form.change) {
      case 'user-consent':
        await consentPolicies.setUserConsent(user.tenantId, form.user_consent ?? '', user.id);
        return;
      case 'risk':
        await consentPolicies.setRiskStepUp(user.tenantId, form.risk_step_up === 'on', riskDaysOf(form), user.id);
        return;
      case 'classify':
        await consentPolicies.classify(user.tenantId, form.scope ?? '', form.classification ?? '', user.id);
        return;
      case 'add-policy':
        await consentPolicies.createPolicy(user.tenantId, policyOf(form), user.id);
        return;
      case 'remove-policy':
        await consentPolicies.deletePolicy(user.tenantId, form.policy_id ?? '', user.id);
        return;
    }
  }

  app.get(PAGE, { schema: { querystring: PageQuery } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, PAGE);
    if (!user) return reply;
    return render(reply, user, { saved: request.query.saved });
  });

  app.post(
    `${PAGE}/preview`,
    { preValidation: app.csrfProtection, schema: { body: ChangeBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, PAGE);
      if (!user) return reply;
      const form = request.body;
      try {
        const change = await changeOf(user, form);
        return render(reply, user, { form, preview: await preview.previewChange(user.tenantId, change) });
      } catch (error) {
        if (error instanceof AccordError && error.status < 500) return render(reply, user, { form, error });
        throw error;
      }
    },
  );

  app.post(PAGE, { preValidation: app.csrfProtection, schema: { body: ChangeBody } }, async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, PAGE);
    if (!user) return reply;
    try {
      await save(user, request.body);
    } catch (error) {
      if (error instanceof AccordError && error.status < 500) return render(reply, user, { form: request.body, error });
      throw error;
    }
    return reply.redirect(`${PAGE}?saved=${request.body.change}`, 303);
  });

  app.post(
    `${PAGE}/what-if`,
    { preValidation: app.csrfProtection, schema: { body: WhatIfBody } },
    async (request, reply) => {
      const user = await requireAdmin(portal, request, reply, PAGE);
      if (!user) return reply;
      const form = request.body;
      try {
        const whatIf = await consentPolicies.evaluate(user.tenantId, {
          clientId: form.client_id ?? '',
          user: form.user ?? '',
          scopes: listOf(form.scopes),
        });
        return render(reply, user, { whatIf, whatIfForm: form });
      } catch (error) {
        if (error instanceof AccordError && error.status < 500) return render(reply, user, { whatIfForm: form, error });
        throw error;
      }
    },
  );
};
