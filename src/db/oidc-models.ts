// oidc_models: what oidc-provider stores (sessions, interactions, grants, codes, tokens), one row
// per model and id, the payload as opaque jsonb; grant_id, user_code and uid are copied out of the
// payload so that a grant's revocation finds rows by index. Rows are sharded by id on Citus
// (distribution.ts): the provider finds every row by its id, except sessions by uid and device
// codes by user code, which oidc_model_keys maps to the id.
import type { Role } from '../core/types.js';
import { inTransaction, type Pool, type Queryable } from './pool.js';
import { announce, GRANT_CHANNEL } from './revocation-notifications.js';

/** The columns a model's row is looked up by (oidc-provider's find, findByUid, findByUserCode). */
export type ModelLookup = 'id' | 'uid' | 'user_code';

export interface ModelRow {
  model: string;
  id: string;
  payload: object;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  expiresIn: number;
}

// Named statements (this one and those below), so each connection prepares them once: they run on
// every request. An expiresIn of 0 makes a NULL interval, so no expiry (no CASE around now(): Citus
// refuses non-immutable functions inside CASE in an UPDATE).
const UPSERT = {
  name: 'oidc-upsert',
  text: `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at)
       VALUES ($1::text, $2::text, $3::jsonb, $4::text, $5::text, $6::text,
               now() + make_interval(secs => NULLIF($7::integer, 0)))
       ON CONFLICT (model, id) DO UPDATE
          SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, user_code = EXCLUDED.user_code,
              uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at
       RETURNING (xmax = 0) AS inserted`,
};

const valuesOf = (row: ModelRow) => [row.model, row.id, row.payload, row.grantId, row.userCode, row.uid, row.expiresIn];

/**
 * Inserts or replaces the row; `expiresIn` seconds from now, or never when it is 0. A Grant saved
 * again is announced (its expiry may have moved earlier). A row with a uid or user code (a
 * session) is updated in one statement when it exists; a new one is inserted together with its
 * lookup keys, in one transaction.
 */
export async function upsertModel(pool: Pool, row: ModelRow): Promise<void> {
  const keys = lookupKeysOf(row);
  keyHints.remember(row.model, row);
  if (keys.length === 0) {
    const { rows } = await pool.query<{ inserted: boolean }>({ ...UPSERT, values: valuesOf(row) });
    if (row.model === 'Grant' && !rows[0]!.inserted) await announce(pool, GRANT_CHANNEL, [row.id]);
    return;
  }
  const { rowCount } = await pool.query({
    name: 'oidc-update',
    text: `UPDATE oidc_models SET payload = $3::jsonb, grant_id = $4::text, user_code = $5::text, uid = $6::text,
              expires_at = now() + make_interval(secs => NULLIF($7::integer, 0))
        WHERE model = $1::text AND id = $2::text`,
    values: valuesOf(row),
  });
  if (rowCount === 1) return;
  await inTransaction(pool, async (tx) => {
    await tx.query({ ...UPSERT, values: valuesOf(row) });
    for (const key of keys)
      await tx.query({
        name: 'oidc-key-insert',
        text: `INSERT INTO oidc_model_keys (key, kind, model, id) VALUES ($1::text, $2::text, $3::text, $4::text)
           ON CONFLICT (key, kind, model) DO UPDATE SET id = EXCLUDED.id`,
        values: [key.key, key.kind, row.model, row.id],
      });
  });
}

/**
 * The row id this process last saw for each lookup key (a session's uid, a device code's user
 * code). A lookup by key reads that row by id first: the code exchange finds the session that the
 * /auth just saved in one round trip instead of two (oidc_model_keys, then the row). Only a hint:
 * the row must still carry the key, else oidc_model_keys is asked as without it, so a hint made
 * stale by another process (a new session id, a deleted row) costs a statement and nothing else.
 */
