// permission_classifications and app_consent_policies: a tenant's own classes for permissions and
// its custom app consent policies (issue 14). Every change announces the tenant on
// `accord_consent_policy_changed`, so each process forgets its cached copy
// (services/consent-policy-cache.ts).
import type { ConditionSet } from '../core/app-consent-policies.js';
import type { Impact } from '../core/types.js';
import type { Queryable } from './pool.js';

/** Sent at commit after a change of a tenant's classifications or policies; the payload is the tenant id. */
export const CONSENT_POLICY_CHANNEL = 'accord_consent_policy_changed';

export interface ClassificationRecord {
  scope: string;
  classification: Impact;
  classifiedBy: string;
  classifiedAt: Date;
}

export interface AppConsentPolicyRecord {
  id: string;
  name: string;
  includes: ConditionSet[];
  excludes: ConditionSet[];
  createdBy: string;
  createdAt: Date;
}

/** The tenant's classifications and policies, in one round trip (the per-process cache loads it). */
export async function loadTenantConsentPolicies(
  db: Queryable,
  tenantId: string,
): Promise<{ classifications: ClassificationRecord[]; policies: AppConsentPolicyRecord[] }> {
  const { rows } = await db.query<{
    classifications: ClassificationRecord[] | null;
    policies: AppConsentPolicyRecord[] | null;
  }>({
    name: 'load-tenant-consent-policies',
    text: `SELECT
       (SELECT json_agg(json_build_object('scope', scope, 'classification', classification,
                        'classifiedBy', classified_by, 'classifiedAt', classified_at) ORDER BY scope)
          FROM permission_classifications WHERE tenant_id = $1::text) AS classifications,
       (SELECT json_agg(json_build_object('id', id, 'name', name, 'includes', includes, 'excludes', excludes,
                        'createdBy', created_by, 'createdAt', created_at) ORDER BY id)
          FROM app_consent_policies WHERE tenant_id = $1::text) AS policies`,
    values: [tenantId],
  });
  const row = rows[0]!;
  return {
    classifications: (row.classifications ?? []).map((record) => ({
      ...record,
      classifiedAt: new Date(record.classifiedAt),
    })),
    policies: (row.policies ?? []).map((record) => ({ ...record, createdAt: new Date(record.createdAt) })),
  };
}

export async function findClassification(
  db: Queryable,
  tenantId: string,
  scope: string,
): Promise<ClassificationRecord | undefined> {
  const { rows } = await db.query<ClassificationRecord>(
    `SELECT scope, classification, classified_by AS "classifiedBy", classified_at AS "classifiedAt"
       FROM permission_classifications WHERE tenant_id = $1::text AND scope = $2::text FOR UPDATE`,
    [tenantId, scope],
  );
  return rows[0];
}

export async function upsertClassification(
  db: Queryable,
  tenantId: string,
  scope: string,
  classification: Impact,
  by: string,
): Promise<void> {
  // The time comes from VALUES: Citus allows no non-immutable function in DO UPDATE SET.
  await db.query(
    `INSERT INTO permission_classifications (tenant_id, scope, classification, classified_by, classified_at)
     VALUES ($1::text, $2::text, $3::text, $4::text, now())
     ON CONFLICT (tenant_id, scope) DO UPDATE
        SET classification = EXCLUDED.classification, classified_by = EXCLUDED.classified_by,
            classified_at = EXCLUDED.classified_at`,
    [tenantId, scope, classification, by],
  );
}

export async function findPolicyForUpdate(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<AppConsentPolicyRecord | undefined> {
  const { rows } = await db.query<AppConsentPolicyRecord>(
    `SELECT id, name, includes, excludes, created_by AS "createdBy", created_at AS "createdAt"
       FROM app_consent_policies WHERE tenant_id = $1::text AND id = $2::text FOR UPDATE`,
    [tenantId, id],
  );
  return rows[0];
}

/** Inserts the policy; false when the tenant already has one with this id. */
export async function insertPolicy(
  db: Queryable,
  tenantId: string,
  policy: { id: string; name: string; includes: ConditionSet[]; excludes: ConditionSet[]; createdBy: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO app_consent_policies (tenant_id, id, name, includes, excludes, created_by)
     VALUES ($1::text, $2::text, $3::text, $4::jsonb, $5::jsonb, $6::text)
     ON CONFLICT (tenant_id, id) DO NOTHING`,
    [
      tenantId,
      policy.id,
      policy.name,
      JSON.stringify(policy.includes),
      JSON.stringify(policy.excludes),
      policy.createdBy,
    ],
  );
  return rowCount === 1;
}

export async function deletePolicy(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM app_consent_policies WHERE tenant_id = $1::text AND id = $2::text', [
    tenantId,
    id,
  ]);
  return rowCount === 1;
}

/** How many of the tenant's users hold each scope, by their own consent or through an admin consent's app. */
export async function countGrantsByScope(db: Queryable, tenantId: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ scope: string; count: number }>(
    `SELECT scope, count(*)::int AS count FROM (
        SELECT unnest(scopes) AS scope FROM user_consents WHERE tenant_id = $1::text
        UNION ALL
        SELECT unnest(scopes) AS scope FROM admin_consents WHERE tenant_id = $1::text) granted
      GROUP BY scope`,
    [tenantId],
  );
  return new Map(rows.map((row) => [row.scope, row.count]));
}

/** Tells every process that the tenant's classifications or policies changed, at commit. */
export async function announceConsentPolicyChange(db: Queryable, tenantId: string): Promise<void> {
  await db.query({
    name: 'announce-consent-policy-change',
    text: 'SELECT pg_notify($1::text, $2::text)',
    values: [CONSENT_POLICY_CHANNEL, tenantId],
  });
}
