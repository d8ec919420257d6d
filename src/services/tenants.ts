// A tenant as its admins' pages and API read it: its name and its Integrated Apps setting (the
// setting changes through Directory.setIntegratedApps, which audits it).
import { NotFound } from '../core/errors.js';
import type { Pool } from '../db/pool.js';
import { findTenant, type TenantRecord } from '../db/tenants.js';

export class Tenants {
  constructor(private readonly pool: Pool) {}

  /** The tenant, or 404. */
  async find(tenantId: string): Promise<TenantRecord> {
    const tenant = await findTenant(this.pool, tenantId);
    if (!tenant) throw NotFound('tenant not found');
    return tenant;
  }
}
