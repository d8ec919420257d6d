// `accord tenant set-grant-lifetime`, `tenant grant-lifetimes` and `app set-grant-lifetime` (issue 15):
// lifetimes by class and per app; a lifetime below one day is refused and changes nothing.
import t from 'tap';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { listPermissions } from '../../src/db/permissions.js';
import { Directory } from '../../src/services/directory.js';
import { runAccord } from '../support/accord-cli.js';
import { createTestDatabase } from '../support/database.js';

t.setTimeout(240_000);
const db = await createTestDatabase();
t.teardown(() => db.drop());
const directory = new Directory(db.pool, new PermissionCatalogue(await listPermissions(db.pool)));
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
const { app } = await directory.createApp(
  {
    publisherTenantId: 'contoso',
    name: 'Calendar',
    multiTenant: true,
    public: false,
    redirectUris: ['https://app.example/cb'],
    scopes: ['openid', 'Calendars.Read'],
  },
  'operator',
);
const rows = async () =>
  (await db.pool.query('SELECT applies_to, lifetime_days FROM tenant_grant_lifetimes ORDER BY applies_to')).rows;

t.test('set by class and per app, shown as JSON', async (t) => {
  const [high, tooShort, badClass] = await Promise.all([
    runAccord(db.url, ['tenant', 'set-grant-lifetime', 'contoso', 'high', '90', '--json']),
    runAccord(db.url, ['tenant', 'set-grant-lifetime', 'contoso', 'low', '0', '--json']),
    runAccord(db.url, ['tenant', 'set-grant-lifetime', 'contoso', 'huge', '3']),
  ]);
  t.equal(high.code, 0, high.stderr);
  t.same(JSON.parse(high.stdout), {
    tenant: 'contoso',
    classes: { default: null, low: null, medium: null, high: 90 },
    apps: [],
  });
  t.equal(tooShort.code, 1, 'below one day: refused');
  t.match(JSON.parse(tooShort.stderr), { error: 'invalid_request', message: /at least one day/ });
  t.equal(badClass.code, 2, 'an unknown class is a usage error');
  t.match(badClass.stderr, /default, low, medium or high/);
  t.same(await rows(), [{ applies_to: 'high', lifetime_days: 90 }], 'only the valid change was made');

  const override = await runAccord(db.url, ['app', 'set-grant-lifetime', 'contoso', app.clientId, 'none', '--json']);
  t.equal(override.code, 0, override.stderr);
  t.same(JSON.parse(override.stdout).apps, [{ client_id: app.clientId, lifetime_days: null }]);
  const shown = await runAccord(db.url, ['tenant', 'grant-lifetimes', 'contoso']);
  t.match(shown.stdout, /high\s+90 days/);
  t.match(shown.stdout, new RegExp(`${app.clientId} no expiry`));
});