class KeyHints {
  static readonly AT_MOST = 10_000;
  private readonly ids = new Map<string, string>();

  private static of(model: string, kind: string, key: string): string {
    return `${model}\u0000${kind}\u0000${key}`;
  }

  remember(model: string, row: Pick<ModelRow, 'id' | 'uid' | 'userCode'>): void {
    for (const { key, kind } of lookupKeysOf(row)) {
      const hint = KeyHints.of(model, kind, key);
      this.ids.delete(hint);
      this.ids.set(hint, row.id);
      // Insertion order is age: drop the oldest beyond the bound.
      if (this.ids.size > KeyHints.AT_MOST) this.ids.delete(this.ids.keys().next().value!);
    }
  }

  idOf(model: string, kind: string, key: string): string | undefined {
    return this.ids.get(KeyHints.of(model, kind, key));
  }
}
const keyHints = new KeyHints();

function lookupKeysOf(row: Pick<ModelRow, 'uid' | 'userCode'>): Array<{ key: string; kind: 'uid' | 'user_code' }> {
  return [
    ...(row.uid ? [{ key: row.uid, kind: 'uid' as const }] : []),
    ...(row.userCode ? [{ key: row.userCode, kind: 'user_code' as const }] : []),
  ];
}

/** Forgets the lookup keys of deleted rows (only keys that still point at those rows). */
async function forgetLookupKeys(
  db: Queryable,
  deleted: ReadonlyArray<{ model: string; id: string; uid: string | null; user_code: string | null }>,
): Promise<void> {
  for (const row of deleted)
    for (const key of lookupKeysOf({ uid: row.uid, userCode: row.user_code }))
      await db.query({
        name: 'oidc-key-delete',
        text: 'DELETE FROM oidc_model_keys WHERE key = $1::text AND kind = $2::text AND model = $3::text AND id = $4::text',
        values: [key.key, key.kind, row.model, row.id],
      });
}

/** The payload of the model's unexpired row whose `column` is `value`: by id, or through its lookup key. */
export async function findModel<Payload extends object>(
  db: Queryable,
  model: string,
  column: ModelLookup,
  value: string,
): Promise<Payload | undefined> {
  if (column === 'id') return (await readModel<Payload>(db, model, value))?.payload;
  const hinted = keyHints.idOf(model, column, value);
  if (hinted !== undefined) {
    const row = await readModel<Payload>(db, model, hinted);
    if (row?.[column] === value) return row.payload;
  }
  const { rows } = await db.query<{ id: string }>({
    name: 'oidc-find-key',
    text: 'SELECT id FROM oidc_model_keys WHERE key = $1::text AND kind = $2::text AND model = $3::text',
    values: [value, column, model],
  });
  if (!rows[0] || rows[0].id === hinted) return undefined;
  const row = await readModel<Payload>(db, model, rows[0].id);
  // A key is removed with its row; checking it again costs nothing and keeps a stale key harmless.
  return row?.[column] === value ? row.payload : undefined;
}

/** The model's unexpired row by id; remembers its lookup keys (KeyHints). */
async function readModel<Payload extends object>(
  db: Queryable,
  model: string,
  id: string,
): Promise<{ payload: Payload; uid: string | null; user_code: string | null } | undefined> {
  const { rows } = await db.query<{ payload: Payload; uid: string | null; user_code: string | null }>({
    name: 'oidc-find',
    text: `SELECT payload, uid, user_code FROM oidc_models
        WHERE model = $1::text AND id = $2::text AND (expires_at IS NULL OR expires_at > now())`,
    values: [model, id],
  });
  const row = rows[0];
  if (row && (row.uid || row.user_code)) keyHints.remember(model, { id, uid: row.uid, userCode: row.user_code });
  return row;
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
  const { rows } = await db.query<{ grant_id: string | null }>({
    name: 'oidc-find-grant-id',
    text: 'SELECT grant_id FROM oidc_models WHERE model = $1::text AND id = $2::text',
    values: [model, id],
  });
  return rows[0]?.grant_id ?? undefined;
}

