// tenant_apps, admin_consents and user_consents: what each tenant and user allowed each app.
import type { UserConsentSetting } from '../core/app-consent-policies.js';
import type { Queryable } from './pool.js';
import { withTenantOfUser } from './users.js';

export interface AdminConsentRecord {
  tenantId: string;
  clientId: string;
  scopes: string[];
  grantedBy: string;
  grantedAt: Date;
  /** When it is due for review; past it, it counts as absent (null: never; issue 15). */
  reviewAt: Date | null;
}

export interface UserConsentRecord {
  tenantId: string;
  userId: string;
  clientId: string;
  scopes: string[];
  /** Optional permissions the user unticked (issue 15); not asked again without prompt=consent. */
  declinedScopes: string[];
  grantId: string | null;
  grantedAt: Date;
  updatedAt: Date;
  /** When the consent expires (null: never; issue 15). */
  expiresAt: Date | null;
}

/** Everything the consent decision needs about one user and one app, in one round trip. */
export interface AccessRecord {
  tenantId: string;
  integratedAppsEnabled: boolean;
  /** The tenant's user consent setting and risk-based step-up (issue 14). */
  userConsent: UserConsentSetting;
  riskStepUp: boolean;
  riskStepUpDays: number;
  role: 'user' | 'admin';
  disabled: boolean;
  blocked: boolean;
  adminScopes: string[];
  userScopes: string[];
  /** Optional permissions the user unticked (user_consents.declined_scopes). */
  userDeclinedScopes: string[];
  grantId: string | null;
  /** When the user's own consent expires, and the admin consent's review date (null: never; issue 15). */
  userExpiresAt: Date | null;
  adminReviewAt: Date | null;
}

/** A user as the statements of a tenant's rows name one: by tenant (its shard on Citus) and id. */
export interface UserKey {
  tenantId: string;
  id: string;
}

/**
 * The consent decision's one statement. It names the user's tenant: a request has it from the
 * account it already read (provider/request-memo.ts), so that this is one round trip reading one
 * shard on Citus. A consent past its expiry (an admin consent past its review date) counts as
 * absent, by the caller's clock: the decision asks again.
 */
export async function loadAccess(
  db: Queryable,
  user: UserKey,
  clientId: string,
  now: Date = new Date(),
): Promise<AccessRecord | undefined> {
  // Named, so each connection prepares it once: it runs on every authorization request. The expiry
  // is judged here rather than in SQL: a time parameter costs the hot path ~10 % (bench/README.md).
  const { rows } = await db.query<AccessRecord>({
    name: 'load-access',
    text: `SELECT u.tenant_id AS "tenantId", t.integrated_apps_enabled AS "integratedAppsEnabled",
            t.user_consent AS "userConsent", t.risk_step_up AS "riskStepUp", t.risk_step_up_days AS "riskStepUpDays",
            u.role, u.disabled,
            COALESCE(ta.blocked, false) AS blocked,
            COALESCE(ac.scopes, '{}') AS "adminScopes",
            COALESCE(uc.scopes, '{}') AS "userScopes",
            COALESCE(uc.declined_scopes, '{}') AS "userDeclinedScopes",
            uc.grant_id AS "grantId", uc.expires_at AS "userExpiresAt", ac.review_at AS "adminReviewAt"
       FROM users u
       JOIN tenants t ON t.id = u.tenant_id
       LEFT JOIN tenant_apps ta ON ta.tenant_id = u.tenant_id AND ta.client_id = $2::text
       LEFT JOIN admin_consents ac ON ac.tenant_id = u.tenant_id AND ac.client_id = $2::text
       LEFT JOIN user_consents uc ON uc.tenant_id = u.tenant_id AND uc.user_id = u.id AND uc.client_id = $2::text
      WHERE u.tenant_id = $3::text AND u.id = $1::text`,
    values: [user.id, clientId, user.tenantId],
  });
  const access = rows[0];
  if (access?.adminReviewAt && access.adminReviewAt <= now) access.adminScopes = [];
  if (access?.userExpiresAt && access.userExpiresAt <= now) access.userScopes = [];
  return access;
}

/** loadAccess for a user known by id alone: the tenant is the one this process remembers, else looked up first. */
export function loadAccessOfUser(
  db: Queryable,
  userId: string,
  clientId: string,
  now: Date = new Date(),
): Promise<AccessRecord | undefined> {
  return withTenantOfUser(db, userId, (tenantId) => loadAccess(db, { tenantId, id: userId }, clientId, now));
}

