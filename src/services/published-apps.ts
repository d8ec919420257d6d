// The apps (OAuth clients) a tenant publishes, as its admins read them: the list, one of its own
// registrations (the "this app belongs to this tenant, else 404" rule, written once), and any app
// by client id for pages that name the apps users asked about. Changes go through Directory.

import { NotFound } from '../core/errors.js';
import { matchesSearch } from '../core/search.js';
import { type AppRecord, type AppWithSecrets, findApp, findAppWithSecrets, listAppsPublishedBy } from '../db/apps.js';
import type { Pool, Queryable } from '../db/pool.js';

/**
 * The tenant's own registration, or 404 with `notFound` as its description: another tenant's
 * app is answered exactly as one that does not exist, so its existence never leaks. Reads with
 * `db`, so a change can check inside its own transaction.
 */
export async function findOwnedApp(
  db: Queryable,
  tenantId: string,
  clientId: string,
  notFound = 'app not found',
): Promise<AppWithSecrets> {
  const app = await findAppWithSecrets(db, clientId);
  if (!app || app.publisherTenantId !== tenantId) throw NotFound(notFound);
  return app;
}

export class PublishedApps {
  constructor(private readonly pool: Pool) {}

  /** The tenant's registrations, oldest first; with `search`, those whose name or client id match it. */
  async list(tenantId: string, filter: { search?: string | undefined } = {}): Promise<AppWithSecrets[]> {
    const apps = await listAppsPublishedBy(this.pool, tenantId);
    return apps.filter((app) => matchesSearch(filter.search, app.name, app.clientId));
  }

  /** The tenant's own registration, or 404 (findOwnedApp). */
  findOwned(tenantId: string, clientId: string, notFound?: string): Promise<AppWithSecrets> {
    return findOwnedApp(this.pool, tenantId, clientId, notFound);
  }

  /** Any tenant's app, or undefined. */
  find(clientId: string): Promise<AppRecord | undefined> {
    return findApp(this.pool, clientId);
  }
}
