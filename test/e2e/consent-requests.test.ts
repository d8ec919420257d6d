// Users ask their admins to approve an app; admins approve all or some permissions, or deny.
import t from 'tap';
import { Browser, pageName } from '../support/browser.js';
import { exchangeCode, fullFlow, registerApp, signInOnPage, startAuthorization } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;
const requests = server.accord.services.consentRequests;
const PASSWORD = 'correct horse battery';
await directory.createTenant({ id: 'contoso', name: 'Contoso', integratedAppsEnabled: false }, 'operator');
const admin = await directory.createUser(
  { tenantId: 'contoso', username: 'admin', password: PASSWORD, role: 'admin' },
  'operator',
);
const bob = await directory.createUser(
  { tenantId: 'contoso', username: 'bob', password: PASSWORD, role: 'user' },
  'operator',
);
await directory.createUser({ tenantId: 'contoso', username: 'cleo', password: PASSWORD, role: 'user' }, 'operator');
const app = await registerApp(server, {
  tenant: 'contoso',
  scopes: ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Files.Read'],
  name: 'Planner',
});

async function needsApproval(user: string, scope: string) {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, app, { scope });
  const page = await signInOnPage(browser, auth.page, `${user}@contoso`, PASSWORD);
  return { browser, page };
}

t.test('a user sends a request with a reason from the needs-admin-approval page', async (t) => {
  const { browser, page } = await needsApproval('bob', 'openid User.Read Calendars.Read');
  t.equal(pageName(page.body), 'needs-admin-approval');
  t.match(page.body, /name="reason"/);
  const sent = await browser.submit(page, /\/request-approval$/, { reason: 'I plan my week with it' });
  t.equal(sent.status, 200);
  t.equal(pageName(sent.body), 'needs-admin-approval');
  t.match(sent.body, /data-request="sent"/);

  const again = await needsApproval('bob', 'openid User.Read Calendars.Read Files.Read');
  t.match(again.page.body, /data-request="open"/, 'the page knows a request is open');
  await again.browser.submit(again.page, /\/request-approval$/, { reason: 'and my files' });
  const open = await requests.list('contoso', { status: 'pending' });
  t.equal(open.length, 1, 'one open request per user and app');
  t.same(open[0]!.scopes.sort(), ['Calendars.Read', 'Files.Read', 'User.Read', 'openid'].sort(), 'merged');
  t.equal(open[0]!.reason, 'and my files');
  t.equal(open[0]!.userId, bob.id);
});

t.test('approving some permissions grants exactly those to everyone, with no page', async (t) => {
  const [open] = await requests.list('contoso', { status: 'pending' });
  await t.rejects(
    requests.approve('contoso', open!.id, admin.id, ['Mail.Send']),
    { code: 'invalid_request' },
    'only requested permissions',
  );
  const approved = await requests.approve('contoso', open!.id, admin.id, ['openid', 'User.Read', 'Calendars.Read']);
  t.equal(approved.status, 'approved');
  await t.rejects(requests.approve('contoso', open!.id, admin.id), { code: 'conflict' }, 'decided once');

  const flow = await fullFlow(
    server,
    app,
    { signIn: 'bob@contoso', password: PASSWORD },
    { scope: 'openid User.Read Calendars.Read' },
  );
  t.notOk(flow.consentShown, 'bob gets a code with no page');
  const tokens = await exchangeCode(app, flow.callback, flow.auth);
  t.ok(tokens.access_token);
  const cleo = await fullFlow(
    server,
    app,
    { signIn: 'cleo@contoso', password: PASSWORD },
    { scope: 'openid Calendars.Read' },
  );
  t.notOk(cleo.consentShown, 'and so does everyone else in the tenant');

  const more = await needsApproval('bob', 'openid Files.Read');
  t.equal(pageName(more.page.body), 'needs-admin-approval', 'what was not approved still needs approval');
  const audit = await pool.query(
    `SELECT action FROM audit_events WHERE tenant_id = 'contoso' AND action LIKE 'consent%' ORDER BY id`,
  );
  t.same(
    audit.rows.map((row) => row.action),
    ['consent_request.opened', 'consent_request.opened', 'consent.admin.granted', 'consent_request.approved'],
  );
});

