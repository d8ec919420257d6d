// The admin centre's Grants page (issue 15): lifetimes, consents expiring in the next 30 days with
// renew and let lapse, and permissions unused for 90 days with "reduce to what is used", through
// CSRF-protected forms (post/redirect/get), audited; a clock the test moves.
import t from 'tap';
import { Browser, pageName } from '../support/browser.js';
import { testClock } from '../support/clock.js';
import { exchangeCode, fullFlow, registerApp, signInOnPage } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const clock = testClock();
const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' }, undefined, { clock: clock.now });
t.teardown(() => server.close());
const as = await seedPeople(server.directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
  ['fabrikam', 'fadmin', 'admin'],
]);
const { grantLifecycle, grantUse } = server.accord.services;
await grantLifecycle.setTenantLifetime('contoso', 'low', 20, 'operator');
const app = await registerApp(server, { tenant: 'contoso', name: 'Planner', scopes: ['openid', 'Calendars.Read'] });
const alice = as('alice@contoso').id;

async function adminPage(user = 'admin@contoso') {
  const browser = new Browser(server.url);
  const page = await signInOnPage(browser, await browser.visit(`${server.url}/admin/grants`), user, PASSWORD);
  return { browser, page };
}

t.test('lists a consent expiring within 30 days; renew and let lapse', async (t) => {
  const { auth, callback } = await fullFlow(server, app, as('alice@contoso'), { scope: 'openid Calendars.Read' });
  await exchangeCode(app, callback, auth);
  const { browser, page } = await adminPage();
  t.equal(pageName(page.body), 'admin-grants');
  t.match(page.body, /data-class="low" data-days="20"/, 'the lifetimes');
  t.match(
    page.body,
    new RegExp(`data-kind="user" data-client-id="${app.clientId}" data-user-id="${alice}" data-state="expiring"`),
  );

  clock.advanceDays(10);
  const renewed = await browser.submit(page, /\/admin\/grants\/renew$/, { client_id: app.clientId, user_id: alice });
  t.match(renewed.body, /data-done="renewed"/);
  const lapse = await browser.submit(renewed, /\/admin\/grants\/let-lapse$/, {
    client_id: app.clientId,
    user_id: alice,
  });
  t.match(lapse.body, /data-done="lapse"/);
  t.match(lapse.body, /data-state="lapsing"/, 'shown as left to lapse');
  const refused = await browser.submit(lapse, /\/admin\/grants\/renew$/, {
    client_id: app.clientId,
    user_id: 'nobody',
  });
  t.equal(refused.status, 404, 'an unknown consent: refused on the page');
  t.match(refused.body, /data-error="true"/);
  const { rows } = await server.pool.query<{ action: string; actor: string }>(
    `SELECT action, actor FROM audit_events WHERE tenant_id = 'contoso' AND action LIKE 'consent.user.%' ORDER BY id`,
  );
  t.match(
    rows.filter((row) => row.action !== 'consent.user.granted'),
    [
      { action: 'consent.user.renewed', actor: as('admin@contoso').id },
      { action: 'consent.user.lapse_chosen', actor: as('admin@contoso').id },
    ],
  );
});

t.test('another tenant sees none of it', async (t) => {
  const { page } = await adminPage('fadmin@fabrikam');
  t.match(page.body, /data-empty="expiring"/);
  t.match(page.body, /data-empty="unused"/);
});

t.test('reduce to what is used, from the over-privilege list', async (t) => {
  await grantLifecycle.setTenantLifetime('contoso', 'low', null, 'operator');
  await grantLifecycle.renewUserConsent('contoso', alice, app.clientId, 'operator');
  clock.advanceDays(95);
  await grantUse.flush();
  const { browser, page } = await adminPage();
  t.match(page.body, new RegExp(`data-client-id="${app.clientId}" data-user-id="${alice}" data-unused="altogether"`));
  const reduced = await browser.submit(page, /\/admin\/grants\/reduce$/, { client_id: app.clientId, user_id: alice });
  t.match(reduced.body, /data-done="reduced"/);
  t.match(reduced.body, /data-empty="unused"/, 'nothing unused left');
});
