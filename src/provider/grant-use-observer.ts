// Issue 15: every access token issued under a user's grant is noted as a use of the scopes it
// carries (services/grant-use.ts writes the notes in batches). oidc-provider announces each token
// it issues: `access_token.issued` for a JWT (never stored), `access_token.saved` for an opaque one.
// The OpenID scopes reach the app through the ID token and userinfo, so a token issued from a code
// or refresh token also notes the OpenID scopes it was issued with.
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { FIRST_PARTY_CLIENT_ID } from '../core/first-party-client.js';
import { OPENID_RESOURCE, type PermissionCatalogue } from '../core/permission-catalogue.js';
import type { Pool } from '../db/pool.js';
import type { GrantUseRecorder } from '../services/grant-use.js';
import { findUserOnce } from './request-memo.js';

interface IssuedToken {
  accountId?: string;
  clientId?: string;
  grantId?: string;
  scope?: string;
}

export function observeGrantUse(
  provider: Provider,
  pool: Pool,
  catalogue: PermissionCatalogue,
  recorder: GrantUseRecorder,
): void {
  const noteUse = (token: IssuedToken) => {
    const { accountId, clientId, grantId } = token;
    if (!accountId || !clientId || !grantId || clientId === FIRST_PARTY_CLIENT_ID) return;
    const scopes = new Set(splitScopes(token.scope));
    const ctx = Provider.ctx as KoaContextWithOIDC | undefined;
    const source = ctx?.oidc?.entities.AuthorizationCode ?? ctx?.oidc?.entities.RefreshToken;
    for (const scope of splitScopes((source as IssuedToken | undefined)?.scope))
      if (catalogue.resourceOf(scope) === OPENID_RESOURCE) scopes.add(scope);
    // The user's row was read for this request already (the token's `tid`): the memo answers.
    void findUserOnce(pool, accountId)
      .then((user) => {
        if (user) recorder.record({ tenantId: user.tenantId, userId: accountId, clientId, scopes });
      })
      .catch(() => undefined);
  };
  provider.on('access_token.issued', noteUse);
  provider.on('access_token.saved', noteUse);
}

function splitScopes(scope: string | undefined): string[] {
  return (scope ?? '').split(' ').filter(Boolean);
}