t.test('a denied request leaves the app needing approval', async (t) => {
  const { browser, page } = await needsApproval('cleo', 'openid Files.Read');
  await browser.submit(page, /\/request-approval$/, { reason: '' });
  const [open] = await requests.list('contoso', { status: 'pending' });
  const denied = await requests.deny('contoso', open!.id, admin.id, 'We use another file app');
  t.equal(denied.status, 'denied');
  t.equal(denied.decisionReason, 'We use another file app');
  const again = await needsApproval('cleo', 'openid Files.Read');
  t.equal(pageName(again.page.body), 'needs-admin-approval');
});

t.test('requests expire', async (t) => {
  const { browser, page } = await needsApproval('bob', 'openid Files.Read');
  await browser.submit(page, /\/request-approval$/, { reason: 'please' });
  await pool.query(`UPDATE consent_requests SET expires_at = now() - interval '1 second' WHERE status = 'pending'`);
  t.equal((await requests.list('contoso', { status: 'pending' })).length, 0);
  const expired = await requests.list('contoso', { status: 'expired' });
  t.equal(expired.length, 1);
  t.equal(expired[0]!.decidedAt?.getTime(), expired[0]!.expiresAt.getTime(), 'decided when it expired');
  await t.rejects(requests.approve('contoso', expired[0]!.id, admin.id), { code: 'conflict' });
  const stored = await pool.query('SELECT status FROM consent_requests WHERE id = $1::text', [expired[0]!.id]);
  t.equal(stored.rows[0].status, 'pending', 'the reads derived the expiry: none had to store it first');
});

t.test('the needs-admin-approval page offers to ask again once the earlier request expired', async (t) => {
  const dina = await directory.createUser(
    { tenantId: 'contoso', username: 'dina', password: PASSWORD, role: 'user' },
    'operator',
  );
  const first = await needsApproval('dina', 'openid Files.Read');
  await first.browser.submit(first.page, /\/request-approval$/, { reason: 'for my week' });
  const open = await needsApproval('dina', 'openid Files.Read');
  t.match(open.page.body, /data-request="open"/, 'while it is open, the page says so');

  // Time passes: the request's expiry is now behind us. Nothing else runs in between, so no
  // earlier write could have marked it expired; the page must read it as expired by itself.
  await pool.query(`UPDATE consent_requests SET expires_at = now() - interval '1 second' WHERE user_id = $1::text`, [
    dina.id,
  ]);
  const later = await needsApproval('dina', 'openid Files.Read');
  t.equal(pageName(later.page.body), 'needs-admin-approval');
  t.notMatch(later.page.body, /data-request="open"/, 'an expired request is not "already asked"');
  t.match(later.page.body, /action="\/interaction\/[^"]+\/request-approval"/, 'the page offers to ask again');

  const again = await later.browser.submit(later.page, /\/request-approval$/, { reason: 'asking again' });
  t.match(again.body, /data-request="sent"/);
  const mine = await requests.list('contoso', { userId: dina.id });
  t.same(
    mine.map((request) => [request.reason, request.status]),
    [
      ['asking again', 'pending'],
      ['for my week', 'expired'],
    ],
    'a new request is opened; the expired one stays expired',
  );
});

t.test('bad input', async (t) => {
  const { browser, page } = await needsApproval('bob', 'openid Files.Read');
  const long = await browser.submit(page, /\/request-approval$/, { reason: 'x'.repeat(1001) });
  t.equal(long.status, 400);
  await t.rejects(requests.approve('contoso', 'no-such-request', admin.id), { code: 'not_found' });
  await t.rejects(requests.approve('fabrikam', 'x', admin.id), { code: 'not_found' }, 'scoped by tenant');
});

t.test('the user sees their requests and the outcomes in My apps', async (t) => {
  const browser = new Browser(server.url);
  const login = await browser.visit(`${server.url}/my/apps`);
  const page = await signInOnPage(browser, login, 'bob@contoso', PASSWORD);
  t.equal(pageName(page.body), 'my-apps');
  t.match(page.body, /Your requests for admin approval/);
  t.match(page.body, /data-status="approved"/);
  t.match(page.body, /data-status="expired"/);
  t.match(page.body, /Planner/);
});
