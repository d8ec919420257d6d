// grant_scope_use (migration 0018): when a token last carried each scope of a user's grant for an app.
import type { Queryable } from './pool.js';

export interface ScopeUse {
  userId: string;
  clientId: string;
  scope: string;
  lastUsedAt: Date;
}

/**
 * Records many uses in one tenant in one statement. A later time wins over an earlier one, whatever
 * order the batches arrive in; the time is the caller's (Citus allows no now() in DO UPDATE SET).
 * A use of a user or app deleted meanwhile fails the statement (foreign key): the caller retries
 * the uses one by one.
 */
export async function recordScopeUses(db: Queryable, tenantId: string, uses: readonly ScopeUse[]): Promise<void> {
  if (uses.length === 0) return;
  await db.query({
    name: 'record-scope-uses',
    text: `INSERT INTO grant_scope_use AS g (tenant_id, user_id, client_id, scope, last_used_at)
           SELECT $1::text, v.user_id, v.client_id, v.scope, v.at
             FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS v (user_id, client_id, scope, at)
           ON CONFLICT (tenant_id, user_id, client_id, scope) DO UPDATE
              SET last_used_at = GREATEST(g.last_used_at, EXCLUDED.last_used_at)`,
    values: [
      tenantId,
      uses.map((use) => use.userId),
      uses.map((use) => use.clientId),
      uses.map((use) => use.scope),
      uses.map((use) => use.lastUsedAt),
    ],
  });
}

/** A user's grant for an app (their own consent) with when each of its scopes was last used. */
export interface GrantUse {
  userId: string;
  username: string;
  clientId: string;
  appName: string;
  scopes: string[];
  grantedAt: Date;
  /** scope → when a token last carried it; absent: never (since recording began). */
  lastUsed: Record<string, Date>;
}

/** The tenant's users' own unexpired consents with their scopes' last use (optionally one user's for one app). */
export async function listGrantUses(
  db: Queryable,
  tenantId: string,
  now: Date,
  only?: { userId: string; clientId: string },
): Promise<GrantUse[]> {
  const { rows } = await db.query<Omit<GrantUse, 'lastUsed'> & { lastUsed: Record<string, string> | null }>(
    `SELECT uc.user_id AS "userId", u.username, uc.client_id AS "clientId", a.name AS "appName", uc.scopes,
            uc.granted_at AS "grantedAt", used.at AS "lastUsed"
       FROM user_consents uc
       JOIN users u ON u.tenant_id = uc.tenant_id AND u.id = uc.user_id
       JOIN apps a ON a.client_id = uc.client_id
       -- The tenant named in the lateral join too: else Citus sends the statement to every shard.
       LEFT JOIN LATERAL (SELECT jsonb_object_agg(g.scope, g.last_used_at) AS at FROM grant_scope_use g
                           WHERE g.tenant_id = $1::text AND g.user_id = uc.user_id AND g.client_id = uc.client_id) used ON true
      WHERE uc.tenant_id = $1::text AND cardinality(uc.scopes) > 0
        AND ($2::text IS NULL OR (uc.user_id = $2::text AND uc.client_id = $3::text))
        AND (uc.expires_at IS NULL OR uc.expires_at > $4::timestamptz)
      ORDER BY lower(a.name), uc.client_id, u.username`,
    [tenantId, only?.userId ?? null, only?.clientId ?? null, now],
  );
  return rows.map((row) => ({
    ...row,
    lastUsed: Object.fromEntries(Object.entries(row.lastUsed ?? {}).map(([scope, at]) => [scope, new Date(at)])),
  }));
}

/** When any token of each of the tenant's users' grants for the app was last issued (by user id). */
export async function lastUseByUser(db: Queryable, tenantId: string, clientId: string): Promise<Map<string, Date>> {
  const { rows } = await db.query<{ userId: string; at: Date }>(
    `SELECT user_id AS "userId", max(last_used_at) AS at FROM grant_scope_use
      WHERE tenant_id = $1::text AND client_id = $2::text GROUP BY user_id`,
    [tenantId, clientId],
  );
  return new Map(rows.map((row) => [row.userId, row.at]));
}

/** When any of the user's tokens for each app was last issued (by client id). */
export async function lastUseByApp(db: Queryable, tenantId: string, userId: string): Promise<Map<string, Date>> {
  const { rows } = await db.query<{ clientId: string; at: Date }>(
    `SELECT client_id AS "clientId", max(last_used_at) AS at FROM grant_scope_use
      WHERE tenant_id = $1::text AND user_id = $2::text GROUP BY client_id`,
    [tenantId, userId],
  );
  return new Map(rows.map((row) => [row.clientId, row.at]));
}
