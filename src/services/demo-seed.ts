// The demo: tenants contoso and fabrikam, an admin and two users in each (with a few calendar
// events), and a multi-tenant third-party app published by fabrikam that `accord demo-app` signs in
// with. Run by `accord seed --demo`, and by `npm start` once on an empty database so a fresh
// checkout has something to sign in with.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { countTenants } from '../db/tenants.js';
import { Directory } from './directory.js';
import { loadPermissionCatalogue } from './permission-catalogue.js';
import { SampleData } from './sample-data.js';

export const DEMO_APP_SCOPES = [
  'openid',
  'profile',
  'offline_access',
  'User.Read',
  'Calendars.Read',
  'Files.ReadWrite',
  'Mail.Send',
];

/** Where `accord demo-app` runs: the seeded app's redirect and post-logout URIs point there. */
export const DEMO_APP_PORT = 8080;
const DEMO_APP_ORIGINS = [`http://localhost:${DEMO_APP_PORT}`, `http://127.0.0.1:${DEMO_APP_PORT}`];

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
  /** Where the app's credentials were kept for `accord demo-app`, or why they could not be. */
  credentials: { file: string; error?: string };
}

/**
 * Seeds the demo and keeps the app's credentials in `dataDir` (demoAppCredentialsFile), where
 * `accord demo-app` finds them: its secret is stored hashed and shown only now.
 */
export async function seedDemo(pool: Pool, dataDir: string): Promise<DemoSeed> {
  const directory = new Directory(pool, await loadPermissionCatalogue(pool));
  const sampleData = new SampleData(pool);
  const actor = 'operator';
  const seed: DemoSeed = { tenants: [], users: [], app: undefined as never, credentials: undefined as never };
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
      for (const event of demoCalendar(new Date()))
        await sampleData.addCalendarEvent({ tenantId: id, userId: user.id }, event);
    }
  }
  const redirectUris = DEMO_APP_ORIGINS.map((origin) => `${origin}/callback`);
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'fabrikam',
      name: 'Fabrikam Planner',
      publisherName: 'Fabrikam Inc',
      multiTenant: true,
      public: false,
      redirectUris,
      postLogoutRedirectUris: DEMO_APP_ORIGINS.map((origin) => `${origin}/`),
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
  const file = demoAppCredentialsFile(dataDir);
  // The data is seeded by now: a folder that cannot be written (a read-only image) costs only the
  // demo app's defaults, as the credentials are printed too.
  seed.credentials = await saveDemoAppCredentials(file, { client_id: app.clientId, client_secret: clientSecret! }).then(
    () => ({ file }),
    (error: unknown) => ({ file, error: error instanceof Error ? error.message : String(error) }),
  );
  return seed;
}

/** Two meetings over the next days, so that the demo's calendar call has something to show. */
function demoCalendar(now: Date) {
  const at = (days: number, hour: number) => {
    const date = new Date(now);
    date.setUTCDate(date.getUTCDate() + days);
    date.setUTCHours(hour, 0, 0, 0);
    return date.toISOString();
  };
  return [
    { subject: 'Planning', body: 'The quarter ahead', location: 'Room 1', start: at(1, 9), end: at(1, 10) },
    { subject: 'Review', body: 'What shipped this week', location: null, start: at(3, 14), end: at(3, 15) },
  ];
}

export interface DemoAppCredentials {
  client_id: string;
  client_secret: string;
}

/** The seeded app's credentials, beside the embedded database's data (readable by its owner only). */
export const demoAppCredentialsFile = (dataDir: string) => path.join(dataDir, 'demo-app.json');

async function saveDemoAppCredentials(file: string, credentials: DemoAppCredentials): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
}

/** What the last seed in `dataDir` kept, or undefined when there is none. */
export async function readDemoAppCredentials(dataDir: string): Promise<DemoAppCredentials | undefined> {
  let text: string;
  try {
    text = await readFile(demoAppCredentialsFile(dataDir), 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<DemoAppCredentials>;
  if (typeof parsed.client_id !== 'string' || typeof parsed.client_secret !== 'string')
    throw new Error(`${demoAppCredentialsFile(dataDir)} does not hold client_id and client_secret`);
  return { client_id: parsed.client_id, client_secret: parsed.client_secret };
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
    seed.credentials.error
      ? `The app's credentials could not be kept in ${seed.credentials.file} (${seed.credentials.error}): ` +
        'pass them to `npx accord demo-app` with --client-id and --client-secret'
      : `Sign in to the app as one of these users: run \`npx accord demo-app\` and open http://localhost:${DEMO_APP_PORT}`,
    '',
  ];
  return lines.join('\n');
}

/** Seeds once, on an empty directory; returns what to print, or undefined when not seeded. */
export async function seedDemoIfEmpty(
  pool: Pool,
  config: Pick<Config, 'issuer' | 'dataDir'>,
): Promise<string | undefined> {
  if ((await countTenants(pool)) > 0) return undefined;
  return describeSeed(await seedDemo(pool, config.dataDir), config.issuer);
}
