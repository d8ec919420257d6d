// audit_events: every change of consent, setting or app state, written in the same transaction.
import type { Queryable } from './pool.js';

export interface AuditEvent {
  id: string;
  tenantId: string;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

export async function recordAuditEvent(
  db: Queryable,
  event: { tenantId: string; actor: string; action: string; target?: string | null; details?: Record<string, unknown> },
): Promise<void> {
  await db.query(
    `INSERT INTO audit_events (tenant_id, actor, action, target, details)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::jsonb)`,
    [event.tenantId, event.actor, event.action, event.target ?? null, event.details ?? {}],
  );
}

/** Newest first; `before` is the id of the last event of the previous page (keyset pagination). */
export async function listAuditEvents(db: Queryable, tenantId: string, page: { limit: number; before?: string }): Promise<AuditEvent[]> {
  const { rows } = await db.query<AuditEvent>(
    `SELECT id::text, tenant_id AS "tenantId", at, actor, action, target, details
       FROM audit_events
      WHERE tenant_id = $1::text AND ($2::bigint IS NULL OR id < $2::bigint)
      ORDER BY audit_events.id DESC
      LIMIT $3::integer`,
    [tenantId, page.before ?? null, page.limit],
  );
  return rows;
}