/** Deletes the row (and its lookup keys); a deleted Grant is announced. */
export async function deleteModel(db: Queryable, model: string, id: string): Promise<void> {
  const { rows } = await db.query<{ model: string; id: string; uid: string | null; user_code: string | null }>({
    name: 'oidc-delete',
    text: 'DELETE FROM oidc_models WHERE model = $1::text AND id = $2::text RETURNING model, id, uid, user_code',
    values: [model, id],
  });
  await forgetLookupKeys(db, rows);
  if (model === 'Grant' && rows.length > 0) await announce(db, GRANT_CHANNEL, [id]);
}

/**
 * Deletes the model's rows issued under the grant (oidc-provider revokes a grant one model at a
 * time). Only that model's: an Interaction records the grant it started from, and must outlive
 * the grant's revocation when a sign-in as another account ends the old session mid-interaction.
 * On Citus this asks every shard (rows are sharded by their own id): revocation and sign-out are
 * rare beside the lookups by id that the sharding serves.
 */
export async function deleteModelsOfGrant(db: Queryable, model: string, grantId: string): Promise<void> {
  await db.query({
    name: 'oidc-delete-of-grant',
    text: 'DELETE FROM oidc_models WHERE model = $1::text AND grant_id = $2::text',
    values: [model, grantId],
  });
}

/**
 * Deletes every sign-in session of the account (all browsers): a disabled user's sessions end for
 * good rather than resuming when the user is enabled again. Rare (an admin's act), so a scan of
 * the sessions is acceptable.
 */
export async function deleteSessionsOfAccount(db: Queryable, accountId: string): Promise<number> {
  const { rows } = await db.query<{ model: string; id: string; uid: string | null; user_code: string | null }>({
    name: 'oidc-delete-sessions-of-account',
    text: `DELETE FROM oidc_models WHERE model = 'Session' AND payload->>'accountId' = $1::text
     RETURNING model, id, uid, user_code`,
    values: [accountId],
  });
  await forgetLookupKeys(db, rows);
  return rows.length;
}

/**
 * Deletes the Grants and every row issued under them: codes, refresh tokens, opaque access tokens;
 * announces the Grants. An Interaction only records the grant it started from; it is not issued
 * under it, and stays.
 */
export async function deleteGrants(db: Queryable, grantIds: readonly string[]): Promise<void> {
  if (grantIds.length === 0) return;
  await db.query({
    name: 'oidc-delete-grants',
    text: `DELETE FROM oidc_models
            WHERE (grant_id = ANY ($1::text[]) AND model <> 'Interaction') OR (model = 'Grant' AND id = ANY ($1::text[]))`,
    values: [grantIds],
  });
  await announce(db, GRANT_CHANNEL, grantIds);
}

/**
 * The Grants an app created under these grants with Grant Management: their rows name the grant
 * they were created under as `grant_id` (provider/postgres-adapter.ts), as tokens do.
 */
export async function listGrantsCreatedUnder(
  db: Queryable,
  grantIds: readonly string[],
): Promise<{ grantId: string; createdUnder: string }[]> {
  if (grantIds.length === 0) return [];
  const { rows } = await db.query<{ grantId: string; createdUnder: string }>(
    `SELECT id AS "grantId", grant_id AS "createdUnder" FROM oidc_models
      WHERE grant_id = ANY ($1::text[]) AND model = 'Grant'`,
    [grantIds],
  );
  return rows;
}

/**
 * Moves the expiry of Grants (issue 15: a renewed consent): `exp` is in epoch seconds, as
 * oidc-provider keeps it in the payload. Announced, as a Grant saved again is.
 */
