// The admin centre (/admin), end to end: admins signed in through the portal govern only their
// own tenant — Integrated apps with a preview before saving, app registrations with secrets shown
// once, enterprise apps, consent requests and the audit log — through CSRF-protected forms.

import { readFile } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import t from 'tap';
import { clearMissingKeys, i18n, reportedMissingKeys } from '../../src/plugins/i18n.js';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import {
  exchangeCode,
  fullFlow,
  registerApp,
  signInOnPage,
  startAuthorization,
  type TestApp,
} from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({
  SIGN_IN_RATE_LIMIT: '1000',
  ...(process.env.TEST_LOG ? { LOG_LEVEL: 'error' } : {}),
});
t.teardown(() => server.close());
const { directory, pool } = server;
const requests = server.accord.services.consentRequests;

const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
  ['contoso', 'cleo', 'user'],
  ['contoso', 'dave', 'user'],
  ['contoso', 'eve', 'user'],
  ['fabrikam', 'fadmin', 'admin'],
  ['fabrikam', 'frank', 'user'],
]);

const USER_SCOPES = ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Files.Read'];
const planner = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Planner',
  scopes: [...USER_SCOPES, 'User.Read.All'],
});
const notes = await registerApp(server, { tenant: 'contoso', name: 'Contoso Notes', scopes: USER_SCOPES });
// Single-tenant in Fabrikam: never listed in Contoso's admin centre.
await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Fabrikam Secret Tool',
  scopes: USER_SCOPES,
  multiTenant: false,
});

/** A browser signed in through the portal, landing on `path`. */
async function signedIn(user: string, path = '/admin'): Promise<{ browser: Browser; page: PageResponse }> {
  const browser = new Browser(server.url);
  let page = await browser.visit(`${server.url}${path}`);
  page = await signInOnPage(browser, page, as(user).signIn, PASSWORD);
  return { browser, page };
}

function csrfOf(page: PageResponse): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  if (!token) throw new Error(`no CSRF token on the ${pageName(page.body) ?? page.status} page`);
  return token;
}

/** POSTs a form with repeated fields (checkbox groups), then follows same-origin redirects. */
async function post(
  browser: Browser,
  path: string,
  fields: Array<[string, string]>,
  extraHeaders: Record<string, string> = {},
): Promise<PageResponse> {
  const url = `${server.url}${path}`;
  const headers: Record<string, string> = {
    accept: 'text/html',
    'content-type': 'application/x-www-form-urlencoded',
    ...extraHeaders,
  };
  const cookie = await browser.jar.getCookieString(url);
  if (cookie) headers.cookie = cookie;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  for (const setCookie of response.headers.getSetCookie())
    await browser.jar.setCookie(setCookie, url, { ignoreError: true });
  const page = { status: response.status, url, headers: response.headers, body: await response.text() };
  if (page.status >= 300 && page.status < 400)
    return browser.visit(new URL(page.headers.get('location')!, url).toString());
  return page;
}

async function clientCredentials(clientId: string, secret: string) {
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }).toString(),
  });
  return { status: response.status, body: (await response.json()) as { access_token?: string; error?: string } };
}

async function integratedApps(tenant: string): Promise<boolean> {
  const { rows } = await pool.query('SELECT integrated_apps_enabled FROM tenants WHERE id = $1', [tenant]);
  return rows[0].integrated_apps_enabled;
}

async function auditCount(action: string, tenant = 'contoso'): Promise<number> {
  const { rows } = await pool.query(
    'SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action = $2',
    [tenant, action],
  );
  return rows[0].n;
}

/** Signs the user in to the app and leaves the sign-in paused on the page shown after login. */
async function pauseAtDecision(app: TestApp, user: string, scope: string) {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, app, { scope });
  const page = await signInOnPage(browser, auth.page, as(user).signIn, PASSWORD);
  return { browser, page, auth };
}

const admin = await signedIn('admin@contoso');

t.test('the admin signs in through the portal with their Accord account and lands on the admin centre', async (t) => {
  t.equal(admin.page.status, 200);
  t.equal(pageName(admin.page.body), 'admin-home');
  t.match(admin.page.body, /admin@contoso/);
  t.match(admin.page.body, /data-integrated-apps="on"/);
  t.equal(admin.page.headers.get('cache-control'), 'no-store');
  const anonymous = await new Browser(server.url).request(`${server.url}/admin/apps`);
  t.equal(anonymous.status, 303, 'no session: sent to sign in');
  t.match(anonymous.headers.get('location') ?? '', /^\/auth\?client_id=accord-portal&/);
  const css = await admin.browser.request(`${server.url}/assets/admin.css`);
  t.equal(css.status, 200);
});

