// audit_events: every change of consent, setting or app state, written in the same transaction.
import type { Queryable } from './pool.js';

export interface AuditEvent {
  id: string;
  tenantId: string;
  at: Date;
  actor: string;
  /** `username@tenant` when the actor is a user who still exists; null for the operator or a deleted user. */
  actorName: string | null;
  action: string;
  target: string | null;
  /** The target's name: a user's `username@tenant`, an app's or a tenant's name; null when unknown. */
  targetName: string | null;
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

/**
 * Records the event unless the tenant has one of the same actor, action and target since `since`
 * whose details hold `once` (an event recorded once per something, e.g. per sign-in). The check
 * and the write hold a transaction-level advisory lock on that something, so that requests at the
 * same moment record it once: call it inside a transaction. Whether it was recorded now.
 */
export async function recordAuditEventOnce(
  tx: Queryable,
  event: { tenantId: string; actor: string; action: string; target: string; details: Record<string, unknown> },
  once: Record<string, string>,
  since: Date,
): Promise<boolean> {
  const onceKey = JSON.stringify(once);
  await tx.query(
    `SELECT pg_advisory_xact_lock(hashtextextended('audit_once ' || $1::text || ' ' || $2::text || ' ' || $3::text, 0))`,
    [event.tenantId, event.action, onceKey],
  );
  const { rowCount } = await tx.query(
    `SELECT 1 FROM audit_events
      WHERE tenant_id = $1::text AND at >= $2::timestamptz AND actor = $3::text AND action = $4::text
        AND target = $5::text AND details @> $6::jsonb
      LIMIT 1`,
    [event.tenantId, since, event.actor, event.action, event.target, onceKey],
  );
  if (rowCount === 1) return false;
  await recordAuditEvent(tx, { ...event, details: { ...event.details, ...once } });
  return true;
}

export interface AuditFilter {
  /** The actor's id (or `operator`), or a username of the tenant. */
  actor?: string | undefined;
  /** One action (`user.created`), or a family of them ending in a dot (`consent.`). */
  action?: string | undefined;
  /** Events at or after this instant. */
  since?: Date | undefined;
  /** Events before this instant. */
  until?: Date | undefined;
}

/** Newest first, filtered; `before` is the id of the last event of the previous page (keyset pagination). */
export async function listAuditEvents(
  db: Queryable,
  tenantId: string,
  page: { limit: number; before?: string | undefined } & AuditFilter,
): Promise<AuditEvent[]> {
  // Names are joined within the event's tenant (users) or from the global tables (apps, tenants);
  // a deleted app keeps the name its event recorded.
  const { rows } = await db.query<AuditEvent>(
    `SELECT e.id::text, e.tenant_id AS "tenantId", e.at, e.actor,
            actor_user.username || '@' || actor_user.tenant_id AS "actorName",
            e.action, e.target,
            COALESCE(target_user.username || '@' || target_user.tenant_id, target_app.name, target_tenant.name,
                     e.details->>'name') AS "targetName",
            e.details
       FROM audit_events e
       LEFT JOIN users actor_user ON actor_user.tenant_id = e.tenant_id AND actor_user.id = e.actor
       LEFT JOIN users target_user ON target_user.tenant_id = e.tenant_id AND target_user.id = e.target
       LEFT JOIN apps target_app ON target_app.client_id = e.target
       LEFT JOIN tenants target_tenant ON target_tenant.id = e.target
      WHERE e.tenant_id = $1::text AND ($2::bigint IS NULL OR e.id < $2::bigint)
        AND ($4::text IS NULL OR e.actor = $4::text OR actor_user.username = lower($4::text))
        AND ($5::text IS NULL OR e.action = $5::text OR (right($5::text, 1) = '.' AND starts_with(e.action, $5::text)))
        AND ($6::timestamptz IS NULL OR e.at >= $6::timestamptz)
        AND ($7::timestamptz IS NULL OR e.at < $7::timestamptz)
      ORDER BY e.id DESC
      LIMIT $3::integer`,
    [
      tenantId,
      page.before ?? null,
      page.limit,
      page.actor ?? null,
      page.action ?? null,
      page.since ?? null,
      page.until ?? null,
    ],
  );
  return rows;
}

/** Consent activity per UTC day from `since` (inclusive): grants (user and admin), withdrawals and requests opened. */
export async function countConsentActivityByDay(
  db: Queryable,
  tenantId: string,
  since: Date,
): Promise<Array<{ day: string; grants: number; withdrawals: number; requests: number }>> {
  const { rows } = await db.query<{ day: string; grants: number; withdrawals: number; requests: number }>(
    `SELECT to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
            count(*) FILTER (WHERE e.action IN ('consent.user.granted', 'consent.admin.granted'))::integer AS grants,
            count(*) FILTER (WHERE e.action = 'consent.user.revoked')::integer AS withdrawals,
            count(*) FILTER (WHERE e.action = 'consent_request.opened')::integer AS requests
       FROM audit_events e
      WHERE e.tenant_id = $1::text AND e.at >= $2::timestamptz
        AND e.action IN ('consent.user.granted', 'consent.admin.granted', 'consent.user.revoked', 'consent_request.opened')
      GROUP BY 1
      ORDER BY 1`,
    [tenantId, since],
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
