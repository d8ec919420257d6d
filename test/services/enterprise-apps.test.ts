// Enterprise apps (the apps in use in a tenant): list, detail, block, unblock, remove and revoking
// one user's consent, checked through real flows — a real RP (openid-client), a cookie-keeping
// browser, the real server and PostgreSQL.

import * as oidc from 'openid-client';
import t from 'tap';
import { AccordError } from '../../src/core/errors.js';
import { EnterpriseApps } from '../../src/services/enterprise-apps.js';
import { GrantLiveness } from '../../src/services/grant-liveness.js';
import { callApi } from '../data-api/support.js';
import { refusedWithin } from '../support/api.js';
import { Browser, pageName } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  fullFlow,
  registerApp,
  signInOnPage,
  startAuthorization,
  type TestApp,
} from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({
  SIGN_IN_RATE_LIMIT: '1000',
  ...(process.env.TEST_LOG ? { LOG_LEVEL: 'error' } : {}),
});
t.teardown(() => server.close());
const { directory, pool } = server;
const enterpriseApps = new EnterpriseApps(pool);
// Not started: every check reads the database.
const revocation = new GrantLiveness(pool);

const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
  ['fabrikam', 'carol', 'user'],
]);
const adminId = as('admin@contoso').id;

const SCOPES = ['openid', 'profile', 'offline_access', 'User.Read', 'Calendars.Read', 'User.Read.All'];
let appCount = 0;
const newApp = (name = `Vendor App ${++appCount}`) => registerApp(server, { tenant: 'fabrikam', name, scopes: SCOPES });

/**
 * Signs the user in (consenting when asked) and redeems the code: the app's tokens for that user.
 * oidc-provider issues a refresh token for offline_access only with prompt=consent.
 */
async function signIn(app: TestApp, user: string, scope = 'openid offline_access User.Read') {
  const params: Record<string, string> = scope.includes('offline_access') ? { scope, prompt: 'consent' } : { scope };
  const flow = await fullFlow(server, app, as(user), params, new Browser(server.url));
  return { tokens: await exchangeCode(app, flow.callback, flow.auth), consentShown: flow.consentShown };
}

/** Runs /auth → sign-in and returns the page shown after sign-in. */
async function reachDecision(app: TestApp, user: string, scope = 'openid offline_access User.Read') {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, app, { scope });
  const page =
    pageName(auth.page.body) === 'login'
      ? await signInOnPage(browser, auth.page, as(user).signIn, PASSWORD)
      : auth.page;
  return { auth, page, browser };
}

/** The tenant admin consents for the whole organisation on the consent page. */
async function adminConsents(app: TestApp, scope: string) {
  const { page, browser } = await reachDecision(app, 'admin@contoso', scope);
  appRedirect(await answerConsent(browser, page, 'accept', { on_behalf_of_org: 'true' }));
}

/** What the data API's revocation check sees in an access token. */
function claimsOf(accessToken: string) {
  const payload = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as {
    sub: string;
    client_id: string;
    gid?: string;
  };
  return { sub: payload.sub, clientId: payload.client_id, ...(payload.gid ? { grantId: payload.gid } : {}) };
}

async function auditCount(tenantId: string, action: string, target: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action = $2 AND target = $3',
    [tenantId, action, target],
  );
  return rows[0]!.n;
}

const notFound = { name: 'AccordError', code: 'not_found', status: 404 };
/** What openid-client throws when the token endpoint refuses a refresh token. */
const invalidGrant = { name: 'ResponseBodyError', error: 'invalid_grant' };

