// The German pages in headless Chromium against the real server: an app asks for ui_locales=de,
// the user signs in on the German sign-in page with the keyboard and reads the German consent page;
// a German browser (Accept-Language from its locale) gets German My apps, admin consent, needs
// admin approval and error pages. Every page says lang="de" and axe-core finds nothing serious.
// UPDATE_SCREENSHOTS=1 writes docs/consent-page-de.png (README, "Languages").
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import t, { type Test } from 'tap';
import {
  appCallback,
  authorizationUrl,
  checkPage,
  chromiumSkipReason,
  startServerAndBrowser,
  waitForPage,
} from '../support/chromium.js';
import { repoRoot } from '../support/database.js';
import { REDIRECT_URI, registerApp } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';

const skip = chromiumSkipReason();
if (skip) t.test('German pages in a real browser', { skip }, () => undefined);
else await main();

/** A browser whose person reads German: Chromium sends `Accept-Language: de-DE` for this locale. */
async function germanContext(t: Test, browser: Browser, locale = 'de-DE'): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1024, height: 900 }, locale, reducedMotion: 'reduce' });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  t.teardown(() => context.close());
  return context;
}

/** Signs in on the German sign-in page with the keyboard, as signInWithKeyboard does in English. */
async function signInGerman(t: Test, page: Page, username: string) {
  await waitForPage(page, 'login');
  t.equal(await page.evaluate(() => document.documentElement.lang), 'de', 'the sign-in page is lang="de"');
  t.match(await page.title(), /^Anmelden · Accord$/);
  await checkPage(t, page, 'login', 'German sign-in');
  await page.getByLabel('Benutzername').focus();
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
}

async function main() {
  const { server, browser } = await startServerAndBrowser(t);
  const { directory } = server;
  await seedPeople(directory, [
    ['contoso', 'admin', 'admin'],
    ['contoso', 'alice', 'user'],
  ]);
  const SCOPES = ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Files.ReadWrite'];
  const planner = await registerApp(server, { tenant: 'fabrikam', name: 'Vendor Planner', scopes: SCOPES });
  const directoryApp = await registerApp(server, {
    tenant: 'fabrikam',
    name: 'Org Directory',
    scopes: ['openid', 'User.Read', 'User.Read.All'],
  });

  t.test('ui_locales=de: the German sign-in page, then an accessible German consent page', async (t) => {
    // An English browser: the app's ui_locales decides.
    const page = await (await germanContext(t, browser, 'en-GB')).newPage();
    const auth = await authorizationUrl(planner, { scope: SCOPES.join(' '), ui_locales: 'de' });
    await page.goto(auth.url.href);
    await signInGerman(t, page, 'admin@contoso');

    await waitForPage(page, 'consent');
    t.equal(await page.evaluate(() => document.documentElement.lang), 'de', 'the consent page is lang="de"');
    t.match(await page.title(), /^Angeforderte Berechtigungen · Accord$/);
    t.same(
      await page.locator('[data-list="requested"] li').allTextContents(),
      [
        'Benutzer anmelden',
        'Das Basisprofil der Benutzer sehen',
        'Benutzer anmelden und ihr Profil lesen',
        'Die Kalender der Benutzer lesen',
        'Die Dateien der Benutzer lesen, bearbeiten und löschen',
      ],
      'an admin reads the permissions as they apply to everyone, in German',
    );
    t.ok(
      await page.getByLabel('Im Namen Ihrer Organisation zustimmen').isVisible(),
      'the organisation choice, labelled',
    );
    await checkPage(t, page, 'consent', 'German consent');

    if (process.env.UPDATE_SCREENSHOTS) {
      const file = path.join(repoRoot, 'docs/consent-page-de.png');
      mkdirSync(path.dirname(file), { recursive: true });
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
      t.comment(`screenshot written to ${file}`);
    }

    const callback = appCallback(page);
    await page.getByRole('button', { name: 'Zustimmen', exact: true }).click();
    const url = await callback;
    t.ok(url.searchParams.get('code'), 'accepting in German gives the app its code');
  });

  t.test('a German browser: needs admin approval, My apps, admin consent and an error page', async (t) => {
    const page = await (await germanContext(t, browser)).newPage();
    const auth = await authorizationUrl(directoryApp, { scope: 'openid User.Read.All' });
    await page.goto(auth.url.href);
    await signInGerman(t, page, 'alice@contoso');
    await waitForPage(page, 'needs-admin-approval');
    t.equal(await page.evaluate(() => document.documentElement.lang), 'de');
    await page.getByLabel('Bitten Sie Ihre Administratoren um Genehmigung (Begründung optional)').fill('Für das Team');
    await page.getByRole('button', { name: 'Genehmigung anfordern' }).click();
    await page.locator('[data-request="sent"]').waitFor();
    await checkPage(t, page, 'needs-admin-approval', 'German needs admin approval');

    await page.goto(`${server.url}/my/apps`);
    await waitForPage(page, 'my-apps');
    t.equal(await page.evaluate(() => document.documentElement.lang), 'de');
    await t.resolves(page.getByRole('heading', { name: 'Meine Apps', level: 1 }).waitFor());
    await t.resolves(page.getByRole('columnheader', { name: 'Angefragt am' }).waitFor(), 'the table is German');
    await checkPage(t, page, 'my-apps', 'German My apps');

    await page.goto(`${server.url}/interaction/gone`);
    await waitForPage(page, 'error');
    t.equal(await page.evaluate(() => document.documentElement.lang), 'de');
    await t.resolves(page.getByRole('heading', { name: 'Diese Anmeldung ist abgelaufen' }).waitFor());
    await checkPage(t, page, 'error', 'German error');

    const adminPage = await (await germanContext(t, browser)).newPage();
    await adminPage.goto(
      `${server.url}/contoso/adminconsent?${new URLSearchParams({ client_id: directoryApp.clientId, redirect_uri: REDIRECT_URI })}`,
    );
    await signInGerman(t, adminPage, 'admin@contoso');
    await waitForPage(adminPage, 'admin-consent');
    t.equal(await adminPage.evaluate(() => document.documentElement.lang), 'de');
    await t.resolves(adminPage.getByRole('button', { name: 'Für die Organisation zustimmen' }).waitFor());
    await checkPage(t, adminPage, 'admin-consent', 'German admin consent');
  });
}
