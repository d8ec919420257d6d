// Issue 15, "Last use and over-privilege": each token issued under a user's grant is noted as a use
// of the scopes it carries, with no statement on the token path (written in batches); the report
// lists scopes unused for N days and grants unused altogether; "reduce to what is used" narrows a
// grant, audited.
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import t from 'tap';
import { GrantUseRecorder } from '../../src/services/grant-use.js';
import { pageName } from '../support/browser.js';
import { testClock } from '../support/clock.js';
import { appRedirect, exchangeCode, fullFlow, registerApp, startAuthorization } from '../support/flows.js';
import { seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const clock = testClock();
const server = await startTestServer({}, undefined, { clock: clock.now });
t.teardown(() => server.close());
const as = await seedPeople(server.directory, [
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
]);
const { grantLifecycle: lifecycle, grantUse } = server.accord.services;
const app = await registerApp(server, {
  tenant: 'contoso',
  scopes: ['openid', 'offline_access', 'Calendars.Read', 'Files.Read'],
});
const SCOPE = 'openid offline_access Calendars.Read Files.Read';

// Every statement sent through the pool while `recording`, by its name or its text.
const statements: string[] = [];
let recording = false;
const pool = server.pool as unknown as { query: (...args: unknown[]) => Promise<unknown> };
const query = pool.query.bind(pool);
pool.query = (...args: unknown[]) => {
  const first = args[0] as string | { name?: string; text?: string };
  if (recording) statements.push(typeof first === 'string' ? first : (first.name ?? first.text ?? ''));
  return query(...args);
};

/** A data API request with the access token. */
function dataApi(path: string, accessToken: string): Promise<Response> {
  return fetch(`${server.url}/data/v1${path}`, { headers: { authorization: `Bearer ${accessToken}` } });
}

async function uses(userId: string) {
  const { rows } = await server.pool.query<{ scope: string; last_used_at: Date }>(
    'SELECT scope, last_used_at FROM grant_scope_use WHERE tenant_id = $1::text AND user_id = $2::text ORDER BY scope',
    ['contoso', userId],
  );
  return rows;
}

let aliceTokens: oidc.TokenEndpointResponse;
t.test('the token path sends no statement for last use; the flush writes the scopes and the time', async (t) => {
  const alice = as('alice@contoso').id;
  const { auth, callback } = await fullFlow(server, app, as('alice@contoso'), { scope: SCOPE, prompt: 'consent' });
  await grantUse.flush();
  recording = true;
  aliceTokens = await exchangeCode(app, callback, auth);
  const refreshed = await oidc.refreshTokenGrant(app.config, aliceTokens.refresh_token!);
  recording = false;
  aliceTokens = refreshed;
  t.notOk(
    statements.some((statement) => /grant_scope_use|record-scope-uses/.test(statement)),
    `no last-use statement on the token path (${statements.length} statements)`,
  );
  t.ok(grantUse.pendingCount >= 4, 'the uses are noted in memory');
  t.same(await uses(alice), [], 'and not yet written');

  statements.length = 0;
  recording = true;
  const at = clock.now();
  await grantUse.flush();
  recording = false;
  t.same(
    statements.filter((statement) => statement === 'record-scope-uses'),
    ['record-scope-uses'],
    'one multi-row upsert for the tenant',
  );
  const written = await uses(alice);
  t.same(
    written.map((row) => row.scope),
    ['Calendars.Read', 'Files.Read', 'offline_access', 'openid'],
    'every scope the tokens carried (the OpenID ones through the ID token)',
  );
  t.ok(
    written.every((row) => Math.abs(row.last_used_at.getTime() - at.getTime()) < 5_000),
    'at the time of issue',
  );
  t.equal(grantUse.pendingCount, 0);
});

t.test('a later use wins over an earlier one; close writes what is left', async (t) => {
  const alice = as('alice@contoso').id;
  const recorder = new GrantUseRecorder(server.pool, clock.now);
  const later = new Date(clock.now().getTime() + 60_000);
  recorder.record({ tenantId: 'contoso', userId: alice, clientId: app.clientId, scopes: ['openid'] });
  await recorder.flush();
  const earlier = new GrantUseRecorder(server.pool, () => new Date(later.getTime() - 120_000));
  earlier.record({ tenantId: 'contoso', userId: alice, clientId: app.clientId, scopes: ['openid'] });
  await earlier.close();
  const closing = new GrantUseRecorder(server.pool, () => later);
  closing.record({ tenantId: 'contoso', userId: alice, clientId: app.clientId, scopes: ['openid', 'openid'] });
  closing.record({ tenantId: 'contoso', userId: 'no-such-user', clientId: app.clientId, scopes: ['openid'] });
  await closing.close();
  const openid = (await uses(alice)).find((row) => row.scope === 'openid');
  t.equal(openid?.last_used_at.getTime(), later.getTime(), 'the latest time, written at close; a gone user is dropped');
});

t.test('the over-privilege report, and reduce to what is used', async (t) => {
  const alice = as('alice@contoso').id;
  const bob = as('bob@contoso').id;
  // Bob consents and never gets a token.
  await fullFlow(server, app, as('bob@contoso'), { scope: SCOPE, prompt: 'consent' });
  t.same(await lifecycle.overPrivileged('contoso'), [], 'nothing yet: the grants are too new to judge');
  await t.rejects(lifecycle.overPrivileged('contoso', 0), { code: 'invalid_request' });

  // 100 days on, Alice's app refreshes for her calendar only.
  clock.advanceDays(100);
  const calendar = await oidc.refreshTokenGrant(app.config, aliceTokens.refresh_token!, {
    scope: 'openid offline_access Calendars.Read',
  });
  await grantUse.flush();
  const report = await lifecycle.overPrivileged('contoso');
  const aliceRow = report.find((grant) => grant.userId === alice);
  const bobRow = report.find((grant) => grant.userId === bob);
  t.same(aliceRow?.unusedScopes, ['Files.Read'], 'Files.Read unused for 90 days');
  t.equal(aliceRow?.unusedAltogether, false);
  t.ok(aliceRow?.lastUsedAt, 'with its last use');
  t.equal(bobRow?.unusedAltogether, true, 'a grant unused altogether');
  t.equal(bobRow?.lastUsedAt, null);

  // Before: the full token reaches both APIs' data.
  const both = aliceTokens.access_token;
  t.equal((await dataApi('/me/drive/files', both)).status, 200, 'the token with Files.Read reads files');

  const done = await lifecycle.reduceToUsed('contoso', alice, app.clientId, 'admin-1');
  t.same(done, { removed: ['Files.Read'], scopes: ['openid', 'offline_access', 'Calendars.Read'] });
  await t.rejects(
    lifecycle.reduceToUsed('contoso', alice, app.clientId, 'admin-1'),
    { code: 'conflict' },
    'nothing left to reduce',
  );
  const gid = decodeJwt(calendar.access_token).gid;
  const { rows: grants } = await server.pool.query(
    `SELECT payload->'resources' AS resources FROM oidc_models WHERE model = 'Grant' AND id = $1`,
    [gid],
  );
  t.same(
    Object.values(grants[0]?.resources ?? {}),
    ['Calendars.Read'],
    'the grant lives on, narrowed in place to what was used',
  );
  const refused = await dataApi('/me/calendar/events', both);
  t.equal(refused.status, 401, 'a token carrying the removed scope is refused at its next request');
  t.match(refused.headers.get('www-authenticate'), /invalid_token/);
  t.equal(
    (await dataApi('/me/calendar/events', calendar.access_token)).status,
    200,
    'a token carrying only what is still granted works on',
  );
  const introspected = await oidc.tokenIntrospection(app.config, both);
  t.equal(introspected.active, false, 'introspection says so too');

  const narrower = await oidc.refreshTokenGrant(app.config, calendar.refresh_token!);
  t.equal(decodeJwt(narrower.access_token).gid, gid, 'the refresh token still works, under the same grant');
  t.same(
    String(decodeJwt(narrower.access_token).scope).split(' ').sort(),
    ['Calendars.Read'],
    'and yields the narrower set',
  );
  t.notMatch(narrower.scope ?? '', /Files\.Read/, 'in the token response too');
  t.equal((await dataApi('/me/calendar/events', narrower.access_token)).status, 200);
  t.equal((await dataApi('/me/drive/files', narrower.access_token)).status, 403, 'files are out of its reach');
  const { rows: audit } = await server.pool.query<{ details: { removed: string[]; narrowedGrants: number } }>(
    `SELECT details FROM audit_events WHERE tenant_id = 'contoso' AND action = 'consent.user.reduced'`,
  );
  t.same(audit[0]?.details.removed, ['Files.Read'], 'audited');
  t.equal(audit[0]?.details.narrowedGrants, 1);

  // The next sign-in gets the narrower set silently; Files.Read needs consent again.
  const { browser } = await fullFlow(server, app, as('alice@contoso'), { scope: 'openid Calendars.Read' });
  const silent = await startAuthorization(browser, app, { scope: 'openid Calendars.Read', prompt: 'none' });
  t.ok(appRedirect(silent.page).searchParams.get('code'), 'the used permissions stay granted');
  const files = await startAuthorization(browser, app, { scope: 'openid Files.Read' });
  t.equal(pageName(files.page.body), 'consent', 'the removed one asks again');
});

t.test('"last used" on My apps and on the enterprise app page', async (t) => {
  await grantUse.flush();
  const { browser } = await fullFlow(server, app, as('alice@contoso'), { scope: 'openid Calendars.Read' });
  const myApps = await browser.visit(`${server.url}/my/apps`);
  t.equal(pageName(myApps.body), 'my-apps');
  const lastUsed = new RegExp(`data-client-id="${app.clientId}"[^>]*data-last-used="([^"]+)"`).exec(myApps.body)?.[1];
  t.ok(lastUsed && lastUsed !== 'never' && !Number.isNaN(Date.parse(lastUsed)), `a time (${lastUsed})`);
  const bob = as('bob@contoso').id;
  const { EnterpriseApps } = await import('../../src/services/enterprise-apps.js');
  const users = (await new EnterpriseApps(server.pool).detail('contoso', app.clientId)).users;
  t.equal(users.find((user) => user.userId === bob)?.lastUsedAt, null, 'never, for a grant without tokens');
  t.ok(users.find((user) => user.userId === as('alice@contoso').id)?.lastUsedAt, 'a time for the one in use');
});
