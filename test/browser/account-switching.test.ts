// Switching accounts in headless Chromium, with JavaScript and without: signed in as one person,
// a `prompt=login` sign-in as another ends the old session (oidc-provider's end-session form: it
// submits itself, or shows a Continue button when scripts do not run) and completes at the app
// with the new account's code, after that account's own consent. The portal's "Sign in with
// another account" links likewise.
import * as oidc from 'openid-client';
import type { BrowserContext, Page } from 'playwright-core';
import t, { type Test } from 'tap';
import {
  appCallback,
  authorizationUrl,
  type BrowserAuthorization,
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
if (skip) t.test('account switching in a real browser', { skip }, () => undefined);
else await main();

async function main() {
  const { server, browser } = await startServerAndBrowser(t);
  const person = await seedPeople(server.directory, [
    ['contoso', 'admin', 'admin'],
    ['contoso', 'alice', 'user'],
  ]);
  const SCOPES = 'openid profile User.Read';
  const app = await registerApp(server, { tenant: 'contoso', name: 'Team Notes', scopes: SCOPES.split(' ') });

  async function userContext(t: Test, javaScriptEnabled: boolean): Promise<BrowserContext> {
    const context = await newUserContext(browser, { javaScriptEnabled });
    t.teardown(() => context.close());
    return context;
  }

  /** Opens the app's /auth and signs in as `who`; returns the request's PKCE verifier and state. */
  async function signInToApp(page: Page, who: string, params: Record<string, string> = {}) {
    const auth = await authorizationUrl(app, { scope: SCOPES, ...params });
    await page.goto(auth.url.href);
    await signInWithKeyboard(page, who, PASSWORD);
    return auth;
  }

  /** Continues through the end of the old session as the browser does: by itself, or by the button. */
  async function endOldSession(t: Test, page: Page, javaScriptEnabled: boolean): Promise<void> {
    if (javaScriptEnabled) return;
    const button = page.getByRole('button', { name: 'Continue' });
    await button.waitFor();
    t.ok(await button.isVisible(), 'without JavaScript the end-session form shows a Continue button');
    await button.click();
  }

  /** Accepts `who`'s consent page; returns the `sub` of the code the app then redeems. */
  async function acceptConsentAs(t: Test, page: Page, who: string, auth: BrowserAuthorization) {
    await waitForPage(page, 'consent');
    t.match(await page.locator('body').textContent(), `Signed in as ${who}`, `the consent page is ${who}'s`);
    const callback = appCallback(page);
    await page.getByRole('button', { name: 'Accept', exact: true }).click();
    const url = await callback;
    t.equal(`${url.origin}${url.pathname}`, REDIRECT_URI, "the browser ends at the app's redirect_uri");
    const tokens = await oidc.authorizationCodeGrant(app.config, url, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
    });
    return tokens.claims()?.sub;
  }

  for (const [from, to, javaScriptEnabled] of [
    ['alice@contoso', 'admin@contoso', true],
    ['admin@contoso', 'alice@contoso', true],
    ['alice@contoso', 'admin@contoso', false],
    ['admin@contoso', 'alice@contoso', false],
  ] as const) {
    t.test(`${from} switches to ${to} ${javaScriptEnabled ? 'with' : 'without'} JavaScript`, async (t) => {
      await server.pool.query('DELETE FROM user_consents');
      const page = await (await userContext(t, javaScriptEnabled)).newPage();
      const first = await signInToApp(page, from);
      t.equal(await acceptConsentAs(t, page, from, first), person(from).id, `signed in to the app as ${from}`);

      const second = await signInToApp(page, to, { prompt: 'login' });
      await endOldSession(t, page, javaScriptEnabled);
      t.equal(await acceptConsentAs(t, page, to, second), person(to).id, `the app receives ${to}'s code`);
    });
  }

  t.test('"Sign in with another account" on the admin centre\'s "Admins only" page', async (t) => {
    for (const javaScriptEnabled of [true, false]) {
      const page = await (await userContext(t, javaScriptEnabled)).newPage();
      await page.goto(`${server.url}/admin`);
      await signInWithKeyboard(page, 'alice@contoso', PASSWORD);
      await waitForPage(page, 'refused');
      await page.getByRole('link', { name: 'Sign in with another account' }).click();
      await signInWithKeyboard(page, 'admin@contoso', PASSWORD);
      await endOldSession(t, page, javaScriptEnabled);
      await waitForPage(page, 'admin-home');
      t.equal(new URL(page.url()).pathname, '/admin', 'back on the admin centre');
      t.match(await page.locator('body').textContent(), 'admin@contoso', 'signed in as the admin');
      // axe runs as a script: only where the page may run one.
      if (javaScriptEnabled) await checkPage(t, page, 'admin-home', 'admin centre after the switch');
    }
  });

  t.test('"Sign in with another account" on "You can\'t grant this"', async (t) => {
    const vendor = await registerApp(server, {
      tenant: 'fabrikam',
      name: 'Vendor Planner',
      scopes: ['openid', 'User.Read'],
    });
    for (const javaScriptEnabled of [true, false]) {
      const state = `switch-${javaScriptEnabled}`;
      const url = `${server.url}/contoso/adminconsent?${new URLSearchParams({ client_id: vendor.clientId, redirect_uri: REDIRECT_URI, state }).toString()}`;
      const page = await (await userContext(t, javaScriptEnabled)).newPage();
      await page.goto(url);
      await signInWithKeyboard(page, 'alice@contoso', PASSWORD);
      await waitForPage(page, 'refused');
      await page.getByRole('link', { name: 'Sign in with another account' }).click();
      await signInWithKeyboard(page, 'admin@contoso', PASSWORD);
      await endOldSession(t, page, javaScriptEnabled);
      await waitForPage(page, 'admin-consent');
      const callback = appCallback(page);
      await page.getByRole('button', { name: 'Accept for the organisation' }).click();
      const done = await callback;
      t.equal(done.searchParams.get('admin_consent'), 'True', 'the admin granted the app');
      t.equal(done.searchParams.get('state'), state);
    }
  });
}
