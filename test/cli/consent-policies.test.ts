// The graduated-consent commands as operators script them (issue 14, the public CLI contract):
// `tenant set-user-consent`, `tenant set-risk-step-up`, `permission list|classify` and
// `policy list|show|create|delete|evaluate`, in their own process against a fresh database: exit
// codes, JSON on stdout, errors on stderr, what reached the database, and nothing changed by bad input.
import t from 'tap';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { listPermissions } from '../../src/db/permissions.js';
import { Apis } from '../../src/services/apis.js';
import { Directory } from '../../src/services/directory.js';
import { type CliRun, runAccord } from '../support/accord-cli.js';
import { createTestDatabase } from '../support/database.js';

// Each run is a process under the runner's loader (~1.5 s of CPU): minutes on a busy machine.
t.setTimeout(900_000);

const db = await createTestDatabase();
t.teardown(() => db.drop());
const catalogue = new PermissionCatalogue(await listPermissions(db.pool));
const directory = new Directory(db.pool, catalogue);
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
const alice = await directory.createUser(
  { tenantId: 'contoso', username: 'alice', password: 'correct horse battery', role: 'user' },
  'operator',
);
// A tenant's own API, whose scope the CLI accepts by its short name.
const apis = new Apis(db.pool, catalogue, 'https://accord.example');
await apis.create(
  { tenantId: 'contoso', identifier: 'api://contoso-crm', name: 'CRM', multiTenant: false },
  'operator',
);
await apis.addScope(
  'api://contoso-crm',
  { name: 'contacts.read', userDescription: 'Read your contacts', adminConsentRequired: false },
  'operator',
);
const { app } = await directory.createApp(
  {
    publisherTenantId: 'fabrikam',
    name: 'Planner',
    multiTenant: true,
    public: false,
    redirectUris: ['https://planner.example/cb'],
    scopes: ['openid', 'User.Read', 'Calendars.Read', 'Mail.Send'],
  },
  'operator',
);

// Registered long ago: risk-based step-up, turned on below, does not concern it.
await db.pool.query(`UPDATE apps SET created_at = now() - interval '90 days' WHERE client_id = $1`, [app.clientId]);

