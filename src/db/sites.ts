// sites: a tenant's site collections in the sample data API.
import type { Queryable } from './pool.js';

export interface SiteRecord {
  id: string;
  name: string;
  createdAt: Date;
}

export async function insertSite(
  db: Queryable,
  tenantId: string,
  site: { id: string; name: string },
): Promise<SiteRecord> {
  const { rows } = await db.query<SiteRecord>(
    `INSERT INTO sites (tenant_id, id, name) VALUES ($1::text, $2::text, $3::text) RETURNING id, name, created_at AS "createdAt"`,
    [tenantId, site.id, site.name],
  );
  return rows[0]!;
}

export async function findSite(db: Queryable, tenantId: string, id: string): Promise<SiteRecord | undefined> {
  const { rows } = await db.query<SiteRecord>(
    `SELECT id, name, created_at AS "createdAt" FROM sites WHERE tenant_id = $1::text AND id = $2::text`,
    [tenantId, id],
  );
  return rows[0];
}
