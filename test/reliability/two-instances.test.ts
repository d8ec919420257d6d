// Two Accord processes (src/server.ts, each its own OS process, as deployed) on one database
// behind a round-robin balancer with no session affinity: both start at the same moment on an
// empty database, so both migrate it and create their keys at once; then a user's flow hops
// between them at every step and still succeeds, because keys, cookie secrets, interactions,
// sessions and codes all live in PostgreSQL; and a grant revoked in the database is refused by
// both at once.

import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import pg from 'pg';
import t from 'tap';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { listPermissions } from '../../src/db/permissions.js';
import { createPool } from '../../src/db/pool.js';
import { Directory } from '../../src/services/directory.js';
import { revokeGrants } from '../../src/services/revocation.js';
import { callApi as callDataApi } from '../data-api/support.js';
import { refusedWithin } from '../support/api.js';
import { Browser } from '../support/browser.js';
import { adminDatabaseUrl } from '../support/database.js';
import { exchangeCode, fullFlow, registerApp } from '../support/flows.js';
import { type ServerProcess, startServerProcess, type TestServer } from '../support/server.js';
import { RoundRobinProxy } from './round-robin-proxy.js';

// Two server processes under the test runner's TypeScript loader: slow to start on a busy machine.
t.setTimeout(300_000);

// An empty database of our own, not a clone of the migrated template: the processes migrate it.
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
const pool = createPool(url.toString(), () => undefined);
t.teardown(() => pool.end());

const proxy = new RoundRobinProxy();
const issuer = await proxy.listen(0);
t.teardown(() => proxy.close());

// Both processes start at the same moment on the empty database (migrations, then keys).
const processes: ServerProcess[] = await Promise.all(
  [0, 1].map(() => startServerProcess(url.toString(), { ISSUER: issuer, SIGN_IN_RATE_LIMIT: '1000' })),
);
t.teardown(() => Promise.all(processes.map((instance) => instance.kill())));
const origins = processes.map((instance) => instance.origin);
proxy.upstreams = origins.map((origin) => Number(new URL(origin).port));

const directory = new Directory(pool, new PermissionCatalogue(await listPermissions(pool)));
// The flow helpers need only the issuer URL, the pool and a directory.
const server = { url: issuer, pool, directory } as unknown as TestServer;
const password = 'correct horse battery';
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
for (const username of ['alice', 'bob', 'carol'])
  await directory.createUser({ tenantId: 'contoso', username, password, role: 'user' }, 'operator');
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'offline_access', 'User.Read'] });

t.test('migrations started by both processes at once are each applied once', async (t) => {
  t.equal(new Set(processes.map((instance) => instance.child.pid)).size, 2, 'two OS processes');
  const expected = (await loadMigrations()).map((migration) => migration.version);
  const { rows } = await pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  t.same(
    rows.map((row) => row.version),
    expected,
    'every migration recorded once',
  );
  t.same(await migrate(pool), [], 'running again applies nothing');
  t.same(
    processes.map((instance) => instance.output()).filter((output) => /error|failed/i.test(output)),
    [],
    'neither process reported an error',
  );
});

t.test('both processes publish the same keys and discovery', async (t) => {
  const fetchBoth = (path: string) =>
    Promise.all(origins.map(async (origin) => (await fetch(`${origin}${path}`)).json()));
  const [jwksA, jwksB] = (await fetchBoth('/jwks')) as Array<{ keys: Array<{ kid: string }> }>;
  t.equal(jwksA!.keys.length, 4, 'an RS256 and an ES256 key, each with its next key');
  t.same(jwksB, jwksA, '/jwks is identical on both');
  // Through the balancer, pinned to each.
  const discovery = [];
  for (const upstream of [0, 1]) {
    proxy.pin = () => upstream;
    discovery.push(await (await fetch(`${issuer}/.well-known/openid-configuration`)).json());
  }
  proxy.pin = () => undefined;
  t.equal((discovery[0] as { issuer: string }).issuer, issuer, 'the issuer is the balancer');
  t.same(discovery[1], discovery[0], 'discovery is identical on both');
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM signing_keys');
  t.equal(rows[0]!.n, 4, 'one active and one next key per algorithm, although both processes created keys at once');
});

t.test('a flow that starts on one process and finishes on the other succeeds', async (t) => {
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
  t.equal(tokens.claims()?.iss, issuer, 'an ID token, signed by the other process and verified against the JWKS');

  const steps = proxy.log
    .slice(from)
    .map((entry) => `${entry.method} ${entry.path.split('?')[0]} → ${'AB'[entry.upstream]} ${entry.status}`);
  const served = (pattern: RegExp) => steps.filter((step) => pattern.test(step));
  t.same(served(/^GET \/auth /), ['GET /auth → A 303'], '/auth on A');
  t.match(served(/\/login /), [/^POST \/interaction\/[^/]+\/login → B 303$/], 'sign-in on B');
  t.match(served(/\/consent /), [/^POST \/interaction\/[^/]+\/consent → A 303$/], 'consent on A');
  t.same(served(/^POST \/token /), ['POST /token → B 200'], 'code exchange on B');

  // The refresh token from B's exchange refreshes on whichever process comes next, twice.
  const refreshed = await oidc.refreshTokenGrant(app.config, tokens.refresh_token!);
  const again = await oidc.refreshTokenGrant(app.config, refreshed.refresh_token!);
  t.ok(again.access_token, 'refresh rotates across processes');

  // Each process accepts the token; once the grant is revoked in the database, each refuses it.
  const atEach = (origin: string) => ({ ...server, url: origin }) as TestServer;
  for (const origin of origins)
    t.equal((await callDataApi(atEach(origin), again.access_token, '/me')).status, 200, `control: ${origin}`);
  await revokeGrants(pool, [String(decodeJwt(again.access_token).gid)]);
  for (const origin of origins) {
    const refused = await refusedWithin(() => callDataApi(atEach(origin), again.access_token, '/me'));
    t.equal(refused.status, 401, `refused by ${origin} ${refused.afterMs} ms after the revocation`);
  }
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
    'no process failed a request',
  );
  t.same(
    [0, 1].map((upstream) => log.some((entry) => entry.upstream === upstream)),
    [true, true],
    'both processes served',
  );
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM user_consents WHERE client_id = $1::text AND grant_id IS NOT NULL`,
    [app.clientId],
  );
  t.equal(rows[0]!.n, 3, 'one consent with a grant per user');
});

t.test('both processes stop on SIGTERM with exit code 0', async (t) => {
  await Promise.all(processes.map((instance) => instance.kill()));
  t.same(await Promise.all(processes.map(async (instance) => (await instance.exited).code)), [0, 0]);
});