t.test('list shows the apps in use in the tenant, whoever published them, with users and permissions', async (t) => {
  const vendor = await newApp('Planner');
  const own = await registerApp(server, {
    tenant: 'contoso',
    name: 'Contoso Intranet',
    scopes: ['openid', 'User.Read'],
  });
  await newApp('Never Used');
  await signIn(vendor, 'alice@contoso', 'openid User.Read');
  await signIn(vendor, 'bob@contoso', 'openid Calendars.Read');
  await signIn(vendor, 'carol@fabrikam', 'openid profile');
  await adminConsents(vendor, 'openid profile User.Read.All');
  await signIn(own, 'alice@contoso', 'openid User.Read');

  const list = await enterpriseApps.list('contoso');
  t.same(
    list.map((app) => app.name),
    ['Contoso Intranet', 'Planner'],
    'apps from the tenant itself and from another tenant; an app nobody in the tenant used is not listed',
  );
  const planner = list.find((app) => app.clientId === vendor.clientId)!;
  t.match(planner, {
    publisherTenantId: 'fabrikam',
    publisherName: 'Fabrikam',
    publisherVerified: false,
    blocked: false,
    adminScopes: ['openid', 'profile', 'User.Read.All'],
    adminGrantedBy: adminId,
    userScopes: ['openid', 'User.Read', 'Calendars.Read'],
  });
  t.equal(planner.userCount, 3, 'alice, bob and the admin (who signed in under the admin consent) use it');
  t.type(planner.adminGrantedAt, Date);

  const fabrikam = await enterpriseApps.list('fabrikam');
  t.same(
    fabrikam.map((app) => [app.name, app.userCount, app.userScopes, app.adminScopes]),
    [['Planner', 1, ['openid', 'profile'], []]],
    'another tenant sees only its own use',
  );

  const detail = await enterpriseApps.detail('contoso', vendor.clientId);
  t.equal(detail.name, 'Planner');
  t.same(
    detail.adminConsent?.permissions.map((p) => p.scope),
    ['openid', 'profile', 'User.Read.All'],
  );
  t.equal(detail.adminConsent?.grantedBy, adminId);
  t.same(
    detail.users.map((user) => [user.username, user.permissions.map((p) => p.scope), user.active]),
    [
      ['admin', [], true],
      ['alice', ['openid', 'User.Read'], true],
      ['bob', ['openid', 'Calendars.Read'], true],
    ],
    'every user grant, per user and per permission',
  );
  for (const permission of [...detail.adminConsent!.permissions, ...detail.users.flatMap((user) => user.permissions)]) {
    t.type(permission.grantedAt, Date, `${permission.scope} has a time`);
  }
  t.notOk(
    detail.users.some((user) => user.userId === as('carol@fabrikam').id),
    "another tenant's users are not shown",
  );
});

t.test('the time of each permission is when it was granted, incremental consent included', async (t) => {
  const app = await newApp();
  await signIn(app, 'alice@contoso', 'openid User.Read');
  const first = await enterpriseApps.detail('contoso', app.clientId);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await signIn(app, 'alice@contoso', 'openid User.Read Calendars.Read');
  const second = await enterpriseApps.detail('contoso', app.clientId);
  const at = (detail: typeof first, scope: string) =>
    detail.users[0]!.permissions.find((p) => p.scope === scope)!.grantedAt.getTime();
  t.equal(at(second, 'User.Read'), at(first, 'User.Read'), 'an earlier permission keeps its time');
  t.ok(at(second, 'Calendars.Read') > at(first, 'User.Read'), 'the added permission has the later time');
});