export async function findAdminConsent(
  db: Queryable,
  tenantId: string,
  clientId: string,
): Promise<AdminConsentRecord | undefined> {
  const { rows } = await db.query<AdminConsentRecord>(
    `SELECT tenant_id AS "tenantId", client_id AS "clientId", scopes, granted_by AS "grantedBy", granted_at AS "grantedAt",
            review_at AS "reviewAt"
       FROM admin_consents WHERE tenant_id = $1::text AND client_id = $2::text`,
    [tenantId, clientId],
  );
  return rows[0];
}

/** The scopes of the tenant's admin consent to the app (none when there is none), locked for the rest of the transaction. */
export async function lockAdminConsentScopes(db: Queryable, tenantId: string, clientId: string): Promise<string[]> {
  const { rows } = await db.query<{ scopes: string[] }>(
    'SELECT scopes FROM admin_consents WHERE tenant_id = $1::text AND client_id = $2::text FOR UPDATE',
    [tenantId, clientId],
  );
  return rows[0]?.scopes ?? [];
}

export async function upsertAdminConsent(
  db: Queryable,
  consent: { tenantId: string; clientId: string; scopes: string[]; grantedBy: string },
): Promise<void> {
  await db.query(
    // The time comes from VALUES: Citus allows no non-immutable function in DO UPDATE SET.
    `INSERT INTO admin_consents (tenant_id, client_id, scopes, granted_by, granted_at)
     VALUES ($1::text, $2::text, $3::text[], $4::text, now())
     ON CONFLICT (tenant_id, client_id) DO UPDATE
        SET scopes = EXCLUDED.scopes, granted_by = EXCLUDED.granted_by, granted_at = EXCLUDED.granted_at`,
    [consent.tenantId, consent.clientId, consent.scopes, consent.grantedBy],
  );
}

export async function deleteAdminConsent(db: Queryable, tenantId: string, clientId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'DELETE FROM admin_consents WHERE tenant_id = $1::text AND client_id = $2::text',
    [tenantId, clientId],
  );
  return rowCount === 1;
}

const USER_CONSENT_COLUMNS = `tenant_id AS "tenantId", user_id AS "userId", client_id AS "clientId", scopes,
  declined_scopes AS "declinedScopes", grant_id AS "grantId", granted_at AS "grantedAt", updated_at AS "updatedAt",
  expires_at AS "expiresAt"`;

/**
 * Creates the row if missing and locks it for the rest of the transaction, in one statement: a
 * separate insert and select would find nothing when a concurrent revocation deletes the row
 * between them. (DO UPDATE, unlike DO NOTHING, locks and returns an existing row.)
 */
export async function lockUserConsent(
  db: Queryable,
  tenantId: string,
  userId: string,
  clientId: string,
): Promise<UserConsentRecord> {
  const { rows } = await db.query<UserConsentRecord>(
    `INSERT INTO user_consents AS uc (tenant_id, user_id, client_id) VALUES ($1::text, $2::text, $3::text)
     ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE SET tenant_id = uc.tenant_id
     RETURNING ${USER_CONSENT_COLUMNS}`,
    [tenantId, userId, clientId],
  );
  return rows[0]!;
}

/** The row, locked for the rest of the transaction; undefined (nothing created) when absent. */
export async function findUserConsentForUpdate(
  db: Queryable,
  tenantId: string,
  userId: string,
  clientId: string,
): Promise<UserConsentRecord | undefined> {
  const { rows } = await db.query<UserConsentRecord>(
    `SELECT ${USER_CONSENT_COLUMNS} FROM user_consents
      WHERE tenant_id = $1::text AND user_id = $2::text AND client_id = $3::text FOR UPDATE`,
    [tenantId, userId, clientId],
  );
  return rows[0];
}

/**
 * Records `grantId` as the user's grant for the app unless another request already replaced
 * `staleGrantId` (the id seen before, possibly null); returns the grant id that is now recorded.
 */
