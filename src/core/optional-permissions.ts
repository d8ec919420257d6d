// Partial consent (issue 15): which of a request's permissions the consent decision still asks
// about once the optional permissions the user declined are set aside (docs/consent.md,
// "Optional permissions").

export interface DeclinedInput {
  /** The request's permissions, already limited to the catalogue and the app's registration. */
  requestedScopes: readonly string[];
  /** What the user unticked before, among the permissions the app still marks optional. */
  declinedScopes: readonly string[];
  /** The request carried `prompt=consent`: the app asks the user to decide again. */
  promptConsent: boolean;
  /**
   * The request resumes from the consent page the user has just answered: what they left unticked
   * is their answer to this very request, not a question to ask again (else declining every
   * optional permission would show the page again and again).
   */
  answered?: boolean;
  /** True for the OpenID scopes (openid, profile, email, offline_access), which sign the user in. */
  isSignInScope: (scope: string) => boolean;
}

/**
 * The requested permissions without the declined ones, as Okta treats a declined optional scope:
 * the app's next request for the same permissions is answered silently with what the user
 * accepted, rather than asking again at every sign-in. The user is asked again when the app says
 * so with `prompt=consent`, or when a new request asks for nothing but declined permissions beside
 * sign-in: then it asks for exactly what was declined, and a silent answer would give it nothing
 * it asked for (incremental consent for a declined permission).
 */
export function setAsideDeclined(input: DeclinedInput): string[] {
  const declined = new Set(input.declinedScopes);
  const requested = [...new Set(input.requestedScopes)];
  if (input.promptConsent || !requested.some((scope) => declined.has(scope))) return requested;
  const rest = requested.filter((scope) => !declined.has(scope));
  if (input.answered) return rest;
  const asksForMoreThanDeclined = rest.some((scope) => !input.isSignInScope(scope));
  return asksForMoreThanDeclined ? rest : requested;
}
