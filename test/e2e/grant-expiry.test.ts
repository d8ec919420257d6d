// Issue 15, "Expiry and review": a grant with a one-day lifetime works on day 0, is listed as
// expiring, asks again on day 2 (silent requests get consent_required), and its refresh token
// fails after expiry — with a clock the test moves, no sleeping.
import * as oidc from 'openid-client';
import t from 'tap';
import { pageName } from '../support/browser.js';
import { testClock } from '../support/clock.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  fullFlow,
  registerApp,
  startAuthorization,
} from '../support/flows.js';
import { seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const clock = testClock();
const server = await startTestServer({}, undefined, { clock: clock.now });
t.teardown(() => server.close());
const as = await seedPeople(server.directory, [
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
]);
const lifecycle = server.accord.services.grantLifecycle;
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'offline_access', 'Calendars.Read'] });
const SCOPE = 'openid offline_access Calendars.Read';

t.test('a lifetime below one day, or an unknown app, is refused and changes nothing', async (t) => {
  const { parseGrantLifetime } = await import('../../src/core/grant-lifetime.js');
  t.throws(() => parseGrantLifetime('0'), { code: 'invalid_request', message: /at least one day/ });
  t.throws(() => parseGrantLifetime('0.5'), { code: 'invalid_request', message: /at least one day/ });
  t.throws(() => parseGrantLifetime('1.5'), { code: 'invalid_request', message: /whole number/ });
  t.throws(() => parseGrantLifetime('soon'), { code: 'invalid_request' });
  t.equal(parseGrantLifetime('none'), null);
  await t.rejects(lifecycle.setAppLifetime('contoso', 'no-such-app', 3, 'operator'), { code: 'not_found' });
  await t.rejects(lifecycle.setTenantLifetime('nowhere', 'high', 3, 'operator'), { code: 'not_found' });
  t.same(await lifecycle.lifetimes('contoso'), { classes: {}, apps: [] }, 'nothing changed');
});

t.test('a grant with a one-day lifetime: day 0 works, day 2 asks again, refresh fails', async (t) => {
  // Calendars.Read is low impact: the tenant gives low-impact grants one day, the rest 90.
  await lifecycle.setTenantLifetime('contoso', 'default', 90, 'operator');
  await lifecycle.setTenantLifetime('contoso', 'low', 1, 'operator');

  // Day 0: consent, tokens, a refresh and a silent /auth all work.
  const { auth, callback, consentShown, browser } = await fullFlow(server, app, as('alice@contoso'), {
    scope: SCOPE,
    prompt: 'consent',
  });
  t.ok(consentShown, 'the first sign-in asks for consent');
  const tokens = await exchangeCode(app, callback, auth);
  t.ok(tokens.refresh_token, 'a refresh token');
  const refreshed = await oidc.refreshTokenGrant(app.config, tokens.refresh_token!);
  t.ok(refreshed.access_token, 'the refresh token works on day 0');
  const silent = await startAuthorization(browser, app, { scope: 'openid Calendars.Read', prompt: 'none' });
  t.ok(appRedirect(silent.page).searchParams.get('code'), 'a silent request gets a code on day 0');

  // The admin list shows it on day 0 as expiring within the next 30 days.
  const expiring = await lifecycle.expiring('contoso');
  const alice = expiring.find((item) => item.userId === as('alice@contoso').id);
  t.ok(alice, 'listed as expiring');
  t.equal(alice?.kind, 'user');
  t.equal(alice?.clientId, app.clientId);
  const inHours = ((alice?.expiresAt.getTime() ?? 0) - clock.now().getTime()) / 3_600_000;
  t.ok(inHours > 23 && inHours <= 24, `expires in a day (${inHours.toFixed(2)} h)`);
  // The refresh token is capped by the grant's end.
  const { rows } = await server.pool.query<{ exp: number }>(
    `SELECT (payload->>'exp')::bigint AS exp FROM oidc_models WHERE model = 'RefreshToken' AND grant_id = $1::text`,
    [(await import('jose')).decodeJwt(refreshed.access_token).gid],
  );
  t.ok(rows.length > 0 && rows.every((row) => row.exp * 1000 <= (alice?.expiresAt.getTime() ?? 0) + 1000), 'capped');

  // Day 2: the grant has expired.
  clock.advanceDays(2);
  const silentLater = await startAuthorization(browser, app, { scope: 'openid Calendars.Read', prompt: 'none' });
  t.equal(appRedirect(silentLater.page).searchParams.get('error'), 'consent_required', 'silent: consent_required');
  await t.rejects(
    oidc.refreshTokenGrant(app.config, refreshed.refresh_token!),
    { name: 'ResponseBodyError', error: 'invalid_grant' },
    'the refresh token fails after expiry',
  );
  const again = await startAuthorization(browser, app, { scope: 'openid Calendars.Read' });
  t.equal(pageName(again.page.body), 'consent', 'an interactive request asks again');
  t.match(again.page.body, /data-scope="Calendars.Read"/, 'for the expired permission');

  // Accepting again starts a new lifetime from day 2; the new tokens work.
  const renewed = await exchangeCode(app, appRedirect(await answerConsent(browser, again.page, 'accept')), again);
  t.ok(renewed.access_token, 'tokens again after consenting again');
  const after = (await lifecycle.expiring('contoso')).find((item) => item.userId === as('alice@contoso').id);
  const leftHours = ((after?.expiresAt.getTime() ?? 0) - clock.now().getTime()) / 3_600_000;
  t.ok(leftHours > 23 && leftHours <= 24, 'a new day from the new consent');
});

t.test('renew (audited) moves the expiry; let lapse is recorded; an app override wins', async (t) => {
  await lifecycle.setAppLifetime('contoso', app.clientId, 5, 'operator');
  const { auth, callback } = await fullFlow(server, app, as('bob@contoso'), { scope: SCOPE, prompt: 'consent' });
  const tokens = await exchangeCode(app, callback, auth);
  const bob = as('bob@contoso').id;
  const listed = (await lifecycle.expiring('contoso')).find((item) => item.userId === bob);
  const days = ((listed?.expiresAt.getTime() ?? 0) - clock.now().getTime()) / 86_400_000;
  t.ok(days > 4.9 && days <= 5, 'the app override (5 days) in place of the class (1 day)');

  clock.advanceDays(4);
  const renewedTo = await lifecycle.renewUserConsent('contoso', bob, app.clientId, 'admin-1');
  const left = ((renewedTo?.getTime() ?? 0) - clock.now().getTime()) / 86_400_000;
  t.ok(left > 4.9 && left <= 5, 'renewed: five days from now');
  clock.advanceDays(2); // past the first expiry, inside the renewed one
  const refreshed = await oidc.refreshTokenGrant(app.config, tokens.refresh_token!);
  t.ok(refreshed.access_token, "renewal moves the grant's end: the refresh token works past the old expiry");

  await lifecycle.letUserConsentLapse('contoso', bob, app.clientId, 'admin-1');
  const lapsing = (await lifecycle.expiring('contoso')).find((item) => item.userId === bob);
  t.ok(lapsing?.lapseChosenAt, 'the choice to let it lapse is shown');
  const { rows } = await server.pool.query<{ action: string }>(
    `SELECT action FROM audit_events WHERE tenant_id = 'contoso' AND target = $1::text ORDER BY id`,
    [app.clientId],
  );
  const actions = rows.map((row) => row.action);
  t.ok(actions.includes('consent.user.renewed'), 'renewal audited');
  t.ok(actions.includes('consent.user.lapse_chosen'), 'let lapse audited');
  t.ok(actions.includes('app.grant_lifetime.changed'), 'the override audited');
});
