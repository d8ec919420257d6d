// Reading the directory across tenants — tenants, users, the registered apps — as the sign-in
// and consent pages and the operator's CLI do; a tenant's admins read their own through Tenants,
// TenantUsers and PublishedApps. Changes go through Directory, which checks and audits them;
// reads need neither, nor anything Directory loads (read-only CLI commands stay quick to start).
import { NotFound } from '../core/errors.js';
import * as apps from '../db/apps.js';
import type { Pool } from '../db/pool.js';
import * as tenants from '../db/tenants.js';
import * as users from '../db/users.js';

export class DirectoryReads {
  constructor(private readonly pool: Pool) {}

  findTenant(id: string) {
    return tenants.findTenant(this.pool, id);
  }

  /** The tenant, or NotFound naming it. */
  async requireTenant(id: string) {
    const tenant = await tenants.findTenant(this.pool, id);
    if (!tenant) throw NotFound(`tenant "${id}" not found`);
    return tenant;
  }

  listTenants() {
    return tenants.listTenants(this.pool);
  }

  /** By id (`sub`): sessions and tokens carry only the user's id. */
  findUser(id: string) {
    return users.findUserById(this.pool, id);
  }

  /** `username` as stored: lowercase. */
  findUserByUsername(tenantId: string, username: string) {
    return users.findUserByUsername(this.pool, tenantId, username);
  }

  listUsers(tenantId: string) {
    return users.listUsers(this.pool, tenantId);
  }

  findApp(clientId: string) {
    return apps.findApp(this.pool, clientId);
  }

  /** The registration with its secrets (their ids, hints and expiries; never a value). */
  findAppWithSecrets(clientId: string) {
    return apps.findAppWithSecrets(this.pool, clientId);
  }

  /** Every registered app, or only those `publisherTenantId` publishes. */
  listApps(publisherTenantId?: string) {
    return publisherTenantId === undefined
      ? apps.listApps(this.pool)
      : apps.listAppsPublishedBy(this.pool, publisherTenantId);
  }
}