t.test(
  'block: tokens stop working, nobody in the tenant can sign in; unblock restores access with no consent page',
  async (t) => {
    const app = await newApp();
    const alice = await signIn(app, 'alice@contoso');
    const bob = await signIn(app, 'bob@contoso');
    const carol = await signIn(app, 'carol@fabrikam');
    t.ok(alice.consentShown && alice.tokens.refresh_token);
    t.equal((await callApi(server, alice.tokens.access_token, '/me')).status, 200);

    const result = await enterpriseApps.block('contoso', app.clientId, adminId);
    t.same(result, { clientId: app.clientId, changed: true, revokedGrants: 2 });

    await t.rejects(
      oidc.refreshTokenGrant(app.config, alice.tokens.refresh_token!),
      invalidGrant,
      "alice's refresh token fails",
    );
    await t.rejects(oidc.refreshTokenGrant(app.config, bob.tokens.refresh_token!), invalidGrant, "bob's too");
    t.equal(
      await revocation.isRevoked(claimsOf(alice.tokens.access_token)),
      true,
      'the old access token counts as revoked',
    );
    t.equal(
      (await refusedWithin(() => callApi(server, alice.tokens.access_token, '/me'))).status,
      401,
      'and the data API refuses it',
    );

    const again = await reachDecision(app, 'bob@contoso');
    t.equal(pageName(again.page.body), 'refused', 'a new sign-in is refused');
    const admin = await reachDecision(app, 'admin@contoso');
    t.equal(pageName(admin.page.body), 'refused', 'for the admin too');

    t.equal(
      await revocation.isRevoked(claimsOf(carol.tokens.access_token)),
      false,
      "another tenant's tokens are untouched",
    );
    t.ok(
      (await oidc.refreshTokenGrant(app.config, carol.tokens.refresh_token!)).access_token,
      "another tenant's refresh token still works",
    );
    t.ok(
      appRedirect((await reachDecision(app, 'carol@fabrikam', 'openid User.Read')).page).searchParams.get('code'),
      'and its users still sign in, with no page',
    );

    const { rows } = await pool.query<{ scopes: string[]; grant_id: string | null }>(
      `SELECT scopes, grant_id FROM user_consents WHERE tenant_id = 'contoso' AND client_id = $1 ORDER BY user_id`,
      [app.clientId],
    );
    t.equal(rows.length, 2, 'the consent records stay');
    t.ok(
      rows.every((row) => row.grant_id === null && row.scopes.includes('User.Read')),
      'without their grants',
    );
    t.equal(
      (await enterpriseApps.list('contoso')).find((listed) => listed.clientId === app.clientId)?.blocked,
      true,
      'the list says blocked',
    );

    t.same(
      await enterpriseApps.block('contoso', app.clientId, adminId),
      { clientId: app.clientId, changed: false, revokedGrants: 0 },
      'blocking twice changes nothing',
    );
    t.equal(await auditCount('contoso', 'app.blocked', app.clientId), 1, 'audited once');
    t.equal(await auditCount('fabrikam', 'app.blocked', app.clientId), 0, 'in the tenant that blocked it only');

    t.same(await enterpriseApps.unblock('contoso', app.clientId, adminId), {
      clientId: app.clientId,
      changed: true,
      revokedGrants: 0,
    });
    t.same(
      await enterpriseApps.unblock('contoso', app.clientId, adminId),
      { clientId: app.clientId, changed: false, revokedGrants: 0 },
      'unblocking twice changes nothing',
    );
    t.equal(await auditCount('contoso', 'app.unblocked', app.clientId), 1, 'audited once');

    const back = await signIn(app, 'alice@contoso', 'openid User.Read');
    t.notOk(back.consentShown, 'alice signs in again with no consent page: her consent was kept');
    t.equal((await callApi(server, back.tokens.access_token, '/me')).status, 200, 'and her new token works');
    const withRefresh = await signIn(app, 'alice@contoso');
    t.ok(
      (await oidc.refreshTokenGrant(app.config, withRefresh.tokens.refresh_token!)).access_token,
      'so does a new refresh token',
    );
    t.equal(
      await revocation.isRevoked(claimsOf(alice.tokens.access_token)),
      true,
      'the token from before the block stays dead',
    );
  },
);

t.test('concurrent changes queue up: five blocks at once block once and audit once', async (t) => {
  const app = await newApp();
  await signIn(app, 'alice@contoso');
  await signIn(app, 'bob@contoso');
  const results = await Promise.all(
    Array.from({ length: 5 }, () => enterpriseApps.block('contoso', app.clientId, adminId)),
  );
  t.equal(results.filter((result) => result.changed).length, 1);
  t.equal(
    results.reduce((sum, result) => sum + result.revokedGrants, 0),
    2,
  );
  t.equal(await auditCount('contoso', 'app.blocked', app.clientId), 1);
  // Unblock and remove at once: whichever goes second sees what the first committed.
  const [unblocked, removed] = await Promise.allSettled([
    enterpriseApps.unblock('contoso', app.clientId, adminId),
    enterpriseApps.remove('contoso', app.clientId, adminId),
  ]);
  t.match(removed, { status: 'fulfilled', value: { changed: true } }, 'the remove happens');
  if (unblocked.status === 'rejected')
    t.match(unblocked.reason, notFound, 'an unblock after the remove finds nothing to unblock');
  else t.equal(unblocked.value.changed, true, 'an unblock before the remove unblocks');
  const { rowCount } = await pool.query(`SELECT 1 FROM tenant_apps WHERE tenant_id = 'contoso' AND client_id = $1`, [
    app.clientId,
  ]);
  t.equal(rowCount, 0, 'nothing brings the removed app back');
  t.equal(await auditCount('contoso', 'app.removed', app.clientId), 1);
});

