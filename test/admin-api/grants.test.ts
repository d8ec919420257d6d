// Issue 15 through the admin API: grant lifetimes by class and per app, the consents expiring in
// the next 30 days with renew and let lapse, the over-privilege report and reduce to what is used.
import t from 'tap';
import { testClock } from '../support/clock.js';
import { exchangeCode, fullFlow, registerApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';
import { adminApiToken, callApi, PASSWORD, registerAdminClient } from './support.js';

const clock = testClock();
const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' }, undefined, { clock: clock.now });
t.teardown(() => server.close());
const { directory } = server;
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
await directory.createUser({ tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' }, 'operator');
const dave = await directory.createUser(
  { tenantId: 'contoso', username: 'dave', password: PASSWORD, role: 'user' },
  'operator',
);
const token = (await adminApiToken(server, await registerAdminClient(server, 'contoso'), 'carol@contoso')).accessToken;
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'Calendars.Read', 'Files.Read'] });

t.test('lifetimes: set by class and per app; below one day is refused and changes nothing', async (t) => {
  const set = await callApi(server, token, '/tenants/contoso/grant-lifetimes', {
    method: 'PATCH',
    body: { default: 90, low: 1 },
  });
  t.equal(set.status, 200);
  t.same(set.body, { classes: { default: 90, low: 1 }, apps: [] });
  for (const body of [{ high: 0 }, { high: 1.5 }, { nonsense: 3 }, {}]) {
    const refused = await callApi(server, token, '/tenants/contoso/grant-lifetimes', { method: 'PATCH', body });
    t.equal(refused.status, 400, JSON.stringify(body));
    t.equal(refused.body.error, 'invalid_request');
  }
  const app5 = await callApi(server, token, `/tenants/contoso/enterprise-apps/${app.clientId}/grant-lifetime`, {
    method: 'PATCH',
    body: { lifetimeDays: 5 },
  });
  t.same(app5.body.apps, [{ clientId: app.clientId, lifetimeDays: 5 }]);
  const unknown = await callApi(server, token, '/tenants/contoso/enterprise-apps/nope/grant-lifetime', {
    method: 'PATCH',
    body: { lifetimeDays: 5 },
  });
  t.equal(unknown.status, 404);
  const inherit = await callApi(server, token, `/tenants/contoso/enterprise-apps/${app.clientId}/grant-lifetime`, {
    method: 'DELETE',
  });
  t.same(inherit.body, { classes: { default: 90, low: 1 }, apps: [] }, 'back to the classes');
  const read = await callApi(server, token, '/tenants/contoso/grant-lifetimes');
  t.same(read.body, inherit.body, 'nothing changed by the refusals');
  const other = await callApi(server, token, '/tenants/fabrikam/grant-lifetimes');
  t.equal(other.status, 403, 'another tenant');
});

t.test('expiring consents: listed on day 0; renew and let lapse', async (t) => {
  const { auth, callback } = await fullFlow(
    server,
    app,
    { signIn: 'dave@contoso', password: PASSWORD },
    { scope: 'openid Calendars.Read' },
  );
  await exchangeCode(app, callback, auth);
  const list = await callApi(server, token, '/tenants/contoso/expiring-consents');
  t.equal(list.status, 200);
  const item = list.body.value.find((entry: { userId: string }) => entry.userId === dave.id);
  t.match(item, { kind: 'user', clientId: app.clientId, username: 'dave', lapseChosenAt: null });
  t.ok(Date.parse(item.expiresAt) - clock.now().getTime() <= 86_400_000, 'within a day');

  const renewed = await callApi(server, token, '/tenants/contoso/expiring-consents/renew', {
    method: 'POST',
    body: { clientId: app.clientId, userId: dave.id },
  });
  t.equal(renewed.status, 200);
  t.ok(renewed.body.expiresAt, 'a new expiry');
  const lapse = await callApi(server, token, '/tenants/contoso/expiring-consents/let-lapse', {
    method: 'POST',
    body: { clientId: app.clientId, userId: dave.id },
  });
  t.equal(lapse.status, 204);
  const after = await callApi(server, token, '/tenants/contoso/expiring-consents');
  t.ok(after.body.value.find((entry: { userId: string }) => entry.userId === dave.id).lapseChosenAt, 'lapsing');
  const none = await callApi(server, token, '/tenants/contoso/expiring-consents/renew', {
    method: 'POST',
    body: { clientId: app.clientId },
  });
  t.equal(none.status, 404, 'no admin consent to renew');
  const audit = await callApi(server, token, '/tenants/contoso/audit-events?action=consent.user.');
  const actions = audit.body.value.map((event: { action: string }) => event.action);
  t.ok(actions.includes('consent.user.renewed') && actions.includes('consent.user.lapse_chosen'), 'audited');
});

t.test('over-privileged grants and reduce to what is used', async (t) => {
  await callApi(server, token, '/tenants/contoso/grant-lifetimes', { method: 'PATCH', body: { low: 30 } });
  await callApi(server, token, '/tenants/contoso/expiring-consents/renew', {
    method: 'POST',
    body: { clientId: app.clientId, userId: dave.id },
  });
  const empty = await callApi(server, token, '/tenants/contoso/over-privileged-grants');
  t.same(empty.body, { value: [] }, 'nothing is judged before the period');
  clock.advanceDays(0.5);
  const recent = await callApi(server, token, '/tenants/contoso/over-privileged-grants?unusedDays=1');
  t.same(recent.body, { value: [] }, 'still too new for a one-day period');
  clock.advanceDays(0.6);
  await server.accord.services.grantUse.flush();
  const report = await callApi(server, token, '/tenants/contoso/over-privileged-grants?unusedDays=1');
  const row = report.body.value.find((grant: { userId: string }) => grant.userId === dave.id);
  t.match(row, { clientId: app.clientId, unusedAltogether: true, unusedScopes: ['openid', 'Calendars.Read'] });
  const bad = await callApi(server, token, '/tenants/contoso/over-privileged-grants?unusedDays=0');
  t.equal(bad.status, 400);
  const reduced = await callApi(server, token, '/tenants/contoso/over-privileged-grants/reduce', {
    method: 'POST',
    body: { clientId: app.clientId, userId: dave.id, unusedDays: 1 },
  });
  t.equal(reduced.status, 200);
  t.same(reduced.body, { removed: ['openid', 'Calendars.Read'], scopes: [] });
  const again = await callApi(server, token, '/tenants/contoso/over-privileged-grants/reduce', {
    method: 'POST',
    body: { clientId: app.clientId, userId: dave.id, unusedDays: 1 },
  });
  t.equal(again.status, 404, 'nothing of their own left');
});
