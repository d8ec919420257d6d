// Two Accord instances on one database behind a round-robin balancer with no session affinity:
// both migrate and create their keys at the same moment on an empty database, then a user's flow
// hops between them at every step and still succeeds, because keys, cookie secrets,
// interactions, sessions and codes all live in PostgreSQL.

import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import pg from 'pg';
import t from 'tap';
import { type Accord, buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { listPermissions } from '../../src/db/permissions.js';
import { createPool } from '../../src/db/pool.js';
import { Directory } from '../../src/services/directory.js';
import { Browser } from '../support/browser.js';
import { adminDatabaseUrl } from '../support/database.js';
import { exchangeCode, fullFlow, registerApp } from '../support/flows.js';
import type { TestServer } from '../support/server.js';
import { RoundRobinProxy } from './round-robin-proxy.js';

// An empty database of our own, not a clone of the migrated template: the migrations run here.
const adminUrl = adminDatabaseUrl();
const name = `accord_rr_${randomBytes(6).toString('hex')}`;
async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}
await adminQuery(`CREATE DATABASE ${name}`);
t.teardown(() => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
const url = new URL(adminUrl);
url.pathname = `/${name}`;
// One pool per instance, as two processes would have.
const pools = [createPool(url.toString(), () => undefined), createPool(url.toString(), () => undefined)] as const;
t.teardown(() => Promise.all(pools.map((pool) => pool.end())));

const proxy = new RoundRobinProxy();
const issuer = await proxy.listen(0);
t.teardown(() => proxy.close());

// Both instances migrate the empty database at the same moment (asserted below).
const expectedMigrations = (await loadMigrations()).map((migration) => migration.version);
const applied = await Promise.all(pools.map((pool) => migrate(pool)));
const appliedAgain = await Promise.all(pools.map((pool) => migrate(pool)));

// Both instances start together on the empty key table: they must converge on one set of keys.
const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  ISSUER: issuer,
  LOG_LEVEL: 'silent',
  DATABASE_URL: url.toString(),
  SIGN_IN_RATE_LIMIT: '1000',
});
const instances: Accord[] = await Promise.all(pools.map((pool) => buildApp(config, { pool })));
t.teardown(() => Promise.all(instances.map((instance) => instance.app.close())));
await Promise.all(instances.map((instance) => instance.app.listen({ port: 0, host: '127.0.0.1' })));
const ports = instances.map((instance) => (instance.app.server.address() as AddressInfo).port);
proxy.upstreams = ports;

const directory = new Directory(pools[0], new PermissionCatalogue(await listPermissions(pools[0])));
// The flow helpers need only the issuer URL and a directory.
const server = { url: issuer, config, pool: pools[0], directory, accord: instances[0]! } as unknown as TestServer;
const password = 'correct horse battery';
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
for (const username of ['alice', 'bob', 'carol'])
  await directory.createUser({ tenantId: 'contoso', username, password, role: 'user' }, 'operator');
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'offline_access', 'User.Read'] });

t.test('migrations started by both instances at once both succeed, each applied once', async (t) => {
  t.same(
    applied.flat().sort((a, b) => a - b),
    expectedMigrations,
    'between them they applied every migration, none twice',
  );
  const { rows } = await pools[0].query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  t.same(
    rows.map((row) => row.version),
    expectedMigrations,
    'each recorded once',
  );
  t.same(appliedAgain, [[], []], 'running again applies nothing');
});

t.test('both instances publish the same keys and discovery', async (t) => {
  const fetchBoth = (path: string) =>
    Promise.all(ports.map(async (port) => (await fetch(`http://127.0.0.1:${port}${path}`)).json()));
  const [jwksA, jwksB] = (await fetchBoth('/jwks')) as Array<{ keys: Array<{ kid: string }> }>;
  t.ok(jwksA!.keys.length >= 2, 'an RS256 and an ES256 key');
  t.same(jwksB, jwksA, '/jwks is identical on both');
  // Through the balancer (discovery's endpoint URLs follow the request's Host), pinned to each.
  const discovery = [];
  for (const upstream of [0, 1]) {
    proxy.pin = () => upstream;
    discovery.push(await (await fetch(`${issuer}/.well-known/openid-configuration`)).json());
  }
  proxy.pin = () => undefined;
  t.same(discovery[1], discovery[0], 'discovery is identical on both');
  const { rows } = await pools[0].query<{ n: number }>('SELECT count(*)::int AS n FROM signing_keys');
  t.equal(rows[0]!.n, 4, 'one active and one next key per algorithm, although both instances created keys at once');
});