t.test('a user who is not an admin is refused on every admin page and form', async (t) => {
  const { browser, page } = await signedIn('alice@contoso');
  t.equal(page.status, 403);
  t.equal(pageName(page.body), 'refused');
  const paths = [
    '/admin',
    '/admin/settings/integrated-apps',
    '/admin/apps',
    '/admin/apps/new',
    `/admin/apps/${notes.clientId}`,
    `/admin/apps/${notes.clientId}/remove`,
    `/admin/apps/${notes.clientId}/secret`,
    `/admin/apps/${notes.clientId}/new-secret`,
    '/admin/enterprise-apps',
    `/admin/enterprise-apps/${planner.clientId}`,
    `/admin/enterprise-apps/${planner.clientId}/block`,
    '/admin/consent-requests',
    '/admin/audit',
  ];
  for (const path of paths) {
    const response = await browser.visit(`${server.url}${path}`);
    t.equal(response.status, 403, `GET ${path}`);
    t.equal(pageName(response.body), 'refused', `GET ${path} page`);
    t.equal(response.headers.get('cache-control'), 'no-store');
  }
  // A valid CSRF token (from her My apps page, after she consented to an app) does not make her an admin.
  await fullFlow(server, notes, as('alice@contoso'), { scope: 'openid User.Read' }, browser);
  const csrf = csrfOf(await browser.visit(`${server.url}/my/apps/${notes.clientId}/revoke`));
  const forms: Array<[string, Array<[string, string]>]> = [
    ['/admin/settings/integrated-apps/preview', [['enabled', 'off']]],
    ['/admin/settings/integrated-apps', [['enabled', 'off']]],
    [
      '/admin/apps',
      [
        ['name', 'Sneaky'],
        ['redirect_uris', 'https://sneaky.example.test/cb'],
        ['permissions', 'openid'],
      ],
    ],
    [
      `/admin/apps/${notes.clientId}`,
      [
        ['name', 'Renamed'],
        ['redirect_uris', 'https://x.example.test/cb'],
        ['permissions', 'openid'],
      ],
    ],
    [`/admin/apps/${notes.clientId}/secret`, []],
    [`/admin/apps/${notes.clientId}/secrets`, []],
    [`/admin/apps/${notes.clientId}/secrets/x/remove`, []],
    [`/admin/apps/${notes.clientId}/remove`, []],
    ['/admin/consent-requests/x/approve', [['scopes', 'openid']]],
    ['/admin/consent-requests/x/deny', [['reason', 'no']]],
  ];
  for (const [path, fields] of forms) {
    const response = await post(browser, path, [['_csrf', csrf], ...fields]);
    t.equal(response.status, 403, `POST ${path}`);
    t.equal(pageName(response.body), 'refused', `POST ${path} page`);
  }
  t.equal(await integratedApps('contoso'), true, 'nothing changed');
  const { rows } = await pool.query(`SELECT name FROM apps WHERE client_id = $1`, [notes.clientId]);
  t.equal(rows[0].name, 'Contoso Notes');
  t.equal((await pool.query(`SELECT 1 FROM apps WHERE name = 'Sneaky'`)).rowCount, 0);
});

