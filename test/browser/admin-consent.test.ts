// The admin consent endpoint in headless Chromium against the real server: a vendor app sends an
// admin to /{tenant}/adminconsent, the admin signs in through the portal, reads the page (checked
// with axe-core) and grants the app for the whole organisation.

import type { BrowserContext } from 'playwright-core';
import t, { type Test } from 'tap';
import {
  appCallback,
  checkPage,
  chromiumSkipReason,
  newUserContext,
  signInWithKeyboard,
  startServerAndBrowser,
  waitForPage,
} from '../support/chromium.js';
import { REDIRECT_URI, registerApp } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';

const skip = chromiumSkipReason();
if (skip) t.test('admin consent in a real browser', { skip }, () => undefined);
else await main();

async function main() {
  const { server, browser } = await startServerAndBrowser(t);
  const { directory, pool } = server;
  const serverUrl = server.url;

  await seedPeople(directory, [
    ['contoso', 'admin', 'admin'],
    ['contoso', 'alice', 'user'],
  ]);
  const SCOPES = ['openid', 'profile', 'User.Read', 'Calendars.Read', 'User.Read.All'];
  const vendorApp = await registerApp(server, { tenant: 'fabrikam', name: 'Vendor Planner', scopes: SCOPES });
  const adminConsentUrl = `${serverUrl}/contoso/adminconsent?${new URLSearchParams({ client_id: vendorApp.clientId, redirect_uri: REDIRECT_URI, state: 'xyz-123' }).toString()}`;

  async function userContext(t: Test): Promise<BrowserContext> {
    const context = await newUserContext(browser);
    t.teardown(() => context.close());
    return context;
  }

  t.test(
    'an admin signs in through the portal, reads an accessible page and grants the app for everyone',
    async (t) => {
      const page = await (await userContext(t)).newPage();
      await page.goto(adminConsentUrl);
      await signInWithKeyboard(page, 'admin@contoso', PASSWORD);
      await waitForPage(page, 'admin-consent');
      t.equal(page.url(), adminConsentUrl, 'after sign-in the admin is back on the admin consent page');
      t.match(await page.title(), /Grant permissions for your organisation/);
      await t.resolves(page.getByRole('heading', { name: 'Vendor Planner' }).waitFor(), 'the app is named');
      t.match(
        await page.locator('.origin').textContent(),
        /another organisation: Fabrikam/,
        'the tenant the app comes from is shown',
      );
      t.same(
        await page
          .locator('[data-list="requested"] li')
          .evaluateAll((items) => items.map((item) => item.getAttribute('data-scope'))),
        SCOPES,
      );
      await checkPage(t, page, 'admin-consent', 'admin consent');

      const callback = appCallback(page);
      await page.getByRole('button', { name: 'Accept for the organisation' }).click();
      const url = await callback;
      t.equal(`${url.origin}${url.pathname}`, REDIRECT_URI, "the browser ends at the app's redirect_uri");
      t.equal(url.searchParams.get('admin_consent'), 'True');
      t.equal(url.searchParams.get('tenant'), 'contoso');
      t.equal(url.searchParams.get('state'), 'xyz-123');
      t.same(url.searchParams.get('scope')?.split(' '), SCOPES);
      const { rows } = await pool.query<{ scopes: string[] }>(
        'SELECT scopes FROM admin_consents WHERE tenant_id = $1 AND client_id = $2',
        ['contoso', vendorApp.clientId],
      );
      t.same(
        rows.map((row) => row.scopes),
        [SCOPES],
        'recorded for the organisation',
      );
    },
  );

  t.test('a user who is not an admin gets an accessible refusal and can return to the app', async (t) => {
    const page = await (await userContext(t)).newPage();
    await page.goto(adminConsentUrl);
    await signInWithKeyboard(page, 'alice@contoso', PASSWORD);
    await waitForPage(page, 'refused');
    t.match(await page.getByRole('heading', { level: 1 }).textContent(), /You can't grant this/);
    t.equal(await page.getByRole('button', { name: /Accept/ }).count(), 0, 'nothing to accept');
    await checkPage(t, page, 'refused', 'admin consent refusal');

    const callback = appCallback(page);
    await page.getByRole('link', { name: 'Return to the app' }).click();
    const url = await callback;
    t.equal(`${url.origin}${url.pathname}`, REDIRECT_URI);
    t.equal(url.searchParams.get('error'), 'access_denied');
    t.equal(url.searchParams.get('state'), 'xyz-123');
    t.equal(url.searchParams.get('admin_consent'), null);
  });
}