t.test('a flow that starts on one instance and finishes on the other succeeds', async (t) => {
  // /auth on A, the sign-in on B, the consent on A, the code exchange on B; everything else alternates.
  proxy.pin = (method, path) => {
    if (method === 'GET' && path.startsWith('/auth?')) return 0;
    if (method === 'POST' && /^\/interaction\/[^/]+\/login$/.test(path)) return 1;
    if (method === 'POST' && /^\/interaction\/[^/]+\/consent$/.test(path)) return 0;
    if (method === 'POST' && path === '/token') return 1;
    return undefined;
  };
  t.teardown(() => (proxy.pin = () => undefined));
  const from = proxy.log.length;
  const flow = await fullFlow(
    server,
    app,
    { signIn: 'alice@contoso', password },
    { scope: 'openid offline_access User.Read', prompt: 'consent' },
  );
  t.ok(flow.consentShown, 'the consent page was shown');
  const tokens = await exchangeCode(app, flow.callback, flow.auth);
  t.ok(tokens.access_token, 'an access token');
  t.ok(tokens.id_token, 'an ID token, signed by the other instance and verified against the JWKS');

  const steps = proxy.log
    .slice(from)
    .map((entry) => `${entry.method} ${entry.path.split('?')[0]} → ${'AB'[entry.upstream]} ${entry.status}`);
  const served = (pattern: RegExp) => steps.filter((step) => pattern.test(step));
  t.same(served(/^GET \/auth /), ['GET /auth → A 303'], '/auth on A');
  t.match(served(/\/login /), [/^POST \/interaction\/[^/]+\/login → B 303$/], 'sign-in on B');
  t.match(served(/\/consent /), [/^POST \/interaction\/[^/]+\/consent → A 303$/], 'consent on A');
  t.same(served(/^POST \/token /), ['POST /token → B 200'], 'code exchange on B');
  t.ok(
    new Set(proxy.log.slice(from).map((entry) => entry.upstream)).size === 2,
    `both served the flow: ${steps.join(', ')}`,
  );

  // The refresh token from B's exchange refreshes on whichever instance comes next, twice.
  const refreshed = await oidc.refreshTokenGrant(app.config, tokens.refresh_token!);
  const again = await oidc.refreshTokenGrant(app.config, refreshed.refresh_token!);
  t.ok(again.access_token, 'refresh rotates across instances');
});

t.test('flows alternating at every request succeed, several at once', async (t) => {
  const from = proxy.log.length;
  const results = await Promise.all(
    ['bob@contoso', 'carol@contoso', 'alice@contoso'].map(async (signIn) => {
      const flow = await fullFlow(
        server,
        app,
        { signIn, password },
        { scope: 'openid User.Read' },
        new Browser(issuer),
      );
      return exchangeCode(app, flow.callback, flow.auth);
    }),
  );
  t.ok(
    results.every((tokens) => tokens.access_token && tokens.id_token),
    'every flow got tokens',
  );
  const log = proxy.log.slice(from);
  t.same(
    log.filter((entry) => entry.status >= 500),
    [],
    'no instance failed a request',
  );
  t.same(
    [0, 1].map((upstream) => log.some((entry) => entry.upstream === upstream)),
    [true, true],
    'both instances served',
  );
  const { rows } = await pools[1].query<{ n: number }>(
    `SELECT count(*)::int AS n FROM user_consents WHERE client_id = $1::text AND grant_id IS NOT NULL`,
    [app.clientId],
  );
  t.equal(rows[0]!.n, 3, 'one consent with a grant per user');
});
