// The permission catalogue (core/permission-catalogue.ts) as the database holds it.
import { PermissionCatalogue } from '../core/permission-catalogue.js';
import { listPermissions } from '../db/permissions.js';
import type { Queryable } from '../db/pool.js';

export async function loadPermissionCatalogue(db: Queryable): Promise<PermissionCatalogue> {
  return new PermissionCatalogue(await listPermissions(db));
}
