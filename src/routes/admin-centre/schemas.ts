// Request schemas more than one admin-centre page uses (TypeBox: each gives its own type). Form
// bodies carry the CSRF token as `_csrf`; the ids in paths are checked for length only, since an
// unknown or foreign id is answered by the page itself (404 in the admin's organisation).
import { Type } from 'typebox';

const pathId = () => Type.String({ minLength: 1, maxLength: 200 });

export const ClientIdParams = Type.Object({ clientId: pathId() });
export const AppUserParams = Type.Object({ clientId: pathId(), userId: pathId() });

/** `?removed=<name>`: the list page's notice after a removal. */
export const RemovedQuery = Type.Object({ removed: Type.Optional(Type.String({ maxLength: 200 })) });

const search = () => Type.Optional(Type.String({ maxLength: 200 }));

/** The apps list: its notice, and its search box. */
export const AppsListQuery = Type.Object({ removed: RemovedQuery.properties.removed, search: search() });

/** The enterprise apps list: its notice, its search box and its filters (an empty choice means any). */
export const EnterpriseAppsListQuery = Type.Object({
  removed: RemovedQuery.properties.removed,
  search: search(),
  state: Type.Optional(Type.Enum(['', 'blocked', 'enabled'], { type: 'string' })),
  publisher: Type.Optional(Type.Enum(['', 'verified', 'unverified'], { type: 'string' })),
});
