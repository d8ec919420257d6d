// A tenant's people as its admins manage them: the list, one user, the user behind a token, and
// the change of role, password or disabled state (each step a Directory transaction with its
// audit event), keeping the rule that an admin cannot demote or disable themselves — so a tenant
// always keeps an admin.
import { Conflict, NotFound } from '../core/errors.js';
import type { Role } from '../core/types.js';
import type { Pool } from '../db/pool.js';
import { findUserInTenant, listUsers, type UserRecord } from '../db/users.js';
import type { Actor, Directory } from './directory.js';
import { signedInUser } from './sign-in.js';

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

  /** The tenant's user, or 404 (a user of another tenant is answered as none). */
  async find(tenantId: string, userId: string): Promise<UserRecord> {
    const user = await findUserInTenant(this.pool, tenantId, userId);
    if (!user) throw NotFound('user not found');
    return user;
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
  async update(tenantId: string, userId: string, changes: UserChanges, actor: Actor): Promise<UserRecord> {
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
