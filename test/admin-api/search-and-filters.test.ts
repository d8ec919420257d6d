// The admin API's list endpoints narrow what they return (issue #12 item 8): users by search with
// paging, apps and enterprise apps by search and state, audit events by actor, action and days,
// each event with the names of its actor and target beside their ids. Bad filters are 400.
import t from 'tap';
import { EnterpriseApps } from '../../src/services/enterprise-apps.js';
import { fullFlow, registerApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';
import { adminApiToken, callApi, PASSWORD, registerAdminClient } from './support.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
const carol = await directory.createUser(
  { tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin', displayName: 'Carol Danvers' },
  'operator',
);
for (const username of ['dave', 'erin', 'frank', 'grace'])
  await directory.createUser(
    { tenantId: 'contoso', username, password: PASSWORD, role: 'user', email: `${username}@mail.example` },
    'operator',
  );
await directory.createUser({ tenantId: 'fabrikam', username: 'dave', password: PASSWORD, role: 'user' }, 'operator');
const adminClient = await registerAdminClient(server, 'contoso');
const token = (await adminApiToken(server, adminClient, 'carol@contoso')).accessToken;
const api = (path: string) => callApi(server, token, `/tenants/contoso${path}`);

t.test('users page by username with `next`, and search part of a username, name or email', async (t) => {
  const first = await api('/users?limit=2');
  t.equal(first.status, 200);
  t.same(
    first.body.value.map((user: { username: string }) => user.username),
    ['carol', 'dave'],
  );
  t.equal(first.body.next, 'dave');
  const second = await api(`/users?limit=2&after=${first.body.next}`);
  t.same(
    second.body.value.map((user: { username: string }) => user.username),
    ['erin', 'frank'],
  );
  const last = await api(`/users?limit=2&after=${second.body.next}`);
  t.same(
    last.body.value.map((user: { username: string }) => user.username),
    ['grace'],
  );
  t.equal(last.body.next, null, 'the last page says so');

  const byName = await api('/users?search=DANVERS');
  t.same(
    byName.body.value.map((user: { id: string }) => user.id),
    [carol.id],
  );
  const byEmail = await api('/users?search=mail.example');
  t.equal(byEmail.body.value.length, 4, "only contoso's four, not fabrikam's dave");
  t.equal((await api('/users?limit=501')).status, 400);
  t.equal((await api('/users?sort=name')).status, 400, 'an unknown parameter is refused');
});

t.test('apps and enterprise apps narrow by search, blocked and verified', async (t) => {
  const notes = await registerApp(server, { tenant: 'contoso', name: 'Contoso Notes', scopes: ['openid'] });
  const planner = await registerApp(server, {
    tenant: 'fabrikam',
    name: 'Fabrikam Planner',
    multiTenant: true,
    scopes: ['openid'],
  });
  const apps = await api('/apps?search=notes');
  t.same(
    apps.body.value.map((app: { clientId: string }) => app.clientId),
    [notes.clientId],
  );
  t.same((await api(`/apps?search=${notes.clientId}`)).body.value.length, 1, 'by client id');
  t.same((await api('/apps?search=planner')).body.value, [], "another tenant's app is not listed");

  // In use in contoso once one of its users has consented.
  for (const app of [notes, planner])
    await fullFlow(server, app, { signIn: 'erin@contoso', password: PASSWORD }, { scope: 'openid' });
  const enterpriseApps = new EnterpriseApps(pool);
  await enterpriseApps.block('contoso', planner.clientId, carol.id);
  await enterpriseApps.block('contoso', notes.clientId, carol.id);
  await enterpriseApps.unblock('contoso', notes.clientId, carol.id);
  const names = async (query: string) =>
    (await api(`/enterprise-apps${query}`)).body.value.map((app: { name: string }) => app.name).sort();
  t.same(await names(''), ['Admin tool', 'Contoso Notes', 'Fabrikam Planner'], 'the admin tool is in use too');
  t.same(await names('?blocked=true'), ['Fabrikam Planner']);
  t.same(await names('?blocked=false'), ['Admin tool', 'Contoso Notes']);
  t.same(await names('?search=fabrikam%20plan'), ['Fabrikam Planner'], 'every word, by publisher and name');
  t.same(await names('?verified=true'), [], 'no verified publisher yet');
  await directory.setPublisherVerified(planner.clientId, true, 'operator');
  t.same(await names('?verified=true'), ['Fabrikam Planner']);
  t.equal((await api('/enterprise-apps?blocked=maybe')).status, 400);
});

t.test('audit events filter by actor, action and days, with names beside ids', async (t) => {
  const dave = (await api('/users?search=dave')).body.value[0];
  await callApi(server, token, `/tenants/contoso/users/${dave.id}`, { method: 'PATCH', body: { role: 'admin' } });
  const changed = await api('/audit-events?action=user.role.changed');
  t.equal(changed.status, 200);
  t.match(changed.body.value, [
    {
      actor: carol.id,
      actorName: 'carol@contoso',
      action: 'user.role.changed',
      target: dave.id,
      targetName: 'dave@contoso',
    },
  ]);
  t.equal(changed.body.value.length, 1);

  const byOperator = await api('/audit-events?actor=operator&action=user.');
  t.equal(byOperator.body.value.length, 5, "the operator created contoso's five users");
  t.ok(
    byOperator.body.value.every(
      (event: { actorName: unknown; action: string }) => event.actorName === null && event.action === 'user.created',
    ),
  );
  const byUsername = await api('/audit-events?actor=carol');
  const byId = await api(`/audit-events?actor=${carol.id}`);
  t.ok(byUsername.body.value.length > 0);
  t.same(byUsername.body.value, byId.body.value, 'a username or an id');

  const tenantEvent = await api('/audit-events?action=tenant.created');
  t.match(tenantEvent.body.value, [{ target: 'contoso', targetName: 'Contoso' }], 'a tenant by name');
  const appEvent = await api('/audit-events?action=app.unblocked');
  t.match(appEvent.body.value, [{ targetName: 'Contoso Notes' }], 'an app by name');

  // Move one event to an earlier day: the range picks it out, both ends included.
  await pool.query(
    `UPDATE audit_events SET at = '2026-03-10T23:59:59Z' WHERE tenant_id = 'contoso' AND action = 'user.role.changed'`,
  );
  t.equal((await api('/audit-events?from=2026-03-10&to=2026-03-10')).body.value.length, 1);
  t.equal((await api('/audit-events?from=2026-03-11&to=2026-03-11')).body.value.length, 0);
  t.equal((await api('/audit-events?to=2026-03-09')).body.value.length, 0);
  const paged = await api('/audit-events?action=user.&limit=2');
  const older = await api(`/audit-events?action=user.&limit=2&before=${paged.body.next}`);
  t.ok(
    [...paged.body.value, ...older.body.value].every((event: { action: string }) => event.action.startsWith('user.')),
    'the filter holds across pages',
  );

  for (const query of ['from=2026-02-30', 'to=10-03-2026', 'action=User.Created', 'action=a..b', 'actor='])
    t.equal((await api(`/audit-events?${query}`)).status, 400, `${query}: 400`);
});
