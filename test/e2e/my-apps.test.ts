// My apps, end to end: a signed-in user sees the apps that can reach their data and on whose
// say-so, and withdrawing their own consent revokes the app's tokens at once.

import * as oidc from 'openid-client';
import t from 'tap';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { exchangeCode, fullFlow, registerApp, signInOnPage, startAuthorization } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({
  SIGN_IN_RATE_LIMIT: '1000',
  ...(process.env.TEST_LOG ? { LOG_LEVEL: 'error' } : {}),
});
t.teardown(() => server.close());
const { directory, pool } = server;
const { consent } = server.accord.services;

const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
]);

const ownApp = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Vendor Notes',
  scopes: ['openid', 'offline_access', 'User.Read', 'Calendars.Read'],
});
const orgApp = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Org Directory',
  scopes: ['openid', 'offline_access', 'User.Read', 'User.Read.All'],
});
const bothApp = await registerApp(server, {
  tenant: 'contoso',
  name: 'Team Calendar',
  scopes: ['openid', 'User.Read', 'Calendars.Read'],
});
await consent.grantAdminConsent(
  'contoso',
  as('admin@contoso').id,
  orgApp.clientId,
  ['openid', 'offline_access', 'User.Read', 'User.Read.All'],
  'test',
);
await consent.grantAdminConsent('contoso', as('admin@contoso').id, bothApp.clientId, ['openid', 'User.Read'], 'test');

/** alice's browser, signed in, after using the three apps. */
const alice = new Browser(server.url);
// offline_access is honoured only with prompt=consent (OIDC Core §11).
const own = await fullFlow(
  server,
  ownApp,
  as('alice@contoso'),
  { scope: 'openid offline_access User.Read', prompt: 'consent' },
  alice,
);
const ownTokens = await exchangeCode(ownApp, own.callback, own.auth);
const orgFirst = await fullFlow(server, orgApp, as('alice@contoso'), { scope: 'openid User.Read.All' }, alice);
const org = await fullFlow(
  server,
  orgApp,
  as('alice@contoso'),
  { scope: 'openid offline_access User.Read.All', prompt: 'consent' },
  alice,
);
const orgTokens = await exchangeCode(orgApp, org.callback, org.auth);
const both = await fullFlow(server, bothApp, as('alice@contoso'), { scope: 'openid User.Read Calendars.Read' }, alice);

function entry(page: PageResponse, clientId: string): string | undefined {
  return new RegExp(`<section class="my-app" data-client-id="${clientId}"[\\s\\S]*?</section>`).exec(page.body)?.[0];
}

function scopesOf(section: string, list: string): string[] {
  const items = new RegExp(`data-list="${list}">([\\s\\S]*?)</ul>`).exec(section)?.[1] ?? '';
  return [...items.matchAll(/data-scope="([^"]+)"/g)].map((match) => match[1]!);
}

async function refreshFails(config: oidc.Configuration, refreshToken: string): Promise<string | undefined> {
  try {
    await oidc.refreshTokenGrant(config, refreshToken);
    return undefined;
  } catch (error) {
    return (error as { error?: string }).error ?? String(error);
  }
}

t.test('the flows above asked for consent only where the organisation had not granted it', async (t) => {
  t.ok(own.consentShown);
  t.notOk(orgFirst.consentShown, 'admin-consented app: no page');
  t.ok(both.consentShown, 'Calendars.Read was not admin-granted');
  t.ok(ownTokens.refresh_token);
  t.ok(orgTokens.refresh_token);
});

t.test('My apps needs sign-in through the portal', async (t) => {
  const response = await new Browser(server.url).request(`${server.url}/my/apps`);
  t.equal(response.status, 303);
  t.match(response.headers.get('location') ?? '', /^\/auth\?client_id=accord-portal&/);
});

