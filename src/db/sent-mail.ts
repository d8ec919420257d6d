// sent_mail: mail sent through the sample data API on a user's behalf (it is stored, not delivered).
import type { Queryable } from './pool.js';

export interface SentMailRecord {
  id: string;
  clientId: string;
  recipients: string[];
  subject: string;
  body: string;
  sentAt: Date;
}

export async function insertSentMail(
  db: Queryable,
  tenantId: string,
  userId: string,
  mail: { clientId: string; recipients: string[]; subject: string; body: string },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO sent_mail (tenant_id, user_id, client_id, recipients, subject, body)
     VALUES ($1::text, $2::text, $3::text, $4::text[], $5::text, $6::text) RETURNING id`,
    [tenantId, userId, mail.clientId, mail.recipients, mail.subject, mail.body],
  );
  return rows[0]!.id;
}

/** Newest first. */
export async function listSentMail(db: Queryable, tenantId: string, userId: string): Promise<SentMailRecord[]> {
  const { rows } = await db.query<SentMailRecord>(
    `SELECT id, client_id AS "clientId", recipients, subject, body, sent_at AS "sentAt"
       FROM sent_mail WHERE tenant_id = $1::text AND user_id = $2::text ORDER BY sent_at DESC, id`,
    [tenantId, userId],
  );
  return rows;
}
