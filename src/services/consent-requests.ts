// Users' requests for admin approval (Entra's "admin consent workflow"): a user on the "needs
// admin approval" page asks, with a reason; an admin of their tenant approves all or some of the
// permissions — which records the tenant-wide admin consent — or denies, with a reason. One open
// request per user and app; requests expire after CONSENT_REQUEST_TTL_DAYS.
import type { DecisionRule } from '../core/consent-decision.js';
import { Conflict, InvalidRequest, NotFound } from '../core/errors.js';
import type { PermissionCatalogue } from '../core/permission-catalogue.js';
import { recordAuditEvent } from '../db/audit-events.js';
import * as requests from '../db/consent-requests.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import type { Consents } from './consents.js';
import { newId } from './directory.js';

export const MAX_REASON_LENGTH = 1000;

export class ConsentRequests {
  constructor(
    private readonly pool: Pool,
    private readonly consent: Consents,
    private readonly catalogue: PermissionCatalogue,
    private readonly ttlDays: number,
  ) {}

  /** Opens (or refreshes) the user's request for the permissions the app still needs. */
  async request(
    tenantId: string,
    userId: string,
    clientId: string,
    scopes: readonly string[],
    reason: string,
    approvalRule?: DecisionRule,
  ) {
    const trimmed = reason.trim();
    if (trimmed.length > MAX_REASON_LENGTH)
      throw InvalidRequest(`reason must be at most ${MAX_REASON_LENGTH} characters`, { field: 'reason' });
    if (scopes.length === 0)
      throw InvalidRequest('nothing to request: the app already has every permission it asked for');
    return inTransaction(this.pool, async (tx) => {
      // An overdue request must give up the one open slot per user and app to the new one.
      await requests.expireConsentRequests(tx, tenantId);
      const record = await requests.upsertOpenConsentRequest(tx, {
        tenantId,
        id: newId(12),
        userId,
        clientId,
        scopes: this.catalogue.sort(scopes),
        reason: trimmed,
        ttlDays: this.ttlDays,
        approvalRule: approvalRule ?? null,
      });
      await recordAuditEvent(tx, {
        tenantId,
        actor: userId,
        action: 'consent_request.opened',
        target: clientId,
        details: {
          request: record.id,
          scopes: record.scopes,
          ...(approvalRule ? { rule: approvalRule.id, because: approvalRule.explanation } : {}),
        },
      });
      return record;
    });
  }

  /** Newest first; a request past its expiry reads as expired. */
  async list(tenantId: string, filter: { status?: requests.ConsentRequestStatus; userId?: string } = {}) {
    return requests.listConsentRequests(this.pool, tenantId, filter);
  }

  /** The user's request for the app that is still open (pending and not expired), if any. */
  async findOpen(tenantId: string, userId: string, clientId: string) {
    return requests.findOpenConsentRequest(this.pool, { tenantId, userId, clientId });
  }

  /**
   * Approves `scopes` (default: all requested; must be a subset) and records them as the
   * organisation's admin consent, in one transaction with the request's new state.
   */
  async approve(tenantId: string, requestId: string, adminId: string, scopes?: readonly string[]) {
    return inTransaction(this.pool, async (tx) => {
      const request = await this.lockPending(tx, tenantId, requestId);
      const approved = scopes === undefined ? request.scopes : [...new Set(scopes)];
      const outside = approved.filter((scope) => !request.scopes.includes(scope));
      if (outside.length > 0)
        throw InvalidRequest(`not part of the request: ${outside.join(' ')}`, { field: 'scopes' }).withMessage(
          'admin:error.notRequested',
          { scopes: outside.join(' ') },
        );
      if (approved.length === 0)
        throw InvalidRequest('approve at least one permission, or deny the request', { field: 'scopes' }).withMessage(
          'admin:error.approveNothing',
        );
      await this.consent.grantAdminConsent(
        tenantId,
        adminId,
        request.clientId,
        approved,
        `consent_request:${request.id}`,
        tx,
      );
      const decided = await requests.decideConsentRequest(
        tx,
        { tenantId, id: requestId },
        { status: 'approved', approvedScopes: this.catalogue.sort(approved), decidedBy: adminId, reason: null },
      );
      await recordAuditEvent(tx, {
        tenantId,
        actor: adminId,
        action: 'consent_request.approved',
        target: request.clientId,
        details: { request: request.id, scopes: decided.approvedScopes },
      });
      return decided;
    });
  }

  async deny(tenantId: string, requestId: string, adminId: string, reason: string) {
    const trimmed = reason.trim();
    if (trimmed.length > MAX_REASON_LENGTH)
      throw InvalidRequest(`reason must be at most ${MAX_REASON_LENGTH} characters`, { field: 'reason' }).withMessage(
        'admin:error.reasonTooLong',
        { max: MAX_REASON_LENGTH },
      );
    return inTransaction(this.pool, async (tx) => {
      const request = await this.lockPending(tx, tenantId, requestId);
      const decided = await requests.decideConsentRequest(
        tx,
        { tenantId, id: requestId },
        { status: 'denied', approvedScopes: null, decidedBy: adminId, reason: trimmed || null },
      );
      await recordAuditEvent(tx, {
        tenantId,
        actor: adminId,
        action: 'consent_request.denied',
        target: request.clientId,
        details: { request: request.id, reason: trimmed },
      });
      return decided;
    });
  }

  /** Locks the request for its decision; an expired one is no longer pending (its status is derived). */
  private async lockPending(tx: Queryable, tenantId: string, requestId: string) {
    const request = await requests.findConsentRequestForUpdate(tx, tenantId, requestId);
    if (!request) throw NotFound('consent request not found');
    if (request.status !== 'pending')
      throw Conflict(`the request is already ${request.status}`).withMessage(
        request.status === 'approved'
          ? 'admin:error.alreadyApproved'
          : request.status === 'denied'
            ? 'admin:error.alreadyDenied'
            : 'admin:error.alreadyExpired',
      );
    return request;
  }
}
