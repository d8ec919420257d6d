// tenant_grant_lifetimes and app_grant_lifetimes (migration 0018): how long a tenant's grants live.
import type { GrantLifetimeClass, GrantLifetimePolicy } from '../core/grant-lifetime.js';
import type { Queryable } from './pool.js';

export interface AppGrantLifetime {
  clientId: string;
  /** null: the app's grants never expire in this tenant. */
  lifetimeDays: number | null;
}

/** The tenant's lifetimes by class and, when `clientId` is given, that app's own (in one statement). */
export async function loadGrantLifetimePolicy(
  db: Queryable,
  tenantId: string,
  clientId: string | null,
): Promise<GrantLifetimePolicy> {
  const { rows } = await db.query<{ appliesTo: string; lifetimeDays: number | null; app: boolean }>(
    `SELECT applies_to AS "appliesTo", lifetime_days AS "lifetimeDays", false AS app
       FROM tenant_grant_lifetimes WHERE tenant_id = $1::text
     UNION ALL
     SELECT client_id, lifetime_days, true FROM app_grant_lifetimes
      WHERE tenant_id = $1::text AND client_id = $2::text`,
    [tenantId, clientId],
  );
  const policy: GrantLifetimePolicy = { classes: {} };
  for (const row of rows) {
    if (row.app) policy.app = row.lifetimeDays;
    else policy.classes[row.appliesTo as GrantLifetimeClass] = row.lifetimeDays!;
  }
  return policy;
}

export async function listAppGrantLifetimes(db: Queryable, tenantId: string): Promise<AppGrantLifetime[]> {
  const { rows } = await db.query<AppGrantLifetime>(
    `SELECT client_id AS "clientId", lifetime_days AS "lifetimeDays" FROM app_grant_lifetimes
      WHERE tenant_id = $1::text ORDER BY client_id`,
    [tenantId],
  );
  return rows;
}

/** Sets (days) or removes (null) the lifetime of one class; returns the days it had before. */
export async function setTenantGrantLifetime(
  db: Queryable,
  tenantId: string,
  appliesTo: GrantLifetimeClass,
  days: number | null,
): Promise<number | null> {
  const { rows: before } = await db.query<{ lifetimeDays: number }>(
    `DELETE FROM tenant_grant_lifetimes WHERE tenant_id = $1::text AND applies_to = $2::text
     RETURNING lifetime_days AS "lifetimeDays"`,
    [tenantId, appliesTo],
  );
  if (days !== null)
    await db.query(
      'INSERT INTO tenant_grant_lifetimes (tenant_id, applies_to, lifetime_days) VALUES ($1::text, $2::text, $3::integer)',
      [tenantId, appliesTo, days],
    );
  return before[0]?.lifetimeDays ?? null;
}

/**
 * Sets the app's own lifetime in the tenant (days, or null for "never expires"), or with
 * `inherit` removes it so the tenant's classes apply; returns what it was before (undefined: inherited).
 */
export async function setAppGrantLifetime(
  db: Queryable,
  tenantId: string,
  clientId: string,
  days: number | null | 'inherit',
): Promise<number | null | undefined> {
  const { rows: before } = await db.query<{ lifetimeDays: number | null }>(
    `DELETE FROM app_grant_lifetimes WHERE tenant_id = $1::text AND client_id = $2::text
     RETURNING lifetime_days AS "lifetimeDays"`,
    [tenantId, clientId],
  );
  if (days !== 'inherit')
    await db.query(
      'INSERT INTO app_grant_lifetimes (tenant_id, client_id, lifetime_days) VALUES ($1::text, $2::text, $3::integer)',
      [tenantId, clientId, days],
    );
  return before[0] ? before[0].lifetimeDays : undefined;
}
