// consent_requests: a user's request that an admin approve an app for the organisation.
import type { Queryable } from './pool.js';

export type ConsentRequestStatus = 'pending' | 'approved' | 'denied' | 'expired';

export interface ConsentRequestRecord {
  tenantId: string;
  id: string;
  userId: string;
  clientId: string;
  scopes: string[];
  reason: string;
  status: ConsentRequestStatus;
  approvedScopes: string[] | null;
  decidedBy: string | null;
  decisionReason: string | null;
  createdAt: Date;
  expiresAt: Date;
  decidedAt: Date | null;
  /** Why the user needed approval when they last asked: the consent decision's rule (issue 14). */
  approvalRule: {
    id: string;
    row: number;
    explanation: string;
    policy?: { id: string; name: string };
    scopes?: string[];
  } | null;
}

/**
 * The status as of now: a pending request past its expiry reads as expired (decided when it
 * expired) whether or not `expireConsentRequests` has stored that yet, so no read needs a write first.
 */
const OVERDUE = `(status = 'pending' AND expires_at <= now())`;
const STATUS = `CASE WHEN ${OVERDUE} THEN 'expired' ELSE status END`;

const COLUMNS = `tenant_id AS "tenantId", id, user_id AS "userId", client_id AS "clientId", scopes, reason,
  ${STATUS} AS status, approved_scopes AS "approvedScopes", decided_by AS "decidedBy",
  decision_reason AS "decisionReason", created_at AS "createdAt", expires_at AS "expiresAt",
  CASE WHEN ${OVERDUE} THEN expires_at ELSE decided_at END AS "decidedAt", approval_rule AS "approvalRule"`;

/**
 * Stores the expiry of the tenant's overdue pending requests. Reads do not need it (they derive
 * the status); opening a request does, so that an overdue request no longer holds the one open
 * slot per user and app (the unique index `consent_requests_one_open` is on the stored status).
 */
export async function expireConsentRequests(db: Queryable, tenantId: string): Promise<void> {
  await db.query(
    `UPDATE consent_requests SET status = 'expired', decided_at = expires_at
      WHERE tenant_id = $1::text AND status = 'pending' AND expires_at <= now()`,
    [tenantId],
  );
}

/**
 * Opens a request, or refreshes the user's open one for this app (one open request per user and
 * app): the scopes are merged, the reason and the expiry replaced.
 */
export async function upsertOpenConsentRequest(
  db: Queryable,
  request: {
    tenantId: string;
    id: string;
    userId: string;
    clientId: string;
    scopes: string[];
    reason: string;
    ttlDays: number;
    approvalRule?: ConsentRequestRecord['approvalRule'];
  },
): Promise<ConsentRequestRecord> {
  const { rows } = await db.query<ConsentRequestRecord>(
    `INSERT INTO consent_requests AS cr (tenant_id, id, user_id, client_id, scopes, reason, expires_at, approval_rule)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text[], $6::text, now() + make_interval(days => $7::integer), $8::jsonb)
     ON CONFLICT (tenant_id, user_id, client_id) WHERE status = 'pending' DO UPDATE
        SET scopes = ARRAY(SELECT DISTINCT unnest(cr.scopes || EXCLUDED.scopes)),
            reason = EXCLUDED.reason,
            expires_at = EXCLUDED.expires_at,
            approval_rule = EXCLUDED.approval_rule
     RETURNING ${COLUMNS}`,
    [
      request.tenantId,
      request.id,
      request.userId,
      request.clientId,
      request.scopes,
      request.reason,
      request.ttlDays,
      request.approvalRule ? JSON.stringify(request.approvalRule) : null,
    ],
  );
  return rows[0]!;
}

export async function findConsentRequestForUpdate(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<ConsentRequestRecord | undefined> {
  const { rows } = await db.query<ConsentRequestRecord>(
    `SELECT ${COLUMNS} FROM consent_requests WHERE tenant_id = $1::text AND id = $2::text FOR UPDATE`,
    [tenantId, id],
  );
  return rows[0];
}

/** The user's open (pending, not yet expired) request for the app, if any. */
export async function findOpenConsentRequest(
  db: Queryable,
  key: { tenantId: string; userId: string; clientId: string },
): Promise<ConsentRequestRecord | undefined> {
  const { rows } = await db.query<ConsentRequestRecord>(
    `SELECT ${COLUMNS} FROM consent_requests
      WHERE tenant_id = $1::text AND user_id = $2::text AND client_id = $3::text
        AND status = 'pending' AND expires_at > now()`,
    [key.tenantId, key.userId, key.clientId],
  );
  return rows[0];
}

export async function listConsentRequests(
  db: Queryable,
  tenantId: string,
  filter: { status?: ConsentRequestStatus; userId?: string } = {},
): Promise<ConsentRequestRecord[]> {
  const { rows } = await db.query<ConsentRequestRecord>(
    `SELECT ${COLUMNS} FROM consent_requests
      WHERE tenant_id = $1::text AND ($2::text IS NULL OR ${STATUS} = $2::text)
        AND ($3::text IS NULL OR user_id = $3::text)
      ORDER BY created_at DESC, id
      LIMIT 500`,
    [tenantId, filter.status ?? null, filter.userId ?? null],
  );
  return rows;
}

export async function decideConsentRequest(
  db: Queryable,
  key: { tenantId: string; id: string },
  decision: {
    status: 'approved' | 'denied';
    approvedScopes: string[] | null;
    decidedBy: string;
    reason: string | null;
  },
): Promise<ConsentRequestRecord> {
  const { rows } = await db.query<ConsentRequestRecord>(
    `UPDATE consent_requests
        SET status = $3::text, approved_scopes = $4::text[], decided_by = $5::text, decision_reason = $6::text, decided_at = now()
      WHERE tenant_id = $1::text AND id = $2::text
      RETURNING ${COLUMNS}`,
    [key.tenantId, key.id, decision.status, decision.approvedScopes, decision.decidedBy, decision.reason],
  );
  return rows[0]!;
}

/** The scopes asked for by each of the tenant's open (pending, unexpired) requests: what the Integrated Apps preview counts. */
export async function listOpenConsentRequestScopes(db: Queryable, tenantId: string): Promise<string[][]> {
  const { rows } = await db.query<{ scopes: string[] }>(
    `SELECT scopes FROM consent_requests
      WHERE tenant_id = $1::text AND status = 'pending' AND expires_at > now()`,
    [tenantId],
  );
  return rows.map((row) => row.scopes);
}

/** The tenant's open requests with who asked (role, username): what a consent settings preview re-decides. */
export async function listOpenConsentRequestsWithRequester(
  db: Queryable,
  tenantId: string,
): Promise<
  Array<{ id: string; userId: string; username: string; role: 'user' | 'admin'; clientId: string; scopes: string[] }>
> {
  const { rows } = await db.query<{
    id: string;
    userId: string;
    username: string;
    role: 'user' | 'admin';
    clientId: string;
    scopes: string[];
  }>(
    `SELECT cr.id, cr.user_id AS "userId", u.username, u.role, cr.client_id AS "clientId", cr.scopes
       FROM consent_requests cr JOIN users u ON u.tenant_id = cr.tenant_id AND u.id = cr.user_id
      WHERE cr.tenant_id = $1::text AND cr.status = 'pending' AND cr.expires_at > now()
      ORDER BY cr.created_at, cr.id
      LIMIT 1000`,
    [tenantId],
  );
  return rows;
}
