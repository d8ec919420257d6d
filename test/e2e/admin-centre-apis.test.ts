// The admin centre's APIs tab (issue 13): an admin registers their organisation's API, adds and
// edits its permissions (the next consent page shows the new words), sees which apps use each and
// how many users granted it, and removes one after a page that shows what it revokes. Another
// organisation's API is not found; a rejected form changes nothing.
import t from 'tap';
import { Directory } from '../../src/services/directory.js';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { fullFlow, REDIRECT_URI, relyingParty, signInOnPage, startAuthorization } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { pool } = server;
const { apis, catalogue } = server.accord.services;
const directory = new Directory(pool, catalogue);
const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
  ['fabrikam', 'fadmin', 'admin'],
]);

const IDENTIFIER = 'https://hr.contoso.example';
const api = `/admin/apis/${encodeURIComponent(IDENTIFIER)}`;

async function signedIn(user: string, path: string): Promise<{ browser: Browser; page: PageResponse }> {
  const browser = new Browser(server.url);
  const page = await signInOnPage(browser, await browser.visit(`${server.url}${path}`), as(user).signIn, PASSWORD);
  return { browser, page };
}

const admin = await signedIn('admin@contoso', '/admin/apis');

t.test('the APIs tab is in the navigation and starts empty', async (t) => {
  t.equal(pageName(admin.page.body), 'admin-apis');
  t.match(admin.page.body, /href="\/admin\/apis" aria-current="page"/);
  t.match(admin.page.body, /data-empty="true"/);
});

t.test('an admin registers an API and adds permissions', async (t) => {
  let page = await admin.browser.submit(admin.page, /\/admin\/apis$/, { name: 'Contoso HR', identifier: IDENTIFIER });
  t.equal(pageName(page.body), 'admin-api');
  t.match(page.body, /Contoso HR/);
  page = await admin.browser.submit(page, /\/scopes$/, {
    name: 'Leave.Read',
    description: 'See your leave balance',
    admin_description: "See everyone's leave balance",
  });
  t.match(page.body, /data-saved="true"/);
  page = await admin.browser.submit(page, /\/scopes$/, {
    name: 'Salaries.Read',
    description: 'See salaries in your organisation',
    admin: 'on',
  });
  t.match(page.body, /data-scope="https:\/\/hr\.contoso\.example\/Salaries\.Read"[\s\S]*data-admin="true"/);
  t.same(
    (await apis.show(IDENTIFIER)).scopes.map((scope) => [scope.name, scope.adminConsentRequired, scope.impact]),
    [
      ['Leave.Read', false, 'low'],
      ['Salaries.Read', true, 'high'],
    ],
  );
});

t.test('a rejected form is shown again with its message, and nothing is written', async (t) => {
  const list = await admin.browser.visit(`${server.url}/admin/apis`);
  const page = await admin.browser.submit(list, /\/admin\/apis$/, { name: 'Dup', identifier: IDENTIFIER });
  t.equal(page.status, 409);
  t.match(page.body, /role="alert"/);
  const detail = await admin.browser.visit(`${server.url}${api}`);
  const bad = await admin.browser.submit(detail, /\/scopes$/, { name: 'has space', description: 'x' });
  t.equal(bad.status, 400);
  t.equal((await apis.show(IDENTIFIER)).scopes.length, 2);
});

t.test('editing a description shows on the next consent page; the page shows use', async (t) => {
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Leave planner',
      multiTenant: false,
      public: false,
      redirectUris: [REDIRECT_URI],
      scopes: ['openid', `${IDENTIFIER}/Leave.Read`],
    },
    'operator',
  );
  const planner = await relyingParty(server, app.clientId, clientSecret);
  let detail = await admin.browser.visit(`${server.url}${api}`);
  detail = await admin.browser.submit(detail, /\/scopes\/Leave\.Read$/, {
    description: 'See how many days off you have left',
    admin_description: "See everyone's days off",
    impact: 'medium',
  });
  t.match(detail.body, /data-saved="true"/);
  const { rowCount } = await pool.query(`SELECT 1 FROM audit_events WHERE action = 'api.scope.edited'`);
  t.equal(rowCount, 1, 'audited');

  const browser = new Browser(server.url);
  const flow = await fullFlow(
    server,
    planner,
    as('alice@contoso'),
    { scope: `openid ${IDENTIFIER}/Leave.Read` },
    browser,
  );
  t.ok(flow.consentShown);
  detail = await admin.browser.visit(`${server.url}${api}`);
  t.match(detail.body, /Asked for by Leave planner\. 1 user granted it\./);
});

t.test('consent pages show the new words', async (t) => {
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Second planner',
      multiTenant: false,
      public: false,
      redirectUris: [REDIRECT_URI],
      scopes: ['openid', `${IDENTIFIER}/Leave.Read`],
    },
    'operator',
  );
  const second = await relyingParty(server, app.clientId, clientSecret);
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, second, { scope: `openid ${IDENTIFIER}/Leave.Read` });
  const page = await signInOnPage(browser, auth.page, as('alice@contoso').signIn, PASSWORD);
  t.equal(pageName(page.body), 'consent');
  t.match(page.body, /See how many days off you have left/);
  t.match(page.body, /Contoso HR/);
});

t.test("another organisation's admin cannot see or change the API", async (t) => {
  const other = await signedIn('fadmin@fabrikam', '/admin/apis');
  t.notMatch(other.page.body, /Contoso HR/);
  const detail = await other.browser.visit(`${server.url}${api}`);
  t.equal(detail.status, 404);
  const remove = await other.browser.visit(`${server.url}${api}/remove`);
  t.equal(remove.status, 404);
});

t.test('removing a permission shows what it revokes first, then revokes', async (t) => {
  const confirm = await admin.browser.visit(`${server.url}${api}/scopes/Leave.Read/remove`);
  t.equal(pageName(confirm.body), 'admin-api-scope-remove');
  t.match(confirm.body, /Leave planner/);
  t.match(confirm.body, /1 user&#39;s consent is withdrawn|1 user's consent is withdrawn/);
  t.ok(catalogue.has(`${IDENTIFIER}/Leave.Read`), 'nothing changed by looking');
  const after = await admin.browser.submit(confirm, /\/remove$/, {});
  t.equal(pageName(after.body), 'admin-api');
  t.notOk(catalogue.has(`${IDENTIFIER}/Leave.Read`));

  const removeApi = await admin.browser.visit(`${server.url}${api}/remove`);
  t.equal(pageName(removeApi.body), 'admin-api-remove');
  const list = await admin.browser.submit(removeApi, /\/remove$/, {});
  t.equal(pageName(list.body), 'admin-apis');
  t.match(list.body, /data-removed="Contoso HR"/);
});
