// calendar_events: each user's calendar in the sample data API.
import type { Queryable } from './pool.js';

export interface CalendarEventRecord {
  id: string;
  subject: string;
  body: string;
  location: string | null;
  start: Date;
  end: Date;
  createdAt: Date;
}

const COLUMNS = `id, subject, body, location, starts_at AS "start", ends_at AS "end", created_at AS "createdAt"`;

/** In start order; `page.limit` rows from `page.offset`. */
export async function listCalendarEvents(
  db: Queryable,
  tenantId: string,
  userId: string,
  page: { limit: number; offset: number },
): Promise<CalendarEventRecord[]> {
  const { rows } = await db.query<CalendarEventRecord>(
    `SELECT ${COLUMNS} FROM calendar_events
      WHERE tenant_id = $1::text AND user_id = $2::text
      ORDER BY starts_at, id LIMIT $3::integer OFFSET $4::integer`,
    [tenantId, userId, page.limit, page.offset],
  );
  return rows;
}

export async function findCalendarEvent(
  db: Queryable,
  tenantId: string,
  userId: string,
  id: string,
): Promise<CalendarEventRecord | undefined> {
  const { rows } = await db.query<CalendarEventRecord>(
    `SELECT ${COLUMNS} FROM calendar_events WHERE tenant_id = $1::text AND user_id = $2::text AND id = $3::text`,
    [tenantId, userId, id],
  );
  return rows[0];
}

export async function insertCalendarEvent(
  db: Queryable,
  tenantId: string,
  userId: string,
  event: { subject: string; body: string; location: string | null; start: string; end: string },
): Promise<CalendarEventRecord> {
  const { rows } = await db.query<CalendarEventRecord>(
    `INSERT INTO calendar_events (tenant_id, user_id, subject, body, location, starts_at, ends_at)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $7::timestamptz) RETURNING ${COLUMNS}`,
    [tenantId, userId, event.subject, event.body, event.location, event.start, event.end],
  );
  return rows[0]!;
}

export async function deleteCalendarEvent(
  db: Queryable,
  tenantId: string,
  userId: string,
  id: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    'DELETE FROM calendar_events WHERE tenant_id = $1::text AND user_id = $2::text AND id = $3::text',
    [tenantId, userId, id],
  );
  return rowCount === 1;
}
