// The admin centre's consent settings (issue 14), end to end: an admin signed in through the
// portal previews then saves the user consent setting, a permission's class and a policy; the
// preview lists what changes and says when a policy excludes everything; the what-if decides
// without granting; bad input is shown again with its message and saves nothing.
import t from 'tap';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { registerApp, signInOnPage } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;

const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
]);
const planner = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Planner',
  scopes: ['openid', 'User.Read', 'Calendars.Read'],
});
await directory.setPublisherVerified(planner.clientId, true, 'operator');
await server.accord.services.consent.grantUserConsent(as('alice@contoso').id, planner.clientId, ['openid']);

const PAGE = '/admin/settings/consent';
const browser = new Browser(server.url);
let page: PageResponse = await browser.visit(`${server.url}${PAGE}`);
page = await signInOnPage(browser, page, as('admin@contoso').signIn, PASSWORD);

const preview = (fields: Record<string, string>) => browser.submit(page, /\/consent\/preview$/, fields);
const confirm = (previewPage: PageResponse) => browser.submit(previewPage, /\/settings\/consent$/, {});
const settings = async () =>
  (await pool.query(`SELECT user_consent FROM tenants WHERE id = 'contoso'`)).rows[0].user_consent;

t.test('the page lists the settings, the permissions by class with grants, and the policies', async (t) => {
  t.equal(pageName(page.body), 'admin-consent-settings');
  t.match(page.body, /data-section="user-consent" data-current="all"/);
  t.match(page.body, /data-list="class-medium">[\s\S]*data-scope="Calendars.Read" data-source="api" data-grants="0"/);
  t.match(page.body, /data-list="class-low">[\s\S]*data-scope="openid" data-source="default" data-grants="1"/);
  t.match(page.body, /data-policy="all" data-in-effect="true" data-built-in="true"/);
});

t.test('user consent setting: preview, then save', async (t) => {
  const previewed = await preview({ change: 'user-consent', user_consent: 'verified-low-impact' });
  t.equal(previewed.status, 200);
  t.match(previewed.body, /data-step="preview" data-change="user-consent"/);
  t.match(previewed.body, new RegExp(`data-client-id="${planner.clientId}" data-after="needs_admin_approval"`));
  t.match(previewed.body, /data-grants-kept="true"/);
  t.equal(await settings(), 'all', 'the preview saved nothing');
  const saved = await confirm(previewed);
  t.equal(pageName(saved.body), 'admin-consent-settings');
  t.match(saved.body, /data-saved="user-consent"/);
  t.equal(await settings(), 'verified-low-impact');
});

t.test('classify a permission, then the what-if says the user may consent', async (t) => {
  const before = await browser.submit(page, /\/consent\/what-if$/, {
    client_id: planner.clientId,
    user: 'alice',
    scopes: 'openid Calendars.Read',
  });
  t.match(before.body, /data-outcome="needs_admin_approval" data-rule="not_low_impact"/);
  t.match(before.body, /Calendars.Read is classified medium/);

  const previewed = await preview({ change: 'classify', scope: 'Calendars.Read', classification: 'low' });
  t.match(previewed.body, /data-change="classify"/);
  await confirm(previewed);
  const after = await browser.submit(page, /\/consent\/what-if$/, {
    client_id: planner.clientId,
    user: 'alice',
    scopes: 'openid Calendars.Read',
  });
  t.match(after.body, /data-outcome="consent" data-rule="policy_allowed"/);
  const { rows } = await pool.query(`SELECT scopes FROM user_consents WHERE tenant_id = 'contoso'`);
  t.same(rows[0].scopes, ['openid'], 'the what-if granted nothing');
});

t.test('a policy excluding everything is allowed, and the preview says so', async (t) => {
  const previewed = await preview({
    change: 'add-policy',
    policy_id: 'stop-all',
    policy_name: 'Stop all user consent',
    effect: 'exclude',
  });
  t.match(previewed.body, /data-excludes-everything="true"/);
  await confirm(previewed);
  const listed = await browser.visit(`${server.url}${PAGE}`);
  t.match(listed.body, /data-policy="stop-all" data-in-effect="true" data-built-in="false"/);

  const removal = await browser.submit(listed, /\/consent\/preview$/, {
    change: 'remove-policy',
    policy_id: 'stop-all',
  });
  t.match(removal.body, /data-change="remove-policy"/);
  await confirm(removal);
  const { rows } = await pool.query(
    `SELECT action FROM audit_events WHERE tenant_id = 'contoso' AND action LIKE 'consent_policy.%' ORDER BY id`,
  );
  t.same(
    rows.map((row) => row.action),
    ['consent_policy.created', 'consent_policy.deleted'],
  );
});

t.test('bad input is shown again with its message; nothing is saved', async (t) => {
  const unknown = await preview({
    change: 'add-policy',
    policy_id: 'bad',
    policy_name: 'Bad',
    effect: 'include',
    permissions: 'Nope.Read',
  });
  t.equal(unknown.status, 400);
  t.match(unknown.body, /role="alert"[^>]*>[^<]*unknown permission &quot;Nope.Read&quot;/);
  const badClass = await preview({ change: 'classify', scope: 'User.Read.All', classification: 'low' });
  t.equal(badClass.status, 400);
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM app_consent_policies`);
  t.equal(rows[0].n, 0);
});

t.test('a user who is not an admin is refused', async (t) => {
  const userBrowser = new Browser(server.url);
  let userPage = await userBrowser.visit(`${server.url}${PAGE}`);
  userPage = await signInOnPage(userBrowser, userPage, as('alice@contoso').signIn, PASSWORD);
  t.equal(userPage.status, 403);
});