t.test(
  'the Integrated apps preview counts what is kept and what changes, and nothing is saved until Confirm',
  async (t) => {
    // 3 users with their own consents across 2 apps: alice → both (Notes in the test above), bob → Planner, cleo → Notes.
    for (const [user, app] of [
      ['alice@contoso', planner],
      ['bob@contoso', planner],
      ['cleo@contoso', notes],
      ['frank@fabrikam', planner], // another tenant: never counted
    ] as const) {
      const flow = await fullFlow(server, app, as(user), { scope: 'openid User.Read' });
      t.ok(flow.consentShown, `${user} consented`);
    }

    // Sign-ins paused at a decision: dave at a consent page (user permissions: would need approval
    // when off), eve at needs-admin-approval (admin permission: needs it either way, and she asks),
    // the admin at a consent page (admins can always consent), frank in fabrikam.
    const dave = await pauseAtDecision(notes, 'dave@contoso', 'openid Calendars.Read');
    t.equal(pageName(dave.page.body), 'consent');
    const eve = await pauseAtDecision(planner, 'eve@contoso', 'openid User.Read.All');
    t.equal(pageName(eve.page.body), 'needs-admin-approval');
    await eve.browser.submit(eve.page, /\/request-approval$/, { reason: 'I need the directory' });
    const adminPause = await pauseAtDecision(notes, 'admin@contoso', 'openid Files.Read');
    t.equal(pageName(adminPause.page.body), 'consent');
    const frank = await pauseAtDecision(notes, 'frank@fabrikam', 'openid Files.Read');
    t.equal(pageName(frank.page.body), 'consent');
    const fabrikamAsk = await pauseAtDecision(planner, 'frank@fabrikam', 'openid User.Read.All');
    await fabrikamAsk.browser.submit(fabrikamAsk.page, /\/request-approval$/, { reason: 'fabrikam reason' });

    const page = await admin.browser.visit(`${server.url}/admin/settings/integrated-apps`);
    t.equal(pageName(page.body), 'admin-integrated-apps');
    t.match(page.body, /data-current="on"/);
    t.match(page.body, /reach <em>their own<\/em> data/);
    t.match(page.body, /never give an app access to anyone else's data/);
    t.match(page.body, /nothing is uninstalled and no permission is removed/);
    t.match(page.body, /Admins can still register apps and consent for everyone/);

    const preview = await admin.browser.submit(page, /\/preview$/, { enabled: 'off' });
    t.equal(preview.status, 200);
    t.equal(pageName(preview.body), 'admin-integrated-apps');
    t.match(preview.body, /data-step="preview" data-desired="off"/);
    t.match(preview.body, /data-figure="kept-consents" data-users="3" data-apps="2"/);
    t.match(preview.body, /3 users, 2 apps/);
    t.match(preview.body, /data-figure="now-need-approval" data-count="1"/, "only dave's sign-in changes outcome");
    t.match(
      preview.body,
      /<strong>1 of 3<\/strong> sign-ins waiting/,
      'dave, eve and the admin are waiting; frank is in fabrikam',
    );
    t.match(preview.body, /data-figure="open-requests" data-count="1"/, "eve's request; fabrikam's is not counted");
    t.match(preview.body, /How these are counted/);
    t.equal(await integratedApps('contoso'), true, 'the preview saves nothing');
    t.equal(await auditCount('tenant.integrated_apps.changed'), 0);

    const saved = await admin.browser.submit(preview, /\/admin\/settings\/integrated-apps$/, {});
    t.equal(saved.status, 200);
    t.match(saved.body, /role="status" data-saved="off"/);
    t.match(saved.body, /data-current="off"/);
    t.equal(await integratedApps('contoso'), false, 'Confirm flips the setting');
    t.equal(await integratedApps('fabrikam'), true, "only in the admin's own tenant");
    const { rows } = await pool.query(
      `SELECT actor, details FROM audit_events WHERE action = 'tenant.integrated_apps.changed'`,
    );
    t.equal(rows.length, 1, 'one audit event');
    t.equal(rows[0].actor, as('admin@contoso').id);
    t.same(rows[0].details, { from: true, to: false });

    const back = await admin.browser.submit(saved, /\/preview$/, { enabled: 'on' });
    t.match(
      back.body,
      /data-figure="no-longer-need-approval" data-count="1"/,
      "dave's sign-in needs approval now only because of the setting",
    );
    t.match(back.body, /data-user-only="0"/, "eve's request is for an admin permission");
    t.match(back.body, /data-figure="kept-consents" data-users="3" data-apps="2"/, 'turning it off kept every consent');
    const cancelled = await admin.browser.visit(`${server.url}/admin/settings/integrated-apps`);
    t.match(cancelled.body, /data-current="off"/, 'Cancel leaves it off');
    t.equal(await auditCount('tenant.integrated_apps.changed'), 1);

    // Dave's paused consent is now refused for the setting; put the setting back for later tests.
    await directory.setIntegratedApps('contoso', true, 'operator');
  },
);

t.test('forms without the CSRF token are refused and change nothing', async (t) => {
  for (const [path, fields] of [
    ['/admin/settings/integrated-apps', [['enabled', 'off']]],
    ['/admin/settings/integrated-apps/preview', [['enabled', 'off']]],
    [
      '/admin/apps',
      [
        ['name', 'No Token'],
        ['redirect_uris', 'https://nt.example.test/cb'],
        ['permissions', 'openid'],
      ],
    ],
    [`/admin/apps/${notes.clientId}/secret`, []],
    [`/admin/apps/${notes.clientId}/remove`, []],
  ] as Array<[string, Array<[string, string]>]>) {
    const response = await post(admin.browser, path, fields);
    t.equal(response.status, 403, path);
  }
  const wrong = await post(admin.browser, '/admin/settings/integrated-apps', [
    ['_csrf', 'forged'],
    ['enabled', 'off'],
  ]);
  t.equal(wrong.status, 403, 'a forged token too');
  t.equal(await integratedApps('contoso'), true);
  t.equal((await pool.query(`SELECT 1 FROM apps WHERE name = 'No Token'`)).rowCount, 0);
  t.equal((await pool.query(`SELECT 1 FROM apps WHERE client_id = $1`, [notes.clientId])).rowCount, 1);
});

t.test('registering an app shows its secret once; the detail page never shows it', async (t) => {
  const form = await admin.browser.visit(`${server.url}/admin/apps/new`);
  t.equal(pageName(form.body), 'admin-app-new');
  t.match(form.body, /<legend>Permissions the app asks for<\/legend>/);
  t.match(
    form.body,
    /value="User\.Read\.All"[^>]*>\s*<label for="perm-User-Read-All">[\s\S]*?Admin consent required/,
    'admin permissions are marked',
  );
  t.match(form.body, /<label for="app-name">/);

  const before = (await pool.query('SELECT count(*)::int AS n FROM apps')).rows[0].n;
  const rejected = await post(admin.browser, '/admin/apps', [
    ['_csrf', csrfOf(form)],
    ['name', 'Field Reports'],
    ['redirect_uris', 'http://reports.example.test/cb'],
    ['permissions', 'openid'],
    ['permissions', 'User.Read'],
  ]);
  t.equal(rejected.status, 400, 'an http redirect URI off localhost is refused');
  t.equal(pageName(rejected.body), 'admin-app-new', 'the form again');
  t.match(rejected.body, /role="alert"/);
  t.match(rejected.body, /value="Field Reports"/, 'with what was typed');
  t.match(rejected.body, /http:\/\/reports\.example\.test\/cb<\/textarea>/);
  t.match(rejected.body, /value="User\.Read" checked/);
  t.equal((await pool.query('SELECT count(*)::int AS n FROM apps')).rows[0].n, before, 'nothing written');

  const created = await post(admin.browser, '/admin/apps', [
    ['_csrf', csrfOf(form)],
    ['name', 'Field Reports'],
    ['redirect_uris', 'https://reports.example.test/cb\r\n\r\nhttps://reports.example.test/other  '],
    ['permissions', 'openid'],
    ['permissions', 'User.Read'],
    ['permissions', 'User.Read.All'],
    ['multi_tenant', 'on'],
  ]);
  t.equal(created.status, 200, 'shown on the GET after the POST (post/redirect/get)');
  t.equal(pageName(created.body), 'admin-app-secret');
  const clientId = /data-client-id="([^"]+)"/.exec(created.body)![1]!;
  const secret = /data-client-secret="([^"]+)"/.exec(created.body)![1]!;
  t.ok(secret.length >= 32, 'a secret is shown');
  t.match(created.body, /shown only on this page/);
  const { rows } = await pool.query(
    `SELECT publisher_tenant_id, redirect_uris, scopes, multi_tenant, client_type,
            (SELECT secret_hash FROM app_secrets s WHERE s.client_id = apps.client_id) AS secret_hash
       FROM apps WHERE client_id = $1`,
    [clientId],
  );
  t.equal(rows[0].publisher_tenant_id, 'contoso', "published by the admin's tenant");
  t.same(rows[0].redirect_uris, ['https://reports.example.test/cb', 'https://reports.example.test/other']);
  t.same(rows[0].scopes, ['openid', 'User.Read', 'User.Read.All']);
  t.equal(rows[0].multi_tenant, true);
  t.not(rows[0].secret_hash, secret, 'only a hash is stored');
  t.equal((await clientCredentials(clientId, secret)).status, 200, 'the secret works');
  t.equal(await auditCount('app.registered'), 2, 'audited (Contoso Notes and this one)');

  const detail = await admin.browser.visit(`${server.url}/admin/apps/${clientId}`);
  t.equal(pageName(detail.body), 'admin-app');
  t.notMatch(detail.body, new RegExp(secret), 'the detail page never shows the secret');
  t.match(detail.body, /value="Field Reports"/);
  const list = await admin.browser.visit(`${server.url}/admin/apps`);
  t.equal(pageName(list.body), 'admin-apps');
  t.match(list.body, new RegExp(`data-client-id="${clientId}"`));
  t.notMatch(list.body, new RegExp(secret));

  const publicApp = await post(admin.browser, '/admin/apps', [
    ['_csrf', csrfOf(form)],
    ['name', 'Field Reports Mobile'],
    ['redirect_uris', 'https://reports.example.test/mobile'],
    ['permissions', 'openid'],
    ['public', 'on'],
  ]);
  t.equal(publicApp.status, 200);
  t.match(publicApp.body, /data-client-secret="none"/, 'a public app has no secret');
});

