// users: people of a tenant, with argon2id password hashes and a role; and user_ids, which keeps
// each user id (`sub`) unique across tenants and leads from a sub to its tenant (migration 0015).

import type { Role } from '../core/types.js';
import type { Queryable } from './pool.js';

export interface UserRecord {
  tenantId: string;
  id: string;
  username: string;
  email: string | null;
  displayName: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
}

const COLUMNS = `tenant_id AS "tenantId", id, username, email, display_name AS "displayName", role, disabled,
  created_at AS "createdAt"`;

export async function insertUser(
  db: Queryable,
  user: {
    tenantId: string;
    id: string;
    username: string;
    email: string | null;
    displayName: string;
    role: Role;
    passwordHash: string;
  },
): Promise<UserRecord> {
  // The caller's transaction holds both rows: a user exists with its id claimed, or not at all.
  await db.query('INSERT INTO user_ids (id, tenant_id) VALUES ($1::text, $2::text)', [user.id, user.tenantId]);
  const { rows } = await db.query<UserRecord>(
    `INSERT INTO users (tenant_id, id, username, email, display_name, role, password_hash)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text) RETURNING ${COLUMNS}`,
    [user.tenantId, user.id, user.username, user.email, user.displayName, user.role, user.passwordHash],
  );
  return rows[0]!;
}

/**
 * The tenant of each user id this process has met. A user never changes tenant and an id is
 * never given to another user, so an entry stays true; it saves a statement on every request.
 */
const tenantOfUser = new Map<string, string>();
const TENANTS_REMEMBERED = 100_000;

/**
 * `read(tenantId)` for the user's tenant, found from the id alone (tokens and sessions carry only
 * the sub), so that the read can name the tenant — one shard on Citus. Undefined when the id is
 * unknown. A remembered tenant under which `read` finds nothing is looked up once more (the
 * process may be reading another database than the one it was remembered from, as tests do).
 */
export async function withTenantOfUser<T>(
  db: Queryable,
  userId: string,
  read: (tenantId: string) => Promise<T | undefined>,
): Promise<T | undefined> {
  const remembered = tenantOfUser.get(userId);
  if (remembered !== undefined) {
    const found = await read(remembered);
    if (found !== undefined) return found;
    tenantOfUser.delete(userId);
  }
  const { rows } = await db.query<{ tenant_id: string }>({
    name: 'find-user-tenant',
    text: 'SELECT tenant_id FROM user_ids WHERE id = $1::text',
    values: [userId],
  });
  const tenantId = rows[0]?.tenant_id;
  if (tenantId === undefined) return undefined;
  const found = await read(tenantId);
  if (found !== undefined) {
    if (tenantOfUser.size >= TENANTS_REMEMBERED) tenantOfUser.delete(tenantOfUser.keys().next().value!);
    tenantOfUser.set(userId, tenantId);
  }
  return found;
}

/** By `sub`: tokens and sessions carry only the user's id. */
export async function findUserById(db: Queryable, id: string): Promise<UserRecord | undefined> {
  // Named, so each connection prepares it once: every signed-in protocol request reads the user.
  return withTenantOfUser(db, id, async (tenantId) => {
    const { rows } = await db.query<UserRecord>({
      name: 'find-user',
      text: `SELECT ${COLUMNS} FROM users WHERE tenant_id = $1::text AND id = $2::text`,
      values: [tenantId, id],
    });
    return rows[0];
  });
}

export async function findUserInTenant(db: Queryable, tenantId: string, id: string): Promise<UserRecord | undefined> {
  const { rows } = await db.query<UserRecord>(
    `SELECT ${COLUMNS} FROM users WHERE tenant_id = $1::text AND id = $2::text`,
    [tenantId, id],
  );
  return rows[0];
}