export async function claimGrantId(
  db: Queryable,
  key: { tenantId: string; userId: string; clientId: string },
  grantId: string,
  staleGrantId: string | null,
): Promise<string> {
  const { rows } = await db.query<{ grant_id: string }>(
    `INSERT INTO user_consents AS uc (tenant_id, user_id, client_id, grant_id, updated_at)
     VALUES ($1::text, $2::text, $3::text, $4::text, now())
     ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE
        SET grant_id = CASE WHEN uc.grant_id IS NULL OR uc.grant_id = $5::text THEN EXCLUDED.grant_id ELSE uc.grant_id END,
            updated_at = EXCLUDED.updated_at
     RETURNING grant_id`,
    [key.tenantId, key.userId, key.clientId, grantId, staleGrantId],
  );
  return rows[0]!.grant_id;
}

/** Removes a row that holds nothing but the given (destroyed) grant: nothing consented, nothing in use. */
export async function forgetEmptyConsent(
  db: Queryable,
  key: { tenantId: string; userId: string; clientId: string },
  grantId: string,
): Promise<void> {
  await db.query(
    `DELETE FROM user_consents
      WHERE tenant_id = $1::text AND user_id = $2::text AND client_id = $3::text AND grant_id = $4::text AND cardinality(scopes) = 0`,
    [key.tenantId, key.userId, key.clientId, grantId],
  );
}

export async function updateUserConsent(
  db: Queryable,
  key: { tenantId: string; userId: string; clientId: string },
  change: { scopes: string[]; grantId: string | null; declinedScopes?: string[] },
): Promise<void> {
  await db.query(
    `UPDATE user_consents SET scopes = $4::text[], grant_id = $5::text, updated_at = now(),
            declined_scopes = COALESCE($6::text[], declined_scopes)
      WHERE tenant_id = $1::text AND user_id = $2::text AND client_id = $3::text`,
    [key.tenantId, key.userId, key.clientId, change.scopes, change.grantId, change.declinedScopes ?? null],
  );
}

export async function findUserConsent(
  db: Queryable,
  tenantId: string,
  userId: string,
  clientId: string,
): Promise<UserConsentRecord | undefined> {
  const { rows } = await db.query<UserConsentRecord>(
    `SELECT ${USER_CONSENT_COLUMNS} FROM user_consents WHERE tenant_id = $1::text AND user_id = $2::text AND client_id = $3::text`,
    [tenantId, userId, clientId],
  );
  return rows[0];
}

export async function listUserConsentsOfUser(
  db: Queryable,
  tenantId: string,
  userId: string,
): Promise<UserConsentRecord[]> {
  const { rows } = await db.query<UserConsentRecord>(
    `SELECT ${USER_CONSENT_COLUMNS} FROM user_consents WHERE tenant_id = $1::text AND user_id = $2::text ORDER BY granted_at`,
    [tenantId, userId],
  );
  return rows;
}

/** Deletes and returns the rows, so the caller can revoke their grants. */
export async function deleteUserConsents(
  db: Queryable,
  filter: { tenantId?: string; userId?: string; clientId?: string },
): Promise<UserConsentRecord[]> {
  const { rows } = await db.query<UserConsentRecord>(
    `DELETE FROM user_consents
      WHERE ($1::text IS NULL OR tenant_id = $1::text)
        AND ($2::text IS NULL OR user_id = $2::text)
        AND ($3::text IS NULL OR client_id = $3::text)
      RETURNING ${USER_CONSENT_COLUMNS}`,
    [filter.tenantId ?? null, filter.userId ?? null, filter.clientId ?? null],
  );
  return rows;
}

/** How many of the tenant's users hold a consent they gave themselves (non-empty scopes), and to how many apps. */
export async function countUserConsentHolders(
  db: Queryable,
  tenantId: string,
): Promise<{ users: number; apps: number }> {
  const { rows } = await db.query<{ users: number; apps: number }>(
    `SELECT count(DISTINCT user_id)::int AS users, count(DISTINCT client_id)::int AS apps
       FROM user_consents
      WHERE tenant_id = $1::text AND cardinality(scopes) > 0`,
    [tenantId],
  );
  return rows[0]!;
}

export async function setAppBlocked(
  db: Queryable,
  tenantId: string,
  clientId: string,
  blocked: boolean,
  by: string,
): Promise<void> {
  await db.query(
    `INSERT INTO tenant_apps (tenant_id, client_id, blocked, updated_by, updated_at)
     VALUES ($1::text, $2::text, $3::boolean, $4::text, now())
     ON CONFLICT (tenant_id, client_id) DO UPDATE
        SET blocked = EXCLUDED.blocked, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at`,
    [tenantId, clientId, blocked, by],
  );
}

