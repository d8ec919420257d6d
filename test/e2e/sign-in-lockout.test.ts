// Failed sign-ins are counted per account and client address (issue #12 item 4): a stranger's
// wrong passwords refuse the stranger's address only; the account as a whole is slowed, never
// locked, past a ceiling; admins unlock through the CLI and the admin API; a new password clears.
// The server trusts a proxy (TRUST_PROXY), so X-Forwarded-For names the client, as it would
// behind a real one; test/e2e/sign-in.test.ts shows the header is ignored without it.
import t from 'tap';
import { ACCOUNT_CEILING, ADDRESS_LIMIT, FIRST_DELAY_SECONDS } from '../../src/services/sign-in.js';
import { adminApiToken, callApi, registerAdminClient } from '../admin-api/support.js';
import { runAccord } from '../support/accord-cli.js';
import { Browser, findForm, type PageResponse, pageName } from '../support/browser.js';
import { registerApp, startAuthorization, type TestApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

t.setTimeout(300_000);

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000', TRUST_PROXY: 'true' });
t.teardown(() => server.close());
const PASSWORD = 'correct horse battery';
await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await server.directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
await server.directory.createUser(
  { tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' },
  'operator',
);
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid'] });
let userCount = 0;

async function newUser(tenantId = 'contoso') {
  return server.directory.createUser(
    { tenantId, username: `owner${++userCount}`, password: PASSWORD, role: 'user' },
    'operator',
  );
}

/** One sign-in attempt from `address` on a fresh login page; the answer page. */
async function attempt(testApp: TestApp, signIn: string, password: string, address: string): Promise<PageResponse> {
  const browser = new Browser(server.url, { 'x-forwarded-for': address });
  const { page } = await startAuthorization(browser, testApp, { scope: 'openid' });
  const form = findForm(page.body, /\/login$/)!;
  return browser.request(new URL(form.action, page.url).toString(), {
    form: { ...form.hidden, username: signIn, password },
  });
}

/** Whether the attempt signed in: the provider carries on (a redirect), no login page again. */
const signedIn = (page: PageResponse) => page.status === 303 || page.status === 302;

async function failTimes(signIn: string, times: number, address: (index: number) => string) {
  const statuses: number[] = [];
  for (let index = 0; index < times; index++)
    statuses.push((await attempt(app, signIn, 'a wrong guess', address(index))).status);
  return statuses;
}

t.test("a stranger's wrong passwords refuse the stranger's address, not the owner", async (t) => {
  const owner = await newUser();
  const name = `${owner.username}@contoso`;
  t.same(await failTimes(name, ADDRESS_LIMIT, () => '203.0.113.7'), Array(ADDRESS_LIMIT).fill(401));

  const stranger = await attempt(app, name, 'one more guess', '203.0.113.7');
  t.equal(stranger.status, 429, 'the same address is refused now');
  t.equal(pageName(stranger.body), 'login');
  t.match(stranger.body, /Too many failed sign-ins from this device or network\. Try again in 15 minutes\./);
  t.ok(Number(stranger.headers.get('retry-after')) > 14 * 60, 'Retry-After: the rest of the 15 minutes');
  const strangerRight = await attempt(app, name, PASSWORD, '203.0.113.7');
  t.equal(strangerRight.status, 429, 'even the right password waits there');

  const ownerAttempt = await attempt(app, name, PASSWORD, '198.51.100.20');
  t.ok(signedIn(ownerAttempt), `the owner, elsewhere, signs in (${ownerAttempt.status})`);
  t.equal((await attempt(app, name, 'one more guess', '203.0.113.7')).status, 429, 'the stranger is still refused');
});

t.test('German readers get the refusal in German', async (t) => {
  const owner = await newUser();
  const name = `${owner.username}@contoso`;
  await failTimes(name, ADDRESS_LIMIT, () => '203.0.113.8');
  const browser = new Browser(server.url, { 'x-forwarded-for': '203.0.113.8', 'accept-language': 'de' });
  const { page } = await startAuthorization(browser, app, { scope: 'openid' });
  const refused = await browser.submit(page, /\/login$/, { username: name, password: PASSWORD });
  t.equal(refused.status, 429);
  t.match(refused.body, /Zu viele fehlgeschlagene Anmeldungen von diesem Gerät oder Netzwerk/);
});

t.test('past the ceiling from many addresses the account is slowed with a growing delay, never locked', async (t) => {
  const owner = await newUser();
  const name = `${owner.username}@contoso`;
  // Each address stays under its own limit; together they reach the account's ceiling.
  const statuses = await failTimes(name, ACCOUNT_CEILING, (index) => `192.0.2.${index + 1}`);
  t.same(statuses, Array(ACCOUNT_CEILING).fill(401), 'no address was refused on its own');

  const slowed = await attempt(app, name, PASSWORD, '198.51.100.30');
  t.equal(slowed.status, 429, 'even the owner, from a fresh address, waits');
  t.match(slowed.body, /sign-ins to it are slowed for its protection\. Try again in 1 minute\./);
  const firstWait = Number(slowed.headers.get('retry-after'));
  t.ok(firstWait > 0 && firstWait <= FIRST_DELAY_SECONDS, `the first delay: ${firstWait} s`);

  // The delay passes (moved back in the database rather than waited out).
  const passTime = (seconds: number) =>
    server.pool.query(
      `UPDATE sign_in_failures SET last_failure_at = last_failure_at - make_interval(secs => $2::integer)
        WHERE tenant_id = 'contoso' AND username = $1::text`,
      [owner.username, seconds],
    );
  await passTime(FIRST_DELAY_SECONDS + 1);
  t.equal((await attempt(app, name, 'another guess', '192.0.2.200')).status, 401, 'one more guess is checked');
  const longer = await attempt(app, name, PASSWORD, '198.51.100.30');
  t.equal(longer.status, 429);
  const secondWait = Number(longer.headers.get('retry-after'));
  t.ok(secondWait > FIRST_DELAY_SECONDS && secondWait <= 2 * FIRST_DELAY_SECONDS, `the delay doubled: ${secondWait} s`);

  await passTime(2 * FIRST_DELAY_SECONDS + 1);
  t.ok(signedIn(await attempt(app, name, PASSWORD, '198.51.100.30')), 'once it has passed, the owner signs in');
});

t.test('a correct sign-in forgets its own address’s failures only', async (t) => {
  const owner = await newUser();
  const name = `${owner.username}@contoso`;
  await failTimes(name, ADDRESS_LIMIT - 1, () => '203.0.113.40');
  t.ok(signedIn(await attempt(app, name, PASSWORD, '203.0.113.40')));
  t.same(await failTimes(name, ADDRESS_LIMIT, () => '203.0.113.40'), Array(ADDRESS_LIMIT).fill(401), 'a new count');
  t.equal((await attempt(app, name, PASSWORD, '203.0.113.40')).status, 429);
});

t.test('an admin unlocks through the admin API; the event is audited', async (t) => {
  const owner = await newUser();
  const name = `${owner.username}@contoso`;
  await failTimes(name, ADDRESS_LIMIT, () => '203.0.113.50');
  const adminClient = await registerAdminClient(server, 'contoso');
  const { accessToken } = await adminApiToken(server, adminClient, 'carol@contoso');

  const before = await callApi(server, accessToken, `/tenants/contoso/users/${owner.id}`);
  t.equal(before.body.signInFailures, ADDRESS_LIMIT, 'the admin sees the failures');
  const unlocked = await callApi(server, accessToken, `/tenants/contoso/users/${owner.id}/unlock`, { method: 'POST' });
  t.equal(unlocked.status, 200);
  t.equal(unlocked.body.signInFailures, 0);
  t.ok(signedIn(await attempt(app, name, PASSWORD, '203.0.113.50')), 'the refused address signs in again');

  const events = await callApi(server, accessToken, '/tenants/contoso/audit-events?action=user.unlocked');
  t.match(events.body.value[0], {
    action: 'user.unlocked',
    target: owner.id,
    targetName: `${owner.username}@contoso`,
    actorName: 'carol@contoso',
    details: { signInFailuresCleared: ADDRESS_LIMIT },
  });

  const foreign = await newUser('fabrikam');
  const other = await callApi(server, accessToken, `/tenants/contoso/users/${foreign.id}/unlock`, { method: 'POST' });
  t.equal(other.status, 404, "another tenant's user is not found");
  const elsewhere = await callApi(server, accessToken, `/tenants/fabrikam/users/${foreign.id}/unlock`, {
    method: 'POST',
  });
  t.equal(elsewhere.status, 403, 'nor can a contoso admin act in fabrikam');
});

const accord = (args: string[], stdin = '') => runAccord(server.database.url, args, stdin);

t.test('the operator unlocks with `accord user unlock`; an unknown user exits 1 and changes nothing', async (t) => {
  const owner = await newUser();
  const name = `${owner.username}@contoso`;
  await failTimes(name, ADDRESS_LIMIT, () => '203.0.113.60');
  t.equal((await attempt(app, name, PASSWORD, '203.0.113.60')).status, 429);

  const missing = await accord(['user', 'unlock', 'contoso', 'nobody']);
  t.equal(missing.code, 1);
  t.equal(missing.stderr, 'accord: user "nobody" not found in tenant "contoso"\n');
  t.equal((await attempt(app, name, PASSWORD, '203.0.113.60')).status, 429, 'still refused');

  const run = await accord(['user', 'unlock', 'contoso', owner.username, '--json']);
  t.equal(run.code, 0, run.stderr);
  t.match(JSON.parse(run.stdout), { id: owner.id, username: owner.username, sign_in_failures_cleared: ADDRESS_LIMIT });
  t.ok(signedIn(await attempt(app, name, PASSWORD, '203.0.113.60')), 'signs in again');

  const audit = await accord(['audit', 'list', 'contoso', '--action', 'user.unlocked', '--limit', '1']);
  t.equal(audit.code, 0, audit.stderr);
  t.match(audit.stdout, new RegExp(`operator\\s+user\\.unlocked\\s+${owner.username}@contoso`), 'by name in the CLI');
});

t.test('setting a new password clears the failures', async (t) => {
  const owner = await newUser();
  const name = `${owner.username}@contoso`;
  await failTimes(name, ADDRESS_LIMIT, () => '203.0.113.70');
  const run = await accord(
    ['user', 'set-password', 'contoso', owner.username, '--password-stdin'],
    'a brand new one\n',
  );
  t.equal(run.code, 0, run.stderr);
  t.ok(signedIn(await attempt(app, name, 'a brand new one', '203.0.113.70')), 'the new password works at once');
  const { rows } = await server.pool.query(
    `SELECT details FROM audit_events WHERE tenant_id = 'contoso' AND action = 'user.password.changed' AND target = $1::text`,
    [owner.id],
  );
  t.same(rows[0]?.details, { signInFailuresCleared: ADDRESS_LIMIT });
});
