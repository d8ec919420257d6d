// consent_requests, as the Integrated Apps preview counts them: the tenant's open requests.
// (Beside db/consent-requests.ts, which holds the table's other statements.)
import type { Queryable } from './pool.js';

/** The scopes asked for by each of the tenant's open (pending, unexpired) requests. */
export async function listOpenConsentRequestScopes(db: Queryable, tenantId: string): Promise<string[][]> {
  const { rows } = await db.query<{ scopes: string[] }>(
    `SELECT scopes FROM consent_requests
      WHERE tenant_id = $1::text AND status = 'pending' AND expires_at > now()`,
    [tenantId],
  );
  return rows.map((row) => row.scopes);
}
