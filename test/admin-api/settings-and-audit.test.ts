// The tenant's settings (Integrated Apps) and its audit trail through the admin API.
import t from 'tap';
import { Browser, pageName } from '../support/browser.js';
import { registerApp, signInOnPage, startAuthorization } from '../support/flows.js';
import { startTestServer } from '../support/server.js';
import { adminApiToken, callApi, PASSWORD, registerAdminClient } from './support.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;

await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
const carol = await directory.createUser(
  { tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' },
  'operator',
);
await directory.createUser({ tenantId: 'contoso', username: 'dave', password: PASSWORD, role: 'user' }, 'operator');
await directory.setIntegratedApps('fabrikam', false, 'operator');
const token = (await adminApiToken(server, await registerAdminClient(server, 'contoso'), 'carol@contoso')).accessToken;
const settingsPath = '/tenants/contoso/settings';

async function integratedAppsInDatabase(): Promise<boolean> {
  const { rows } = await pool.query<{ on: boolean }>(
    "SELECT integrated_apps_enabled AS on FROM tenants WHERE id = 'contoso'",
  );
  return rows[0]!.on;
}

/** The Integrated Apps changes of contoso's audit trail, newest first. */
async function settingChanges() {
  const all = await callApi(server, token, '/tenants/contoso/audit-events?limit=200');
  return (all.body.value as { id: string; action: string }[])
    .filter((event) => event.action === 'tenant.integrated_apps.changed')
    .sort((a, b) => Number(b.id) - Number(a.id));
}

t.test(
  'turning Integrated Apps off is audited with who did it and the old and new value, and takes effect',
  async (t) => {
    t.same((await callApi(server, token, settingsPath)).body, {
      id: 'contoso',
      name: 'Contoso',
      integratedAppsEnabled: true,
    });

    const patched = await callApi(server, token, settingsPath, {
      method: 'PATCH',
      body: { integratedAppsEnabled: false },
    });
    t.equal(patched.status, 200);
    t.same(patched.body, { id: 'contoso', name: 'Contoso', integratedAppsEnabled: false });
    t.same((await callApi(server, token, settingsPath)).body.integratedAppsEnabled, false);
    t.equal(await integratedAppsInDatabase(), false);

    const audit = await callApi(server, token, '/tenants/contoso/audit-events?limit=1');
    t.equal(audit.status, 200);
    t.match(
      audit.body.value,
      [
        {
          action: 'tenant.integrated_apps.changed',
          actor: carol.id,
          target: 'contoso',
          details: { from: true, to: false },
          at: /^\d{4}-\d\d-\d\dT/,
        },
      ],
      'the newest event',
    );

    // The setting is the one the consent decision reads: a user can no longer consent.
    const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read'] });
    const browser = new Browser(server.url);
    const auth = await startAuthorization(browser, app, { scope: 'openid User.Read' });
    t.equal(pageName((await signInOnPage(browser, auth.page, 'dave@contoso', PASSWORD)).body), 'needs-admin-approval');

    const again = await callApi(server, token, settingsPath, {
      method: 'PATCH',
      body: { integratedAppsEnabled: false },
    });
    t.equal(again.status, 200);
    t.equal((await settingChanges()).length, 1, 'setting the same value again records nothing');

    const on = await callApi(server, token, settingsPath, { method: 'PATCH', body: { integratedAppsEnabled: true } });
    t.equal(on.body.integratedAppsEnabled, true);
    const changes = await settingChanges();
    t.equal(changes.length, 2);
    t.match(changes[0], { actor: carol.id, details: { from: false, to: true } });
  },
);

t.test('a bad settings body is refused with 400 naming the field, and nothing changes', async (t) => {
  const before = await integratedAppsInDatabase();
  const cases: {
    name: string;
    body?: unknown;
    rawBody?: string;
    contentType?: string;
    status?: number;
    description: RegExp;
  }[] = [
    { name: 'empty object', body: {}, description: /^body\.integratedAppsEnabled is required$/ },
    {
      name: 'a string is not a boolean',
      body: { integratedAppsEnabled: 'false' },
      description: /^body\.integratedAppsEnabled must be boolean$/,
    },
    {
      name: 'a number is not a boolean',
      body: { integratedAppsEnabled: 0 },
      description: /^body\.integratedAppsEnabled must be boolean$/,
    },
    {
      name: 'null',
      body: { integratedAppsEnabled: null },
      description: /^body\.integratedAppsEnabled must be boolean$/,
    },
    {
      name: 'unknown field',
      body: { integratedAppsEnabled: !before, name: 'Evil Corp' },
      description: /^body\.name is not a known field$/,
    },
    { name: 'an array body', body: [{ integratedAppsEnabled: false }], description: /^body must be object$/ },
    { name: 'not JSON', rawBody: '{"integratedAppsEnabled": fal', description: /JSON/ },
    {
      name: 'a form body',
      rawBody: 'integratedAppsEnabled=false',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      description: /./,
    },
    { name: 'a text body', rawBody: 'false', contentType: 'text/plain', status: 415, description: /./ },
  ];
  for (const { name, body, rawBody, contentType, status = 400, description } of cases) {
    const response = await callApi(server, token, settingsPath, {
      method: 'PATCH',
      ...(rawBody !== undefined ? { rawBody } : { body }),
      ...(contentType ? { headers: { 'content-type': contentType } } : {}),
    });
    t.equal(response.status, status, name);
    t.match(response.body, { error: String, error_description: description }, name);
  }
  t.equal(await integratedAppsInDatabase(), before, 'unchanged');
});

t.test('audit events come newest first, page by page through `next`, and only from the own tenant', async (t) => {
  for (const enabled of [false, true, false, true, false, true]) {
    await callApi(server, token, settingsPath, { method: 'PATCH', body: { integratedAppsEnabled: enabled } });
  }
  const all = await callApi(server, token, '/tenants/contoso/audit-events?limit=200');
  t.equal(all.body.next, null, 'one page holds everything');
  const ids: string[] = all.body.value.map((event: { id: string }) => event.id);
  t.ok(ids.length >= 10);
  t.same(
    ids,
    [...ids].sort((a, b) => Number(b) - Number(a)),
    'newest first',
  );
  t.ok(
    all.body.value.every((event: { action: string; target: string }) => event.target !== 'fabrikam'),
    'no fabrikam event',
  );
  const { rows } = await pool.query<{ count: string }>("SELECT count(*) FROM audit_events WHERE tenant_id = 'contoso'");
  t.equal(ids.length, Number(rows[0]!.count), 'every contoso event');

  const paged: string[] = [];
  let before: string | null = null;
  let pages = 0;
  do {
    const page = await callApi(
      server,
      token,
      `/tenants/contoso/audit-events?limit=3${before ? `&before=${before}` : ''}`,
    );
    t.equal(page.status, 200);
    t.ok(page.body.value.length <= 3);
    paged.push(...page.body.value.map((event: { id: string }) => event.id));
    before = page.body.next;
    pages++;
  } while (before && pages < 50);
  t.same(paged, ids, 'the pages together are the whole trail, without gaps or repeats');
  t.equal(new Set(paged).size, paged.length, 'no event twice');
  t.equal(pages, Math.ceil(ids.length / 3), 'as many pages as needed');

  const defaultPage = await callApi(server, token, '/tenants/contoso/audit-events');
  t.equal(defaultPage.status, 200, 'limit is optional');
});

t.test('bad audit queries are refused with 400 naming the parameter', async (t) => {
  for (const [query, field] of [
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=ten', 'limit'],
    ['before=abc', 'before'],
    ['before=99999999999999999999999', 'before'],
    ['before=-1', 'before'],
    ['after=5', 'after'],
  ] as const) {
    const response = await callApi(server, token, `/tenants/contoso/audit-events?${query}`);
    t.equal(response.status, 400, query);
    t.match(response.body.error_description, new RegExp(`^querystring\\.${field} `), query);
  }
});