t.test('an app is updated, its secret rotated (the old one stops working), and removed', async (t) => {
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Rota',
      multiTenant: false,
      public: false,
      redirectUris: ['https://rota.example.test/cb'],
      scopes: ['openid', 'User.Read'],
    },
    as('admin@contoso').id,
  );
  const detail = await admin.browser.visit(`${server.url}/admin/apps/${app.clientId}`);
  t.match(detail.body, /value="User\.Read" checked/);

  const bad = await post(admin.browser, `/admin/apps/${app.clientId}`, [
    ['_csrf', csrfOf(detail)],
    ['name', 'Rota 2'],
    ['redirect_uris', 'https://rota.example.test/cb'],
  ]);
  t.equal(bad.status, 400, 'no permission ticked');
  t.equal(pageName(bad.body), 'admin-app');
  t.match(bad.body, /at least one permission/);
  t.match(bad.body, /value="Rota 2"/, 'what was typed is kept');
  t.equal(
    (await pool.query('SELECT name FROM apps WHERE client_id = $1', [app.clientId])).rows[0].name,
    'Rota',
    'nothing written',
  );

  const updated = await post(admin.browser, `/admin/apps/${app.clientId}`, [
    ['_csrf', csrfOf(detail)],
    ['name', 'Rota 2'],
    ['redirect_uris', 'https://rota.example.test/cb\nhttps://rota.example.test/new'],
    ['permissions', 'openid'],
    ['permissions', 'Calendars.Read'],
  ]);
  t.equal(updated.status, 200);
  t.equal(pageName(updated.body), 'admin-app');
  t.match(updated.body, /role="status" data-updated="true"/);
  const { rows } = await pool.query('SELECT name, redirect_uris, scopes FROM apps WHERE client_id = $1', [
    app.clientId,
  ]);
  t.same(rows[0], {
    name: 'Rota 2',
    redirect_uris: ['https://rota.example.test/cb', 'https://rota.example.test/new'],
    scopes: ['openid', 'Calendars.Read'],
  });

  const rotateConfirm = await admin.browser.visit(`${server.url}/admin/apps/${app.clientId}/secret`);
  t.equal(pageName(rotateConfirm.body), 'admin-app-rotate', 'rotation is confirmed first');
  const rotated = await admin.browser.submit(rotateConfirm, /\/secret$/, {});
  t.equal(pageName(rotated.body), 'admin-app-secret');
  const newSecret = /data-client-secret="([^"]+)"/.exec(rotated.body)![1]!;
  t.not(newSecret, clientSecret);
  const old = await clientCredentials(app.clientId, clientSecret!);
  t.equal(old.status, 401, 'the old secret is refused at /token');
  t.equal(old.body.error, 'invalid_client');
  const ok = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${app.clientId}:${newSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'Calendars.Read' }).toString(),
  });
  t.equal(ok.status, 200, 'the new secret works');
  t.equal(await auditCount('app.secret.rotated'), 1);
  const again = await admin.browser.visit(`${server.url}/admin/apps/${app.clientId}`);
  t.notMatch(again.body, new RegExp(newSecret));

  const confirm = await admin.browser.visit(`${server.url}/admin/apps/${app.clientId}/remove`);
  t.equal(pageName(confirm.body), 'admin-app-remove');
  t.equal(
    (await pool.query('SELECT 1 FROM apps WHERE client_id = $1', [app.clientId])).rowCount,
    1,
    'the confirmation page removes nothing',
  );
  const removed = await admin.browser.submit(confirm, /\/remove$/, {});
  t.equal(pageName(removed.body), 'admin-apps');
  t.match(removed.body, /role="status" data-removed="Rota 2"/);
  t.equal((await pool.query('SELECT 1 FROM apps WHERE client_id = $1', [app.clientId])).rowCount, 0);
  t.equal(await auditCount('app.deleted'), 1);
});

