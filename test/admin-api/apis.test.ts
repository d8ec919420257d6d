// A tenant's own APIs through the admin API (issue 13): register, add and edit scopes, see their
// use, see what removal revokes and then remove; bad input is a 4xx with `error` and changes
// nothing; another tenant's API is a 404.
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
const adminClient = await registerAdminClient(server, 'contoso');
const token = (await adminApiToken(server, adminClient, 'carol@contoso')).accessToken;

const IDENTIFIER = 'api://contoso-payroll';
const base = '/tenants/contoso/apis';
const one = `${base}/${encodeURIComponent(IDENTIFIER)}`;

async function auditActions(): Promise<string[]> {
  const { rows } = await pool.query<{ action: string }>(
    `SELECT action FROM audit_events WHERE tenant_id = 'contoso' AND action LIKE 'api.%' ORDER BY id`,
  );
  return rows.map((row) => row.action);
}

t.test('register an API, add and edit scopes, read them with their use', async (t) => {
  const created = await callApi(server, token, base, { body: { identifier: IDENTIFIER, name: 'Payroll' } });
  t.equal(created.status, 201);
  t.match(created.body, { identifier: IDENTIFIER, name: 'Payroll', tenant: 'contoso', multiTenant: false, scopes: [] });
  t.match(created.headers.get('location'), /\/apis\/api%3A%2F%2Fcontoso-payroll$/);

  const read = await callApi(server, token, `${one}/scopes`, {
    body: { name: 'payslips.read', description: 'Read your payslips' },
  });
  t.equal(read.status, 201);
  t.same(read.body, {
    scope: `${IDENTIFIER}/payslips.read`,
    name: 'payslips.read',
    description: 'Read your payslips',
    adminDescription: 'Read your payslips',
    adminConsentRequired: false,
    impact: 'low',
  });
  const admin = await callApi(server, token, `${one}/scopes`, {
    body: {
      name: 'payroll.run',
      description: 'Run payroll for your organisation',
      adminDescription: 'Run the organisation’s payroll',
      adminConsentRequired: true,
    },
  });
  t.equal(admin.body.impact, 'high', 'an admin scope defaults to high impact');

  const edited = await callApi(server, token, `${one}/scopes/payslips.read`, {
    method: 'PATCH',
    body: { description: 'See your payslips', impact: 'medium' },
  });
  t.equal(edited.status, 200);
  t.match(edited.body, { description: 'See your payslips', impact: 'medium', adminConsentRequired: false });

  await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Payslip viewer',
      multiTenant: false,
      public: false,
      redirectUris: ['https://viewer.example/cb'],
      scopes: ['openid', `${IDENTIFIER}/payslips.read`],
    },
    'operator',
  );
  const shown = await callApi(server, token, one);
  t.equal(shown.status, 200);
  t.same(
    shown.body.scopes.map((scope: { name: string }) => scope.name),
    ['payslips.read', 'payroll.run'],
  );
  t.match(shown.body.usage, [
    { scope: `${IDENTIFIER}/payslips.read`, apps: [{ name: 'Payslip viewer' }], users: 0 },
    { scope: `${IDENTIFIER}/payroll.run`, apps: [], users: 0 },
  ]);
  const listed = await callApi(server, token, base);
  t.same(
    listed.body.value.map((api: { identifier: string }) => api.identifier),
    [IDENTIFIER],
    "the tenant's own APIs only (not Accord's)",
  );
  t.same(await auditActions(), ['api.created', 'api.scope.added', 'api.scope.added', 'api.scope.edited']);
});

t.test('bad input is a clear 4xx and changes nothing', async (t) => {
  const before = await auditActions();
  const cases = [
    [base, { identifier: IDENTIFIER, name: 'Again' }, 409],
    [base, { identifier: 'http://plain.example', name: 'Plain' }, 400],
    [base, { identifier: `${server.url.replace('http:', 'https:')}/x`, name: 'Own origin' }, 400],
    [base, { identifier: 'https://ok.example', name: 'Extra', extra: true }, 400],
    [`${one}/scopes`, { name: 'payslips.read', description: 'Dup' }, 409],
    [`${one}/scopes`, { name: 'has space', description: 'Spaces' }, 400],
    [`${one}/scopes`, { name: 'a/b', description: 'Slash' }, 400],
    [`${one}/scopes`, { name: 'x', description: 'y', impact: 'huge' }, 400],
  ] as const;
  for (const [path, body, status] of cases) {
    const response = await callApi(server, token, path, { body });
    t.equal(response.status, status, JSON.stringify(body));
    t.type(response.body.error, 'string');
  }
  t.equal(
    (await callApi(server, token, `${base}/${encodeURIComponent('/data/v1')}`)).status,
    404,
    "Accord's own API is no tenant's",
  );
  t.same(await auditActions(), before, 'nothing changed');
});

t.test("another tenant's API is not found, and cannot be deleted", async (t) => {
  await server.accord.services.apis.create(
    { tenantId: 'fabrikam', name: 'Fabrikam CRM', identifier: 'https://crm.fabrikam.example', multiTenant: true },
    'operator',
  );
  const theirs = `${base}/${encodeURIComponent('https://crm.fabrikam.example')}`;
  t.equal((await callApi(server, token, theirs)).status, 404);
  t.equal((await callApi(server, token, theirs, { method: 'DELETE' })).status, 404);
  t.ok(server.accord.services.catalogue.api('https://crm.fabrikam.example') === undefined, 'it has no scopes yet');
  const { rowCount } = await pool.query(`SELECT 1 FROM apis WHERE identifier = 'https://crm.fabrikam.example'`);
  t.equal(rowCount, 1, 'still there');
});

t.test('removal shows its impact first, then revokes', async (t) => {
  const impact = await callApi(server, token, `${one}/scopes/payslips.read/impact`);
  t.equal(impact.status, 200);
  t.match(impact.body, { scopes: [`${IDENTIFIER}/payslips.read`], apps: [{ name: 'Payslip viewer' }], users: 0 });
  t.ok(server.accord.services.catalogue.has(`${IDENTIFIER}/payslips.read`), 'looking changes nothing');

  const removed = await callApi(server, token, `${one}/scopes/payslips.read`, { method: 'DELETE' });
  t.equal(removed.status, 200);
  t.same(removed.body.scopes, [`${IDENTIFIER}/payslips.read`]);
  t.notOk(server.accord.services.catalogue.has(`${IDENTIFIER}/payslips.read`));

  const deleted = await callApi(server, token, one, { method: 'DELETE' });
  t.equal(deleted.status, 200);
  t.same(deleted.body.scopes, [`${IDENTIFIER}/payroll.run`]);
  t.equal((await callApi(server, token, one)).status, 404);
  t.same((await auditActions()).slice(-2), ['api.scope.removed', 'api.deleted']);
});
