// A tenant's audit trail as its admins read it (admin API and admin centre): newest first, paged
// by a keyset cursor on the event id, so a page never shifts while new events arrive.
import { type AuditEvent, listAuditEvents } from '../db/audit-events.js';
import type { Pool } from '../db/pool.js';

export interface AuditPage {
  events: AuditEvent[];
  /** The `before` value of the next (older) page; null on the last page. */
  next: string | null;
}

export class AuditLog {
  constructor(private readonly pool: Pool) {}

  /** Up to `limit` events older than the event `before` (from the newest when absent). */
  async page(tenantId: string, { limit, before }: { limit: number; before?: string | undefined }): Promise<AuditPage> {
    // One more than asked tells whether an older page exists.
    const rows = await listAuditEvents(this.pool, tenantId, { limit: limit + 1, ...(before ? { before } : {}) });
    const events = rows.slice(0, limit);
    return { events, next: rows.length > limit ? events[events.length - 1]!.id : null };
  }
}