const accord = (args: string[]) => runAccord(db.url, args);
function json(run: CliRun): any {
  if (run.code !== 0) throw new Error(`accord exited with ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}
const setting = async () =>
  (await db.pool.query(`SELECT user_consent, risk_step_up, risk_step_up_days FROM tenants WHERE id = 'contoso'`))
    .rows[0];
const audit = async (action: string) =>
  (
    await db.pool.query(`SELECT details FROM audit_events WHERE tenant_id = 'contoso' AND action = $1 ORDER BY id`, [
      action,
    ])
  ).rows;

t.test('tenant set-user-consent and set-risk-step-up', async (t) => {
  t.same(json(await accord(['tenant', 'set-user-consent', 'contoso', 'verified-low-impact', '--json'])), {
    tenant: 'contoso',
    user_consent: 'verified-low-impact',
    risk_step_up: false,
    risk_step_up_days: 30,
  });
  t.match(await audit('tenant.user_consent.changed'), [{ details: { from: 'all', to: 'verified-low-impact' } }]);

  const bad = await accord(['tenant', 'set-user-consent', 'contoso', 'some', '--json']);
  t.equal(bad.code, 2);
  t.match(JSON.parse(bad.stderr), {
    error: 'usage_error',
    message: 'the setting must be "all" or "verified-low-impact", not "some"',
  });
  t.equal(bad.stdout, '');
  const unknown = await accord(['tenant', 'set-user-consent', 'nowhere', 'all']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /tenant "nowhere" not found/);

  const text = await accord(['tenant', 'set-risk-step-up', 'contoso', 'on', '--days', '7']);
  t.equal(text.code, 0);
  t.match(text.stdout, /risk-based step-up:\s+on \(apps registered less than 7 days ago count as new\)/);
  const badDays = await accord(['tenant', 'set-risk-step-up', 'contoso', 'off', '--days', '0']);
  t.equal(badDays.code, 1);
  t.match(badDays.stderr, /days must be a whole number from 1 to 3650/);
  t.same(await setting(), { user_consent: 'verified-low-impact', risk_step_up: true, risk_step_up_days: 7 });
  t.match(await audit('tenant.risk_step_up.changed'), [{ details: { to: { enabled: true, days: 7 } } }]);
});

t.test('permission classify by short or full name, and permission list', async (t) => {
  t.same(json(await accord(['permission', 'classify', 'contoso', 'Calendars.Read', 'low', '--json'])), {
    tenant: 'contoso',
    scope: 'Calendars.Read',
    from: 'medium',
    to: 'low',
  });
  const short = json(await accord(['permission', 'classify', 'contoso', 'contacts.read', 'high', '--json']));
  t.same(short, { tenant: 'contoso', scope: 'api://contoso-crm/contacts.read', from: 'low', to: 'high' });

  for (const [args, code, message] of [
    [['Nope.Read', 'low'], 1, /unknown permission "Nope.Read"/],
    [['User.Read.All', 'low'], 1, /User.Read.All is an admin permission/],
    [['Calendars.Read', 'huge'], 2, /the class must be low, medium or high, not "huge"/],
  ] as const) {
    const refused = await accord(['permission', 'classify', 'contoso', ...args]);
    t.equal(refused.code, code, args.join(' '));
    t.match(refused.stderr, message);
  }
  t.equal((await audit('permission.classified')).length, 2, 'refusals changed nothing');

  const list = json(await accord(['permission', 'list', 'contoso', '--json']));
  const entry = (scope: string) => list.value.find((item: { scope: string }) => item.scope === scope);
  t.match(entry('Calendars.Read'), { classification: 'low', source: 'tenant', grants: 0 });
  t.match(entry('User.Read'), { classification: 'low', source: 'default' });
  t.match(entry('Files.Read'), { classification: 'medium', source: 'api' });
  t.match(entry('api://contoso-crm/contacts.read'), { classification: 'high', source: 'tenant' });
  t.same(
    list.value.map((item: { classification: string }) => item.classification),
    [...list.value.map((item: { classification: string }) => item.classification)].sort(
      (a: string, b: string) => ['low', 'medium', 'high'].indexOf(a) - ['low', 'medium', 'high'].indexOf(b),
    ),
    'listed by class',
  );
});

t.test('policy create, list, show, evaluate, delete', async (t) => {
  const created = json(
    await accord([
      'policy',
      'create',
      'contoso',
      'planner-mail',
      '--name',
      'The planner may send mail',
      '--include',
      `{"client_app_ids":["${app.clientId}"],"permissions":["Mail.Send"]}`,
      '--json',
    ]),
  );
  t.match(created, {
    id: 'planner-mail',
    built_in: false,
    in_effect: true,
    includes: [{ client_app_ids: [app.clientId], permissions: ['Mail.Send'] }],
  });

  const badJson = await accord(['policy', 'create', 'contoso', 'x', '--name', 'X', '--include', '{nope']);
  t.equal(badJson.code, 2);
  t.match(badJson.stderr, /--include #1 is not JSON/);
  const badCondition = await accord(['policy', 'create', 'contoso', 'x', '--name', 'X', '--exclude', '{"colour":[1]}']);
  t.equal(badCondition.code, 1);
  t.match(badCondition.stderr, /excludes\[0\]: unknown condition "colour"/);

  const dryRun = json(
    await accord(['policy', 'create', 'contoso', 'stop', '--name', 'Stop', '--exclude', '{}', '--dry-run', '--json']),
  );
  t.match(dryRun, { excludes_everything: true, changed: false });

  const list = json(await accord(['policy', 'list', 'contoso', '--json']));
  t.same(
    list.value.map((policy: { id: string }) => policy.id),
    ['all', 'verified-low-impact', 'planner-mail'],
    'the dry run and the refusals saved nothing',
  );
  const shown = await accord(['policy', 'show', 'contoso', 'verified-low-impact']);
  t.match(shown.stdout, /includes:\s+classified low, from a verified publisher/);

  const evaluated = json(
    await accord([
      'policy',
      'evaluate',
      'contoso',
      '--app',
      app.clientId,
      '--user',
      'alice',
      '--scopes',
      'Mail.Send',
      '--json',
    ]),
  );
  t.match(evaluated, {
    user_id: alice.id,
    decision: { outcome: 'consent', rule: { id: 'policy_allowed', policy: { id: 'planner-mail' } } },
  });
  const text = await accord([
    'policy',
    'evaluate',
    'contoso',
    '--app',
    app.clientId,
    '--user',
    'alice',
    '--scopes',
    'openid User.Read',
  ]);
  t.match(
    text.stdout,
    /outcome:\s+needs admin approval\nbecause:\s+your organisation only lets you consent to apps from verified publishers/,
  );

  t.match(json(await accord(['policy', 'delete', 'contoso', 'planner-mail', '--json'])), { deleted: true });
  const again = await accord(['policy', 'delete', 'contoso', 'planner-mail']);
  t.equal(again.code, 1);
  t.match(again.stderr, /policy "planner-mail" not found/);
  t.same(
    (await audit('consent_policy.created')).length + (await audit('consent_policy.deleted')).length,
    2,
    'one event for each change',
  );
});
