// The directory's write operations — tenants, users, apps, the Integrated Apps setting — shared
// by the CLI, the admin API and the demo seed. Each is one transaction with its audit event.
import { randomBytes } from 'node:crypto';
import { Conflict, InvalidRequest, InvalidScope, NotFound } from '../core/errors.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import type { Role } from '../core/types.js';
import { redirectUriProblem, tenantIdProblem, usernameProblem, webUrlProblem } from '../core/validation.js';
import * as apps from '../db/apps.js';
import { recordAuditEvent } from '../db/audit-events.js';
import { detachGrantsOfUser, listGrantIdsOfApp } from '../db/consents.js';
import { oneConnectionPerNode } from '../db/distribution.js';
import { deleteSessionsOfAccount } from '../db/oidc-models.js';
import { inTransaction, isPgError, PgError, type Pool } from '../db/pool.js';
import { clearAccountFailures } from '../db/sign-in-failures.js';
import * as tenants from '../db/tenants.js';
import * as users from '../db/users.js';
import { AppSecrets, DEFAULT_SECRET_LIFETIME_DAYS } from './app-secrets.js';
import { hashPassword } from './passwords.js';
import { findOwnedApp } from './published-apps.js';
import { revokeGrants } from './revocation.js';

/** Who did it, for the audit trail: a user id, or `operator` for the CLI. */
export type Actor = string;

export function newId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

export interface NewAppInput {
  publisherTenantId: string;
  name: string;
  publisherName?: string;
  multiTenant: boolean;
  public: boolean;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  homepageUrl?: string | null;
  privacyUrl?: string | null;
  termsUrl?: string | null;
  logoUrl?: string | null;
  scopes: string[];
  /** The permissions of `scopes` a user may leave out when consenting (never `openid`). */
  optionalScopes?: string[];
}

export class Directory {
  /** The apps' client secrets: add, remove, replace (app-secrets.ts). */
  readonly secrets: AppSecrets;

  constructor(
    private readonly pool: Pool,
    private readonly catalogue: PermissionCatalogue,
  ) {
    this.secrets = new AppSecrets(pool);
  }

  async createTenant(input: { id: string; name: string; integratedAppsEnabled?: boolean }, actor: Actor) {
    const problem = tenantIdProblem(input.id);
    if (problem) throw InvalidRequest(problem, { field: 'id' });
    if (!input.name.trim() || input.name.length > 200)
      throw InvalidRequest('name must be 1–200 characters', { field: 'name' });
    return inTransaction(this.pool, async (tx) => {
      try {
        const tenant = await tenants.insertTenant(tx, {
          id: input.id,
          name: input.name.trim(),
          integratedAppsEnabled: input.integratedAppsEnabled ?? true,
        });
        await recordAuditEvent(tx, {
          tenantId: tenant.id,
          actor,
          action: 'tenant.created',
          target: tenant.id,
          details: { integratedAppsEnabled: tenant.integratedAppsEnabled },
        });
        return tenant;
      } catch (error) {
        if (isPgError(error, PgError.uniqueViolation))
          throw Conflict(`tenant "${input.id}" already exists`, { field: 'id' });
        throw error;
      }
    });
  }

  async setIntegratedApps(tenantId: string, enabled: boolean, actor: Actor) {
    return inTransaction(this.pool, async (tx) => {
      const tenant = await tenants.findTenantForUpdate(tx, tenantId);
      if (!tenant) throw NotFound(`tenant "${tenantId}" not found`);
      if (tenant.integratedAppsEnabled !== enabled) {
        await tenants.setIntegratedApps(tx, tenantId, enabled);
        await recordAuditEvent(tx, {
          tenantId,
          actor,
          action: 'tenant.integrated_apps.changed',
          target: tenantId,
          details: { from: tenant.integratedAppsEnabled, to: enabled },
        });
      }
      return { ...tenant, integratedAppsEnabled: enabled };
    });
  }

