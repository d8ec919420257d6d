// oidc_models: what oidc-provider stores (sessions, interactions, grants, codes, tokens), one row
// per model and id, the payload as opaque jsonb; grant_id, user_code and uid are copied out of the
// payload so that the adapter's lookups and a grant's revocation find rows by index.
import type { Role } from '../core/types.js';
import type { Queryable } from './pool.js';

/** The columns a model's row is looked up by (oidc-provider's find, findByUid, findByUserCode). */
export type ModelLookup = 'id' | 'uid' | 'user_code';

/** Inserts or replaces the row; `expiresIn` seconds from now, or never when it is 0. */
export async function upsertModel(
  db: Queryable,
  row: {
    model: string;
    id: string;
    payload: object;
    grantId: string | null;
    userCode: string | null;
    uid: string | null;
    expiresIn: number;
  },
): Promise<void> {
  // Named statements (this one and those below), so each connection prepares them once: they run on every request.
  await db.query({
    name: 'oidc-upsert',
    text: `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at)
       VALUES ($1::text, $2::text, $3::jsonb, $4::text, $5::text, $6::text,
               CASE WHEN $7::integer > 0 THEN now() + make_interval(secs => $7::integer) END)
       ON CONFLICT (model, id) DO UPDATE
          SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, user_code = EXCLUDED.user_code,
              uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
    values: [row.model, row.id, row.payload, row.grantId, row.userCode, row.uid, row.expiresIn],
  });
}

/** The payload of the model's unexpired row whose `column` is `value` (one named statement per column). */
export async function findModel<Payload extends object>(
  db: Queryable,
  model: string,
  column: ModelLookup,
  value: string,
): Promise<Payload | undefined> {
  const { rows } = await db.query<{ payload: Payload }>({
    name: `oidc-find-by-${column}`,
    text: `SELECT payload FROM oidc_models
        WHERE model = $1::text AND ${column} = $2::text AND (expires_at IS NULL OR expires_at > now())`,
    values: [model, value],
  });
  return rows[0]?.payload;
}

/**
 * Marks a code or refresh token consumed; true when this call did it, false when the row was
 * consumed already (or is gone). Under READ COMMITTED a concurrent second UPDATE waits for the
 * first, re-checks the WHERE and matches nothing: exactly one of two redemptions wins.
 */
export async function consumeModel(db: Queryable, model: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'oidc-consume',
    text: `UPDATE oidc_models
          SET consumed_at = now(),
              payload = payload || jsonb_build_object('consumed', floor(extract(epoch FROM now()))::bigint)
        WHERE model = $1::text AND id = $2::text AND consumed_at IS NULL`,
    values: [model, id],
  });
  return rowCount === 1;
}

/** The grant the row was issued under, if the row exists and has one. */
export async function findModelGrantId(db: Queryable, model: string, id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ grant_id: string | null }>(
    'SELECT grant_id FROM oidc_models WHERE model = $1::text AND id = $2::text',
    [model, id],
  );
  return rows[0]?.grant_id ?? undefined;
}

export async function deleteModel(db: Queryable, model: string, id: string): Promise<void> {
  await db.query('DELETE FROM oidc_models WHERE model = $1::text AND id = $2::text', [model, id]);
}

/**
 * Deletes the model's rows issued under the grant (oidc-provider revokes a grant one model at a
 * time). Only that model's: an Interaction records the grant it started from, and must outlive
 * the grant's revocation when a sign-in as another account ends the old session mid-interaction.
 */
export async function deleteModelsOfGrant(db: Queryable, model: string, grantId: string): Promise<void> {
  await db.query('DELETE FROM oidc_models WHERE model = $1::text AND grant_id = $2::text', [model, grantId]);
}

/**
 * Deletes every sign-in session of the account (all browsers): a disabled user's sessions end for
 * good rather than resuming when the user is enabled again. Rare (an admin's act), so a scan of
 * the sessions is acceptable.
 */
export async function deleteSessionsOfAccount(db: Queryable, accountId: string): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM oidc_models WHERE model = 'Session' AND payload->>'accountId' = $1::text`,
    [accountId],
  );
  return rowCount ?? 0;
}

/**
 * Deletes the Grants and every row issued under them: codes, refresh tokens, opaque access tokens.
 * An Interaction only records the grant it started from; it is not issued under it, and stays.
 */
export async function deleteGrants(db: Queryable, grantIds: readonly string[]): Promise<void> {
  await db.query(
    `DELETE FROM oidc_models
      WHERE (grant_id = ANY ($1::text[]) AND model <> 'Interaction') OR (model = 'Grant' AND id = ANY ($1::text[]))`,
    [grantIds],
  );
}

/**
 * How long the grant stays alive from now, in milliseconds (Infinity when it never expires), or
 * undefined when it is gone or expired. Measured by the database's clock, so that a cache
 * holding the answer does not depend on this machine's clock agreeing.
 */
export async function grantLifetimeMs(db: Queryable, grantId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms FROM oidc_models
      WHERE model = 'Grant' AND id = $1::text AND (expires_at IS NULL OR expires_at > now())`,
    [grantId],
  );
  const row = rows[0];
  return row ? (row.ms ?? Infinity) : undefined;
}

/** Deletes expired rows, at most `batch` of them; run periodically so the table does not grow without bound. */
export async function purgeExpiredModels(db: Queryable, batch = 5000): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM oidc_models WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM oidc_models WHERE expires_at < now() LIMIT $1::integer))`,
    [batch],
  );
  return rowCount ?? 0;
}

