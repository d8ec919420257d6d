// A tenant's people as its admins manage them: the list (paged, searchable), one user, the user
// behind a token, the change of role, password or disabled state and the unlock after failed
// sign-ins (each step a Directory transaction with its audit event), each user shown with the
// failed sign-ins of their current streak, keeping the rule that an admin cannot demote or disable themselves — so a tenant
// always keeps an admin.
import { Conflict, NotFound } from '../core/errors.js';
import type { Role } from '../core/types.js';
import type { Pool } from '../db/pool.js';
import { listUsers, listUsersPage, type UserRecord, type UserWithSignInFailures } from '../db/users.js';
import type { Actor, Directory } from './directory.js';
import { STREAK_SECONDS, signedInUser } from './sign-in.js';

export type { UserWithSignInFailures };

export interface UsersPage {
  users: UserWithSignInFailures[];
  /** The `after` value of the next page; null on the last page. */
  next: string | null;
}

/** Only the fields present change. */
export interface UserChanges {
  role?: Role | undefined;
  disabled?: boolean | undefined;
  password?: string | undefined;
}

export class TenantUsers {
  constructor(
    private readonly pool: Pool,
    private readonly directory: Directory,
  ) {}

  /** Every user of the tenant, by username. */
  list(tenantId: string): Promise<UserRecord[]> {
    return listUsers(this.pool, tenantId);
  }

  /** Up to `limit` users by username after `after`, matching `search` (part of the username, name or email). */
  async page(
    tenantId: string,
    { limit, after, search }: { limit: number; after?: string | undefined; search?: string | undefined },
  ): Promise<UsersPage> {
    // One more than asked tells whether another page exists.
    const rows = await listUsersPage(this.pool, tenantId, {
      limit: limit + 1,
      after,
      search,
      failuresSince: streakStart(),
    });
    const users = rows.slice(0, limit);
    return { users, next: rows.length > limit ? users[users.length - 1]!.username : null };
  }

  /** The tenant's user, or 404 (a user of another tenant is answered as none). */
  async find(tenantId: string, userId: string): Promise<UserWithSignInFailures> {
    const [user] = await listUsersPage(this.pool, tenantId, { limit: 1, id: userId, failuresSince: streakStart() });
    if (!user) throw NotFound('user not found');
    return user;
  }

  /** Forgets the user's failed sign-ins, so they can sign in again at once; answers the user as now. */
  async unlock(tenantId: string, userId: string, actor: Actor): Promise<UserWithSignInFailures> {
    await this.directory.unlockUser(tenantId, userId, actor);
    return this.find(tenantId, userId);
  }

  /** The user a token speaks for, if they exist and are enabled — read now, not from the token. */
  findEnabled(userId: string): Promise<UserRecord | undefined> {
    return signedInUser(this.pool, userId);
  }

  /**
   * Applies the changes in the order least likely to leave a half-done update: every check first,
   * then the password (refused before anything is written when it is unacceptable), then the role,
   * then the disabled state. Answers the user as changed.
   */
  async update(tenantId: string, userId: string, changes: UserChanges, actor: Actor): Promise<UserWithSignInFailures> {
    const user = await this.find(tenantId, userId);
    if (userId === actor && ((changes.role !== undefined && changes.role !== 'admin') || changes.disabled === true)) {
      throw Conflict('You cannot remove your own admin role or disable yourself; another admin must do it.', {
        field: changes.role ? 'role' : 'disabled',
      });
    }
    if (changes.password !== undefined) await this.directory.setUserPassword(tenantId, userId, changes.password, actor);
    if (changes.role !== undefined && changes.role !== user.role)
      await this.directory.setUserRole(tenantId, userId, changes.role, actor);
    if (changes.disabled !== undefined && changes.disabled !== user.disabled)
      await this.directory.setUserDisabled(tenantId, userId, changes.disabled, actor);
    return this.find(tenantId, userId);
  }
}

/** Failures before this instant belong to streaks that have ended. */
function streakStart(): Date {
  return new Date(Date.now() - STREAK_SECONDS * 1000);
}
