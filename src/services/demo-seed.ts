// The demo: tenants contoso and fabrikam, an admin and two users in each, and a multi-tenant
// third-party app published by fabrikam. Run by `accord seed --demo`, and by `npm start` once on
// an empty database so a fresh checkout has something to sign in with.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { countTenants } from '../db/tenants.js';
import { Directory } from './directory.js';
import { loadPermissionCatalogue } from './permission-catalogue.js';

export const DEMO_APP_SCOPES = ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Files.ReadWrite', 'Mail.Send'];

export interface DemoSeed {
  tenants: { id: string; name: string }[];
  users: { tenant: string; username: string; signIn: string; password: string; role: 'user' | 'admin'; id: string }[];
  app: {
    client_id: string;
    client_secret: string;
    name: string;
    publisher: string;
    redirect_uris: string[];
    permissions: string[];
  };
}

export async function seedDemo(pool: Pool): Promise<DemoSeed> {
  const directory = new Directory(pool, await loadPermissionCatalogue(pool));
  const actor = 'operator';
  const seed: DemoSeed = { tenants: [], users: [], app: undefined as never };
  const people: Record<string, [string, string, 'user' | 'admin'][]> = {
    contoso: [
      ['admin', 'Contoso Admin', 'admin'],
      ['alice', 'Alice Example', 'user'],
      ['bob', 'Bob Example', 'user'],
    ],
    fabrikam: [
      ['admin', 'Fabrikam Admin', 'admin'],
      ['carol', 'Carol Example', 'user'],
      ['dave', 'Dave Example', 'user'],
    ],
  };
  for (const [id, name] of [
    ['contoso', 'Contoso Ltd'],
    ['fabrikam', 'Fabrikam Inc'],
  ] as const) {
    await directory.createTenant({ id, name }, actor);
    seed.tenants.push({ id, name });
    for (const [username, displayName, role] of people[id]!) {
      const password = randomBytes(9).toString('base64url');
      const user = await directory.createUser(
        { tenantId: id, username, password, role, displayName, email: `${username}@${id}.example` },
        actor,
      );
      seed.users.push({ tenant: id, username, signIn: `${username}@${id}`, password, role, id: user.id });
    }
  }
  const redirectUris = ['http://localhost:8080/callback', 'http://127.0.0.1:8080/callback'];
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'fabrikam',
      name: 'Fabrikam Planner',
      publisherName: 'Fabrikam Inc',
      multiTenant: true,
      public: false,
      redirectUris,
      homepageUrl: null,
      scopes: DEMO_APP_SCOPES,
    },
    actor,
  );
  seed.app = {
    client_id: app.clientId,
    client_secret: clientSecret!,
    name: app.name,
    publisher: app.publisherName,
    redirect_uris: redirectUris,
    permissions: app.scopes,
  };
  return seed;
}

export function describeSeed(seed: DemoSeed, issuer: string): string {
  const lines = [
    'Accord demo data created:',
    ...seed.users.map((user) => `  ${user.signIn.padEnd(18)} ${user.role.padEnd(6)} password: ${user.password}`),
    `  app "${seed.app.name}" (multi-tenant, published by ${seed.app.publisher})`,
    `    client_id:     ${seed.app.client_id}`,
    `    client_secret: ${seed.app.client_secret}`,
    `    redirect_uris: ${seed.app.redirect_uris.join(' ')}`,
    `    permissions:   ${seed.app.permissions.join(' ')}`,
    `  issuer: ${issuer}`,
    '',
  ];
  return lines.join('\n');
}

/** Seeds once, on an empty directory; returns what to print, or undefined when not seeded. */
export async function seedDemoIfEmpty(pool: Pool, config: Pick<Config, 'issuer'>): Promise<string | undefined> {
  if ((await countTenants(pool)) > 0) return undefined;
  return describeSeed(await seedDemo(pool), config.issuer);
}