export async function findCredentials(
  db: Queryable,
  tenantId: string,
  username: string,
): Promise<(UserRecord & { passwordHash: string }) | undefined> {
  const { rows } = await db.query<UserRecord & { passwordHash: string }>(
    `SELECT ${COLUMNS}, password_hash AS "passwordHash" FROM users WHERE tenant_id = $1::text AND username = $2::text`,
    [tenantId, username],
  );
  return rows[0];
}

export async function listUsers(db: Queryable, tenantId: string): Promise<UserRecord[]> {
  const { rows } = await db.query<UserRecord>(
    `SELECT ${COLUMNS} FROM users WHERE tenant_id = $1::text ORDER BY username`,
    [tenantId],
  );
  return rows;
}

export async function setUserRole(
  db: Queryable,
  tenantId: string,
  id: string,
  role: Role,
): Promise<UserRecord | undefined> {
  const { rows } = await db.query<UserRecord>(
    `UPDATE users SET role = $3::text, updated_at = now() WHERE tenant_id = $1::text AND id = $2::text RETURNING ${COLUMNS}`,
    [tenantId, id, role],
  );
  return rows[0];
}

export async function setUserDisabled(
  db: Queryable,
  tenantId: string,
  id: string,
  disabled: boolean,
): Promise<UserRecord | undefined> {
  const { rows } = await db.query<UserRecord>(
    `UPDATE users SET disabled = $3::boolean, updated_at = now() WHERE tenant_id = $1::text AND id = $2::text RETURNING ${COLUMNS}`,
    [tenantId, id, disabled],
  );
  return rows[0];
}

export async function setUserPasswordHash(
  db: Queryable,
  tenantId: string,
  id: string,
  passwordHash: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE users SET password_hash = $3::text, updated_at = now() WHERE tenant_id = $1::text AND id = $2::text',
    [tenantId, id, passwordHash],
  );
  return rowCount === 1;
}

/** By sign-in name within the tenant (the CLI addresses users as `<tenant> <username>`). */
export async function findUserByUsername(
  db: Queryable,
  tenantId: string,
  username: string,
): Promise<UserRecord | undefined> {
  const { rows } = await db.query<UserRecord>(
    `SELECT ${COLUMNS} FROM users WHERE tenant_id = $1::text AND username = $2::text`,
    [tenantId, username],
  );
  return rows[0];
}

/** A user with the failed sign-ins of their current streak (0 when none runs), as their admins see them. */
export interface UserWithSignInFailures extends UserRecord {
  signInFailures: number;
}

/**
 * One page of the tenant's users by username, after `after`; `search` matches part of the
 * username, display name or email, in any case. Failures count when the last came after `failuresSince`.
 */
export async function listUsersPage(
  db: Queryable,
  tenantId: string,
  page: {
    limit: number;
    after?: string | undefined;
    search?: string | undefined;
    /** Only this user (a page of one or none). */
    id?: string | undefined;
    failuresSince: Date;
  },
): Promise<UserWithSignInFailures[]> {
  const { rows } = await db.query<UserWithSignInFailures>(
    `SELECT u.tenant_id AS "tenantId", u.id, u.username, u.email, u.display_name AS "displayName", u.role, u.disabled,
            u.created_at AS "createdAt", COALESCE(f.failures, 0) AS "signInFailures"
       FROM users u
       LEFT JOIN sign_in_failures f
         ON f.tenant_id = u.tenant_id AND f.username = u.username AND f.last_failure_at > $5::timestamptz
      WHERE u.tenant_id = $1::text
        AND ($2::text IS NULL OR u.username > $2::text)
        AND ($3::text IS NULL
             OR strpos(lower(u.username || ' ' || u.display_name || ' ' || COALESCE(u.email, '')), lower($3::text)) > 0)
        AND ($6::text IS NULL OR u.id = $6::text)
      ORDER BY u.username
      LIMIT $4::integer`,
    [tenantId, page.after ?? null, page.search ?? null, page.limit, page.failuresSince, page.id ?? null],
  );
  return rows;
}
