// The admin centre's Users tab, its search and filters, the audit log by name, and the consent
// activity chart (issue #12 items 4 and 8), in headless Chromium against the real server: an
// admin finds, creates, promotes, disables, enables and unlocks users; narrows apps, enterprise
// apps and the audit log; the audit table fits a 1200 px window; the overview's SVG chart has
// its title, description and table, in English and German. Every page is checked with axe-core.
import path from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { EnterpriseApps } from '../../src/services/enterprise-apps.js';
import { ADDRESS_LIMIT, signIn } from '../../src/services/sign-in.js';
import { Browser as HttpBrowser } from '../support/browser.js';
import {
  checkPage,
  chromiumSkipReason,
  signInWithKeyboard,
  startServerAndBrowser,
  waitForPage,
} from '../support/chromium.js';
import { repoRoot } from '../support/database.js';
import { fullFlow, registerApp } from '../support/flows.js';

const skip = chromiumSkipReason();
if (skip) t.test('the Users tab and filters in a real browser', { skip }, () => undefined);
else await main();

async function main() {
  t.setTimeout(240_000);
  const { server, browser } = await startServerAndBrowser(t);
  const { directory, pool } = server;
  const PASSWORD = 'correct horse battery';
  await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
  const admin = await directory.createUser(
    { tenantId: 'contoso', username: 'admin', password: PASSWORD, role: 'admin', displayName: 'Ada Admin' },
    'operator',
  );
  const alice = await directory.createUser(
    { tenantId: 'contoso', username: 'alice', password: PASSWORD, role: 'user', displayName: 'Alice Liddell' },
    'operator',
  );
  const bob = await directory.createUser(
    { tenantId: 'contoso', username: 'bob', password: PASSWORD, role: 'user', email: 'bob@contoso.example' },
    'operator',
  );
  // Enough people for a second page (50 a page).
  for (let index = 0; index < 50; index++)
    await directory.createUser(
      { tenantId: 'contoso', username: `member${String(index).padStart(2, '0')}`, password: PASSWORD, role: 'user' },
      'operator',
    );

  // Consent activity: alice and bob consent to Notes (today), bob's consent is withdrawn, and
  // alice asks for a permission that needs an admin; one grant is moved three days back.
  const notes = await registerApp(server, {
    tenant: 'contoso',
    name: 'Contoso Notes',
    scopes: ['openid', 'User.Read'],
  });
  const planner = await registerApp(server, {
    tenant: 'fabrikam',
    name: 'Fabrikam Planner',
    multiTenant: true,
    scopes: ['openid', 'User.Read'],
  });
  for (const [who, app] of [
    ['alice@contoso', notes],
    ['bob@contoso', notes],
    ['alice@contoso', planner],
  ] as const)
    await fullFlow(
      server,
      app,
      { signIn: who, password: PASSWORD },
      { scope: 'openid User.Read' },
      new HttpBrowser(server.url),
    );
  const enterpriseApps = new EnterpriseApps(pool);
  await enterpriseApps.revokeUserConsent('contoso', notes.clientId, bob.id, admin.id);
  await enterpriseApps.block('contoso', planner.clientId, admin.id);
  await server.accord.services.consentRequests.request(
    'contoso',
    alice.id,
    notes.clientId,
    ['Calendars.Read'],
    'for my diary',
  );
  await pool.query(
    `UPDATE audit_events SET at = at - interval '3 days'
      WHERE tenant_id = 'contoso' AND action = 'consent.user.granted' AND actor = $1::text AND target = $2::text`,
    [alice.id, planner.clientId],
  );

  async function signedInAdmin(locale = 'en-GB', width = 1024): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, locale, reducedMotion: 'reduce' });
    t.teardown(() => context.close());
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await page.goto(`${server.url}/admin`);
    if (locale.startsWith('en')) await signInWithKeyboard(page, 'admin@contoso', PASSWORD);
    else {
      await waitForPage(page, 'login');
      await page.locator('#username').fill('admin@contoso');
      await page.locator('#password').fill(PASSWORD);
      await page.keyboard.press('Enter');
    }
    await waitForPage(page, 'admin-home');
    return page;
  }

  /** With UPDATE_SCREENSHOTS set, the window as README shows it (docs/). */
  async function screenshot(page: Page, name: string) {
    if (!process.env.UPDATE_SCREENSHOTS) return;
    const file = path.join(repoRoot, 'docs', name);
    await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
    t.comment(`screenshot written to ${file}`);
  }

  const rowNames = (page: Page) =>
    page.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-username')));

  t.test('the Users tab lists, searches and pages the organisation’s people', async (t) => {
    const page = await signedInAdmin();
    await page
      .getByRole('navigation', { name: 'Admin centre' })
      .getByRole('link', { name: 'Users', exact: true })
      .click();
    await waitForPage(page, 'admin-users');
    await checkPage(t, page, 'admin-users', 'Users');
    await screenshot(page, 'admin-users.png');
    const first = await rowNames(page);
    t.equal(first.length, 50, 'fifty a page');
    t.same(first.slice(0, 3), ['admin', 'alice', 'bob'], 'by username');
    await page.getByRole('link', { name: 'Next page' }).click();
    await waitForPage(page, 'admin-users');
    t.same(await rowNames(page), ['member47', 'member48', 'member49'], 'the rest on the next page');
    await page.getByRole('link', { name: 'First page' }).click();

    await page.getByLabel('Search by username, name or email').fill('LIDDELL');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForPage(page, 'admin-users');
    t.same(await rowNames(page), ['alice'], 'by display name, any case');
    await page.getByLabel('Search by username, name or email').fill('contoso.example');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForPage(page, 'admin-users');
    t.same(await rowNames(page), ['bob'], 'by email');
    await page.getByLabel('Search by username, name or email').fill('nobody-like-this');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForPage(page, 'admin-users');
    t.equal(await page.locator('[data-empty]').textContent(), 'Nothing matches these filters.');
    await checkPage(t, page, 'admin-users', 'Users, nothing found');
  });

  t.test('an admin creates a user, sets the role, disables with a confirmation and enables again', async (t) => {
    const page = await signedInAdmin();
    await page.goto(`${server.url}/admin/users/new`);
    await waitForPage(page, 'admin-user-new');
    await checkPage(t, page, 'admin-user-new', 'create a user');
    await page.getByLabel('Username').fill('Carol');
    await page.getByLabel('Display name').fill('Carol Danvers');
    await page.getByLabel('Password (at least 8 characters)').fill('short');
    // The browser would stop a too-short password itself; the server's refusal is what is tested.
    await page.locator('form[action="/admin/users"]').evaluate((form) => form.setAttribute('novalidate', ''));
    await page.getByRole('button', { name: 'Create user' }).click();
    await waitForPage(page, 'admin-user-new');
    t.match(await page.getByRole('alert').textContent(), /The password must be at least 8 characters/);
    t.equal(await page.getByLabel('Username').inputValue(), 'Carol', 'what was typed is kept');
    await checkPage(t, page, 'admin-user-new', 'create a user, refused');
    const { rows: none } = await pool.query(`SELECT 1 FROM users WHERE username = 'carol'`);
    t.equal(none.length, 0, 'nothing was created');

    await page.getByLabel('Password (at least 8 characters)').fill('a long enough password');
    await page.getByRole('button', { name: 'Create user' }).click();
    await waitForPage(page, 'admin-user');
    t.equal(await page.locator('[data-done]').getAttribute('data-done'), 'created');
    t.match(await page.locator('h1').textContent(), /Carol Danvers \(carol@contoso\)/);
    await checkPage(t, page, 'admin-user', 'a user');
    await page.reload();
    const { rows: once } = await pool.query(`SELECT 1 FROM users WHERE username = 'carol'`);
    t.equal(once.length, 1, 'a reload creates nobody again');

    await page.getByRole('combobox', { name: 'Role' }).selectOption('admin');
    await page.getByRole('button', { name: 'Set role' }).click();
    await waitForPage(page, 'admin-user');
    t.equal(await page.locator('dd[data-role]').getAttribute('data-role'), 'admin');

    await page.getByRole('link', { name: 'Disable user…' }).click();
    await waitForPage(page, 'admin-user-disable');
    await checkPage(t, page, 'admin-user-disable', 'disable a user');
    const { rows: before } = await pool.query(`SELECT disabled FROM users WHERE username = 'carol'`);
    t.equal(before[0].disabled, false, 'the confirmation page changes nothing');
    await page.getByRole('button', { name: 'Disable user' }).click();
    await waitForPage(page, 'admin-user');
    t.equal(await page.locator('dd[data-status]').getAttribute('data-status'), 'disabled');
    await page.getByRole('button', { name: 'Enable user' }).click();
    await waitForPage(page, 'admin-user');
    t.equal(await page.locator('dd[data-status]').getAttribute('data-status'), 'active');
  });

  t.test('an admin cannot demote themselves: the page says why and nothing changes', async (t) => {
    const page = await signedInAdmin();
    await page.goto(`${server.url}/admin/users/${admin.id}`);
    await waitForPage(page, 'admin-user');
    await page.getByRole('combobox', { name: 'Role' }).selectOption('user');
    await page.getByRole('button', { name: 'Set role' }).click();
    await waitForPage(page, 'admin-user');
    t.match(await page.getByRole('alert').textContent(), /You cannot remove your own admin role/);
    const { rows } = await pool.query('SELECT role FROM users WHERE id = $1::text', [admin.id]);
    t.equal(rows[0].role, 'admin');
    await checkPage(t, page, 'admin-user', 'a refused change');
  });

  t.test('an admin unlocks a user after failed sign-ins, and the audit log names both', async (t) => {
    for (let attempt = 0; attempt < ADDRESS_LIMIT; attempt++)
      await signIn(pool, 'alice@contoso', 'wrong', '203.0.113.9');
    const refused = await signIn(pool, 'alice@contoso', PASSWORD, '203.0.113.9');
    t.match(refused, { ok: false, reason: 'throttled' }, 'alice is refused from that address');

    const page = await signedInAdmin();
    await page.goto(`${server.url}/admin/users?search=alice`);
    await waitForPage(page, 'admin-users');
    t.equal(await page.locator('[data-sign-in-failures]').getAttribute('data-sign-in-failures'), String(ADDRESS_LIMIT));
    await page.getByRole('link', { name: 'alice@contoso' }).click();
    await waitForPage(page, 'admin-user');
    await checkPage(t, page, 'admin-user', 'a locked-out user');
    await page.getByRole('button', { name: 'Unlock sign-in' }).click();
    await waitForPage(page, 'admin-user');
    t.equal(await page.locator('[data-done]').getAttribute('data-done'), 'unlocked');
    t.equal(await page.locator('dd[data-sign-in-failures]').getAttribute('data-sign-in-failures'), '0');
    t.equal(await page.getByRole('button', { name: 'Unlock sign-in' }).count(), 0, 'nothing left to unlock');
    t.match(await signIn(pool, 'alice@contoso', PASSWORD, '203.0.113.9'), { ok: true }, 'alice signs in again');

    await page.goto(`${server.url}/admin/audit?action=user.unlocked`);
    await waitForPage(page, 'admin-audit');
    const row = page.locator('tbody tr[data-action="user.unlocked"]');
    t.equal(await row.count(), 1);
    t.equal(await row.locator('td').nth(1).textContent(), 'admin@contoso', 'who, by name');
    t.equal(await row.locator('td').nth(2).textContent(), 'alice@contoso', 'on whom, by name');
  });

  t.test('apps and enterprise apps narrow by search and state', async (t) => {
    const page = await signedInAdmin();
    await registerApp(server, { tenant: 'contoso', name: 'Contoso Timesheets', scopes: ['openid'] });
    await page.goto(`${server.url}/admin/apps`);
    await waitForPage(page, 'admin-apps');
    t.equal(await page.locator('tbody tr').count(), 2);
    await page.getByLabel('Search by name or client ID').fill('timesheets');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForPage(page, 'admin-apps');
    t.same(await page.locator('tbody th a').allTextContents(), ['Contoso Timesheets']);
    await checkPage(t, page, 'admin-apps', 'apps, searched');

    await page.goto(`${server.url}/admin/enterprise-apps`);
    await waitForPage(page, 'admin-enterprise-apps');
    const names = () => page.locator('tbody th a').allTextContents();
    t.same((await names()).sort(), ['Contoso Notes', 'Fabrikam Planner']);
    await page.getByLabel('State').selectOption('blocked');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForPage(page, 'admin-enterprise-apps');
    t.same(await names(), ['Fabrikam Planner'], 'only the blocked one');
    await checkPage(t, page, 'admin-enterprise-apps', 'enterprise apps, filtered');
    await page.getByLabel('State').selectOption('');
    await page.getByLabel('Search by name, publisher or client ID').fill('fabrikam');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForPage(page, 'admin-enterprise-apps');
    t.same(await names(), ['Fabrikam Planner'], 'by publisher');
    await page.getByLabel('Publisher', { exact: true }).selectOption('verified');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForPage(page, 'admin-enterprise-apps');
    t.equal(await page.locator('[data-empty]').textContent(), 'Nothing matches these filters.');
  });

  t.test('the audit log filters by who, what and day, shows names, and fits 1200 px', async (t) => {
    // A long app name and long details must wrap rather than widen the table.
    await registerApp(server, {
      tenant: 'contoso',
      name: `Contoso ${'Extraordinarily'.repeat(6)} Long Name`,
      scopes: ['openid', 'profile', 'email', 'offline_access', 'User.Read', 'Calendars.Read', 'Files.Read'],
    });
    const page = await signedInAdmin('en-GB', 1200);
    await page.goto(`${server.url}/admin/audit`);
    await waitForPage(page, 'admin-audit');
    await checkPage(t, page, 'admin-audit', 'audit log');
    const widths = await page.evaluate(() => {
      const table = document.querySelector('table.audit') as HTMLElement;
      return {
        page: document.documentElement.scrollWidth,
        window: document.documentElement.clientWidth,
        table: table.scrollWidth,
        tableBox: table.clientWidth,
      };
    });
    t.ok(widths.page <= widths.window, `the page does not scroll sideways (${widths.page} ≤ ${widths.window})`);
    t.ok(widths.table <= widths.tableBox, `the table fits its box (${widths.table} ≤ ${widths.tableBox})`);
    t.ok(widths.window >= 1180, 'measured at 1200 px');

    const actors = () => page.locator('tbody td[data-actor]').allTextContents();
    t.notOk(
      (await actors()).some((name) => name === admin.id || name === alice.id),
      'no user ids where names are known',
    );

    await page.getByLabel('Who (username)').fill('alice');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForPage(page, 'admin-audit');
    t.same([...new Set(await actors())], ['alice@contoso'], 'only what alice did');
    await page.getByLabel('What').selectOption('consent_request.opened');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForPage(page, 'admin-audit');
    t.same(await page.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-action'))), [
      'consent_request.opened',
    ]);
    t.equal(await page.locator('tbody td[data-target]').textContent(), 'Contoso Notes', 'the app by name');

    const today = new Date().toISOString().slice(0, 10);
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    await page.goto(
      `${server.url}/admin/audit?actor=alice&action=consent.user.granted&from=${threeDaysAgo}&to=${threeDaysAgo}`,
    );
    await waitForPage(page, 'admin-audit');
    t.equal(await page.locator('tbody tr').count(), 1, 'the grant moved three days back, alone on that day');
    t.equal(await page.locator('tbody td[data-target]').textContent(), 'Fabrikam Planner');
    await page.goto(`${server.url}/admin/audit?actor=alice&action=consent.user.granted&from=${today}`);
    await waitForPage(page, 'admin-audit');
    t.equal(await page.locator('tbody tr').count(), 1, 'and today only the other one');

    const bad = await page.goto(`${server.url}/admin/audit?from=2026-02-30`);
    t.equal(bad?.status(), 400);
    t.equal(await page.locator('[data-bad-date]').getAttribute('data-bad-date'), '2026-02-30', 'the page says which');
    await checkPage(t, page, 'admin-audit', 'audit log with a bad date');
  });

  t.test('the overview draws 30 days of consent activity as an accessible SVG, with a table', async (t) => {
    const page = await signedInAdmin();
    await checkPage(t, page, 'admin-home', 'overview with the chart');
    const svg = page.getByRole('img', { name: /Consent activity in Contoso from .* to .* \(UTC\)/ });
    t.equal(await svg.count(), 1, 'the chart is an image named by its title');
    t.match(await page.locator('svg desc').textContent(), /3 grants, 1 withdrawals and 1 approval requests/);
    t.equal(await page.locator('table[data-consent-table] tbody tr').count(), 30, 'a row per day');
    const today = new Date().toISOString().slice(0, 10);
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    const bar = (day: string, series: string) =>
      page.locator(`svg rect[data-day="${day}"][data-series="${series}"]`).getAttribute('data-value');
    t.equal(await bar(today, 'grants'), '2', "today's grants");
    t.equal(await bar(today, 'withdrawals'), '1');
    t.equal(await bar(today, 'requests'), '1');
    t.equal(await bar(threeDaysAgo, 'grants'), '1', 'the grant three days back');
    await page.getByText('The same figures as a table').click();
    t.same(await page.locator(`table[data-consent-table] tr[data-day="${today}"] td`).allTextContents(), [
      '2',
      '1',
      '1',
    ]);
    t.equal(await page.locator('script').count(), 0, 'no script on the page');
    await screenshot(page, 'admin-overview.png');

    const german = await signedInAdmin('de-DE');
    t.equal(await german.locator('html').getAttribute('lang'), 'de');
    t.equal(
      await german.getByRole('img', { name: /Zustimmungsaktivität in Contoso vom .* bis .* \(UTC\)/ }).count(),
      1,
      'in German',
    );
    await checkPage(t, german, 'admin-home', 'overview with the chart (German)');
    for (const [path, marker] of [
      ['/admin/users', 'admin-users'],
      [`/admin/users/${alice.id}`, 'admin-user'],
      ['/admin/users/new', 'admin-user-new'],
      ['/admin/audit', 'admin-audit'],
      ['/admin/enterprise-apps', 'admin-enterprise-apps'],
    ] as const) {
      await german.goto(`${server.url}${path}`);
      await waitForPage(german, marker);
      t.equal(await german.locator('html').getAttribute('lang'), 'de');
      await checkPage(t, german, marker, `${path} (German)`);
    }
  });
}
