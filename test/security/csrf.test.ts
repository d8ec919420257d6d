// CSRF on the interaction forms (sign-in, consent, cancel, request approval): a post without the
// page's token, with a made-up one, or with a genuine token of another browser session is refused
// with 403 and records nothing — no session, no consent, no ended interaction, no request. Each
// case then submits the same form with its own token, so the refusal is the token's doing. Then
// every form of every page (admin consent, My apps, the admin centre, sign-out): each carries a
// token, and posted without it, it is refused and changes nothing.
import t, { type Test } from 'tap';
import { Browser, findForm, type PageResponse, pageName } from '../support/browser.js';
import { appRedirect, registerApp, signInOnPage, startAuthorization } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;
const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
  ['contoso', 'cleo', 'user'],
]);
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read', 'User.Read.All'] });

/** A genuine CSRF token, but of another browser session (its own login page). */
async function otherSessionToken(): Promise<string> {
  const other = new Browser(server.url);
  const { page } = await startAuthorization(other, app, { scope: 'openid' });
  return findForm(page.body, /\/login$/)!.hidden._csrf!;
}

/**
 * Posts the page's form whose action matches `action` with `fields` and each bad token in turn
 * (none, made up, another session's); every answer must be 403 with no redirect.
 */
async function refusedWithoutItsToken(
  t: Test,
  browser: Browser,
  page: PageResponse,
  action: RegExp,
  fields: Record<string, string>,
) {
  const form = findForm(page.body, action);
  if (!form) throw new Error(`no form ${action} on the ${pageName(page.body)} page`);
  t.ok(form.hidden._csrf, 'the form carries a CSRF token');
  const url = new URL(form.action, page.url).toString();
  const { _csrf: _own, ...hidden } = form.hidden;
  const variants: Array<[string, Record<string, string>]> = [
    ['no token', {}],
    ['a made-up token', { _csrf: 'forged-token' }],
    ["another session's token", { _csrf: await otherSessionToken() }],
  ];
  for (const [what, token] of variants) {
    const response = await browser.request(url, { form: { ...hidden, ...fields, ...token } });
    t.equal(response.status, 403, `${what}: 403`);
    t.equal(response.headers.get('location'), null, `${what}: no redirect`);
    t.equal(pageName(response.body), 'error', `${what}: the error page`);
  }
}