/** An app's name and its secrets' hashes, to show nothing changed. */
const SECRETS_AND_NAME = `SELECT name, ARRAY(SELECT secret_hash FROM app_secrets s WHERE s.client_id = apps.client_id ORDER BY id) AS hashes
  FROM apps WHERE client_id = $1`;

t.test("an admin of contoso sees only contoso's data and cannot touch fabrikam's", async (t) => {
  const fabrikamApp = await directory.createApp(
    {
      publisherTenantId: 'fabrikam',
      name: 'Fabrikam Payroll',
      multiTenant: true,
      public: false,
      redirectUris: ['https://payroll.example.test/cb'],
      scopes: ['openid', 'User.Read'],
    },
    as('fadmin@fabrikam').id,
  );
  const fabrikamRequest = (await requests.list('fabrikam', { status: 'pending' }))[0]!;
  t.ok(fabrikamRequest, 'fabrikam has an open request');
  const [hashBefore] = (await pool.query(SECRETS_AND_NAME, [fabrikamApp.app.clientId])).rows;

  const apps = await admin.browser.visit(`${server.url}/admin/apps`);
  t.notMatch(apps.body, /Fabrikam Payroll|Fabrikam Secret Tool|Planner/);
  t.notMatch(apps.body, new RegExp(fabrikamApp.app.clientId));
  const enterprise = await admin.browser.visit(`${server.url}/admin/enterprise-apps`);
  t.notMatch(enterprise.body, /Fabrikam Payroll/, 'not in use in contoso');
  const consentRequests = await admin.browser.visit(`${server.url}/admin/consent-requests`);
  t.notMatch(consentRequests.body, /fabrikam reason|frank/);
  t.notMatch(consentRequests.body, new RegExp(fabrikamRequest.id));
  const audit = await admin.browser.visit(`${server.url}/admin/audit`);
  t.notMatch(audit.body, new RegExp(fabrikamApp.app.clientId));
  t.notMatch(audit.body, new RegExp(as('frank@fabrikam').id));
  const home = await admin.browser.visit(`${server.url}/admin`);
  t.match(home.body, /Admin centre: Contoso/);

  const csrf = csrfOf(await admin.browser.visit(`${server.url}/admin/settings/integrated-apps`));
  const id = fabrikamApp.app.clientId;
  for (const [method, path, fields] of [
    ['GET', `/admin/apps/${id}`, []],
    ['GET', `/admin/apps/${id}/remove`, []],
    ['GET', `/admin/apps/${id}/secret`, []],
    ['GET', `/admin/apps/${id}/new-secret`, []],
    ['GET', `/admin/apps/${id}/secrets/${fabrikamApp.app.secrets[0]!.id}/remove`, []],
    ['GET', `/admin/enterprise-apps/${id}`, []],
    ['GET', `/admin/enterprise-apps/${id}/block`, []],
    [
      'POST',
      `/admin/apps/${id}`,
      [
        ['name', 'Hijacked'],
        ['redirect_uris', 'https://evil.example.test/cb'],
        ['permissions', 'openid'],
      ],
    ],
    ['POST', `/admin/apps/${id}/secret`, []],
    ['POST', `/admin/apps/${id}/secrets`, []],
    ['POST', `/admin/apps/${id}/secrets/${fabrikamApp.app.secrets[0]!.id}/remove`, []],
    ['POST', `/admin/apps/${id}/remove`, []],
    ['POST', `/admin/enterprise-apps/${id}/block`, []],
    ['POST', `/admin/enterprise-apps/${id}/remove`, []],
    ['POST', `/admin/consent-requests/${fabrikamRequest.id}/approve`, [['scopes', 'openid']]],
    ['POST', `/admin/consent-requests/${fabrikamRequest.id}/deny`, [['reason', 'no']]],
  ] as Array<[string, string, Array<[string, string]>]>) {
    const response =
      method === 'GET'
        ? await admin.browser.visit(`${server.url}${path}`)
        : await post(admin.browser, path, [['_csrf', csrf], ...fields]);
    t.equal(response.status, 404, `${method} ${path}`);
    t.equal(pageName(response.body), 'error');
  }
  const [hashAfter] = (await pool.query(SECRETS_AND_NAME, [id])).rows;
  t.same(hashAfter, hashBefore, "fabrikam's app is unchanged: same name, same secret");
  const [stillOpen] = await requests.list('fabrikam', { status: 'pending' });
  t.equal(stillOpen?.id, fabrikamRequest.id, "fabrikam's request is still pending");
  t.equal(
    (await pool.query(`SELECT 1 FROM tenant_apps WHERE client_id = $1`, [id])).rowCount,
    0,
    'nothing blocked anywhere',
  );
  t.equal(await auditCount('app.updated', 'fabrikam'), 0);
});

