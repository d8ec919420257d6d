// site_items: the items of a tenant's site collections in the sample data API.
import type { Queryable } from './pool.js';

export interface SiteItemRecord {
  id: string;
  title: string;
  content: string;
  createdAt: Date;
}

const COLUMNS = `id, title, content, created_at AS "createdAt"`;

export async function insertSiteItem(
  db: Queryable,
  tenantId: string,
  siteId: string,
  item: { title: string; content: string },
): Promise<SiteItemRecord> {
  const { rows } = await db.query<SiteItemRecord>(
    `INSERT INTO site_items (tenant_id, site_id, title, content) VALUES ($1::text, $2::text, $3::text, $4::text) RETURNING ${COLUMNS}`,
    [tenantId, siteId, item.title, item.content],
  );
  return rows[0]!;
}

/** Oldest first; `page.limit` rows from `page.offset`. */
export async function listSiteItems(
  db: Queryable,
  tenantId: string,
  siteId: string,
  page: { limit: number; offset: number },
): Promise<SiteItemRecord[]> {
  const { rows } = await db.query<SiteItemRecord>(
    `SELECT ${COLUMNS} FROM site_items
      WHERE tenant_id = $1::text AND site_id = $2::text
      ORDER BY created_at, id LIMIT $3::integer OFFSET $4::integer`,
    [tenantId, siteId, page.limit, page.offset],
  );
  return rows;
}
