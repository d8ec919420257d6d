// The expiry columns of user_consents and admin_consents (migration 0018): when a user's consent
// expires, when an admin consent is due for review, and whether an admin chose to let it lapse.
// Kept apart from consents.ts, which owns the rows themselves.
import type { Queryable } from './pool.js';

interface ConsentKey {
  tenantId: string;
  userId: string;
  clientId: string;
}

/** Sets when the user's consent expires (null: never) and clears an earlier "let lapse". */
export async function setUserConsentExpiry(db: Queryable, key: ConsentKey, expiresAt: Date | null): Promise<void> {
  await db.query(
    `UPDATE user_consents SET expires_at = $4::timestamptz, lapse_chosen_at = NULL
      WHERE tenant_id = $1::text AND user_id = $2::text AND client_id = $3::text`,
    [key.tenantId, key.userId, key.clientId, expiresAt],
  );
}

/** Sets when the admin consent is due for review (null: never) and clears an earlier "let lapse". */
export async function setAdminConsentReview(
  db: Queryable,
  tenantId: string,
  clientId: string,
  reviewAt: Date | null,
): Promise<void> {
  await db.query(
    `UPDATE admin_consents SET review_at = $3::timestamptz, lapse_chosen_at = NULL
      WHERE tenant_id = $1::text AND client_id = $2::text`,
    [tenantId, clientId, reviewAt],
  );
}

/** The admin consent's review date, its row locked for the rest of the transaction; undefined without one. */
export async function lockAdminConsentReview(
  db: Queryable,
  tenantId: string,
  clientId: string,
): Promise<{ scopes: string[]; reviewAt: Date | null } | undefined> {
  const { rows } = await db.query<{ scopes: string[]; reviewAt: Date | null }>(
    `SELECT scopes, review_at AS "reviewAt" FROM admin_consents
      WHERE tenant_id = $1::text AND client_id = $2::text FOR UPDATE`,
    [tenantId, clientId],
  );
  return rows[0];
}

/** Records that an admin chose to let the user's consent lapse; false when there is no such expiring consent. */
export async function chooseUserConsentLapse(db: Queryable, key: ConsentKey, at: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE user_consents SET lapse_chosen_at = $4::timestamptz
      WHERE tenant_id = $1::text AND user_id = $2::text AND client_id = $3::text AND expires_at > $4::timestamptz`,
    [key.tenantId, key.userId, key.clientId, at],
  );
  return rowCount === 1;
}

/** Records that an admin chose to let the admin consent lapse; false when there is no such one due. */
export async function chooseAdminConsentLapse(
  db: Queryable,
  tenantId: string,
  clientId: string,
  at: Date,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE admin_consents SET lapse_chosen_at = $3::timestamptz
      WHERE tenant_id = $1::text AND client_id = $2::text AND review_at > $3::timestamptz`,
    [tenantId, clientId, at],
  );
  return rowCount === 1;
}

/** A user's consent or an admin consent that expires (is due for review) within a window. */
export interface ExpiringConsent {
  kind: 'user' | 'admin';
  clientId: string;
  appName: string;
  /** The user, for a user's consent; null for an admin consent. */
  userId: string | null;
  username: string | null;
  scopes: string[];
  expiresAt: Date;
  lapseChosenAt: Date | null;
}

/** The tenant's consents expiring in [now, until), soonest first: users' own and the admin consents. */
export async function listExpiringConsents(
  db: Queryable,
  tenantId: string,
  now: Date,
  until: Date,
): Promise<ExpiringConsent[]> {
  const { rows } = await db.query<ExpiringConsent>(
    `SELECT 'user' AS kind, uc.client_id AS "clientId", a.name AS "appName", uc.user_id AS "userId",
            u.username, uc.scopes, uc.expires_at AS "expiresAt", uc.lapse_chosen_at AS "lapseChosenAt"
       FROM user_consents uc
       JOIN apps a ON a.client_id = uc.client_id
       JOIN users u ON u.tenant_id = uc.tenant_id AND u.id = uc.user_id
      WHERE uc.tenant_id = $1::text AND cardinality(uc.scopes) > 0
        AND uc.expires_at > $2::timestamptz AND uc.expires_at <= $3::timestamptz
     UNION ALL
     SELECT 'admin', ac.client_id, a.name, NULL, NULL, ac.scopes, ac.review_at, ac.lapse_chosen_at
       FROM admin_consents ac
       JOIN apps a ON a.client_id = ac.client_id
      WHERE ac.tenant_id = $1::text AND ac.review_at > $2::timestamptz AND ac.review_at <= $3::timestamptz
      ORDER BY "expiresAt", "clientId", "userId"`,
    [tenantId, now, until],
  );
  return rows;
}

/** A user's oidc-provider grant for an app, with the expiries of what it rests on. */
export interface GrantExpirySources {
  grantId: string;
  userScopes: string[];
  userExpiresAt: Date | null;
  adminScopes: string[];
  adminReviewAt: Date | null;
}

/** The grants the tenant's users hold for the app (one user's, when `userId` is given). */
export async function listGrantExpirySources(
  db: Queryable,
  tenantId: string,
  clientId: string,
  userId: string | null,
): Promise<GrantExpirySources[]> {
  const { rows } = await db.query<GrantExpirySources>(
    `SELECT uc.grant_id AS "grantId", uc.scopes AS "userScopes", uc.expires_at AS "userExpiresAt",
            COALESCE(ac.scopes, '{}') AS "adminScopes", ac.review_at AS "adminReviewAt"
       FROM user_consents uc
       LEFT JOIN admin_consents ac ON ac.tenant_id = uc.tenant_id AND ac.client_id = uc.client_id
      WHERE uc.tenant_id = $1::text AND uc.client_id = $2::text AND uc.grant_id IS NOT NULL
        AND ($3::text IS NULL OR uc.user_id = $3::text)`,
    [tenantId, clientId, userId],
  );
  return rows;
}
