// The people most end-to-end tests sign in as: the tenants Contoso and Fabrikam, and the users a
// test lists in them, all with one password.
import type { Role } from '../../src/core/types.js';
import type { Directory } from '../../src/services/directory.js';

export const PASSWORD = 'correct horse battery';

export interface Person {
  /** `username@tenant`, as typed on the sign-in page. */
  signIn: string;
  password: string;
  id: string;
}

/** Creates Contoso, Fabrikam and `people`; returns the lookup `as('alice@contoso')`. */
export async function seedPeople(
  directory: Directory,
  people: ReadonlyArray<readonly [tenant: 'contoso' | 'fabrikam', username: string, role: Role]>,
) {
  await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
  const byName = new Map<string, Person>();
  for (const [tenantId, username, role] of people) {
    const user = await directory.createUser({ tenantId, username, password: PASSWORD, role }, 'operator');
    byName.set(`${username}@${tenantId}`, { signIn: `${username}@${tenantId}`, password: PASSWORD, id: user.id });
  }
  return (signIn: string): Person => {
    const person = byName.get(signIn);
    if (!person) throw new Error(`no test user ${signIn}`);
    return person;
  };
}