/** Lifts the tenant's block of the app, if it is blocked. */
export async function unblockApp(db: Queryable, tenantId: string, clientId: string, by: string): Promise<void> {
  await db.query(
    'UPDATE tenant_apps SET blocked = false, updated_by = $3::text, updated_at = now() WHERE tenant_id = $1::text AND client_id = $2::text AND blocked',
    [tenantId, clientId, by],
  );
}

// ---- enterprise apps: an app's use inside one tenant -------------------------------------------

/** An app in use in a tenant: it has a tenant_apps row, an admin consent or a user consent there. */
export interface TenantAppSummary {
  clientId: string;
  name: string;
  publisherTenantId: string;
  publisherName: string;
  publisherVerified: boolean;
  multiTenant: boolean;
  blocked: boolean;
  adminScopes: string[];
  adminGrantedBy: string | null;
  adminGrantedAt: Date | null;
  /** Users of the tenant with a consent row for the app (their own consent, or sign-ins under the admin consent). */
  userCount: number;
  /** The union of what the tenant's users consented to themselves, in catalogue order. */
  userScopes: string[];
}

const TENANT_APP_SUMMARY = `
  SELECT a.client_id AS "clientId", a.name, a.publisher_tenant_id AS "publisherTenantId",
         a.publisher_name AS "publisherName", a.publisher_verified AS "publisherVerified",
         a.multi_tenant AS "multiTenant", COALESCE(ta.blocked, false) AS blocked,
         COALESCE(ac.scopes, '{}') AS "adminScopes", ac.granted_by AS "adminGrantedBy", ac.granted_at AS "adminGrantedAt",
         (SELECT count(*)::int FROM user_consents uc WHERE uc.tenant_id = $1::text AND uc.client_id = a.client_id) AS "userCount",
         -- Catalogue order: the OpenID scopes, Accord's own APIs' (short names), then registered APIs' by name.
         COALESCE((SELECT array_agg(g.scope ORDER BY COALESCE(p.sort_order, own.sort_order, 1000000), g.scope)
                     FROM (SELECT DISTINCT unnest(uc.scopes) AS scope FROM user_consents uc
                            WHERE uc.tenant_id = $1::text AND uc.client_id = a.client_id) g
                     LEFT JOIN permissions p ON p.scope = g.scope
                     LEFT JOIN api_scopes own ON own.name = g.scope AND own.api_identifier LIKE '/%'), '{}') AS "userScopes"
    FROM used
    JOIN apps a ON a.client_id = used.client_id
    LEFT JOIN tenant_apps ta ON ta.tenant_id = $1::text AND ta.client_id = a.client_id
    LEFT JOIN admin_consents ac ON ac.tenant_id = $1::text AND ac.client_id = a.client_id`;

export async function listTenantApps(db: Queryable, tenantId: string): Promise<TenantAppSummary[]> {
  const { rows } = await db.query<TenantAppSummary>(
    `WITH used AS (
       SELECT client_id FROM tenant_apps WHERE tenant_id = $1::text
       UNION SELECT client_id FROM admin_consents WHERE tenant_id = $1::text
       UNION SELECT client_id FROM user_consents WHERE tenant_id = $1::text)
     ${TENANT_APP_SUMMARY}
     ORDER BY lower(a.name), a.client_id`,
    [tenantId],
  );
  return rows;
}

/** The app's summary in the tenant, or undefined when the app is not in use there. */
export async function findTenantApp(
  db: Queryable,
  tenantId: string,
  clientId: string,
): Promise<TenantAppSummary | undefined> {
  const { rows } = await db.query<TenantAppSummary>(
    `WITH used AS (
       SELECT client_id FROM tenant_apps WHERE tenant_id = $1::text AND client_id = $2::text
       UNION SELECT client_id FROM admin_consents WHERE tenant_id = $1::text AND client_id = $2::text
       UNION SELECT client_id FROM user_consents WHERE tenant_id = $1::text AND client_id = $2::text)
     ${TENANT_APP_SUMMARY}`,
    [tenantId, clientId],
  );
  return rows[0];
}

/**
 * Serialises changes of one app's state in one tenant (block, unblock, remove) until the end of
 * the transaction. A transaction-level advisory lock rather than a row lock: the tenant_apps row
 * may not exist yet, or be deleted by the change holding the lock. Statements after it read what
 * the previous holder committed.
 */
