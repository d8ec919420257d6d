// drive_files: each user's (text) files in the sample data API.
import type { Queryable } from './pool.js';

export interface DriveFileRecord {
  id: string;
  name: string;
  contentType: string;
  /** Bytes of content (UTF-8). */
  size: number;
  createdAt: Date;
}

export interface DriveFileWithContent extends DriveFileRecord {
  content: string;
}

const COLUMNS = `id, name, content_type AS "contentType", octet_length(content) AS size, created_at AS "createdAt"`;

/** Metadata only, by name; `page.limit` rows from `page.offset`. */
export async function listDriveFiles(
  db: Queryable,
  tenantId: string,
  userId: string,
  page: { limit: number; offset: number },
): Promise<DriveFileRecord[]> {
  const { rows } = await db.query<DriveFileRecord>(
    `SELECT ${COLUMNS} FROM drive_files
      WHERE tenant_id = $1::text AND user_id = $2::text
      ORDER BY name, id LIMIT $3::integer OFFSET $4::integer`,
    [tenantId, userId, page.limit, page.offset],
  );
  return rows;
}

export async function findDriveFile(
  db: Queryable,
  tenantId: string,
  userId: string,
  id: string,
): Promise<DriveFileWithContent | undefined> {
  const { rows } = await db.query<DriveFileWithContent>(
    `SELECT ${COLUMNS}, content FROM drive_files WHERE tenant_id = $1::text AND user_id = $2::text AND id = $3::text`,
    [tenantId, userId, id],
  );
  return rows[0];
}

export async function insertDriveFile(
  db: Queryable,
  tenantId: string,
  userId: string,
  file: { name: string; contentType: string; content: string },
): Promise<DriveFileWithContent> {
  const { rows } = await db.query<DriveFileWithContent>(
    `INSERT INTO drive_files (tenant_id, user_id, name, content_type, content)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text) RETURNING ${COLUMNS}, content`,
    [tenantId, userId, file.name, file.contentType, file.content],
  );
  return rows[0]!;
}

export async function deleteDriveFile(db: Queryable, tenantId: string, userId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'DELETE FROM drive_files WHERE tenant_id = $1::text AND user_id = $2::text AND id = $3::text',
    [tenantId, userId, id],
  );
  return rowCount === 1;
}