t.test('approving some permissions of a request lets the user sign in with exactly those and no page', async (t) => {
  const bob = await pauseAtDecision(planner, 'bob@contoso', 'openid User.Read Calendars.Read User.Read.All');
  t.equal(pageName(bob.page.body), 'needs-admin-approval');
  await bob.browser.submit(bob.page, /\/request-approval$/, { reason: 'Team planning <b>now</b>' });
  const open = (await requests.list('contoso', { status: 'pending' })).find(
    (request) => request.userId === as('bob@contoso').id,
  )!;
  t.same(
    open.scopes,
    ['Calendars.Read', 'User.Read.All'],
    'what he still needs (he consented to openid and User.Read before)',
  );

  const page = await admin.browser.visit(`${server.url}/admin/consent-requests`);
  t.equal(pageName(page.body), 'admin-consent-requests');
  const section = new RegExp(`<section class="request" data-request-id="${open.id}"[\\s\\S]*?</section>`).exec(
    page.body,
  )?.[0];
  t.ok(section, 'the request is listed');
  t.match(section!, /Planner/);
  t.match(section!, /bob@contoso/);
  t.match(section!, /Published by|Publisher/);
  t.match(section!, /data-verified="false"/);
  t.match(section!, /Team planning &lt;b&gt;now&lt;\/b&gt;/, 'the reason, escaped');
  t.match(
    section!,
    /value="User\.Read\.All" checked>\s*<label[^>]*>[\s\S]*?Admin permission/,
    'admin permissions are marked',
  );
  t.match(section!, /<fieldset>\s*<legend>/);

  const none = await post(admin.browser, `/admin/consent-requests/${open.id}/approve`, [['_csrf', csrfOf(page)]]);
  t.equal(none.status, 400, 'no box ticked approves nothing');
  t.match(none.body, /Approve at least one permission/);
  t.equal(
    (await requests.list('contoso', { status: 'pending' })).some((request) => request.id === open.id),
    true,
    'still pending',
  );

  const approved = await post(admin.browser, `/admin/consent-requests/${open.id}/approve`, [
    ['_csrf', csrfOf(page)],
    ['scopes', 'User.Read.All'],
  ]);
  t.equal(approved.status, 200);
  t.match(approved.body, /role="status" data-notice="approved"/);
  t.match(
    approved.body,
    new RegExp(`data-request-id="${open.id}" data-status="approved"`),
    'listed under recent decisions',
  );
  const { rows } = await pool.query(
    `SELECT scopes FROM admin_consents WHERE tenant_id = 'contoso' AND client_id = $1`,
    [planner.clientId],
  );
  t.same(rows[0].scopes, ['User.Read.All'], 'only the ticked permission, for everyone');

  const flow = await fullFlow(server, planner, as('bob@contoso'), { scope: 'openid User.Read User.Read.All' });
  t.notOk(flow.consentShown, 'no page');
  const tokens = await exchangeCode(planner, flow.callback, flow.auth);
  t.same(
    String(decodeJwt(tokens.access_token).scope).split(' ').sort(),
    ['User.Read', 'User.Read.All'],
    'exactly what he consented to and what was approved',
  );
  const rest = await pauseAtDecision(planner, 'bob@contoso', 'openid Calendars.Read');
  t.equal(
    pageName(rest.page.body),
    'consent',
    'Calendars.Read was not approved: a user permission he may still consent to himself',
  );
});

t.test('denying a request records the reason and the app still needs approval', async (t) => {
  // Integrated apps off for this one, so the user permission needs approval too.
  await directory.setIntegratedApps('contoso', false, 'operator');
  const asked = await pauseAtDecision(notes, 'cleo@contoso', 'openid Files.Read');
  t.equal(pageName(asked.page.body), 'needs-admin-approval');
  await asked.browser.submit(asked.page, /\/request-approval$/, { reason: 'for my files' });
  const open = (await requests.list('contoso', { status: 'pending' })).find(
    (request) => request.userId === as('cleo@contoso').id,
  )!;
  const settings = await admin.browser.visit(`${server.url}/admin/settings/integrated-apps`);
  const turnOn = await admin.browser.submit(settings, /\/preview$/, { enabled: 'on' });
  t.match(turnOn.body, /data-figure="open-requests" data-count="2"/, "eve's and cleo's requests");
  t.match(turnOn.body, /data-user-only="1"/, "cleo's asks only for a user permission she could then grant herself");
  const page = await admin.browser.visit(`${server.url}/admin/consent-requests`);
  const denied = await admin.browser.submit(page, new RegExp(`/consent-requests/${open.id}/deny$`), {
    reason: 'We use another file app',
  });
  t.equal(denied.status, 200);
  t.match(denied.body, /role="status" data-notice="denied"/);
  t.match(denied.body, /Denied: We use another file app/);
  const [record] = await requests.list('contoso', { status: 'denied' });
  t.equal(record?.decisionReason, 'We use another file app');
  t.equal(record?.decidedBy, as('admin@contoso').id);
  const again = await pauseAtDecision(notes, 'cleo@contoso', 'openid Files.Read');
  t.equal(pageName(again.page.body), 'needs-admin-approval', 'still needs approval');
  const decidedAgain = await post(admin.browser, `/admin/consent-requests/${open.id}/deny`, [
    ['_csrf', csrfOf(page)],
    ['reason', 'twice'],
  ]);
  t.equal(decidedAgain.status, 409, 'a decided request cannot be decided again');
  await directory.setIntegratedApps('contoso', true, 'operator');
});