  async createUser(
    input: {
      tenantId: string;
      username: string;
      password: string;
      role: Role;
      email?: string | null;
      displayName?: string | null;
    },
    actor: Actor,
  ) {
    const username = input.username.toLowerCase();
    const problem = usernameProblem(username);
    if (problem) throw InvalidRequest(problem, { field: 'username' });
    if (input.email && (input.email.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(input.email)))
      throw InvalidRequest('email is not a valid address', { field: 'email' });
    const displayName = (input.displayName ?? username).trim();
    if (!displayName || displayName.length > 200)
      throw InvalidRequest('name must be 1–200 characters', { field: 'name' });
    const passwordHash = await hashPassword(input.password);
    return inTransaction(this.pool, async (tx) => {
      if (!(await tenants.findTenant(tx, input.tenantId))) throw NotFound(`tenant "${input.tenantId}" not found`);
      try {
        const user = await users.insertUser(tx, {
          tenantId: input.tenantId,
          id: newId(),
          username,
          email: input.email ?? null,
          displayName,
          role: input.role,
          passwordHash,
        });
        await recordAuditEvent(tx, {
          tenantId: input.tenantId,
          actor,
          action: 'user.created',
          target: user.id,
          details: { username, role: input.role },
        });
        return user;
      } catch (error) {
        if (isPgError(error, PgError.uniqueViolation))
          throw Conflict(`user "${username}" already exists in tenant "${input.tenantId}"`, { field: 'username' });
        throw error;
      }
    });
  }

