// permissions and apis/api_scopes: the catalogue of scopes apps may ask for — the OpenID scopes
// (seeded by migration) and every registered API's scopes.

import { OPENID_RESOURCE, scopeRequestName } from '../core/permission-catalogue.js';
import type { Impact, Permission } from '../core/types.js';
import type { Queryable } from './pool.js';

interface PermissionRow {
  apiIdentifier: string | null;
  apiName: string | null;
  ownerTenantId: string | null;
  multiTenant: boolean | null;
  defaultResource: boolean | null;
  name: string;
  userDescription: string;
  adminDescription: string;
  adminConsentRequired: boolean;
  impact: Impact;
}

/** The whole catalogue in one statement: OpenID scopes first, then each API's scopes in order. */
export async function listPermissions(db: Queryable): Promise<Permission[]> {
  const { rows } = await db.query<PermissionRow>(
    `SELECT NULL AS "apiIdentifier", NULL AS "apiName", NULL AS "ownerTenantId", NULL::boolean AS "multiTenant",
            NULL::boolean AS "defaultResource", scope AS name, user_description AS "userDescription",
            admin_description AS "adminDescription", admin_consent_required AS "adminConsentRequired",
            'low' AS impact, 0 AS api_rank, ''::text AS api_created, sort_order
       FROM permissions
     UNION ALL
     SELECT a.identifier, a.name, a.tenant_id, a.multi_tenant, a.default_resource, s.name, s.user_description,
            s.admin_description, s.admin_consent_required, s.impact,
            CASE WHEN a.tenant_id IS NULL THEN 1 ELSE 2 END,
            CASE WHEN a.tenant_id IS NULL THEN '' ELSE to_char(a.created_at, 'YYYYMMDDHH24MISSUS') || a.identifier END,
            s.sort_order
       FROM apis a JOIN api_scopes s ON s.api_identifier = a.identifier
     ORDER BY api_rank, api_created, sort_order, name`,
  );
  return rows.map((row) => ({
    scope: row.apiIdentifier ? scopeRequestName(row.apiIdentifier, row.name) : row.name,
    resource: row.apiIdentifier ?? OPENID_RESOURCE,
    name: row.name,
    userDescription: row.userDescription,
    adminDescription: row.adminDescription,
    adminConsentRequired: row.adminConsentRequired,
    impact: row.impact,
    ...(row.apiIdentifier
      ? {
          api: {
            identifier: row.apiIdentifier,
            name: row.apiName!,
            ownerTenantId: row.ownerTenantId,
            multiTenant: row.multiTenant!,
            defaultResource: row.defaultResource!,
          },
        }
      : {}),
  }));
}
