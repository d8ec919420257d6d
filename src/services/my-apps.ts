// A user's own view of the apps that can reach their data (My apps): which apps, which
// permissions, since when, and whether access comes from their own consent or their
// organisation's admin consent; their requests for admin approval; and withdrawing their own consent.
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import { type AppRecord, findApp } from '../db/apps.js';
import { recordAuditEvent } from '../db/audit-events.js';
import { type ConsentRequestRecord, listConsentRequests } from '../db/consent-requests.js';
import {
  deleteUserConsents,
  findAdminConsent,
  findUserConsentForUpdate,
  listUserConsentsOfUser,
  updateUserConsent,
} from '../db/consents.js';
import { lastUseByApp } from '../db/grant-scope-use.js';
import { inTransaction, type Pool } from '../db/pool.js';
import { findTenant } from '../db/tenants.js';
import { revokeGrants } from './revocation.js';

export type AccessOrigin = 'own' | 'organisation' | 'both';

export interface MyApp {
  app: AppRecord;
  /** The publisher tenant's name when the app comes from another organisation. */
  fromTenantName: string | undefined;
  origin: AccessOrigin;
  /** What the user consented to themself. */
  ownScopes: string[];
  ownGrantedAt: Date | undefined;
  /** What the organisation's admin granted for everyone. */
  organisationScopes: string[];
  organisationGrantedAt: Date | undefined;
  /** When the app last got a token for the user (issue 15); null: never since recording began. */
  lastUsedAt: Date | null;
}

/** A request of the user's for admin approval, with the name of the app it is for. */
export interface MyRequest extends ConsentRequestRecord {
  appName: string;
}

export class MyApps {
  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
  ) {}

  /**
   * Every app the user consented to, and every app they used through their organisation's admin
   * consent (the user's row then holds only the grant id). Permissions are limited to what the
   * app still registers.
   */
  async list(tenantId: string, userId: string): Promise<MyApp[]> {
    const [rows, lastUse] = await Promise.all([
      listUserConsentsOfUser(this.pool, tenantId, userId),
      lastUseByApp(this.pool, tenantId, userId),
    ]);
    const result: MyApp[] = [];
    for (const row of rows) {
      const [app, adminConsent] = await Promise.all([
        findApp(this.pool, row.clientId),
        findAdminConsent(this.pool, tenantId, row.clientId),
      ]);
      if (!app) continue;
      const registered = new Set(app.scopes);
      const ownScopes = this.catalogue.sort(row.scopes.filter((scope) => registered.has(scope)));
      const organisationScopes = this.catalogue.sort(
        (adminConsent?.scopes ?? []).filter((scope) => registered.has(scope)),
      );
      // The row exists only once the user used the app (consent or a grant built from the admin's).
      const usedThroughOrganisation = organisationScopes.length > 0;
      if (ownScopes.length === 0 && !usedThroughOrganisation) continue;
      const origin: AccessOrigin = ownScopes.length > 0 ? (usedThroughOrganisation ? 'both' : 'own') : 'organisation';
      const publisher =
        app.publisherTenantId === tenantId ? undefined : await findTenant(this.pool, app.publisherTenantId);
      result.push({
        app,
        fromTenantName: publisher?.name,
        origin,
        ownScopes,
        ownGrantedAt: ownScopes.length > 0 ? row.updatedAt : undefined,
        organisationScopes: usedThroughOrganisation ? organisationScopes : [],
        organisationGrantedAt: usedThroughOrganisation ? adminConsent?.grantedAt : undefined,
        lastUsedAt: lastUse.get(row.clientId) ?? null,
      });
    }
    return result;
  }

  /** The user's requests for admin approval and what the admins decided, newest first. */
  async requests(tenantId: string, userId: string): Promise<MyRequest[]> {
    const requests = await listConsentRequests(this.pool, tenantId, { userId });
    const names = new Map(
      await Promise.all(
        [...new Set(requests.map((request) => request.clientId))].map(
          async (clientId) => [clientId, (await findApp(this.pool, clientId))?.name] as const,
        ),
      ),
    );
    return requests.map((request) => ({ ...request, appName: names.get(request.clientId) ?? request.clientId }));
  }

  /**
   * Withdraws the user's own consent to the app and revokes its grant — every code, refresh token
   * and access token issued under it — in one transaction with the audit event. Returns false when
   * the user has no consent of their own to withdraw (an admin's grant is not theirs to remove).
   */
  async revokeOwnConsent(tenantId: string, userId: string, clientId: string): Promise<boolean> {
    return inTransaction(this.pool, async (tx) => {
      // Locks the row if it exists; never creates one (the app would then look in use).
      const existing = await findUserConsentForUpdate(tx, tenantId, userId, clientId);
      if (!existing || existing.scopes.length === 0) return false;
      if (await findAdminConsent(tx, tenantId, clientId)) {
        // The organisation's grant stays: keep the row (it shows she used the app) without her scopes.
        await updateUserConsent(tx, { tenantId, userId, clientId }, { scopes: [], grantId: null });
      } else {
        await deleteUserConsents(tx, { tenantId, userId, clientId });
      }
      // Every token of the grant goes now; the next sign-in builds a grant from what remains.
      if (existing.grantId) await revokeGrants(tx, [existing.grantId]);
      await recordAuditEvent(tx, {
        tenantId,
        actor: userId,
        action: 'consent.user.revoked',
        target: clientId,
        details: { scopes: existing.scopes, via: 'my_apps' },
      });
      return true;
    });
  }
}
