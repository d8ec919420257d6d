// Output shared by the graduated-consent commands (`tenant set-user-consent`, `tenant
// set-risk-step-up`, `permission …`, `policy …`): settings, policies and previews as text and JSON.
import type { ConsentDecision } from '../core/consent-decision.js';
import type { TenantConsentSettings } from '../db/tenants.js';
import type { PolicyView } from '../services/consent-policies.js';
import type { ConsentSettingsPreview } from '../services/integrated-apps-preview.js';
import { fields, onOffText, snakeCaseKeys } from './output.js';

export function consentSettingsJson(tenantId: string, settings: TenantConsentSettings) {
  return {
    tenant: tenantId,
    user_consent: settings.userConsent,
    risk_step_up: settings.riskStepUp,
    risk_step_up_days: settings.riskStepUpDays,
  };
}

export function consentSettingsText(tenantId: string, settings: TenantConsentSettings): string {
  return fields([
    ['tenant', tenantId],
    [
      'user consent',
      settings.userConsent === 'all'
        ? 'all (users may consent to any user permission)'
        : 'verified-low-impact (only low-impact permissions of apps from verified publishers)',
    ],
    [
      'risk-based step-up',
      `${onOffText(settings.riskStepUp)} (apps registered less than ${settings.riskStepUpDays} days ago count as new)`,
    ],
  ]);
}

export function policyJson(policy: PolicyView) {
  return {
    id: policy.id,
    name: policy.name,
    built_in: policy.builtIn,
    in_effect: policy.inEffect,
    includes: snakeCaseKeys(policy.includes),
    excludes: snakeCaseKeys(policy.excludes),
    includes_text: policy.includesText,
    excludes_text: policy.excludesText,
  };
}

export function policyText(policy: PolicyView): string {
  return fields([
    ['policy', policy.id],
    ['name', policy.name],
    ['kind', policy.builtIn ? 'built in' : 'custom'],
    ['in effect', policy.inEffect ? 'yes' : 'no (the user consent setting names the other built-in policy)'],
    ['includes', policy.includesText.join('; ') || 'nothing'],
    ['excludes', policy.excludesText.join('; ') || 'nothing'],
  ]);
}

export function decisionJson(decision: ConsentDecision) {
  return snakeCaseKeys(decision) as Record<string, unknown>;
}

export function decisionText(decision: ConsentDecision): string {
  const outcome =
    decision.outcome === 'consent'
      ? `consent page${decision.offerOrgConsent ? ' (with the choice to consent for the organisation)' : ''}`
      : decision.outcome === 'needs_admin_approval'
        ? 'needs admin approval'
        : decision.outcome === 'refused'
          ? 'refused'
          : 'proceeds without asking';
  return fields([
    ['outcome', outcome],
    ['because', decision.rule.explanation],
    [
      'rule',
      `row ${decision.rule.row}: ${decision.rule.id}${decision.rule.policy ? ` (policy ${decision.rule.policy.id})` : ''}`,
    ],
    ['missing', 'missingScopes' in decision ? decision.missingScopes.join(' ') || null : null],
  ]);
}

export function previewJson(preview: ConsentSettingsPreview) {
  return snakeCaseKeys(preview) as Record<string, unknown>;
}

export function previewText(preview: ConsentSettingsPreview): string {
  const lines = [
    preview.excludesEverything
      ? 'warning: after this change a policy excludes every permission of every app: users could consent to nothing new'
      : '',
    'existing grants are kept',
    `sign-ins waiting at a consent step: ${preview.waitingSignIns}, changed: ${preview.signInsChanged.length}`,
    ...preview.signInsChanged.map(
      (entry) =>
        `  ${entry.username} → ${entry.appName} (${entry.clientId}): ${entry.before.outcome} → ${entry.after.outcome}`,
    ),
    `open requests for approval: ${preview.openRequests}, changed: ${preview.requestsChanged.length}`,
    ...preview.requestsChanged.map(
      (entry) =>
        `  ${entry.id} by ${entry.username} for ${entry.appName}: ${entry.before.outcome} → ${entry.after.outcome} (${entry.after.explanation})`,
    ),
    `apps in use whose next user consent changes: ${preview.appsChanged.length}`,
    ...preview.appsChanged.map(
      (entry) =>
        `  ${entry.name} (${entry.clientId}), ${entry.users} user(s): ${entry.before.outcome} → ${entry.after.outcome} (${entry.after.explanation})`,
    ),
  ];
  return `${lines.filter(Boolean).join('\n')}\n`;
}
