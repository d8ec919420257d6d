// tenants: organisations and their Integrated Apps setting.
import type { UserConsentSetting } from '../core/app-consent-policies.js';
import type { Queryable } from './pool.js';

export interface TenantRecord {
  id: string;
  name: string;
  integratedAppsEnabled: boolean;
  createdAt: Date;
}

const COLUMNS = `id, name, integrated_apps_enabled AS "integratedAppsEnabled", created_at AS "createdAt"`;

export async function insertTenant(
  db: Queryable,
  tenant: { id: string; name: string; integratedAppsEnabled: boolean },
): Promise<TenantRecord> {
  const { rows } = await db.query<TenantRecord>(
    `INSERT INTO tenants (id, name, integrated_apps_enabled) VALUES ($1::text, $2::text, $3::boolean) RETURNING ${COLUMNS}`,
    [tenant.id, tenant.name, tenant.integratedAppsEnabled],
  );
  return rows[0]!;
}

export async function findTenant(db: Queryable, id: string): Promise<TenantRecord | undefined> {
  const { rows } = await db.query<TenantRecord>(`SELECT ${COLUMNS} FROM tenants WHERE id = $1::text`, [id]);
  return rows[0];
}

/** Locks the tenant row for the rest of the transaction (serialises setting changes). */
export async function findTenantForUpdate(db: Queryable, id: string): Promise<TenantRecord | undefined> {
  const { rows } = await db.query<TenantRecord>(`SELECT ${COLUMNS} FROM tenants WHERE id = $1::text FOR UPDATE`, [id]);
  return rows[0];
}

export async function listTenants(db: Queryable): Promise<TenantRecord[]> {
  const { rows } = await db.query<TenantRecord>(`SELECT ${COLUMNS} FROM tenants ORDER BY id`);
  return rows;
}

export async function setIntegratedApps(db: Queryable, id: string, enabled: boolean): Promise<void> {
  await db.query('UPDATE tenants SET integrated_apps_enabled = $2::boolean WHERE id = $1::text', [id, enabled]);
}

export async function countTenants(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ count: string }>('SELECT count(*) FROM tenants');
  return Number(rows[0]!.count);
}

/** The tenant's graduated-consent settings (issue 14): user consent setting and risk-based step-up. */
export interface TenantConsentSettings {
  userConsent: UserConsentSetting;
  riskStepUp: boolean;
  riskStepUpDays: number;
}

/** The tenant's consent settings, its row locked for the rest of the transaction. */
export async function lockTenantConsentSettings(db: Queryable, id: string): Promise<TenantConsentSettings | undefined> {
  const { rows } = await db.query<TenantConsentSettings>(
    `SELECT user_consent AS "userConsent", risk_step_up AS "riskStepUp", risk_step_up_days AS "riskStepUpDays"
       FROM tenants WHERE id = $1::text FOR UPDATE`,
    [id],
  );
  return rows[0];
}

export async function findTenantConsentSettings(db: Queryable, id: string): Promise<TenantConsentSettings | undefined> {
  const { rows } = await db.query<TenantConsentSettings>(
    `SELECT user_consent AS "userConsent", risk_step_up AS "riskStepUp", risk_step_up_days AS "riskStepUpDays"
       FROM tenants WHERE id = $1::text`,
    [id],
  );
  return rows[0];
}

export async function updateTenantConsentSettings(
  db: Queryable,
  id: string,
  settings: TenantConsentSettings,
): Promise<void> {
  await db.query(
    'UPDATE tenants SET user_consent = $2::text, risk_step_up = $3::boolean, risk_step_up_days = $4::integer WHERE id = $1::text',
    [id, settings.userConsent, settings.riskStepUp, settings.riskStepUpDays],
  );
}