export async function lockTenantAppChanges(db: Queryable, tenantId: string, clientId: string): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtextextended('tenant_app ' || $1::text || ' ' || $2::text, 0))`, [
    tenantId,
    clientId,
  ]);
}

export async function deleteTenantApp(db: Queryable, tenantId: string, clientId: string): Promise<void> {
  await db.query('DELETE FROM tenant_apps WHERE tenant_id = $1::text AND client_id = $2::text', [tenantId, clientId]);
}

/**
 * Detaches every user's grant for the app in the tenant (the consent rows stay) and returns the
 * grant ids, so the caller can revoke them; the next sign-in after an unblock makes new grants.
 */
export async function detachGrantsOfApp(db: Queryable, tenantId: string, clientId: string): Promise<string[]> {
  const { rows } = await db.query<{ grant_id: string }>(
    `UPDATE user_consents uc SET grant_id = NULL, updated_at = now()
       FROM (SELECT tenant_id, user_id, client_id, grant_id FROM user_consents
              WHERE tenant_id = $1::text AND client_id = $2::text AND grant_id IS NOT NULL FOR UPDATE) old
      WHERE uc.tenant_id = $1::text AND uc.tenant_id = old.tenant_id AND uc.user_id = old.user_id AND uc.client_id = old.client_id
      RETURNING old.grant_id`,
    [tenantId, clientId],
  );
  return rows.map((row) => row.grant_id);
}

/**
 * Detaches every grant the user holds (the consent rows stay, so re-enabling the user restores
 * access without asking again) and returns the grant ids, so the caller can revoke them.
 */
export async function detachGrantsOfUser(db: Queryable, tenantId: string, userId: string): Promise<string[]> {
  const { rows } = await db.query<{ grant_id: string }>(
    `UPDATE user_consents uc SET grant_id = NULL
       FROM (SELECT tenant_id, user_id, client_id, grant_id FROM user_consents
              WHERE tenant_id = $1::text AND user_id = $2::text AND grant_id IS NOT NULL FOR UPDATE) old
      WHERE uc.tenant_id = $1::text AND uc.tenant_id = old.tenant_id AND uc.user_id = old.user_id AND uc.client_id = old.client_id
      RETURNING old.grant_id`,
    [tenantId, userId],
  );
  return rows.map((row) => row.grant_id);
}

/** The grants held for the app by users of every tenant. */
export async function listGrantIdsOfApp(db: Queryable, clientId: string): Promise<string[]> {
  const { rows } = await db.query<{ grant_id: string }>({
    name: 'list-grant-ids-of-app',
    text: 'SELECT grant_id FROM user_consents WHERE client_id = $1::text AND grant_id IS NOT NULL',
    values: [clientId],
  });
  return rows.map((row) => row.grant_id);
}

/** One user's consent to one app in the tenant, with who the user is. */
export interface AppUserGrant {
  userId: string;
  username: string;
  displayName: string;
  scopes: string[];
  grantedAt: Date;
  updatedAt: Date;
  /** Whether the user currently holds an oidc-provider grant (tokens) for the app. */
  active: boolean;
}

export async function listAppUserGrants(db: Queryable, tenantId: string, clientId: string): Promise<AppUserGrant[]> {
  const { rows } = await db.query<AppUserGrant>(
    `SELECT uc.user_id AS "userId", u.username, u.display_name AS "displayName", uc.scopes,
            uc.granted_at AS "grantedAt", uc.updated_at AS "updatedAt", uc.grant_id IS NOT NULL AS active
       FROM user_consents uc
       JOIN users u ON u.tenant_id = uc.tenant_id AND u.id = uc.user_id
      WHERE uc.tenant_id = $1::text AND uc.client_id = $2::text
      ORDER BY u.username`,
    [tenantId, clientId],
  );
  return rows;
}

/**
 * Detaches `grantId` when it is the user's recorded grant for the app (the consent row stays);
 * returns whether it was. A grant an app created beside it (Grant Management) is not recorded here.
 */
export async function detachGrant(
  db: Queryable,
  key: { tenantId: string; userId: string; clientId: string },
  grantId: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE user_consents SET grant_id = NULL, updated_at = now()
      WHERE tenant_id = $1::text AND user_id = $2::text AND client_id = $3::text AND grant_id = $4::text`,
    [key.tenantId, key.userId, key.clientId, grantId],
  );
  return rowCount === 1;
}