t.test(
  'remove: every consent in the tenant goes with its tokens; users are asked again; the app can be re-added',
  async (t) => {
    const app = await newApp();
    const alice = await signIn(app, 'alice@contoso');
    const bob = await signIn(app, 'bob@contoso');
    const carol = await signIn(app, 'carol@fabrikam');
    await adminConsents(app, 'openid User.Read');

    const result = await enterpriseApps.remove('contoso', app.clientId, adminId);
    t.same(
      result,
      { clientId: app.clientId, changed: true, revokedGrants: 3 },
      "alice's, bob's and the admin's grants",
    );
    await t.rejects(oidc.refreshTokenGrant(app.config, alice.tokens.refresh_token!), invalidGrant);
    await t.rejects(oidc.refreshTokenGrant(app.config, bob.tokens.refresh_token!), invalidGrant);
    t.equal(await revocation.isRevoked(claimsOf(bob.tokens.access_token)), true);

    for (const table of ['admin_consents', 'user_consents', 'tenant_apps']) {
      const { rowCount } = await pool.query(`SELECT 1 FROM ${table} WHERE tenant_id = 'contoso' AND client_id = $1`, [
        app.clientId,
      ]);
      t.equal(rowCount, 0, `no ${table} row is left in the tenant`);
    }
    t.notOk(
      (await enterpriseApps.list('contoso')).some((listed) => listed.clientId === app.clientId),
      'the app is no longer listed',
    );
    await t.rejects(enterpriseApps.remove('contoso', app.clientId, adminId), notFound, 'removing it again: not in use');
    t.equal(await auditCount('contoso', 'app.removed', app.clientId), 1, 'audited once');

    t.ok(
      (await oidc.refreshTokenGrant(app.config, carol.tokens.refresh_token!)).access_token,
      "another tenant's refresh token still works",
    );
    t.equal(
      (await enterpriseApps.list('fabrikam')).find((listed) => listed.clientId === app.clientId)?.userCount,
      1,
      'and its consent is kept',
    );

    const asked = await reachDecision(app, 'alice@contoso');
    t.equal(pageName(asked.page.body), 'consent', 'alice is asked to consent again');
    appRedirect(await answerConsent(asked.browser, asked.page, 'accept'));
    t.equal(
      (await enterpriseApps.detail('contoso', app.clientId)).users.length,
      1,
      'her new consent adds the app back',
    );
  },
);

t.test('remove lifts a block: a removed app can be consented to again', async (t) => {
  const app = await newApp();
  await signIn(app, 'alice@contoso');
  await enterpriseApps.block('contoso', app.clientId, adminId);
  await enterpriseApps.remove('contoso', app.clientId, adminId);
  const { page } = await reachDecision(app, 'bob@contoso');
  t.equal(pageName(page.body), 'consent');
  const { rows } = await pool.query(
    `SELECT details FROM audit_events WHERE tenant_id = 'contoso' AND action = 'app.removed' AND target = $1`,
    [app.clientId],
  );
  t.match(rows[0]?.details, { wasBlocked: true, users: [as('alice@contoso').id], revokedGrants: 0 });
});