/** A sign-in paused at the consent step, with what the consent decision needs about its user and app. */
export interface WaitingConsentInteraction {
  role: Role;
  userTenantId: string;
  /** The requested scopes, space-separated as in the request. */
  requested: string;
  /** The request's `prompt` parameter, space-separated. */
  prompt: string;
  appScopes: string[];
  multiTenant: boolean;
  publisherTenantId: string;
  blocked: boolean;
  adminScopes: string[];
  userScopes: string[];
}

/**
 * The sign-ins of the tenant's enabled users paused at a consent step right now: unexpired,
 * unfinished interactions (model 'Interaction') whose prompt is `consent`.
 */
export async function listWaitingConsentInteractions(
  db: Queryable,
  tenantId: string,
): Promise<WaitingConsentInteraction[]> {
  // The interaction's account must be a user of this tenant: the join on users.tenant_id is
  // what keeps other tenants' sign-ins out. The portal client has no row in apps and never
  // asks for consent, so the join on apps leaves it out too.
  const { rows } = await db.query<WaitingConsentInteraction>(
    `SELECT u.role, u.tenant_id AS "userTenantId",
          COALESCE(i.payload->'params'->>'scope', '') AS requested,
          COALESCE(i.payload->'params'->>'prompt', '') AS prompt,
          a.scopes AS "appScopes", a.multi_tenant AS "multiTenant", a.publisher_tenant_id AS "publisherTenantId",
          COALESCE(ta.blocked, false) AS blocked,
          COALESCE(ac.scopes, '{}') AS "adminScopes",
          COALESCE(uc.scopes, '{}') AS "userScopes"
     FROM oidc_models i
     JOIN users u ON u.tenant_id = $1::text AND u.id = i.payload->'session'->>'accountId' AND NOT u.disabled
     JOIN apps a ON a.client_id = i.payload->'params'->>'client_id'
     LEFT JOIN tenant_apps ta ON ta.tenant_id = u.tenant_id AND ta.client_id = a.client_id
     LEFT JOIN admin_consents ac ON ac.tenant_id = u.tenant_id AND ac.client_id = a.client_id
     LEFT JOIN user_consents uc ON uc.tenant_id = u.tenant_id AND uc.user_id = u.id AND uc.client_id = a.client_id
    WHERE i.model = 'Interaction'
      AND i.expires_at > now()
      AND i.payload->'prompt'->>'name' = 'consent'
      AND NOT (i.payload ? 'result')`,
    [tenantId],
  );
  return rows;
}
