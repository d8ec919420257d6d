// The consent flow in headless Chromium against the real server: an app sends the user to /auth,
// they sign in with the keyboard, read the consent page (checked with axe-core) and accept; the
// app gets its code. An admin's extra choice must be reachable by keyboard.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as oidc from 'openid-client';
import type { BrowserContext } from 'playwright-core';
import t, { type Test } from 'tap';
import {
  appCallback,
  authorizationUrl,
  checkPage,
  chromiumSkipReason,
  newUserContext,
  pageMarker,
  signInWithKeyboard,
  startServerAndBrowser,
  waitForPage,
} from '../support/chromium.js';
import { repoRoot } from '../support/database.js';
import { registerApp } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';

const skip = chromiumSkipReason();
if (skip) t.test('consent in a real browser', { skip }, () => undefined);
else await main();

async function main() {
  const { server, browser } = await startServerAndBrowser(t);
  const { directory, pool } = server;
  const serverUrl = server.url;

  await seedPeople(directory, [
    ['contoso', 'admin', 'admin'],
    ['contoso', 'alice', 'user'],
  ]);
  const SCOPES = ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Files.ReadWrite'];
  const vendorApp = await registerApp(server, { tenant: 'fabrikam', name: 'Vendor Planner', scopes: SCOPES });

  /** One person's browser: its own cookies, closed at the end of the subtest. */
  async function userContext(t: Test): Promise<BrowserContext> {
    const context = await newUserContext(browser);
    t.teardown(() => context.close());
    return context;
  }

  t.test(
    'a user signs in with the keyboard, accepts on an accessible consent page, and the app gets its code',
    async (t) => {
      const page = await (await userContext(t)).newPage();
      const auth = await authorizationUrl(vendorApp, { scope: SCOPES.join(' ') });
      await page.goto(auth.url.href);
      await waitForPage(page, 'login');
      t.equal(
        await page.evaluate(() => document.activeElement?.id),
        'username',
        'the username field has the focus on arrival',
      );
      t.equal(await page.getByLabel('Password').getAttribute('type'), 'password');
      await signInWithKeyboard(page, 'alice@contoso', PASSWORD);

      await waitForPage(page, 'consent');
      t.equal(await pageMarker(page), 'consent');
      t.match(await page.title(), /Permissions requested/);
      await t.resolves(page.getByRole('heading', { name: 'Vendor Planner' }).waitFor(), 'the app is named');
      t.equal(await page.locator('[data-verified="false"]').count(), 1, 'the publisher is shown as unverified');
      t.same(
        await page
          .locator('[data-list="requested"] li')
          .evaluateAll((items) => items.map((item) => item.getAttribute('data-scope'))),
        SCOPES,
      );
      t.equal(
        await page.getByLabel('Consent on behalf of your organisation').count(),
        0,
        'a user is not offered the organisation choice',
      );

      await checkPage(t, page, 'consent', 'consent');

      if (process.env.UPDATE_SCREENSHOTS) {
        const file = path.join(repoRoot, 'docs/consent-page.png');
        mkdirSync(path.dirname(file), { recursive: true });
        await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
        t.comment(`screenshot written to ${file}`);
      }

      const callback = appCallback(page);
      await page.getByRole('button', { name: 'Accept', exact: true }).click();
      const url = await callback;
      t.equal(
        `${url.origin}${url.pathname}`,
        'https://app.example.test/callback',
        'the browser is sent to the registered redirect_uri',
      );
      t.ok(url.searchParams.get('code'), 'with a code');
      t.equal(url.searchParams.get('iss'), serverUrl, 'and the issuer (RFC 9207)');
      t.equal(url.searchParams.get('state'), auth.state);

      const tokens = await oidc.authorizationCodeGrant(vendorApp.config, url, {
        pkceCodeVerifier: auth.verifier,
        expectedState: auth.state,
      });
      t.ok(tokens.access_token, 'the app redeems the code');
      t.ok(tokens.claims()?.sub, 'with an ID token for the user');
    },
  );

  t.test(
    'an admin reaches "Consent on behalf of your organisation" with the keyboard and grants it for everyone',
    async (t) => {
      const page = await (await userContext(t)).newPage();
      const auth = await authorizationUrl(vendorApp, { scope: 'openid User.Read Calendars.Read' });
      await page.goto(auth.url.href);
      await signInWithKeyboard(page, 'admin@contoso', PASSWORD);
      await waitForPage(page, 'consent');

      const checkbox = page.getByLabel('Consent on behalf of your organisation');
      t.ok(await checkbox.isVisible(), 'the organisation choice is shown to an admin');
      t.equal(await checkbox.getAttribute('type'), 'checkbox');
      t.equal(await checkbox.getAttribute('name'), 'on_behalf_of_org');
      t.notOk(await checkbox.isChecked(), 'unchecked by default: consenting for everyone is a deliberate choice');
      await checkPage(t, page, 'consent', "admin's consent");

      // Walk the page with Tab from the top, as a keyboard user does.
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      const stops: string[] = [];
      for (let i = 0; i < 20; i++) {
        await page.keyboard.press('Tab');
        const stop = await page.evaluate(() => {
          const element = document.activeElement as HTMLInputElement | HTMLButtonElement | null;
          if (!element || element === document.body) return 'body';
          return element.id
            ? `#${element.id}`
            : `${element.tagName.toLowerCase()}:${(element.textContent ?? '').trim()}`;
        });
        stops.push(stop);
        if (stop === '#on_behalf_of_org') break;
      }
      t.equal(stops.at(-1), '#on_behalf_of_org', `Tab reaches the checkbox (tab stops: ${stops.join(' → ')})`);
      await page.keyboard.press('Space');
      t.ok(await checkbox.isChecked(), 'Space ticks it');
      await page.keyboard.press('Tab');
      t.equal(
        await page.evaluate(() => document.activeElement?.textContent?.trim()),
        'Accept',
        'the next stop is Accept',
      );

      const callback = appCallback(page);
      await page.keyboard.press('Enter');
      const url = await callback;
      t.ok(url.searchParams.get('code'));
      t.equal(url.searchParams.get('iss'), serverUrl);
      const { rows } = await pool.query<{ scopes: string[] }>(
        'SELECT scopes FROM admin_consents WHERE tenant_id = $1 AND client_id = $2',
        ['contoso', vendorApp.clientId],
      );
      t.same(
        rows.map((row) => [...row.scopes].sort()),
        [['Calendars.Read', 'User.Read', 'openid']],
        'the consent was recorded for the whole organisation',
      );
    },
  );
}