const countRows = async (sql: string, params: unknown[]) =>
  (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) x`, params)).rows[0]!.n;

t.test('sign-in: a post without its token signs nobody in', async (t) => {
  const browser = new Browser(server.url);
  const { page } = await startAuthorization(browser, app, { scope: 'openid User.Read' });
  t.equal(pageName(page.body), 'login');
  const sessions = await countRows(`SELECT 1 FROM oidc_models WHERE model = 'Session'`, []);
  await refusedWithoutItsToken(t, browser, page, /\/login$/, {
    username: as('alice@contoso').signIn,
    password: PASSWORD,
  });

  t.equal(await countRows(`SELECT 1 FROM oidc_models WHERE model = 'Session'`, []), sessions, 'no session was stored');
  t.equal(pageName((await browser.visit(page.url)).body), 'login', 'the interaction still waits for a sign-in');
  const silent = await startAuthorization(browser, app, { scope: 'openid', prompt: 'none' });
  t.equal(appRedirect(silent.page).searchParams.get('error'), 'login_required', 'the browser is not signed in');

  const signedIn = await signInOnPage(browser, page, as('alice@contoso').signIn, PASSWORD);
  t.equal(pageName(signedIn.body), 'consent', 'control: with its token the same form signs her in');
});

t.test('consent: a post without its token grants nothing', async (t) => {
  const browser = new Browser(server.url);
  const { page: login } = await startAuthorization(browser, app, { scope: 'openid User.Read' });
  const page = await signInOnPage(browser, login, as('bob@contoso').signIn, PASSWORD);
  t.equal(pageName(page.body), 'consent');
  const consents = `SELECT 1 FROM user_consents WHERE user_id = $1 AND cardinality(scopes) > 0`;
  const events = `SELECT 1 FROM audit_events WHERE action LIKE 'consent.%'`;
  const eventsBefore = await countRows(events, []);
  await refusedWithoutItsToken(t, browser, page, /\/consent$/, { decision: 'accept' });

  t.equal(await countRows(consents, [as('bob@contoso').id]), 0, 'no consent recorded');
  t.equal(await countRows(events, []), eventsBefore, 'no audit event');
  t.equal(pageName((await browser.visit(page.url)).body), 'consent', 'the consent page is still open');

  const accepted = appRedirect(await browser.submit(page, /\/consent$/, { decision: 'accept' }));
  t.ok(accepted.searchParams.get('code'), 'control: with its token the same form grants');
  t.equal(await countRows(consents, [as('bob@contoso').id]), 1);
});

t.test('cancel: a post without its token does not end the sign-in', async (t) => {
  const browser = new Browser(server.url);
  const { page } = await startAuthorization(browser, app, { scope: 'openid User.Read' });
  t.equal(pageName(page.body), 'login');
  await refusedWithoutItsToken(t, browser, page, /\/abort$/, {});
  t.equal(pageName((await browser.visit(page.url)).body), 'login', 'the interaction was not ended');

  const cancelled = appRedirect(await browser.submit(page, /\/abort$/, {}));
  t.equal(cancelled.searchParams.get('error'), 'access_denied', 'control: with its token the same form cancels');
});

t.test('request approval: a post without its token files no request', async (t) => {
  const browser = new Browser(server.url);
  const { page: login } = await startAuthorization(browser, app, { scope: 'openid User.Read.All' });
  const page = await signInOnPage(browser, login, as('alice@contoso').signIn, PASSWORD);
  t.equal(pageName(page.body), 'needs-admin-approval');
  const requests = 'SELECT 1 FROM consent_requests WHERE user_id = $1';
  await refusedWithoutItsToken(t, browser, page, /\/request-approval$/, { reason: 'forged' });
  t.equal(await countRows(requests, [as('alice@contoso').id]), 0, 'no request was filed');

  const sent = await browser.submit(page, /\/request-approval$/, { reason: 'please' });
  t.match(sent.body, /data-request="sent"/, 'control: with its token the same form files the request');
  t.equal(await countRows(requests, [as('alice@contoso').id]), 1);
});

// ---- every form of every page ---------------------------------------------------------------

/** Every form on the page: its action and what a browser would send (the first submit button's value included). */
function formsOf(page: PageResponse): Array<{ action: string; fields: Record<string, string> }> {
  const decodeEntities = (value: string) =>
    value
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  const attribute = (tag: string, name: string) => {
    const value = new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
    return value === undefined ? undefined : decodeEntities(value);
  };
  return [...page.body.matchAll(/<form([^>]*)>([\s\S]*?)<\/form>/g)].map((match) => {
    const fields: Record<string, string> = {};
    for (const [tag] of match[2]!.matchAll(/<input[^>]*>/g)) {
      const name = attribute(tag, 'name');
      const type = attribute(tag, 'type') ?? 'text';
      if (!name || (['checkbox', 'radio'].includes(type) && !/\schecked/.test(tag))) continue;
      fields[name] = attribute(tag, 'value') ?? (type === 'checkbox' ? 'on' : '');
    }
    for (const textarea of match[2]!.matchAll(/<textarea([^>]*)>([\s\S]*?)<\/textarea>/g)) {
      const name = attribute(textarea[1]!, 'name');
      if (name) fields[name] = decodeEntities(textarea[2]!);
    }
    const button = /<button[^>]*\sname="([^"]+)"[^>]*\svalue="([^"]*)"/.exec(match[2]!);
    if (button) fields[button[1]!] ??= button[2]!;
    return { action: decodeEntities(attribute(match[1]!, 'action') ?? page.url), fields };
  });
}

/** A fingerprint of everything a form could change: the directory, apps, consents, requests, audit trail. */
async function databaseFingerprint(): Promise<string> {
  const tables = ['tenants', 'users', 'apps', 'tenant_apps', 'user_consents', 'admin_consents', 'consent_requests'];
  const parts = await Promise.all(
    tables.map(
      async (table) =>
        (
          await pool.query<{ rows: string | null }>(
            `SELECT string_agg(t::text, '|' ORDER BY t::text) AS rows FROM ${table} t`,
          )
        ).rows[0]!.rows ?? '',
    ),
  );
  const events = await countRows('SELECT 1 FROM audit_events', []);
  return `${parts.join('\n')}\naudit events: ${events}`;
}

t.test(
  'every form of every page carries a CSRF token; without it, the post is refused and changes nothing',
  async (t) => {
    const { consent, consentRequests } = server.accord.services;
    const other = await registerApp(server, { tenant: 'contoso', name: 'Other', scopes: ['openid', 'User.Read'] });
    const otherSecretId = (await pool.query('SELECT id FROM app_secrets WHERE client_id = $1', [other.clientId]))
      .rows[0].id as string;
    await consent.grantUserConsent(as('cleo@contoso').id, other.clientId, ['openid', 'User.Read']);
    await consentRequests.request('contoso', as('cleo@contoso').id, app.clientId, ['User.Read.All'], 'for my reports');

    const portal = async (user: string) => {
      const browser = new Browser(server.url);
      const login = await browser.visit(`${server.url}/my/apps`);
      t.equal(pageName((await signInOnPage(browser, login, as(user).signIn, PASSWORD)).body), 'my-apps');
      return browser;
    };
    const admin = await portal('admin@contoso');
    const cleo = await portal('cleo@contoso');
    const adminConsent = `/contoso/adminconsent?${new URLSearchParams({ client_id: app.clientId, redirect_uri: 'https://app.example.test/callback' })}`;
    const pages: Array<[Browser, string, string]> = [
      [cleo, `/my/apps/${other.clientId}/revoke`, 'my-apps-revoke'],
      [admin, adminConsent, 'admin-consent'],
      [admin, '/admin/settings/integrated-apps', 'admin-integrated-apps'],
      [admin, '/admin/apps/new', 'admin-app-new'],
      [admin, `/admin/apps/${other.clientId}`, 'admin-app'],
      [admin, `/admin/apps/${other.clientId}/remove`, 'admin-app-remove'],
      [admin, `/admin/apps/${other.clientId}/secret`, 'admin-app-rotate'],
      [admin, `/admin/apps/${other.clientId}/secrets/${otherSecretId}/remove`, 'admin-app-secret-remove'],
      // (The enterprise app's own page has only links to confirmation pages while the app is enabled.)
      [admin, `/admin/enterprise-apps/${other.clientId}/block`, 'admin-enterprise-app-block'],
      [
        admin,
        `/admin/enterprise-apps/${other.clientId}/users/${as('cleo@contoso').id}/revoke`,
        'admin-enterprise-app-user-revoke',
      ],
      [admin, `/admin/enterprise-apps/${other.clientId}/remove`, 'admin-enterprise-app-remove'],
      [admin, '/admin/consent-requests', 'admin-consent-requests'],
    ];
    const before = await databaseFingerprint();
    const secretsBefore = (await pool.query('SELECT id FROM app_secrets ORDER BY client_id, id')).rows;
    const posted: string[] = [];
    for (const [browser, path, name] of pages) {
      const page = await browser.visit(`${server.url}${path}`);
      t.equal(pageName(page.body), name, `${path}: the ${name} page`);
      const forms = formsOf(page);
      t.ok(forms.length > 0, `${path}: has forms`);
      for (const { action, fields } of forms) {
        t.ok(fields._csrf, `${name} ${action}: carries a CSRF token`);
        const { _csrf: _token, ...withoutToken } = fields;
        const response = await browser.request(new URL(action, page.url).toString(), { form: withoutToken });
        t.equal(response.status, 403, `${name} ${action}: refused without it`);
        t.equal(response.headers.get('location'), null, `${name} ${action}: no redirect`);
        posted.push(`${name} ${action}`);
      }
    }
    t.ok(posted.length >= 12, `${posted.length} forms posted without their token`);
    t.equal(await databaseFingerprint(), before, 'nothing changed');
    t.same((await pool.query('SELECT id FROM app_secrets ORDER BY client_id, id')).rows, secretsBefore, 'no secret');

    // Sign-out is oidc-provider's own form, with its own token (xsrf).
    const logout = await cleo.visit(`${server.url}/session/end`);
    t.equal(pageName(logout.body), 'logout');
    const form = formsOf(logout).find((candidate) => /\/session\/end\/confirm$/.test(candidate.action))!;
    t.ok(form.fields.xsrf, 'the sign-out form carries the provider’s token');
    const { xsrf: _xsrf, ...withoutXsrf } = form.fields;
    const refused = await cleo.request(new URL(form.action, logout.url).toString(), {
      form: { ...withoutXsrf, logout: 'yes' },
    });
    t.equal(refused.status, 400, 'sign-out without it is refused');
    t.equal(pageName((await cleo.visit(`${server.url}/my/apps`)).body), 'my-apps', 'and cleo is still signed in');
  },
);
