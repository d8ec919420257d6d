// The admin centre in headless Chromium against the real server: an admin signs in through the
// portal, switches Integrated apps off with the keyboard-operable radio buttons, reviews the
// preview and confirms. Every page on the way is checked with axe-core.
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
}