export async function setGrantExpiries(
  db: Queryable,
  grants: ReadonlyArray<{ grantId: string; exp: number }>,
): Promise<void> {
  if (grants.length === 0) return;
  await db.query({
    name: 'oidc-set-grant-expiries',
    text: `UPDATE oidc_models m SET payload = jsonb_set(m.payload, '{exp}', to_jsonb(g.exp)), expires_at = to_timestamp(g.exp)
             FROM unnest($1::text[], $2::bigint[]) AS g (id, exp)
            WHERE m.model = 'Grant' AND m.id = g.id`,
    values: [grants.map((grant) => grant.grantId), grants.map((grant) => grant.exp)],
  });
  await announce(
    db,
    GRANT_CHANNEL,
    grants.map((grant) => grant.grantId),
  );
}

/**
 * How long the grant stays alive from now, in milliseconds (Infinity when it never expires), and
 * the scopes it holds by API (oidc-provider's `resources`); undefined when it is gone or expired.
 * The lifetime is measured by the database's clock, so that a cache holding the answer does not
 * depend on this machine's clock agreeing.
 */
export async function findGrantLife(
  db: Queryable,
  grantId: string,
): Promise<{ lifetimeMs: number; resources: Record<string, string> } | undefined> {
  const { rows } = await db.query<{ ms: number | null; resources: Record<string, string> | null }>({
    name: 'grant-life',
    text: `SELECT (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms, payload->'resources' AS resources
       FROM oidc_models
      WHERE model = 'Grant' AND id = $1::text AND (expires_at IS NULL OR expires_at > now())`,
    values: [grantId],
  });
  const row = rows[0];
  return row && { lifetimeMs: row.ms ?? Infinity, resources: row.resources ?? {} };
}

/** A Grant's scopes as oidc-provider keeps them: the OpenID ones, and each API's by its resource indicator. */
export interface GrantScopes {
  openid: string[];
  resources: Record<string, string[]>;
}

/** The grant's scopes, its row locked for the rest of the transaction; undefined when it is gone. */
export async function lockGrantScopes(db: Queryable, grantId: string): Promise<GrantScopes | undefined> {
  const { rows } = await db.query<{ openid: string | null; resources: Record<string, string> | null }>({
    name: 'oidc-lock-grant-scopes',
    text: `SELECT payload->'openid'->>'scope' AS openid, payload->'resources' AS resources FROM oidc_models
      WHERE model = 'Grant' AND id = $1::text FOR UPDATE`,
    values: [grantId],
  });
  const row = rows[0];
  if (!row) return undefined;
  const list = (scope: string | null | undefined) => (scope ?? '').split(' ').filter(Boolean);
  return {
    openid: list(row.openid),
    resources: Object.fromEntries(
      Object.entries(row.resources ?? {}).map(([resource, scope]) => [resource, list(scope)]),
    ),
  };
}

/**
 * Makes the grant hold `scopes` (an API left with none drops out), and announces it: the resource
 * servers' cached copy is read again, and a token carrying a scope the grant no longer holds is
 * refused (services/grant-liveness.ts). The provider's refresh issues only what the grant holds.
 */
export async function setGrantScopes(db: Queryable, grantId: string, scopes: GrantScopes): Promise<void> {
  const resources = Object.entries(scopes.resources).filter(([, list]) => list.length > 0);
  const held = {
    ...(scopes.openid.length > 0 ? { openid: { scope: scopes.openid.join(' ') } } : {}),
    ...(resources.length > 0
      ? { resources: Object.fromEntries(resources.map(([resource, list]) => [resource, list.join(' ')])) }
      : {}),
  };
  await db.query({
    name: 'oidc-set-grant-scopes',
    text: `UPDATE oidc_models SET payload = (payload - 'openid' - 'resources') || $2::jsonb
      WHERE model = 'Grant' AND id = $1::text`,
    values: [grantId, JSON.stringify(held)],
  });
  await announce(db, GRANT_CHANNEL, [grantId]);
}

