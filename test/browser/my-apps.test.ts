// My apps in headless Chromium against the real server: after using two apps (one by her own
// consent, one through her organisation's admin consent), a user sees both on an accessible page
// and removes her consent (a link, then a confirmation page); the app leaves the list and loses its tokens.

import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import t from 'tap';
import {
  appCallback,
  authorizationUrl,
  checkPage,
  chromiumSkipReason,
  gotoMayReachApp,
  newUserContext,
  signInWithKeyboard,
  startServerAndBrowser,
  waitForPage,
} from '../support/chromium.js';
import { registerApp } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';

const skip = chromiumSkipReason();
if (skip) t.test('My apps in a real browser', { skip }, () => undefined);
else await main();

async function main() {
  const { server, browser } = await startServerAndBrowser(t);
  const { directory } = server;
  const serverUrl = server.url;
  const { consent } = server.accord.services;

  const as = await seedPeople(directory, [
    ['contoso', 'admin', 'admin'],
    ['contoso', 'alice', 'user'],
  ]);
  const admin = as('admin@contoso');
  const notesApp = await registerApp(server, {
    tenant: 'fabrikam',
    name: 'Vendor Notes',
    scopes: ['openid', 'offline_access', 'User.Read', 'Calendars.Read'],
  });
  const directoryApp = await registerApp(server, {
    tenant: 'fabrikam',
    name: 'Org Directory',
    scopes: ['openid', 'User.Read', 'User.Read.All'],
  });
  await consent.grantAdminConsent(
    'contoso',
    admin.id,
    directoryApp.clientId,
    ['openid', 'User.Read', 'User.Read.All'],
    'test',
  );

  const context = await newUserContext(browser);
  const page = await context.newPage();

  function appSection(target: Page, name: string) {
    return target.locator('section.my-app', { has: target.getByRole('heading', { name, exact: true }) });
  }

  let notesTokens: oidc.TokenEndpointResponse | undefined;

  t.test('she uses two apps in the browser: consent for one, none for the one her organisation granted', async (t) => {
    // offline_access is honoured only with prompt=consent (OIDC Core §11).
    const notes = await authorizationUrl(notesApp, { scope: 'openid offline_access User.Read', prompt: 'consent' });
    await page.goto(notes.url.href);
    await signInWithKeyboard(page, 'alice@contoso', PASSWORD);
    await waitForPage(page, 'consent');
    let callback = appCallback(page);
    await page.getByRole('button', { name: 'Accept', exact: true }).click();
    notesTokens = await oidc.authorizationCodeGrant(notesApp.config, await callback, {
      pkceCodeVerifier: notes.verifier,
      expectedState: notes.state,
    });
    t.ok(notesTokens.refresh_token, 'Vendor Notes holds a refresh token');

    const org = await authorizationUrl(directoryApp, { scope: 'openid User.Read' });
    callback = appCallback(page);
    await gotoMayReachApp(page, org.url.href);
    const url = await callback;
    t.ok(url.searchParams.get('code'), 'Org Directory: straight back to the app, no page shown');
    await oidc.authorizationCodeGrant(directoryApp.config, url, {
      pkceCodeVerifier: org.verifier,
      expectedState: org.state,
    });
  });

  t.test('My apps lists both apps on an accessible page; only her own consent has a remove button', async (t) => {
    await page.goto(`${serverUrl}/my/apps`);
    await waitForPage(page, 'my-apps');
    t.equal(page.url(), `${serverUrl}/my/apps`, 'already signed in: straight to the page');
    const notesEntry = appSection(page, 'Vendor Notes');
    const orgEntry = appSection(page, 'Org Directory');
    t.equal(await notesEntry.getAttribute('data-origin'), 'own');
    t.equal(await orgEntry.getAttribute('data-origin'), 'organisation');
    t.equal(await notesEntry.getByRole('link', { name: 'Remove your consent…' }).count(), 1);
    t.equal(await orgEntry.getByRole('button').count(), 0, "an admin's grant is not hers to remove");
    t.equal(await orgEntry.getByRole('link', { name: /Remove your consent/ }).count(), 0);
    await checkPage(t, page, 'my-apps', 'My apps');
  });

  t.test('the remove button takes the app off the list and ends its tokens', async (t) => {
    await page.goto(`${serverUrl}/my/apps`);
    await waitForPage(page, 'my-apps');
    await appSection(page, 'Vendor Notes').getByRole('link', { name: 'Remove your consent…' }).click();
    await waitForPage(page, 'my-apps-revoke');
    await checkPage(t, page, 'my-apps-revoke', 'the confirmation');
    await Promise.all([
      page.waitForURL((url) => url.pathname === '/my/apps' && url.searchParams.has('revoked')),
      page.getByRole('button', { name: 'Withdraw my consent' }).click(),
    ]);
    await waitForPage(page, 'my-apps');
    await t.resolves(page.getByRole('status').waitFor(), 'a status message says the access was removed');
    t.match(await page.getByRole('status').textContent(), /access was removed/);
    t.equal(await appSection(page, 'Vendor Notes').count(), 0, 'the app is no longer listed');
    t.equal(await appSection(page, 'Org Directory').count(), 1, 'the other app is untouched');
    await checkPage(t, page, 'my-apps', 'My apps after removal');

    const refresh = await oidc.refreshTokenGrant(notesApp.config, notesTokens!.refresh_token!).then(
      () => 'accepted',
      (error: { error?: string }) => error.error,
    );
    t.equal(refresh, 'invalid_grant', "the app's refresh token no longer works");
  });
}
