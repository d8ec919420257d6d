// The user's oidc-provider Grant, kept in step with what the user and their admin granted
// (services/consents.ts records that): loadExistingGrant and the consent page hand the provider
// this Grant, never one built from the browser session.
import type { Grant as GrantInstance } from 'oidc-provider';
import { type Clock, systemClock } from '../core/clock.js';
import { FIRST_PARTY_CLIENT_ID } from '../core/first-party-client.js';
import { grantEnd } from '../core/grant-lifetime.js';
import { absoluteResource, OPENID_RESOURCE, type PermissionCatalogue } from '../core/permission-catalogue.js';
import type { AppRecord } from '../db/apps.js';
import { type AccessRecord, claimGrantId, forgetEmptyConsent, loadAccessOfUser } from '../db/consents.js';
import type { Pool } from '../db/pool.js';
import type { Consents } from '../services/consents.js';
import { findAppOnce, loadAccessOnce } from './request-memo.js';

/** The Grant model of one provider instance. */
export interface GrantModel {
  new (properties: { accountId: string; clientId: string }): GrantInstance;
  find(id: string): Promise<GrantInstance | undefined>;
}

export class GrantSync {
  constructor(
    private readonly pool: Pool,
    private readonly consents: Consents,
    private readonly catalogue: PermissionCatalogue,
    /** The issuer, against which Accord's own APIs' identifiers resolve. */
    private readonly issuer: string,
    /** The time grant expiry is judged by (issue 15). */
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * The user's Grant for this app, holding exactly what the admin and the user granted (limited
   * to what the app registers). Consent lives in our tables, not in the browser session, so a
   * user who consented is not asked again in a new session. Returns undefined when nothing is
   * granted, or the app is blocked or not available in the user's tenant.
   */
  async loadGrant(Grant: GrantModel, userId: string, clientId: string): Promise<GrantInstance | undefined> {
    // First-party portal: a fresh `openid`-only grant per sign-in, never recorded as consent (the
    // portal revokes it once the sign-in is confirmed; see routes/portal-session.ts).
    if (clientId === FIRST_PARTY_CLIENT_ID) {
      const access = await loadAccessOnce(this.pool, userId, clientId);
      if (!access || access.disabled) return undefined;
      const grant = new Grant({ accountId: userId, clientId });
      grant.addOIDCScope('openid');
      await grant.save();
      return grant;
    }
    const [app, access] = await Promise.all([
      findAppOnce(this.pool, clientId),
      loadAccessOnce(this.pool, userId, clientId, this.clock),
    ]);
    if (!app || !access || access.disabled || access.blocked) return undefined;
    if (!app.multiTenant && app.publisherTenantId !== access.tenantId) return undefined;
    const granted = this.consents.requestable(app, [...access.adminScopes, ...access.userScopes], access.tenantId);
    if (granted.length === 0) return undefined;

    let grant: GrantInstance | undefined;
    if (access.grantId) {
      const found = await Grant.find(access.grantId);
      if (found && found.accountId === userId && found.clientId === clientId) {
        // Unchanged, so nothing was written: a revocation committing from now on deletes or
        // narrows the stored grant, and the token endpoint reads the stored one. No re-check.
        const scopesChanged = this.applyScopes(found, granted);
        if (!this.applyExpiry(found, access) && !scopesChanged) return found;
        await found.save();
        grant = found;
      }
    }
    if (!grant) {
      // First grant for this user and app (or its Grant expired). Concurrent requests may each
      // create one; a single conditional upsert picks the winner and the losers use it. (No
      // transaction here: Grant.save takes its own pool connection.)
      const created = new Grant({ accountId: userId, clientId });
      this.applyScopes(created, granted);
      this.applyExpiry(created, access);
      const createdId = await created.save();
      const winnerId = await claimGrantId(
        this.pool,
        { tenantId: access.tenantId, userId, clientId },
        createdId,
        access.grantId,
      );
      if (winnerId === createdId) {
        grant = created;
      } else {
        await created.destroy();
        grant = await Grant.find(winnerId);
      }
    }
    return grant && this.confirmGrant(grant, app, userId);
  }

