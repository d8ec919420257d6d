// Enterprise apps and consent requests through the admin API: an admin governs the apps in use in
// their tenant and answers users' requests; every change reaches tokens and sign-ins at once.

import * as oidc from 'openid-client';
import t from 'tap';
import { callJsonApi, refusedWithin } from '../support/api.js';
import { Browser, pageName } from '../support/browser.js';
import { exchangeCode, fullFlow, registerApp, signInOnPage, startAuthorization } from '../support/flows.js';
import { startTestServer } from '../support/server.js';
import { adminApiToken, callApi, PASSWORD, registerAdminClient } from './support.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
await directory.createUser({ tenantId: 'contoso', username: 'admin', password: PASSWORD, role: 'admin' }, 'operator');
const alice = await directory.createUser(
  { tenantId: 'contoso', username: 'alice', password: PASSWORD, role: 'user' },
  'operator',
);
await directory.createUser({ tenantId: 'contoso', username: 'bob', password: PASSWORD, role: 'user' }, 'operator');
await directory.createUser({ tenantId: 'fabrikam', username: 'carol', password: PASSWORD, role: 'user' }, 'operator');
const token = (await adminApiToken(server, await registerAdminClient(server, 'contoso'), 'admin@contoso')).accessToken;
const vendor = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Vendor Notes',
  scopes: ['openid', 'offline_access', 'User.Read', 'Files.Read', 'User.Read.All'],
});
const base = `/tenants/contoso/enterprise-apps`;

async function consentAndTokens(user: string, scope = 'openid offline_access User.Read') {
  const flow = await fullFlow(server, vendor, { signIn: user, password: PASSWORD }, { scope, prompt: 'consent' });
  return exchangeCode(vendor, flow.callback, flow.auth);
}

t.test('the list and detail show who uses the app and with which permissions', async (t) => {
  await consentAndTokens('alice@contoso');
  await consentAndTokens('carol@fabrikam');
  const list = await callApi(server, token, base);
  t.equal(list.status, 200);
  const entry = (list.body.value as Record<string, unknown>[]).find((app) => app.clientId === vendor.clientId)!;
  t.match(entry, {
    name: 'Vendor Notes',
    publisherTenant: 'fabrikam',
    publisherVerified: false,
    blocked: false,
    userCount: 1,
    adminPermissions: [],
  });
  t.same(entry.userPermissions, ['openid', 'offline_access', 'User.Read']);
  const detail = await callApi(server, token, `${base}/${vendor.clientId}`);
  t.equal(detail.status, 200);
  const users = detail.body.users as { userId: string; permissions: { scope: string }[] }[];
  t.same(
    users.map((user) => user.userId),
    [alice.id],
    "fabrikam's user does not appear in contoso's view",
  );
  t.same(users[0]!.permissions.map((p) => p.scope).sort(), ['User.Read', 'offline_access', 'openid'].sort());
});

t.test('block stops sign-ins and tokens at once; unblock restores them; both audited', async (t) => {
  const tokens = await consentAndTokens('alice@contoso');
  const blocked = await callApi(server, token, `${base}/${vendor.clientId}/block`, { method: 'POST' });
  t.equal(blocked.status, 200);
  t.match(blocked.body, { changed: true });
  await t.rejects(oidc.refreshTokenGrant(vendor.config, tokens.refresh_token!), 'refresh token dead');
  const data = await refusedWithin(() => callJsonApi(server, '/data/v1', tokens.access_token, '/me'));
  t.equal(data.status, 401, 'access token refused by the data API');
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, vendor, { scope: 'openid User.Read' });
  const page = await signInOnPage(browser, auth.page, 'alice@contoso', PASSWORD);
  t.equal(pageName(page.body), 'refused');
  const carol = await consentAndTokens('carol@fabrikam');
  t.ok(carol.access_token, "another tenant's users are not affected");

  t.match(
    (await callApi(server, token, `${base}/${vendor.clientId}/block`, { method: 'POST' })).body,
    { changed: false },
    'blocking twice changes nothing',
  );
  t.match((await callApi(server, token, `${base}/${vendor.clientId}/unblock`, { method: 'POST' })).body, {
    changed: true,
  });
  const back = await fullFlow(
    server,
    vendor,
    { signIn: 'alice@contoso', password: PASSWORD },
    { scope: 'openid User.Read' },
  );
  t.notOk(back.consentShown, 'consent records were kept');
  const { rows } = await pool.query(
    `SELECT action FROM audit_events WHERE tenant_id = 'contoso' AND action IN ('app.blocked', 'app.unblocked')`,
  );
  t.same(rows.map((row) => row.action).sort(), ['app.blocked', 'app.unblocked']);
});

