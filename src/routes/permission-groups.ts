// Permissions grouped by API for the consent, needs-admin-approval and admin-consent pages: each
// API's own words under its name and its owner (issue 13), the OpenID scopes first.
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import type { ApiSummary, Permission } from '../core/types.js';

export interface PermissionGroup {
  /** Undefined for the OpenID scopes (sign-in and profile). */
  api: ApiSummary | undefined;
  /** The owner tenant's name; undefined for Accord's own APIs and the OpenID scopes. */
  owner: string | undefined;
  permissions: Permission[];
}

/** `scopes` grouped by API in catalogue order, each API with its owner's name. */
export async function groupPermissions(
  catalogue: PermissionCatalogue,
  scopes: readonly string[],
  tenantName: (tenantId: string) => Promise<string | undefined>,
): Promise<PermissionGroup[]> {
  return Promise.all(
    catalogue.groupByApi(scopes).map(async ({ api, permissions }) => ({
      api,
      owner: api?.ownerTenantId ? await tenantName(api.ownerTenantId) : undefined,
      permissions,
    })),
  );
}
