// apis and api_scopes: the registered APIs (resource servers) and their scopes, what uses them,
// and revoking what was granted for a scope. Every change announces itself on
// `accord_catalogue_changed`, so each process reloads its catalogue (services/api-catalogue.ts).
import type { Impact } from '../core/types.js';
import type { DedicatedClient, Queryable } from './pool.js';

/** Sent at commit after any change of apis or api_scopes. */
export const CATALOGUE_CHANNEL = 'accord_catalogue_changed';

export interface ApiRecord {
  identifier: string;
  name: string;
  /** The owner tenant; null for Accord's own APIs. */
  tenantId: string | null;
  multiTenant: boolean;
  defaultResource: boolean;
  createdAt: Date;
}

export interface ApiScopeRecord {
  apiIdentifier: string;
  name: string;
  userDescription: string;
  adminDescription: string;
  adminConsentRequired: boolean;
  impact: Impact;
}

const API_COLUMNS = `identifier, name, tenant_id AS "tenantId", multi_tenant AS "multiTenant",
  default_resource AS "defaultResource", created_at AS "createdAt"`;
const SCOPE_COLUMNS = `api_identifier AS "apiIdentifier", name, user_description AS "userDescription",
  admin_description AS "adminDescription", admin_consent_required AS "adminConsentRequired", impact`;

export async function listApis(db: Queryable, tenantId?: string): Promise<ApiRecord[]> {
  const { rows } = await db.query<ApiRecord>(
    `SELECT ${API_COLUMNS} FROM apis
      WHERE $1::text IS NULL OR tenant_id = $1::text
      ORDER BY tenant_id NULLS FIRST, default_resource DESC, created_at, identifier`,
    [tenantId ?? null],
  );
  return rows;
}

export async function findApi(db: Queryable, identifier: string): Promise<ApiRecord | undefined> {
  const { rows } = await db.query<ApiRecord>(`SELECT ${API_COLUMNS} FROM apis WHERE identifier = $1::text`, [
    identifier,
  ]);
  return rows[0];
}

/** The API's row, locked until the transaction ends (changes to one API are serialised). */
export async function lockApi(db: Queryable, identifier: string): Promise<ApiRecord | undefined> {
  const { rows } = await db.query<ApiRecord>(`SELECT ${API_COLUMNS} FROM apis WHERE identifier = $1::text FOR UPDATE`, [
    identifier,
  ]);
  return rows[0];
}

export async function insertApi(
  db: Queryable,
  api: { identifier: string; name: string; tenantId: string; multiTenant: boolean },
): Promise<ApiRecord> {
  const { rows } = await db.query<ApiRecord>(
    `INSERT INTO apis (identifier, name, tenant_id, multi_tenant)
     VALUES ($1::text, $2::text, $3::text, $4::boolean)
     RETURNING ${API_COLUMNS}`,
    [api.identifier, api.name, api.tenantId, api.multiTenant],
  );
  return rows[0]!;
}

export async function deleteApi(db: Queryable, identifier: string): Promise<void> {
  await db.query('DELETE FROM apis WHERE identifier = $1::text', [identifier]);
}

export async function listApiScopes(db: Queryable, identifier: string): Promise<ApiScopeRecord[]> {
  const { rows } = await db.query<ApiScopeRecord>(
    `SELECT ${SCOPE_COLUMNS} FROM api_scopes WHERE api_identifier = $1::text ORDER BY sort_order, name`,
    [identifier],
  );
  return rows;
}

/** Adds a scope last in its API's order. A duplicate name is a unique violation. */
export async function insertApiScope(db: Queryable, scope: ApiScopeRecord): Promise<ApiScopeRecord> {
  const { rows } = await db.query<ApiScopeRecord>(
    `INSERT INTO api_scopes (api_identifier, name, user_description, admin_description, admin_consent_required, impact, sort_order)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::boolean, $6::text,
             (SELECT COALESCE(max(sort_order), 0) + 1 FROM api_scopes WHERE api_identifier = $1::text))
     RETURNING ${SCOPE_COLUMNS}`,
    [
      scope.apiIdentifier,
      scope.name,
      scope.userDescription,
      scope.adminDescription,
      scope.adminConsentRequired,
      scope.impact,
    ],
  );
  return rows[0]!;
}

/** Changes a scope's words and impact (not its admin flag: see services/apis.ts). */
export async function updateApiScopeWords(
  db: Queryable,
  scope: Pick<ApiScopeRecord, 'apiIdentifier' | 'name' | 'userDescription' | 'adminDescription' | 'impact'>,
): Promise<ApiScopeRecord | undefined> {
  const { rows } = await db.query<ApiScopeRecord>(
    `UPDATE api_scopes SET user_description = $3::text, admin_description = $4::text, impact = $5::text
      WHERE api_identifier = $1::text AND name = $2::text
      RETURNING ${SCOPE_COLUMNS}`,
    [scope.apiIdentifier, scope.name, scope.userDescription, scope.adminDescription, scope.impact],
  );
  return rows[0];
}

export async function deleteApiScope(db: Queryable, identifier: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM api_scopes WHERE api_identifier = $1::text AND name = $2::text', [
    identifier,
    name,
  ]);
  return rowCount === 1;
}