  /**
   * A revocation may have committed while the grant was read, built or saved. Check again: the
   * grant handed to the provider is the one recorded for the user and holds no more than is
   * granted now; otherwise it is destroyed. (A revocation after this check finds the grant
   * recorded and revokes it.)
   */
  private async confirmGrant(grant: GrantInstance, app: AppRecord, userId: string): Promise<GrantInstance | undefined> {
    const access = await loadAccessOfUser(this.pool, userId, app.clientId, this.clock());
    const granted =
      access && !access.disabled && !access.blocked
        ? this.consents.requestable(app, [...access.adminScopes, ...access.userScopes], access.tenantId)
        : [];
    if (!access || access.grantId !== grant.jti || granted.length === 0) {
      await grant.destroy();
      if (access)
        await forgetEmptyConsent(this.pool, { tenantId: access.tenantId, userId, clientId: app.clientId }, grant.jti);
      return undefined;
    }
    const scopesChanged = this.applyScopes(grant, granted);
    if (this.applyExpiry(grant, access) || scopesChanged) await grant.save();
    return grant;
  }

  /**
   * Makes the Grant expire when what it rests on expires (issue 15): the user's own consent or the
   * admin consent's review date, the earlier of those that grant something. oidc-provider then caps
   * its refresh tokens by it (ttl.RefreshToken) and refuses the Grant once expired. A grant with no
   * expiry keeps the lifetime oidc-provider gave it. Returns whether it changed.
   */
  private applyExpiry(grant: GrantInstance, access: AccessRecord): boolean {
    const expires =
      (access.userScopes.length > 0 && access.userExpiresAt !== null) ||
      (access.adminScopes.length > 0 && access.adminReviewAt !== null);
    const now = this.clock();
    // A grant that no longer expires keeps its end, unless that has passed (what ended it was renewed).
    if (!expires && !(grant.exp !== undefined && grant.exp * 1000 <= now.getTime())) return false;
    const exp = grantEnd(access, now);
    if (grant.exp === exp) return false;
    grant.exp = exp;
    return true;
  }

  /** Makes the grant hold exactly `scopes`; returns whether it changed. (Also for Grant Management's grants.) */
  holdExactly(grant: GrantInstance, scopes: readonly string[]): boolean {
    return this.applyScopes(grant, scopes);
  }

  /** The scopes the grant holds, as the catalogue names them (the inverse of holdExactly). */
  scopesOf(grant: GrantInstance): string[] {
    return [
      ...(grant.openid?.scope ?? '').split(' '),
      ...Object.values(grant.resources ?? {}).flatMap((scope) => String(scope).split(' ')),
    ].filter(Boolean);
  }

  private applyScopes(grant: GrantInstance, scopes: readonly string[]): boolean {
    const before = JSON.stringify({ openid: grant.openid?.scope ?? '', resources: grant.resources ?? {} });
    const byResource = new Map<string, string[]>();
    for (const scope of scopes) {
      const resource = this.catalogue.resourceOf(scope);
      if (resource) byResource.set(resource, [...(byResource.get(resource) ?? []), scope]);
    }
    const openid = byResource.get(OPENID_RESOURCE) ?? [];
    const resources: Record<string, string> = {};
    for (const [resource, list] of byResource) {
      if (resource !== OPENID_RESOURCE) resources[absoluteResource(this.issuer, resource)] = list.join(' ');
    }
    const after = JSON.stringify({ openid: openid.join(' '), resources });
    if (before === after) return false;
    grant.openid = openid.length > 0 ? { scope: openid.join(' ') } : undefined;
    grant.resources = Object.keys(resources).length > 0 ? resources : undefined;
    return true;
  }
}
