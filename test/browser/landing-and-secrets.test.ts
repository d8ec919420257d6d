// In headless Chromium against the real server: the landing page leads in (sign in) and the header
// leads between My apps and the admin centre and out (sign out through the provider, ending on our
// signed-out page); cancelling the admin-centre sign-in ends on the landing page. In the admin
// centre, a new secret is shown once (a reload shows it no more), a second one is added, the first
// removed after a confirmation page, and replacing every secret is confirmed first. Every page is
// checked with axe-core.
import path from 'node:path';
import t from 'tap';
import {
  checkPage,
  chromiumSkipReason,
  newUserContext,
  signInWithKeyboard,
  startServerAndBrowser,
  waitForPage,
} from '../support/chromium.js';
import { repoRoot } from '../support/database.js';

const skip = chromiumSkipReason();
if (skip) t.test('the landing page and client secrets in a real browser', { skip }, () => undefined);
else await main();

async function main() {
  const { server, browser } = await startServerAndBrowser(t);
  const { directory, pool } = server;
  const serverUrl = server.url;
  const PASSWORD = 'correct horse battery';
  await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  await directory.createUser({ tenantId: 'contoso', username: 'admin', password: PASSWORD, role: 'admin' }, 'operator');

  async function tokenWith(clientId: string, secret: string): Promise<number> {
    const response = await fetch(`${serverUrl}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }),
    });
    return response.status;
  }

  t.test('in from the landing page, between My apps and the admin centre, and out', async (t) => {
    const context = await newUserContext(browser);
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${serverUrl}/`);
    await waitForPage(page, 'home');
    await checkPage(t, page, 'home', 'landing');
    await page.getByRole('link', { name: 'Sign in' }).click();
    await signInWithKeyboard(page, 'admin@contoso', PASSWORD);
    await waitForPage(page, 'my-apps');
    if (process.env.UPDATE_SCREENSHOTS) {
      // README's picture of the landing page, signed in as an admin.
      await page.goto(`${serverUrl}/`);
      await waitForPage(page, 'home');
      const file = path.join(repoRoot, 'docs/landing-page.png');
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
      t.comment(`screenshot written to ${file}`);
      await page.goto(`${serverUrl}/my/apps`);
      await waitForPage(page, 'my-apps');
    }
    const account = page.getByRole('navigation', { name: 'Your account' });
    t.match(await account.textContent(), /admin@contoso/, 'the header shows the account');
    await checkPage(t, page, 'my-apps', 'My apps with the account header');

    await account.getByRole('link', { name: 'Admin centre' }).click();
    await waitForPage(page, 'admin-home');
    await checkPage(t, page, 'admin-home', 'admin centre with the account header');
    await page.getByRole('navigation', { name: 'Your account' }).getByRole('link', { name: 'My apps' }).click();
    await waitForPage(page, 'my-apps');

    await page.getByRole('link', { name: 'Sign out' }).click();
    await waitForPage(page, 'logout');
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await waitForPage(page, 'signed-out');
    t.equal(new URL(page.url()).pathname, '/portal/signed-out', 'ends at our post_logout_redirect_uri');
    await checkPage(t, page, 'signed-out', 'signed out');
    await page.goto(`${serverUrl}/my/apps`);
    await waitForPage(page, 'login');
    t.pass('My apps asks to sign in again');
  });

  t.test('cancelling the admin-centre sign-in ends on the landing page', async (t) => {
    const context = await newUserContext(browser);
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${serverUrl}/admin`);
    await waitForPage(page, 'login');
    await page.getByRole('button', { name: 'Cancel and return to the app' }).click();
    await waitForPage(page, 'home');
    t.match(await page.getByRole('status').textContent(), /Sign-in was cancelled/);
    await checkPage(t, page, 'home', 'landing after a cancelled sign-in');
  });

  t.test('a secret is shown once; add a second, remove the first, replace all, each confirmed', async (t) => {
    const context = await newUserContext(browser);
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${serverUrl}/admin/apps/new`);
    await signInWithKeyboard(page, 'admin@contoso', PASSWORD);
    await waitForPage(page, 'admin-app-new');
    await page.getByLabel('Name').fill('Field Reports');
    await page.getByLabel('Redirect URIs (one a line)').fill('https://reports.example.test/cb');
    await page.getByLabel('Homepage').fill('https://reports.example.test/');
    await page.getByLabel('Privacy statement').fill('https://reports.example.test/privacy');
    await page.getByLabel('Terms of service').fill('https://reports.example.test/terms');
    await page.getByLabel('Logo (an image address)').fill('https://reports.example.test/logo.png');
    await checkPage(t, page, 'admin-app-new', 'the registration form with its links');
    await page.getByRole('button', { name: /Register/ }).click();
    await waitForPage(page, 'admin-app-secret');
    const first = await page.locator('[data-client-secret]').getAttribute('data-client-secret');
    const clientId = (await page.locator('code[data-client-id]').getAttribute('data-client-id'))!;
    t.ok(first && first !== 'none', 'the secret is shown');
    await checkPage(t, page, 'admin-app-secret', 'the new secret');
    const appsBefore = (await pool.query('SELECT 1 FROM apps')).rowCount;
    await page.reload();
    await waitForPage(page, 'admin-app-secret');
    t.equal(await page.locator('[data-client-secret]').count(), 0, 'a reload shows the secret no more');
    t.equal(await page.locator('[data-secret="shown-before"]').count(), 1);
    t.equal((await pool.query('SELECT 1 FROM apps')).rowCount, appsBefore, 'and registers nothing');
    t.equal(await tokenWith(clientId, first!), 200);

    await page.getByRole('link', { name: "Go to the app's settings" }).click();
    await waitForPage(page, 'admin-app');
    await checkPage(t, page, 'admin-app', 'the app with its secrets');
    await page.getByLabel('New secret expires after').selectOption('30');
    await page.getByRole('button', { name: 'Add a secret' }).click();
    await waitForPage(page, 'admin-app-secret');
    const second = (await page.locator('[data-client-secret]').getAttribute('data-client-secret'))!;
    t.not(second, first);
    t.equal(await tokenWith(clientId, first!), 200, 'both work');
    t.equal(await tokenWith(clientId, second), 200, 'both work');

    await page.getByRole('link', { name: "Go to the app's settings" }).click();
    await waitForPage(page, 'admin-app');
    t.equal(await page.locator('tr[data-secret-id]').count(), 2);
    await page.getByRole('link', { name: `Remove the secret ${first!.slice(0, 3)}…` }).click();
    await waitForPage(page, 'admin-app-secret-remove');
    await checkPage(t, page, 'admin-app-secret-remove', 'remove a secret');
    t.equal(await tokenWith(clientId, first!), 200, 'the confirmation page removes nothing');
    await page.getByRole('button', { name: 'Remove the secret' }).click();
    await waitForPage(page, 'admin-app');
    t.equal(await tokenWith(clientId, first!), 401, 'the removed secret is refused');
    t.equal(await tokenWith(clientId, second), 200, 'the other works');

    await page.getByRole('link', { name: 'replace every secret at once…' }).click();
    await waitForPage(page, 'admin-app-rotate');
    await checkPage(t, page, 'admin-app-rotate', 'replace every secret');
    await page.getByRole('button', { name: 'Replace every secret' }).click();
    await waitForPage(page, 'admin-app-secret');
    const third = (await page.locator('[data-client-secret]').getAttribute('data-client-secret'))!;
    await page.reload();
    await waitForPage(page, 'admin-app-secret');
    t.equal(await page.locator('[data-client-secret]').count(), 0, 'a reload rotates nothing and shows nothing');
    t.equal(await tokenWith(clientId, third), 200, 'the secret just shown works');
    t.equal(await tokenWith(clientId, second), 401, 'the replaced one does not');
  });
}