t.test('revoking one user, then removing the app, asks users again', async (t) => {
  const aliceTokens = await consentAndTokens('alice@contoso');
  const bobTokens = await consentAndTokens('bob@contoso');
  const revoked = await callApi(server, token, `${base}/${vendor.clientId}/users/${alice.id}`, { method: 'DELETE' });
  t.equal(revoked.status, 200);
  await t.rejects(oidc.refreshTokenGrant(vendor.config, aliceTokens.refresh_token!));
  const bobRefresh = await oidc.refreshTokenGrant(vendor.config, bobTokens.refresh_token!);
  t.ok(bobRefresh.access_token, "only alice's tokens died");
  t.equal(
    (await callApi(server, token, `${base}/${vendor.clientId}/users/${alice.id}`, { method: 'DELETE' })).status,
    404,
  );

  t.equal((await callApi(server, token, `${base}/${vendor.clientId}/remove`, { method: 'POST' })).status, 200);
  await t.rejects(
    oidc.refreshTokenGrant(vendor.config, bobRefresh.refresh_token!),
    "bob's tokens died with the removal",
  );
  const again = await fullFlow(
    server,
    vendor,
    { signIn: 'bob@contoso', password: PASSWORD },
    { scope: 'openid User.Read' },
  );
  t.ok(again.consentShown, 'bob is asked again');
  t.equal((await callApi(server, token, `${base}/unknownClient`)).status, 404);
});

t.test('consent requests: list, approve some, deny, conflicts', async (t) => {
  await directory.setIntegratedApps('contoso', false, 'operator');
  t.teardown(() => directory.setIntegratedApps('contoso', true, 'operator'));
  for (const user of ['alice', 'bob']) {
    const browser = new Browser(server.url);
    const auth = await startAuthorization(browser, vendor, { scope: 'openid User.Read Files.Read' });
    const page = await signInOnPage(browser, auth.page, `${user}@contoso`, PASSWORD);
    t.equal(pageName(page.body), 'needs-admin-approval');
    await browser.submit(page, /\/request-approval$/, { reason: `${user} needs it` });
  }
  const list = await callApi(server, token, '/tenants/contoso/consent-requests?status=pending');
  t.equal(list.status, 200);
  const pending = list.body.value as { id: string; userId: string; permissions: string[] }[];
  t.equal(pending.length, 2);
  const aliceRequest = pending.find((request) => request.userId === alice.id)!;
  const bobRequest = pending.find((request) => request.userId !== alice.id)!;

  const outside = await callApi(server, token, `/tenants/contoso/consent-requests/${aliceRequest.id}/approve`, {
    method: 'POST',
    body: { permissions: ['Mail.Send'] },
  });
  t.equal(outside.status, 400);
  const approved = await callApi(server, token, `/tenants/contoso/consent-requests/${aliceRequest.id}/approve`, {
    method: 'POST',
    body: { permissions: ['openid', 'User.Read'] },
  });
  t.equal(approved.status, 200);
  t.match(approved.body, { status: 'approved', approvedPermissions: ['openid', 'User.Read'] });
  const detail = await callApi(server, token, `${base}/${vendor.clientId}`);
  t.match(
    detail.body.adminConsent,
    { grantedBy: String, grantedAt: /^\d{4}-\d\d-\d\dT/ },
    'the approval is the tenant-wide admin consent',
  );
  t.same((detail.body.adminConsent.permissions as { scope: string; grantedAt: string }[]).map((p) => p.scope).sort(), [
    'User.Read',
    'openid',
  ]);
  t.equal(
    (
      await callApi(server, token, `/tenants/contoso/consent-requests/${aliceRequest.id}/approve`, {
        method: 'POST',
        body: {},
      })
    ).status,
    409,
  );

  const denied = await callApi(server, token, `/tenants/contoso/consent-requests/${bobRequest.id}/deny`, {
    method: 'POST',
    body: { reason: 'Use the approved app' },
  });
  t.match(denied.body, { status: 'denied', decisionReason: 'Use the approved app' });

  const silent = await fullFlow(
    server,
    vendor,
    { signIn: 'bob@contoso', password: PASSWORD },
    { scope: 'openid User.Read' },
  );
  t.notOk(silent.consentShown, 'what was approved needs no page, for everyone');
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, vendor, { scope: 'openid Files.Read' });
  const page = await signInOnPage(browser, auth.page, 'bob@contoso', PASSWORD);
  t.equal(pageName(page.body), 'needs-admin-approval', 'what was not approved still needs approval');
  t.equal((await callApi(server, token, '/tenants/fabrikam/consent-requests')).status, 403, 'another tenant: 403');
});