t.test("revoking one user's consent ends only that user's tokens", async (t) => {
  const app = await newApp();
  const alice = await signIn(app, 'alice@contoso');
  const bob = await signIn(app, 'bob@contoso');

  const result = await enterpriseApps.revokeUserConsent('contoso', app.clientId, as('alice@contoso').id, adminId);
  t.same(result, { clientId: app.clientId, changed: true, revokedGrants: 1 });
  await t.rejects(
    oidc.refreshTokenGrant(app.config, alice.tokens.refresh_token!),
    invalidGrant,
    "alice's refresh token fails",
  );
  t.equal(await revocation.isRevoked(claimsOf(alice.tokens.access_token)), true);
  t.ok((await oidc.refreshTokenGrant(app.config, bob.tokens.refresh_token!)).access_token, "bob's still works");
  t.equal(await revocation.isRevoked(claimsOf(bob.tokens.access_token)), false);
  t.equal((await callApi(server, bob.tokens.access_token, '/me')).status, 200);

  t.same(
    (await enterpriseApps.detail('contoso', app.clientId)).users.map((user) => user.username),
    ['bob'],
  );
  const { rows } = await pool.query(
    `SELECT actor, details FROM audit_events WHERE tenant_id = 'contoso' AND action = 'consent.user.revoked' AND target = $1`,
    [app.clientId],
  );
  t.equal(rows.length, 1, 'audited once');
  t.match(rows[0], {
    actor: adminId,
    details: { userId: as('alice@contoso').id, scopes: ['openid', 'offline_access', 'User.Read'] },
  });
  await t.rejects(
    enterpriseApps.revokeUserConsent('contoso', app.clientId, as('alice@contoso').id, adminId),
    notFound,
    'a second revoke: nothing to revoke',
  );
  t.equal(await auditCount('contoso', 'consent.user.revoked', app.clientId), 1);

  const again = await reachDecision(app, 'alice@contoso');
  t.equal(pageName(again.page.body), 'consent', 'alice is asked to consent again');
});

t.test('an app never used in the tenant is not found, and no tenant reaches into another', async (t) => {
  const app = await newApp();
  const carol = await signIn(app, 'carol@fabrikam');
  const clientId = app.clientId;
  await t.rejects(enterpriseApps.detail('contoso', clientId), notFound, 'detail');
  await t.rejects(enterpriseApps.block('contoso', clientId, adminId), notFound, 'block');
  await t.rejects(enterpriseApps.unblock('contoso', clientId, adminId), notFound, 'unblock');
  await t.rejects(enterpriseApps.remove('contoso', clientId, adminId), notFound, 'remove');
  await t.rejects(
    enterpriseApps.revokeUserConsent('contoso', clientId, as('carol@fabrikam').id, adminId),
    notFound,
    "another tenant's user",
  );
  await t.rejects(enterpriseApps.block('contoso', 'no-such-client', adminId), notFound, 'an unknown client id');
  const { rowCount } = await pool.query(`SELECT 1 FROM tenant_apps WHERE tenant_id = 'contoso' AND client_id = $1`, [
    clientId,
  ]);
  t.equal(rowCount, 0, 'a refused change leaves nothing behind');
  t.equal(await revocation.isRevoked(claimsOf(carol.tokens.access_token)), false, "carol's token still works");
  t.ok((await enterpriseApps.detail('fabrikam', clientId)).users.length === 1);
  const error = await enterpriseApps.detail('contoso', clientId).catch((caught: unknown) => caught);
  t.ok(error instanceof AccordError);
});

t.test('a change is all or nothing: a failure rolls back the block, its revocations and its audit event', async (t) => {
  const app = await newApp();
  const alice = await signIn(app, 'alice@contoso');
  // The audit insert is the last step: a temporary constraint makes it fail.
  await pool.query(`ALTER TABLE audit_events ADD CONSTRAINT test_no_block CHECK (action <> 'app.blocked') NOT VALID`);
  t.teardown(() => pool.query('ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS test_no_block'));
  await t.rejects(enterpriseApps.block('contoso', app.clientId, adminId));
  await pool.query('ALTER TABLE audit_events DROP CONSTRAINT test_no_block');
  t.equal(await revocation.isRevoked(claimsOf(alice.tokens.access_token)), false, 'the grant was not revoked');
  t.ok(
    (await oidc.refreshTokenGrant(app.config, alice.tokens.refresh_token!)).access_token,
    'the refresh token still works',
  );
  const { rows } = await pool.query(`SELECT blocked FROM tenant_apps WHERE tenant_id = 'contoso' AND client_id = $1`, [
    app.clientId,
  ]);
  t.same(rows, [], 'the app is not blocked');
});
