// permissions: the catalogue of scopes apps may ask for (seeded by migration).

import type { Permission } from '../core/types.js';
import type { Queryable } from './pool.js';

export async function listPermissions(db: Queryable): Promise<Permission[]> {
  const { rows } = await db.query<Permission>(
    `SELECT scope, resource, user_description AS "userDescription", admin_description AS "adminDescription",
            admin_consent_required AS "adminConsentRequired"
       FROM permissions ORDER BY sort_order, scope`,
  );
  return rows;
}
