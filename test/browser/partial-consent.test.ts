// Partial consent (issue 15) in headless Chromium: the consent page shows the app's optional
// permission as a ticked checkbox (checked with axe-core); the user unticks it and accepts; the
// token response lacks it, and the app's next request for the same permissions is answered silently.
import * as oidc from 'openid-client';
import t from 'tap';
import {
  appCallback,
  authorizationUrl,
  checkPage,
  chromiumSkipReason,
  newUserContext,
  signInWithKeyboard,
  startServerAndBrowser,
  waitForPage,
} from '../support/chromium.js';
import { registerApp } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';

const skip = chromiumSkipReason();
if (skip) t.test('partial consent in a real browser', { skip }, () => undefined);
else await main();

async function main() {
  const { server, browser } = await startServerAndBrowser(t);
  await seedPeople(server.directory, [['contoso', 'alice', 'user']]);
  const SCOPES = ['openid', 'profile', 'User.Read', 'Calendars.Read'];
  const planner = await registerApp(server, {
    tenant: 'fabrikam',
    name: 'Vendor Planner',
    scopes: SCOPES,
    optionalScopes: ['Calendars.Read'],
  });

  t.test('a user unticks an optional permission; the tokens lack it and the next request is silent', async (t) => {
    const context = await newUserContext(browser);
    t.teardown(() => context.close());
    const page = await context.newPage();
    const auth = await authorizationUrl(planner, { scope: SCOPES.join(' ') });
    await page.goto(auth.url.href);
    await signInWithKeyboard(page, 'alice@contoso', PASSWORD);
    await waitForPage(page, 'consent');

    const optional = page.locator('input[type="checkbox"][name="scope"]');
    t.same(await optional.evaluateAll((boxes) => boxes.map((box) => (box as HTMLInputElement).value)), [
      'Calendars.Read',
    ]);
    t.ok(await optional.isChecked(), 'ticked by default');
    await checkPage(t, page, 'consent', 'consent with an optional permission');
    await optional.uncheck();

    const callback = appCallback(page);
    await page.getByRole('button', { name: 'Accept', exact: true }).click();
    const tokens = await oidc.authorizationCodeGrant(planner.config, await callback, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
    });
    t.equal(tokens.scope, 'User.Read', "the token response's scope lacks Calendars.Read");

    const again = await authorizationUrl(planner, { scope: SCOPES.join(' ') });
    const silent = appCallback(page);
    await page.goto(again.url.href).catch(() => undefined);
    t.ok((await silent).searchParams.get('code'), 'the same request again: straight back to the app');
  });
}