t.test('enterprise apps: list, detail, block, unblock, withdraw a user consent, remove', async (t) => {
  const list = await admin.browser.visit(`${server.url}/admin/enterprise-apps`);
  t.equal(pageName(list.body), 'admin-enterprise-apps');
  t.match(list.body, new RegExp(`data-client-id="${planner.clientId}"`));
  t.match(list.body, new RegExp(`data-client-id="${notes.clientId}"`));

  const detail = await admin.browser.visit(`${server.url}/admin/enterprise-apps/${planner.clientId}`);
  t.equal(pageName(detail.body), 'admin-enterprise-app');
  t.match(detail.body, /data-origin="other"/);
  t.match(detail.body, /<tr data-scope="User\.Read\.All">/, 'the admin consent per permission');
  t.match(detail.body, new RegExp(`data-user-id="${as('alice@contoso').id}"`));

  const blockConfirm = await admin.browser.visit(`${server.url}/admin/enterprise-apps/${planner.clientId}/block`);
  t.equal(pageName(blockConfirm.body), 'admin-enterprise-app-block', 'blocking is confirmed first');
  t.equal(await auditCount('app.blocked'), 0, 'the confirmation page blocks nothing');
  const blocked = await admin.browser.submit(blockConfirm, /\/block$/, {});
  t.match(blocked.body, /role="status" data-done="blocked"/);
  t.match(blocked.body, /data-state="blocked"/);
  const refused = await pauseAtDecision(planner, 'alice@contoso', 'openid User.Read');
  t.equal(pageName(refused.page.body), 'refused', 'nobody can use a blocked app');
  const unblocked = await admin.browser.submit(blocked, /\/unblock$/, {});
  t.match(unblocked.body, /data-state="enabled"/);

  const withdrawConfirm = await admin.browser.visit(
    `${server.url}/admin/enterprise-apps/${planner.clientId}/users/${as('alice@contoso').id}/revoke`,
  );
  t.equal(pageName(withdrawConfirm.body), 'admin-enterprise-app-user-revoke', 'withdrawing is confirmed first');
  const revoked = await admin.browser.submit(
    withdrawConfirm,
    new RegExp(`/users/${as('alice@contoso').id}/revoke$`),
    {},
  );
  t.match(revoked.body, /data-done="revoked"/);
  t.equal(
    (
      await pool.query('SELECT 1 FROM user_consents WHERE user_id = $1 AND client_id = $2', [
        as('alice@contoso').id,
        planner.clientId,
      ])
    ).rowCount,
    0,
  );

  const confirm = await admin.browser.visit(`${server.url}/admin/enterprise-apps/${planner.clientId}/remove`);
  t.equal(pageName(confirm.body), 'admin-enterprise-app-remove');
  const removed = await admin.browser.submit(confirm, /\/remove$/, {});
  t.equal(pageName(removed.body), 'admin-enterprise-apps');
  t.match(removed.body, /data-removed="Planner"/);
  t.notMatch(removed.body, new RegExp(`data-client-id="${planner.clientId}"`));
  t.equal(
    (
      await pool.query(`SELECT 1 FROM user_consents WHERE tenant_id = 'fabrikam' AND client_id = $1`, [
        planner.clientId,
      ])
    ).rowCount,
    1,
    "fabrikam's consent stays",
  );
  t.equal(await auditCount('app.blocked'), 1);
  t.equal(await auditCount('app.removed'), 1);
});