t.test(
  "My apps lists each app with its permissions and whether access is the user's own or the organisation's",
  async (t) => {
    const page = await alice.visit(`${server.url}/my/apps`);
    t.equal(page.status, 200);
    t.equal(pageName(page.body), 'my-apps', 'already signed in (SSO): straight to the page');

    const ownEntry = entry(page, ownApp.clientId);
    t.ok(ownEntry, 'the app she consented to is listed');
    t.match(ownEntry!, /data-origin="own"/);
    t.match(ownEntry!, /Vendor Notes/);
    t.same(scopesOf(ownEntry!, 'own'), ['openid', 'offline_access', 'User.Read']);
    t.match(ownEntry!, /<time datetime="\d{4}-/, 'says when');
    t.match(
      ownEntry!,
      new RegExp(`href="/my/apps/${ownApp.clientId}/revoke" data-action="withdraw"`),
      'with a link to withdraw (confirmed on its own page)',
    );

    const orgEntry = entry(page, orgApp.clientId);
    t.ok(orgEntry, 'the app she used through her organisation is listed');
    t.match(orgEntry!, /data-origin="organisation"/);
    t.same(scopesOf(orgEntry!, 'organisation'), ['openid', 'offline_access', 'User.Read', 'User.Read.All']);
    t.notMatch(orgEntry!, /<form|data-action="withdraw"/, "she cannot revoke an admin's grant");
    t.match(orgEntry!, /Only an admin can remove it/);

    const bothEntry = entry(page, bothApp.clientId);
    t.match(bothEntry!, /data-origin="both"/);
    t.same(scopesOf(bothEntry!, 'own'), ['Calendars.Read']);
    t.same(scopesOf(bothEntry!, 'organisation'), ['openid', 'User.Read']);

    t.notOk(
      page.headers.getSetCookie().some((cookie) => cookie.startsWith('_session')),
      'reading the SSO session writes no session cookie',
    );

    const bob = new Browser(server.url);
    let bobPage = await bob.visit(`${server.url}/my/apps`);
    bobPage = await signInOnPage(bob, bobPage, as('bob@contoso').signIn, PASSWORD);
    t.equal(pageName(bobPage.body), 'my-apps');
    t.match(bobPage.body, /data-empty="true"/, "bob sees none of alice's apps");
  },
);

t.test('revoking needs the CSRF token, and an organisation grant cannot be revoked by the user', async (t) => {
  const missing = await alice.request(`${server.url}/my/apps/${ownApp.clientId}/revoke`, { form: {} });
  t.equal(missing.status, 403);
  const page = await alice.visit(`${server.url}/my/apps/${ownApp.clientId}/revoke`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const orgRevoke = await alice.request(`${server.url}/my/apps/${orgApp.clientId}/revoke`, { form: { _csrf: csrf } });
  t.equal(orgRevoke.status, 400);
  t.match(orgRevoke.body, /only an admin can remove it/);
  const unknown = await alice.request(`${server.url}/my/apps/no-such-app/revoke`, { form: { _csrf: csrf } });
  t.equal(unknown.status, 400, 'an unknown app: nothing to revoke');
  const refreshed = await oidc.refreshTokenGrant(orgApp.config, orgTokens.refresh_token!);
  t.ok(refreshed.access_token, 'the organisation-granted app keeps working');
  const { rowCount } = await pool.query(
    `SELECT 1 FROM user_consents WHERE client_id = $1 AND cardinality(scopes) > 0`,
    [ownApp.clientId],
  );
  t.equal(rowCount, 1, 'her own consent is still there');
});

t.test("revoking her consent ends the app's tokens at once and she is asked to consent again", async (t) => {
  const page = await alice.visit(`${server.url}/my/apps/${ownApp.clientId}/revoke`);
  t.equal(pageName(page.body), 'my-apps-revoke', 'a confirmation first');
  const after = await alice.submit(page, new RegExp(`/my/apps/${ownApp.clientId}/revoke$`), {});
  t.equal(after.status, 200);
  t.equal(pageName(after.body), 'my-apps');
  t.match(after.body, /data-revoked=/);
  t.notOk(entry(after, ownApp.clientId), 'no longer listed');
  t.ok(entry(after, orgApp.clientId), 'other apps untouched');

  t.equal(await refreshFails(ownApp.config, ownTokens.refresh_token!), 'invalid_grant', 'the refresh token fails');
  const { rows } = await pool.query(
    `SELECT actor, details FROM audit_events WHERE action = 'consent.user.revoked' AND target = $1`,
    [ownApp.clientId],
  );
  t.equal(rows.length, 1, 'audited');
  t.equal(rows[0].actor, as('alice@contoso').id);
  t.same(rows[0].details.scopes, ['openid', 'offline_access', 'User.Read']);
  const left = await pool.query('SELECT 1 FROM user_consents WHERE client_id = $1', [ownApp.clientId]);
  t.equal(left.rowCount, 0);

  const again = await startAuthorization(alice, ownApp, { scope: 'openid User.Read' });
  t.equal(pageName(again.page.body), 'consent', 'the app must ask again');
});

t.test('revoking her part of a shared app keeps what the organisation granted', async (t) => {
  const page = await alice.visit(`${server.url}/my/apps/${bothApp.clientId}/revoke`);
  t.match(page.body, /data-organisation-granted="true"/, 'the confirmation says what the organisation keeps');
  const after = await alice.submit(page, new RegExp(`/my/apps/${bothApp.clientId}/revoke$`), {});
  const bothEntry = entry(after, bothApp.clientId);
  t.match(bothEntry ?? '', /data-origin="organisation"/, 'still listed through the organisation');
  const flow = await fullFlow(server, bothApp, as('alice@contoso'), { scope: 'openid User.Read' }, alice);
  t.notOk(flow.consentShown, 'organisation-granted permissions need no consent');
  const more = await startAuthorization(alice, bothApp, { scope: 'openid User.Read Calendars.Read' });
  t.equal(pageName(more.page.body), 'consent', 'her own permission must be asked again');
});