  async setUserRole(tenantId: string, userId: string, role: Role, actor: Actor) {
    return inTransaction(this.pool, async (tx) => {
      const before = await users.findUserInTenant(tx, tenantId, userId);
      if (!before) throw NotFound('user not found');
      const user = await users.setUserRole(tx, tenantId, userId, role);
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'user.role.changed',
        target: userId,
        details: { from: before.role, to: role },
      });
      return user!;
    });
  }

  async setUserPassword(tenantId: string, userId: string, password: string, actor: Actor) {
    const passwordHash = await hashPassword(password);
    return inTransaction(this.pool, async (tx) => {
      const user = await users.findUserInTenant(tx, tenantId, userId);
      if (!user || !(await users.setUserPasswordHash(tx, tenantId, userId, passwordHash)))
        throw NotFound('user not found');
      // A new password ends any lockout: the failures were against the old one.
      const failures = await clearAccountFailures(tx, { tenantId, username: user.username });
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'user.password.changed',
        target: userId,
        ...(failures > 0 ? { details: { signInFailuresCleared: failures } } : {}),
      });
    });
  }

  /**
   * Forgets the user's failed sign-ins from every address, lifting any refusal or slowing at once
   * (an admin's answer to a user who cannot get in). Answers how many failures the last streak had.
   */
  async unlockUser(
    tenantId: string,
    userId: string,
    actor: Actor,
  ): Promise<{ user: users.UserRecord; failures: number }> {
    return inTransaction(this.pool, async (tx) => {
      const user = await users.findUserInTenant(tx, tenantId, userId);
      if (!user) throw NotFound('user not found');
      const failures = await clearAccountFailures(tx, { tenantId, username: user.username });
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: 'user.unlocked',
        target: userId,
        details: { signInFailuresCleared: failures },
      });
      return { user, failures };
    });
  }

  /** Disabling also revokes every grant the user holds, so their tokens stop working at once. */
  async setUserDisabled(tenantId: string, userId: string, disabled: boolean, actor: Actor) {
    const grantIds = await inTransaction(this.pool, async (tx) => {
      const user = await users.setUserDisabled(tx, tenantId, userId, disabled);
      if (!user) throw NotFound('user not found');
      await recordAuditEvent(tx, {
        tenantId,
        actor,
        action: disabled ? 'user.disabled' : 'user.enabled',
        target: userId,
      });
      if (!disabled) return [];
      // Their sessions end (they sign in again once enabled) and their grants go; the consent
      // records stay, so re-enabling restores access without asking again.
      await deleteSessionsOfAccount(tx, userId);
      return detachGrantsOfUser(tx, tenantId, userId);
    });
    await revokeGrants(this.pool, grantIds);
  }

  async createApp(input: NewAppInput, actor: Actor): Promise<{ app: apps.AppWithSecrets; clientSecret?: string }> {
    const checked = this.checkAppInput(input);
    return inTransaction(this.pool, async (tx) => {
      const publisher = await tenants.findTenant(tx, input.publisherTenantId);
      if (!publisher) throw NotFound(`tenant "${input.publisherTenantId}" not found`);
      const app = await apps.insertApp(tx, {
        clientId: newId(16),
        publisherTenantId: publisher.id,
        name: checked.name,
        publisherName: input.publisherName?.trim() || publisher.name,
        publisherVerified: false,
        multiTenant: input.multiTenant,
        clientType: input.public ? 'public' : 'confidential',
        redirectUris: checked.redirectUris,
        postLogoutRedirectUris: checked.postLogoutRedirectUris,
        homepageUrl: input.homepageUrl ?? null,
        privacyUrl: input.privacyUrl ?? null,
        termsUrl: input.termsUrl ?? null,
        logoUrl: input.logoUrl ?? null,
        scopes: checked.scopes,
        optionalScopes: checked.optionalScopes,
      });
      // A confidential app starts with one secret of the default lifetime.
      const secret = input.public
        ? undefined
        : await this.secrets.issue(tx, app.clientId, DEFAULT_SECRET_LIFETIME_DAYS);
      await recordAuditEvent(tx, {
        tenantId: publisher.id,
        actor,
        action: 'app.registered',
        target: app.clientId,
        details: {
          name: app.name,
          scopes: app.scopes,
          ...(app.optionalScopes.length > 0 ? { optionalScopes: app.optionalScopes } : {}),
        },
      });
      if (!secret) return { app };
      return { app: (await apps.findAppWithSecrets(tx, app.clientId))!, clientSecret: secret.value };
    });
  }

  async updateApp(publisherTenantId: string, clientId: string, changes: apps.AppChanges, actor: Actor) {
    const current = await findOwnedApp(this.pool, publisherTenantId, clientId);
    const merged = {
      ...current,
      ...changes,
      // New permissions without new optional ones keep the optional ones still registered.
      ...(changes.scopes && !changes.optionalScopes
        ? { optionalScopes: current.optionalScopes.filter((scope) => changes.scopes!.includes(scope)) }
        : {}),
    };
    const checked = this.checkAppInput({ ...merged, public: current.clientType === 'public', publisherTenantId });
    return inTransaction(this.pool, async (tx) => {
      const app = await apps.updateApp(tx, clientId, {
        ...changes,
        ...(changes.scopes ? { scopes: checked.scopes } : {}),
        ...(changes.scopes || changes.optionalScopes ? { optionalScopes: checked.optionalScopes } : {}),
      });
      await recordAuditEvent(tx, {
        tenantId: publisherTenantId,
        actor,
        action: 'app.updated',
        target: clientId,
        details: { changed: Object.keys(changes) },
      });
      return app!;
    });
  }

  /** Replaces every secret of the app with one new one, returned once (AppSecrets.replace). */
  async rotateAppSecret(publisherTenantId: string, clientId: string, actor: Actor): Promise<string> {
    return (await this.secrets.replace(publisherTenantId, clientId, actor)).value;
  }

  /** Deletes the registration everywhere: every tenant's consents go, and their tokens with them. */
  async deleteApp(publisherTenantId: string, clientId: string, actor: Actor) {
    const grantIds = await inTransaction(this.pool, async (tx) => {
      await oneConnectionPerNode(tx); // the grants of every tenant are read, then the app (a reference table) goes
      const current = await findOwnedApp(tx, publisherTenantId, clientId);
      const grantIds = await listGrantIdsOfApp(tx, clientId);
      await apps.deleteApp(tx, clientId);
      await recordAuditEvent(tx, {
        tenantId: publisherTenantId,
        actor,
        action: 'app.deleted',
        target: clientId,
        details: { name: current.name },
      });
      return grantIds;
    });
    await revokeGrants(this.pool, grantIds);
  }

  async setPublisherVerified(clientId: string, verified: boolean, actor: Actor) {
    return inTransaction(this.pool, async (tx) => {
      const app = await apps.setPublisherVerified(tx, clientId, verified);
      if (!app) throw NotFound(`app "${clientId}" not found`);
      await recordAuditEvent(tx, {
        tenantId: app.publisherTenantId,
        actor,
        action: verified ? 'app.publisher.verified' : 'app.publisher.unverified',
        target: clientId,
      });
      return app;
    });
  }

  private checkAppInput(input: Omit<NewAppInput, 'multiTenant'> & { multiTenant?: boolean }) {
    const name = input.name.trim();
    if (!name || name.length > 200)
      throw InvalidRequest('name must be 1–200 characters', { field: 'name' }).withMessage('admin:error.nameLength');
    if (input.publisherName !== undefined && (!input.publisherName.trim() || input.publisherName.length > 200)) {
      throw InvalidRequest('publisher name must be 1–200 characters', { field: 'publisher_name' });
    }
    if (input.redirectUris.length === 0)
      throw InvalidRequest('at least one redirect URI is required', { field: 'redirect_uris' }).withMessage(
        'admin:error.redirectUrisRequired',
      );
    if (input.redirectUris.length > 20)
      throw InvalidRequest('at most 20 redirect URIs', { field: 'redirect_uris' }).withMessage(
        'admin:error.redirectUrisTooMany',
        { max: 20 },
      );
    for (const uri of [...input.redirectUris, ...(input.postLogoutRedirectUris ?? [])]) {
      const problem = redirectUriProblem(uri);
      if (problem)
        throw InvalidRequest(problem.description, { field: 'redirect_uris' }).withMessage(
          problem.messageKey.key,
          problem.messageKey.vars,
        );
    }
    for (const [field, value] of [
      ['homepage_url', input.homepageUrl],
      ['privacy_url', input.privacyUrl],
      ['terms_url', input.termsUrl],
      ['logo_url', input.logoUrl],
    ] as const) {
      if (value) {
        const problem = webUrlProblem(field, value);
        if (problem) throw InvalidRequest(problem, { field });
      }
    }
    const scopes = [...new Set(input.scopes)];
    // A single-tenant API's scopes exist only for its owner's apps: to others they are unknown.
    const unknown = scopes.filter(
      (scope) => !this.catalogue.has(scope) || !this.catalogue.availableTo(scope, input.publisherTenantId),
    );
    if (unknown.length > 0)
      throw InvalidScope(`permissions not in the catalogue: ${unknown.join(' ')}`, {
        field: 'permissions',
      }).withMessage('admin:error.unknownPermissions', { scopes: unknown.join(' ') });
    if (scopes.length === 0)
      throw InvalidScope('an app must ask for at least one permission', { field: 'permissions' }).withMessage(
        'admin:error.noPermissions',
      );
    return {
      name,
      redirectUris: [...new Set(input.redirectUris)],
      postLogoutRedirectUris: [...new Set(input.postLogoutRedirectUris ?? [])],
      scopes: this.catalogue.sort(scopes),
      optionalScopes: this.catalogue.sort(checkOptionalScopes(scopes, input.optionalScopes ?? [])),
    };
  }
}

/**
 * The optional permissions of a registration (issue 15): each must be one the app registers, and
 * `openid` never is (without it there is no sign-in to consent to).
 */
function checkOptionalScopes(scopes: readonly string[], optional: readonly string[]): string[] {
  const distinct = [...new Set(optional)];
  if (distinct.includes('openid'))
    throw InvalidRequest('optional_permissions may not hold openid: it is what signs the user in', {
      field: 'optional_permissions',
    }).withMessage('admin:error.openidNotOptional');
  const unregistered = distinct.filter((scope) => !scopes.includes(scope));
  if (unregistered.length > 0)
    throw InvalidRequest(`optional_permissions must be among the app's permissions: ${unregistered.join(' ')}`, {
      field: 'optional_permissions',
    }).withMessage('admin:error.optionalNotRegistered', { scopes: unregistered.join(' ') });
  return distinct;
}
