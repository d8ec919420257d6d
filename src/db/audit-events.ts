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
export async function listAuditEvents(
  db: Queryable,
  tenantId: string,
  page: { limit: number; before?: string },
): Promise<AuditEvent[]> {
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

/**
 * When each permission was last granted to the app in the tenant, read from the audit trail
 * (user_consents keeps one timestamp per row, not per permission): per user from
 * `consent.user.granted` (`details.added`), and tenant-wide (userId null) from
 * `consent.admin.granted` (`details.scopes` minus `details.before`). The caller matches these
 * against the current consent rows; a permission granted, revoked and granted again shows the
 * latest time.
 */
export async function listPermissionGrantTimes(
  db: Queryable,
  tenantId: string,
  clientId: string,
): Promise<Array<{ userId: string | null; scope: string; grantedAt: Date }>> {
  const { rows } = await db.query<{ userId: string | null; scope: string; grantedAt: Date }>(
    `SELECT e.actor AS "userId", s.scope, max(e.at) AS "grantedAt"
       FROM audit_events e,
            jsonb_array_elements_text(CASE WHEN jsonb_typeof(e.details->'added') = 'array' THEN e.details->'added' ELSE '[]' END) AS s(scope)
      WHERE e.tenant_id = $1::text AND e.target = $2::text AND e.action = 'consent.user.granted'
      GROUP BY e.actor, s.scope
     UNION ALL
     SELECT NULL, s.scope, max(e.at)
       FROM audit_events e,
            jsonb_array_elements_text(CASE WHEN jsonb_typeof(e.details->'scopes') = 'array' THEN e.details->'scopes' ELSE '[]' END) AS s(scope)
      WHERE e.tenant_id = $1::text AND e.target = $2::text AND e.action = 'consent.admin.granted'
        AND NOT (CASE WHEN jsonb_typeof(e.details->'before') = 'array' THEN e.details->'before' ELSE '[]' END) ? s.scope
      GROUP BY s.scope`,
    [tenantId, clientId],
  );
  return rows;
}