/** Who uses a scope (by its request name): apps registering it, tenants' admin consents, users' own consents. */
export interface ScopeUsage {
  scope: string;
  apps: Array<{ clientId: string; name: string; publisherTenantId: string }>;
  /** Tenants whose admin consented to it for some app. */
  adminConsentTenants: number;
  /** Users who consented to it themselves, for some app. */
  users: number;
}

export async function scopeUsage(db: Queryable, scopes: readonly string[]): Promise<ScopeUsage[]> {
  if (scopes.length === 0) return [];
  const { rows } = await db.query<ScopeUsage>(
    `SELECT s.scope,
            COALESCE((SELECT json_agg(json_build_object('clientId', a.client_id, 'name', a.name,
                                                        'publisherTenantId', a.publisher_tenant_id)
                                      ORDER BY lower(a.name), a.client_id)
                        FROM apps a WHERE s.scope = ANY (a.scopes)), '[]') AS apps,
            (SELECT count(DISTINCT ac.tenant_id)::int FROM admin_consents ac WHERE s.scope = ANY (ac.scopes)) AS "adminConsentTenants",
            (SELECT count(DISTINCT (uc.tenant_id, uc.user_id))::int FROM user_consents uc WHERE s.scope = ANY (uc.scopes)) AS users
       FROM unnest($1::text[]) WITH ORDINALITY AS s(scope, n)
      ORDER BY s.n`,
    [scopes],
  );
  return rows;
}

/** Tenants whose admin consented to any of the scopes, and users who consented to any themselves. */
export async function countScopeHolders(
  db: Queryable,
  scopes: readonly string[],
): Promise<{ adminConsentTenants: number; users: number }> {
  const { rows } = await db.query<{ adminConsentTenants: number; users: number }>(
    `SELECT (SELECT count(DISTINCT tenant_id)::int FROM admin_consents WHERE scopes && $1::text[]) AS "adminConsentTenants",
            (SELECT count(DISTINCT (tenant_id, user_id))::int FROM user_consents WHERE scopes && $1::text[]) AS users`,
    [scopes],
  );
  return rows[0]!;
}

/**
 * Takes the scopes (request names) out of every app registration, admin consent, user consent and
 * open request, and detaches the grants that held them: the user consents of an app whose user or
 * admin granted one of them lose their grant id, which is returned for revocation. Consents left
 * empty stay (an admin consent's row with no scopes is removed).
 */
export async function withdrawScopes(db: Queryable, scopes: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ grantId: string }>(
    `WITH affected AS (
       SELECT uc.tenant_id, uc.user_id, uc.client_id
         FROM user_consents uc
        WHERE uc.grant_id IS NOT NULL
          AND (uc.scopes && $1::text[]
               OR EXISTS (SELECT 1 FROM admin_consents ac
                           WHERE ac.tenant_id = uc.tenant_id AND ac.client_id = uc.client_id AND ac.scopes && $1::text[]))
     )
     UPDATE user_consents uc SET grant_id = NULL
       FROM affected, user_consents old
      WHERE uc.tenant_id = affected.tenant_id AND uc.user_id = affected.user_id AND uc.client_id = affected.client_id
        AND old.tenant_id = uc.tenant_id AND old.user_id = uc.user_id AND old.client_id = uc.client_id
      RETURNING old.grant_id AS "grantId"`,
    [scopes],
  );
  await db.query(
    `UPDATE user_consents SET scopes = ARRAY(SELECT s FROM unnest(scopes) AS s WHERE s <> ALL ($1::text[])),
            declined_scopes = ARRAY(SELECT s FROM unnest(declined_scopes) AS s WHERE s <> ALL ($1::text[]))
      WHERE scopes && $1::text[] OR declined_scopes && $1::text[]`,
    [scopes],
  );
  await db.query(
    `UPDATE admin_consents SET scopes = ARRAY(SELECT s FROM unnest(scopes) AS s WHERE s <> ALL ($1::text[]))
      WHERE scopes && $1::text[]`,
    [scopes],
  );
  await db.query(`DELETE FROM admin_consents WHERE cardinality(scopes) = 0`);
  await db.query(
    `UPDATE consent_requests SET scopes = ARRAY(SELECT s FROM unnest(scopes) AS s WHERE s <> ALL ($1::text[]))
      WHERE status = 'pending' AND scopes && $1::text[]`,
    [scopes],
  );
  await db.query(
    `UPDATE apps SET scopes = ARRAY(SELECT s FROM unnest(scopes) AS s WHERE s <> ALL ($1::text[])),
            optional_scopes = ARRAY(SELECT s FROM unnest(optional_scopes) AS s WHERE s <> ALL ($1::text[]))
      WHERE scopes && $1::text[]`,
    [scopes],
  );
  return rows.map((row) => row.grantId);
}

/** Tells every process to reload its catalogue, at commit. */
export async function announceCatalogueChange(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify('${CATALOGUE_CHANNEL}', '')`);
}

export async function listenForCatalogueChanges(client: DedicatedClient): Promise<void> {
  await client.query(`LISTEN ${CATALOGUE_CHANNEL}`);
}
