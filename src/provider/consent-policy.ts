// oidc-provider's interaction policy as Accord configures it (`interactions.policy`): when a
// request needs a sign-in, and when it needs the consent step.
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { Pool } from '../db/pool.js';
import type { Consents } from '../services/consents.js';
import { reportingOutage } from './outage.js';
import { findUserOnce, oncePerRequest } from './request-memo.js';

/**
 * The login prompt is oidc-provider's own; the consent prompt asks Accord's consent decision
 * (core/consent-decision.ts) instead of oidc-provider's scope comparison.
 */
export function consentPolicy(consent: Consents, pool: Pool) {
  const { Prompt, Check, base } = interactionPolicy;
  const policy = base();
  // A session whose user was disabled or deleted signs nobody in: ask for a new sign-in.
  policy.get('login')!.checks.add(
    new Check(
      'accord_account_inactive',
      'the signed-in account is disabled or gone',
      'login_required',
      reportingOutage(async (ctx) => {
        const accountId = ctx.oidc.session?.accountId;
        if (!accountId) return Check.NO_NEED_TO_PROMPT;
        const user = await findUserOnce(pool, accountId);
        return !user || user.disabled ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
      }),
    ),
  );
  const builtIn = policy.get('consent')!;
  const decide = decisionOnce(consent);
  const prompt = new Prompt(
    { name: 'consent', requestable: true },
    new Check(
      'accord_refused',
      'the app is not available to this user',
      'interaction_required',
      reportingOutage(async (ctx) => {
        const decision = await decide(ctx);
        return decision?.outcome === 'refused' ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
      }),
    ),
    new Check(
      'accord_consent_missing',
      'requested permissions not granted',
      'consent_required',
      reportingOutage(async (ctx) => {
        const decision = await decide(ctx);
        return decision === undefined || decision.outcome === 'consent' || decision.outcome === 'needs_admin_approval'
          ? Check.REQUEST_PROMPT
          : Check.NO_NEED_TO_PROMPT;
      }),
    ),
  );
  policy.splice(policy.indexOf(builtIn), 1, prompt);
  return policy;
}

/**
 * The checks of one prompt run concurrently; the decision is evaluated once per request, in the
 * request's memo with its reads (request-memo.ts): it goes with the request, and a failed
 * evaluation is forgotten, so a retry evaluates again.
 */
function decisionOnce(consent: Consents) {
  return async (ctx: KoaContextWithOIDC) => {
    const accountId = ctx.oidc.session?.accountId;
    const client = ctx.oidc.client;
    if (!accountId || !client) return undefined;
    const scopes = ctx.oidc.requestParamScopes;
    // Resuming from the consent page the user has just answered (its result carries the consent).
    const answered = ctx.oidc.result?.consent !== undefined;
    const evaluated = await oncePerRequest(`decision:${accountId}:${client.clientId}`, () =>
      consent.evaluate(accountId, client.clientId, scopes, { answered }),
    );
    return evaluated?.decision;
  };
}