/**
 * Deletes expired rows, at most `batch` of them, the longest expired first (on the expires_at
 * index), and their lookup keys; returns how many rows it deleted. Run in batches until fewer
 * than `batch` are left (services/expiry-purge.ts), in the caller's transaction so that rows and
 * keys go together. The expiry is checked again on the row deleted: a session saved again (rolling
 * expiry) between the choice and the delete stays. A grant is never cached past its expiry, so
 * none is announced.
 */
export async function purgeExpiredModels(db: Queryable, batch = 5000): Promise<number> {
  const { rows } = await db.query<{ model: string; id: string; uid: string | null; user_code: string | null }>({
    name: 'oidc-purge-expired',
    text: `DELETE FROM oidc_models WHERE (model, id) IN (
       SELECT model, id FROM oidc_models WHERE expires_at < now() ORDER BY expires_at LIMIT $1::integer)
       AND expires_at < now()
     RETURNING model, id, uid, user_code`,
    values: [batch],
  });
  const keys = rows.flatMap((row) =>
    lookupKeysOf({ uid: row.uid, userCode: row.user_code }).map((key) => ({ ...key, model: row.model, id: row.id })),
  );
  if (keys.length > 0)
    // One statement for the batch's keys (only keys that still point at the deleted rows); the
    // `key = ANY` lets Citus ask only the shards that hold them.
    await db.query({
      name: 'oidc-purge-keys',
      text: `DELETE FROM oidc_model_keys WHERE key = ANY ($1::text[])
          AND (key, kind, model, id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]))`,
      values: [keys.map((k) => k.key), keys.map((k) => k.kind), keys.map((k) => k.model), keys.map((k) => k.id)],
    });
  return rows.length;
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
  userId: string;
  username: string;
  clientId: string;
  appName: string;
  multiTenant: boolean;
  publisherTenantId: string;
  publisherVerified: boolean;
  createdAt: Date;
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
  // The sign-ins are found first, on their own (on Citus: on every shard, rows being sharded by
  // id; an admin's page, not a hot path); the rest is the tenant's, on one shard.
  const { rows } = await db.query<WaitingConsentInteraction>({
    name: 'oidc-waiting-consent-interactions',
    text: `WITH waiting AS MATERIALIZED (
       SELECT payload->'session'->>'accountId' AS account_id, payload->'params'->>'client_id' AS client_id,
              COALESCE(payload->'params'->>'scope', '') AS requested,
              COALESCE(payload->'params'->>'prompt', '') AS prompt
         FROM oidc_models
        WHERE model = 'Interaction' AND expires_at > now()
          AND payload->'prompt'->>'name' = 'consent' AND NOT (payload ? 'result'))
     SELECT u.role, u.tenant_id AS "userTenantId", i.requested, i.prompt,
          a.scopes AS "appScopes", a.multi_tenant AS "multiTenant", a.publisher_tenant_id AS "publisherTenantId",
          u.id AS "userId", u.username, a.client_id AS "clientId", a.name AS "appName",
          a.publisher_verified AS "publisherVerified", a.created_at AS "createdAt",
          COALESCE(ta.blocked, false) AS blocked,
          COALESCE(ac.scopes, '{}') AS "adminScopes",
          COALESCE(uc.scopes, '{}') AS "userScopes"
     FROM waiting i
     JOIN users u ON u.tenant_id = $1::text AND u.id = i.account_id AND NOT u.disabled
     JOIN apps a ON a.client_id = i.client_id
     LEFT JOIN tenant_apps ta ON ta.tenant_id = $1::text AND ta.client_id = a.client_id
     LEFT JOIN admin_consents ac ON ac.tenant_id = $1::text AND ac.client_id = a.client_id
     LEFT JOIN user_consents uc ON uc.tenant_id = $1::text AND uc.user_id = u.id AND uc.client_id = a.client_id`,
    values: [tenantId],
  });
  return rows;
}
