// Graduated consent through the admin API (issue 14): the user consent setting and risk-based
// step-up, permission classifications with grant counts, custom app consent policies, the preview
// of a change and the what-if. Bad input is a 4xx with `error` and changes nothing; every change
// is audited; another tenant's data is never reached.
import t from 'tap';
import { Directory } from '../../src/services/directory.js';
import { startTestServer } from '../support/server.js';
import { adminApiToken, callApi, PASSWORD, registerAdminClient } from './support.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { pool } = server;
const directory = new Directory(pool, server.accord.services.catalogue);

await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
await directory.createUser({ tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' }, 'operator');
const alice = await directory.createUser(
  { tenantId: 'contoso', username: 'alice', password: PASSWORD, role: 'user' },
  'operator',
);
const adminClient = await registerAdminClient(server, 'contoso');
const token = (await adminApiToken(server, adminClient, 'carol@contoso')).accessToken;

const { app: planner } = await directory.createApp(
  {
    publisherTenantId: 'fabrikam',
    name: 'Planner',
    multiTenant: true,
    public: false,
    redirectUris: ['https://planner.example/cb'],
    scopes: ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Mail.Send'],
  },
  'operator',
);
await directory.setPublisherVerified(planner.clientId, true, 'operator');
// Alice already uses the planner: a preview counts her among the users whose next consent changes.
await server.accord.services.consent.grantUserConsent(alice.id, planner.clientId, ['openid', 'User.Read']);

const base = '/tenants/contoso';
const evaluate = (scopes: string[], user = 'alice') =>
  callApi(server, token, `${base}/consent-policies/evaluate`, { body: { clientId: planner.clientId, user, scopes } });

async function auditActions(): Promise<string[]> {
  const { rows } = await pool.query<{ action: string }>(
    `SELECT action FROM audit_events WHERE tenant_id = 'contoso'
      AND action IN ('tenant.user_consent.changed', 'tenant.risk_step_up.changed', 'permission.classified',
                     'consent_policy.created', 'consent_policy.deleted') ORDER BY id`,
  );
  return rows.map((row) => row.action);
}

t.test('the settings: read, preview, change, audited', async (t) => {
  const read = await callApi(server, token, `${base}/consent-settings`);
  t.same(read.body, { userConsent: 'all', riskStepUp: false, riskStepUpDays: 30 });

  const preview = await callApi(server, token, `${base}/consent-settings/preview`, {
    body: { userConsent: 'verified-low-impact' },
  });
  t.equal(preview.status, 200);
  t.match(preview.body, {
    excludesEverything: false,
    existingGrantsKept: true,
    appsChanged: [
      {
        clientId: planner.clientId,
        users: 1,
        before: { outcome: 'consent' },
        after: { outcome: 'needs_admin_approval', rule: 'not_low_impact' },
      },
    ],
  });
  t.same(await auditActions(), [], 'a preview changes nothing');

  const changed = await callApi(server, token, `${base}/consent-settings`, {
    method: 'PATCH',
    body: { userConsent: 'verified-low-impact', riskStepUp: true, riskStepUpDays: 14 },
  });
  t.same(changed.body, { userConsent: 'verified-low-impact', riskStepUp: true, riskStepUpDays: 14 });
  t.same(await auditActions(), ['tenant.user_consent.changed', 'tenant.risk_step_up.changed']);

  for (const body of [{ userConsent: 'some' }, { riskStepUpDays: 0 }, { riskStepUp: 'yes' }, { other: true }]) {
    const refused = await callApi(server, token, `${base}/consent-settings`, { method: 'PATCH', body });
    t.equal(refused.status, 400, JSON.stringify(body));
    t.equal(refused.body.error, 'invalid_request');
  }
  t.same((await callApi(server, token, `${base}/consent-settings`)).body, changed.body, 'nothing changed');
  await callApi(server, token, `${base}/consent-settings`, { method: 'PATCH', body: { riskStepUp: false } });
});

t.test('the what-if decides with the rule in words, granting nothing', async (t) => {
  const allowed = await evaluate(['openid', 'User.Read', 'profile']);
  t.equal(allowed.status, 200);
  t.match(allowed.body, {
    outcome: 'consent',
    missingScopes: ['profile'],
    alreadyGrantedScopes: ['openid', 'User.Read'],
    rule: { row: 9, id: 'policy_allowed', policy: { id: 'verified-low-impact' } },
  });
  const medium = await evaluate(['openid', 'Calendars.Read', 'Unknown.Scope']);
  t.match(medium.body, {
    outcome: 'needs_admin_approval',
    reason: 'consent_policy',
    rule: { row: 8, id: 'not_low_impact', explanation: /Calendars\.Read is classified medium/ },
    ignoredScopes: [{ scope: 'Unknown.Scope', why: 'not a known permission' }],
  });
  const admin = await evaluate(['Mail.Send'], 'carol');
  t.match(admin.body, { outcome: 'consent', offerOrgConsent: true, rule: { row: 4, id: 'admin' } });
  const { rows } = await pool.query(`SELECT scopes FROM user_consents WHERE user_id = $1`, [alice.id]);
  t.same(rows[0].scopes, ['openid', 'User.Read'], 'nothing was granted');

  t.equal((await evaluate(['openid'], 'nobody')).status, 400);
  const unknownApp = await callApi(server, token, `${base}/consent-policies/evaluate`, {
    body: { clientId: 'nope', user: 'alice', scopes: ['openid'] },
  });
  t.match(unknownApp, { status: 400, body: { error: 'invalid_request', error_description: /unknown app/ } });
});

t.test('classifications: listed with their source and grants; classify by short or full name', async (t) => {
  const list = await callApi(server, token, `${base}/permission-classifications`);
  t.equal(list.status, 200);
  const byScope = new Map(list.body.value.map((entry: { scope: string }) => [entry.scope, entry]));
  t.match(byScope.get('User.Read'), { classification: 'low', source: 'default', grants: 1 });
  t.match(byScope.get('Calendars.Read'), { classification: 'medium', source: 'api', grants: 0 });
  t.notOk(byScope.has('User.Read.All'), 'admin permissions are not classed');

  const classified = await callApi(server, token, `${base}/permission-classifications/Calendars.Read`, {
    method: 'PATCH',
    body: { classification: 'low' },
  });
  t.same(classified.body, { scope: 'Calendars.Read', from: 'medium', to: 'low' });
  t.match((await evaluate(['Calendars.Read'])).body, { outcome: 'consent' }, 'this server forgot its cached copy');

  for (const [scope, classification, status] of [
    ['Nope.Read', 'low', 400],
    ['User.Read.All', 'low', 400],
    ['Calendars.Read', 'tiny', 400],
  ] as const) {
    const refused = await callApi(server, token, `${base}/permission-classifications/${scope}`, {
      method: 'PATCH',
      body: { classification },
    });
    t.equal(refused.status, status, `${scope} ${classification}`);
  }
  t.same(await auditActions(), [
    'tenant.user_consent.changed',
    'tenant.risk_step_up.changed',
    'tenant.risk_step_up.changed',
    'permission.classified',
  ]);
});

t.test('custom policies: preview, create, show, decide, delete', async (t) => {
  const policy = {
    id: 'planner-mail',
    name: 'The planner may send mail',
    includes: [{ clientAppIds: [planner.clientId], permissions: ['Mail.Send'] }],
  };
  const preview = await callApi(server, token, `${base}/consent-policies/preview`, { body: { add: policy } });
  t.match(preview.body, { excludesEverything: false, appsChanged: [{ clientId: planner.clientId }] });

  const created = await callApi(server, token, `${base}/consent-policies`, { body: policy });
  t.equal(created.status, 201);
  t.match(created.body, {
    id: 'planner-mail',
    builtIn: false,
    inEffect: true,
    includesText: [`permission Mail.Send, app ${planner.clientId}`],
  });
  t.match((await evaluate(['Mail.Send'])).body, {
    outcome: 'consent',
    rule: { id: 'policy_allowed', policy: { id: 'planner-mail' } },
  });
  t.equal((await callApi(server, token, `${base}/consent-policies`, { body: policy })).status, 409);

  const list = await callApi(server, token, `${base}/consent-policies`);
  t.same(
    list.body.value.map((entry: { id: string; inEffect: boolean }) => [entry.id, entry.inEffect]),
    [
      ['all', false],
      ['verified-low-impact', true],
      ['planner-mail', true],
    ],
  );

  // A policy excluding everything is allowed, and the preview says so first.
  const everything = { id: 'stop-all', name: 'Stop all user consent', excludes: [{}] };
  const warned = await callApi(server, token, `${base}/consent-policies/preview`, { body: { add: everything } });
  t.equal(warned.body.excludesEverything, true);

  const bad = [
    { id: 'Bad Id', name: 'x', includes: [{}] },
    { id: 'all', name: 'x', includes: [{}] },
    { id: 'empty', name: 'x' },
    { id: 'unknown-condition', name: 'x', includes: [{ colour: ['red'] }] },
    { id: 'unknown-scope', name: 'x', includes: [{ permissions: ['Nope.Read'] }] },
    { id: 'unknown-api', name: 'x', includes: [{ apis: ['https://nowhere.example'] }] },
    { id: 'unknown-app', name: 'x', includes: [{ clientAppIds: ['nope'] }] },
    { id: 'unknown-publisher', name: 'x', includes: [{ publisherTenantIds: ['nowhere'] }] },
    { id: 'bad-class', name: 'x', includes: [{ classifications: ['huge'] }] },
  ];
  for (const body of bad) {
    const refused = await callApi(server, token, `${base}/consent-policies`, { body });
    t.equal(refused.status, 400, body.id);
    t.equal(refused.body.error, 'invalid_request');
  }
  t.equal((await callApi(server, token, `${base}/consent-policies/unknown-scope`)).status, 404, 'nothing was saved');

  t.match((await callApi(server, token, `${base}/consent-policies/all`)).body, { builtIn: true, inEffect: false });
  t.equal((await callApi(server, token, `${base}/consent-policies/all`, { method: 'DELETE' })).status, 400);
  t.equal((await callApi(server, token, `${base}/consent-policies/planner-mail`, { method: 'DELETE' })).status, 204);
  t.equal((await callApi(server, token, `${base}/consent-policies/planner-mail`, { method: 'DELETE' })).status, 404);
  t.match((await evaluate(['Mail.Send'])).body, { outcome: 'needs_admin_approval', rule: { id: 'not_low_impact' } });

  const { rows } = await pool.query(
    `SELECT action, target FROM audit_events WHERE tenant_id = 'contoso' AND action LIKE 'consent_policy.%' ORDER BY id`,
  );
  t.same(rows, [
    { action: 'consent_policy.created', target: 'planner-mail' },
    { action: 'consent_policy.deleted', target: 'planner-mail' },
  ]);
});

t.test("another tenant's settings and policies are out of reach", async (t) => {
  for (const path of ['/tenants/fabrikam/consent-settings', '/tenants/fabrikam/consent-policies']) {
    t.equal((await callApi(server, token, path)).status, 403, path);
  }
});