t.test('the audit log lists events newest first, 50 a page', async (t) => {
  const first = await admin.browser.visit(`${server.url}/admin/audit`);
  t.equal(pageName(first.body), 'admin-audit');
  const actions = [...first.body.matchAll(/data-action="([^"]+)"/g)].map((match) => match[1]);
  t.equal(actions[0], 'app.removed', 'the newest event first');
  t.match(first.body, /admin@contoso/, 'actors by name');

  await pool.query(
    `INSERT INTO audit_events (tenant_id, actor, action, target, details)
     SELECT 'contoso', 'operator', 'test.filler', 'n' || g, '{}'::jsonb FROM generate_series(1, 60) AS g`,
  );
  await pool.query(
    `INSERT INTO audit_events (tenant_id, actor, action, target, details) VALUES ('fabrikam', 'operator', 'test.fabrikam', 'x', '{}')`,
  );
  const total = (await pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = 'contoso'`)).rows[0].n;

  const seen: number[] = [];
  let page = await admin.browser.visit(`${server.url}/admin/audit`);
  for (let pages = 0; pages < 10; pages++) {
    const ids = [...page.body.matchAll(/data-event-id="(\d+)"/g)].map((match) => Number(match[1]));
    t.ok(ids.length <= 50, 'at most 50 a page');
    seen.push(...ids);
    t.notMatch(page.body, /test\.fabrikam/);
    const older = /href="([^"]+)" rel="next"/.exec(page.body)?.[1];
    if (!older) break;
    page = await admin.browser.visit(`${server.url}${older.replace(/&amp;/g, '&')}`);
  }
  t.equal(seen.length, total, 'every contoso event, once');
  t.same(
    seen,
    [...seen].sort((a, b) => b - a),
    'newest first across pages',
  );
  t.equal(new Set(seen).size, seen.length, 'no overlap');
  const bad = await admin.browser.visit(`${server.url}/admin/audit?before=abc`);
  t.equal(bad.status, 400);
});

t.test('Accept-Language: de gives the German admin centre; without a preference it is English', async (t) => {
  clearMissingKeys();
  const german = { 'accept-language': 'de-CH, de;q=0.9, en;q=0.5' };
  const visit = (path: string, headers: Record<string, string> = german) =>
    admin.browser.request(`${server.url}${path}`, { headers });
  const htmlLang = (page: PageResponse) => /<html lang="([^"]+)"/.exec(page.body)?.[1];
  const texts: Array<[string, string, RegExp]> = [
    ['/admin', 'admin-home', /Admin-Center: Contoso[\s\S]*Anfragen? warte/],
    ['/admin/settings/integrated-apps', 'admin-integrated-apps', /Benutzern erlauben, Apps den Zugriff/],
    ['/admin/apps', 'admin-apps', /Von Ihrer Organisation registriert/],
    ['/admin/apps/new', 'admin-app-new', /<legend>Berechtigungen, die die App anfordert<\/legend>/],
    [`/admin/apps/${notes.clientId}`, 'admin-app', /Registrierung ändern/],
    [`/admin/apps/${notes.clientId}/remove`, 'admin-app-remove', /Die Registrierung wird gelöscht/],
    ['/admin/enterprise-apps', 'admin-enterprise-apps', /Für alle erteilt/],
    [`/admin/enterprise-apps/${notes.clientId}`, 'admin-enterprise-app', /Sperren oder entfernen/],
    [
      `/admin/enterprise-apps/${notes.clientId}/remove`,
      'admin-enterprise-app-remove',
      /Token, die sie für \d+ Benutzer/,
    ],
    [
      '/admin/consent-requests',
      'admin-consent-requests',
      /Letzte Entscheidungen[\s\S]*Abgelehnt: We use another file app/,
    ],
    ['/admin/audit', 'admin-audit', /<th scope="col">Wann \(UTC\)<\/th>[\s\S]*Ältere Ereignisse/],
  ];
  for (const [path, name, text] of texts) {
    const page = await visit(path);
    t.equal(page.status, 200, `GET ${path}`);
    t.equal(pageName(page.body), name, `${path}: the same page`);
    t.equal(htmlLang(page), 'de', `${path}: lang="de"`);
    t.match(page.body, text, `${path}: in German`);
    t.match(page.body, /aria-label="Admin-Center"[\s\S]*Überwachungsprotokoll/, `${path}: the navigation in German`);
    t.notMatch(page.body, /Signed in as|Admin centre|Cancel</, `${path}: no English left`);
  }
  const home = await visit('/admin');
  t.match(home.body, /data-pending-requests="\d+"/, 'the markers stay');

  // Permissions in German from the permissions catalogue; dates with Intl in German, in UTC.
  const detail = await visit(`/admin/enterprise-apps/${notes.clientId}`);
  t.match(
    detail.body,
    /<li data-scope="User\.Read">Benutzer anmelden und ihr Profil lesen </,
    'a permission described in German',
  );
  const audit = await visit('/admin/audit');
  t.match(
    audit.body,
    /<time datetime="[^"]+">\d{1,2}\. [A-Z][a-zä]+\.? \d{4}, \d{2}:\d{2} UTC<\/time>/,
    'German dates, in UTC',
  );

  // A refused form and a refused decision in German; the JSON-facing description stays English.
  const form = await visit('/admin/apps/new');
  const rejected = await post(
    admin.browser,
    '/admin/apps',
    [
      ['_csrf', csrfOf(form)],
      ['name', 'Feldberichte'],
      ['redirect_uris', 'http://reports.example.test/cb'],
      ['permissions', 'openid'],
    ],
    german,
  );
  t.equal(rejected.status, 400);
  t.equal(htmlLang(rejected), 'de');
  t.match(rejected.body, /Nicht gespeichert:<\/strong> Eine Umleitungs-URI muss https verwenden/);
  const missing = await visit(`/admin/apps/unknown-client`);
  t.equal(missing.status, 404);
  t.equal(htmlLang(missing), 'de');
  t.match(missing.body, /In Ihrer Organisation nicht gefunden\./);

  // Turning Integrated apps on or off: the preview in German, counts with plurals.
  const settings = await visit('/admin/settings/integrated-apps');
  const preview = await post(
    admin.browser,
    '/admin/settings/integrated-apps/preview',
    [
      ['_csrf', csrfOf(settings)],
      ['enabled', 'off'],
    ],
    german,
  );
  t.equal(htmlLang(preview), 'de');
  t.match(preview.body, /data-step="preview"/);
  t.match(preview.body, /Integrierte Apps (aus|ein)schalten\?/);
  t.match(preview.body, /<strong>\d+ Benutzer, \d+ Apps?<\/strong>/);

  t.match(
    (await visit('/admin/apps')).body,
    /data-time-zone="UTC">Zeiten sind in UTC angegeben\./,
    'the dates say they are UTC',
  );

  // Someone who is not an admin is refused in German too.
  const alice = await signedIn('alice@contoso');
  const refused = await alice.browser.request(`${server.url}/admin`, { headers: german });
  t.equal(refused.status, 403);
  t.equal(htmlLang(refused), 'de');
  t.match(refused.body, /data-reason="not_admin">Das Admin-Center ist für die Administratoren/);

  // No preference, or only languages Accord does not have: English.
  for (const headers of [{}, { 'accept-language': 'fr, ja;q=0.8' }] as Array<Record<string, string>>) {
    const english = await visit('/admin', headers);
    t.equal(htmlLang(english), 'en');
    t.match(english.body, /Admin centre: Contoso/);
  }
  t.same(reportedMissingKeys(), [], 'no page asked for a key the catalogue lacks');
});

t.test('every audit action docs/interfaces.md lists is named in English and German', async (t) => {
  const docs = await readFile(new URL('../../docs/interfaces.md', import.meta.url), 'utf8');
  const list = docs.slice(docs.indexOf('## Audit events'), docs.indexOf('The actor is'));
  const actions = [...list.matchAll(/`([a-z_]+(?:\.[a-z_]+)+)`/g)].map((match) => match[1]!);
  t.ok(actions.length >= 20, 'the documented actions');
  for (const action of actions)
    for (const lng of ['en', 'de'])
      t.ok(i18n.exists(`admin:audit.action.${action}`, { lng, fallbackLng: false }), `${action} in ${lng}`);
});
