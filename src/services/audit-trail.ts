// Reading a tenant's audit trail (what was done, by whom, to what), newest first, a page at a time.
// The events are written by the services that make the changes, in the same transaction.
import { listAuditEvents } from '../db/audit-events.js';
import type { Pool } from '../db/pool.js';

export class AuditTrail {
  constructor(private readonly pool: Pool) {}

  /** `page.before`: the id of the last event of the previous page. */
  list(tenantId: string, page: { limit: number; before?: string }) {
    return listAuditEvents(this.pool, tenantId, page);
  }
}
