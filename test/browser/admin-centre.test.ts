// The admin centre in headless Chromium against the real server: an admin signs in through the
// portal, switches Integrated apps off with the keyboard-operable radio buttons, reviews the
// preview and confirms. Every page on the way is checked with axe-core, in English and in German
// (a browser whose language is German gets the German admin centre, `lang="de"`).
import t from 'tap';
import { Browser as HttpBrowser } from '../support/browser.js';
import {
  checkPage,
  chromiumSkipReason,
  newUserContext,
  signInWithKeyboard,
  startServerAndBrowser,
  waitForPage,
} from '../support/chromium.js';
import { fullFlow, registerApp } from '../support/flows.js';

const skip = chromiumSkipReason();
if (skip) t.test('the admin centre in a real browser', { skip }, () => undefined);
else await main();

async function main() {
  const { server, browser } = await startServerAndBrowser(t);
  const { directory, pool } = server;
  const serverUrl = server.url;

  const PASSWORD = 'correct horse battery';
  await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  await directory.createUser({ tenantId: 'contoso', username: 'admin', password: PASSWORD, role: 'admin' }, 'operator');
  await directory.createUser({ tenantId: 'contoso', username: 'alice', password: PASSWORD, role: 'user' }, 'operator');
  // One consent of alice's own, for the preview to count (through the HTTP client: faster, and the
  // browser part of this file is the admin's).
  const notes = await registerApp(server, {
    tenant: 'contoso',
    name: 'Contoso Notes',
    scopes: ['openid', 'User.Read'],
  });
  const flow = await fullFlow(
    server,
    notes,
    { signIn: 'alice@contoso', password: PASSWORD },
    { scope: 'openid User.Read' },
    new HttpBrowser(serverUrl),
  );

  async function integratedApps(): Promise<boolean> {
    const { rows } = await pool.query<{ integrated_apps_enabled: boolean }>(
      'SELECT integrated_apps_enabled FROM tenants WHERE id = $1',
      ['contoso'],
    );
    return rows[0]!.integrated_apps_enabled;
  }

  t.test('an admin switches Integrated apps off: switch, preview, confirm, each page accessible', async (t) => {
    t.ok(flow.consentShown, 'alice consented to an app herself');
    const context = await newUserContext(browser);
    t.teardown(() => context.close());
    const page = await context.newPage();

    await page.goto(`${serverUrl}/admin`);
    await signInWithKeyboard(page, 'admin@contoso', PASSWORD);
    await waitForPage(page, 'admin-home');
    await checkPage(t, page, 'admin-home', 'admin centre home');

    await page.getByRole('navigation', { name: 'Admin centre' }).getByRole('link', { name: 'Integrated apps' }).click();
    await waitForPage(page, 'admin-integrated-apps');
    t.equal(await page.locator('[data-current]').getAttribute('data-current'), 'on');
    await checkPage(t, page, 'admin-integrated-apps', 'Integrated apps');

    // The switch: a radio group, operated with the keyboard.
    const on = page.getByRole('radio', { name: 'On', exact: true });
    const off = page.getByRole('radio', { name: 'Off', exact: true });
    t.ok(await on.isChecked(), 'shows the current setting');
    await on.focus();
    await page.keyboard.press('ArrowDown');
    t.ok(await off.isChecked(), 'the arrow key moves the choice to Off');
    await page.getByRole('button', { name: 'Review the change' }).click();

    await page.locator('[data-step="preview"]').waitFor();
    await waitForPage(page, 'admin-integrated-apps');
    t.equal(await page.locator('[data-step="preview"]').getAttribute('data-desired'), 'off');
    t.equal(
      await page.locator('[data-figure="kept-consents"]').getAttribute('data-users'),
      '1',
      "alice's consent is counted as kept",
    );
    t.equal(await integratedApps(), true, 'the preview saves nothing');
    await checkPage(t, page, 'admin-integrated-apps', 'Integrated apps preview');

    await page.getByRole('button', { name: 'Confirm: turn off' }).click();
    await page.waitForURL(`${serverUrl}/admin/settings/integrated-apps?saved=off`);
    await waitForPage(page, 'admin-integrated-apps');
    t.match(await page.getByRole('status').textContent(), /Integrated apps is now off/);
    t.equal(await page.locator('[data-current]').getAttribute('data-current'), 'off');
    t.equal(await integratedApps(), false, 'Confirm saves the setting');
    await checkPage(t, page, 'admin-integrated-apps', 'Integrated apps after saving');
  });

  t.test('in German: every admin page is German (lang="de") and accessible', async (t) => {
    const context = await browser.newContext({
      viewport: { width: 1024, height: 900 },
      locale: 'de-DE',
      reducedMotion: 'reduce',
    });
    t.teardown(() => context.close());
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();

    await page.goto(`${serverUrl}/admin`);
    await waitForPage(page, 'login');
    t.equal(await page.locator('html').getAttribute('lang'), 'de', 'the sign-in page too');
    await page.locator('#username').fill('admin@contoso');
    await page.locator('#password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await waitForPage(page, 'admin-home');

    const nav = page.getByRole('navigation', { name: 'Admin-Center' });
    for (const [link, marker] of [
      ['Übersicht', 'admin-home'],
      ['Integrierte Apps', 'admin-integrated-apps'],
      ['Apps', 'admin-apps'],
      ['Unternehmens-Apps', 'admin-enterprise-apps'],
      ['Zustimmungsanfragen', 'admin-consent-requests'],
      ['Überwachungsprotokoll', 'admin-audit'],
    ] as const) {
      await nav.getByRole('link', { name: link, exact: true }).click();
      await waitForPage(page, marker);
      t.equal(await page.locator('html').getAttribute('lang'), 'de', `${marker}: lang="de"`);
      await checkPage(t, page, marker, `${link} (German)`);
    }

    await page.goto(`${serverUrl}/admin/apps/new`);
    await waitForPage(page, 'admin-app-new');
    await checkPage(t, page, 'admin-app-new', 'App registrieren (German)');
    await page.goto(`${serverUrl}/admin/apps/${encodeURIComponent(notes.clientId)}`);
    await waitForPage(page, 'admin-app');
    await checkPage(t, page, 'admin-app', 'app settings (German)');
    await page.goto(`${serverUrl}/admin/enterprise-apps/${encodeURIComponent(notes.clientId)}`);
    await waitForPage(page, 'admin-enterprise-app');
    await checkPage(t, page, 'admin-enterprise-app', 'enterprise app (German)');

    // The switch and its preview, in German.
    await page.goto(`${serverUrl}/admin/settings/integrated-apps`);
    await waitForPage(page, 'admin-integrated-apps');
    const desired = (await integratedApps()) ? 'Aus' : 'Ein';
    await page.getByRole('radio', { name: desired, exact: true }).check();
    await page.getByRole('button', { name: 'Änderung prüfen' }).click();
    await page.locator('[data-step="preview"]').waitFor();
    t.match(await page.locator('h2#preview-heading').textContent(), /Integrierte Apps (ein|aus)schalten\?/);
    await checkPage(t, page, 'admin-integrated-apps', 'Integrated apps preview (German)');
  });
}
