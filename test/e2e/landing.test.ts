// The way in and the way out, without JavaScript: `/` is a landing page (what Accord is, sign in,
// My apps, the admin centre for admins); every signed-in page shows the account, a link between My
// apps and the admin centre, and "Sign out", which is RP-initiated logout through the provider's
// end_session_endpoint ending at /portal/signed-out; cancelling the admin-centre sign-in ends on
// the landing page, not an error page. In English and German.
import t from 'tap';
import { FIRST_PARTY_CLIENT_ID } from '../../src/core/first-party-client.js';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { signInOnPage } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const as = await seedPeople(server.directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
]);

async function signedIn(user: string, path: string): Promise<{ browser: Browser; page: PageResponse }> {
  const browser = new Browser(server.url);
  const page = await signInOnPage(browser, await browser.visit(`${server.url}${path}`), as(user).signIn, PASSWORD);
  return { browser, page };
}

const accountOf = (page: PageResponse) => /<nav class="account"[^>]*data-account="([^"]+)"/.exec(page.body)?.[1];

t.test('/ says what Accord is and leads to sign-in, My apps and the admin centre', async (t) => {
  const browser = new Browser(server.url);
  const home = await browser.visit(`${server.url}/`);
  t.equal(home.status, 200);
  t.equal(pageName(home.body), 'home');
  t.equal(home.headers.get('cache-control'), 'no-store');
  t.match(home.body, /OpenID Connect/);
  t.match(home.body, /href="\/portal\/sign-in\?returnTo=%2Fmy%2Fapps"[^>]*data-link="sign-in"/);
  t.match(home.body, /href="\/my\/apps"/);
  t.notOk(accountOf(home), 'nobody is signed in');
  t.match(home.body, /<a class="brand" href="\/">/, 'the header logo leads here');

  const start = await browser.visit(`${server.url}/portal/sign-in?returnTo=%2Fmy%2Fapps`);
  const myApps = await signInOnPage(browser, start, as('alice@contoso').signIn, PASSWORD);
  t.equal(pageName(myApps.body), 'my-apps', 'signing in from / leads to My apps');
  const signedInHome = await browser.visit(`${server.url}/`);
  t.match(signedInHome.body, /data-signed-in="alice@contoso"/);
  t.notMatch(signedInHome.body, /data-link="admin"/, 'no admin centre for a user');

  const admin = await signedIn('admin@contoso', '/my/apps');
  const adminHome = await admin.browser.visit(`${server.url}/`);
  t.match(adminHome.body, /href="\/admin" data-link="admin"/, 'the admin centre for an admin');
});

t.test(
  'every signed-in page shows the account, the way between My apps and the admin centre, and sign out',
  async (t) => {
    const { browser } = await signedIn('admin@contoso', '/admin');
    for (const path of ['/', '/my/apps', '/admin', '/admin/apps', '/admin/enterprise-apps', '/admin/audit']) {
      const page = await browser.visit(`${server.url}${path}`);
      t.equal(accountOf(page), 'admin@contoso', `${path}: the account`);
      t.match(page.body, /href="\/my\/apps" data-link="my-apps"/, `${path}: My apps`);
      t.match(page.body, /href="\/admin" data-link="admin"/, `${path}: the admin centre`);
      t.match(page.body, /href="\/portal\/sign-out" data-link="sign-out"/, `${path}: sign out`);
    }
    const user = await signedIn('alice@contoso', '/my/apps');
    t.equal(accountOf(user.page), 'alice@contoso');
    t.notMatch(user.page.body, /data-link="admin"/, 'a user is not offered the admin centre');
    const refused = await user.browser.visit(`${server.url}/admin`);
    t.equal(refused.status, 403);
    t.equal(accountOf(refused), 'alice@contoso', 'the refusal page shows who is signed in, and sign out');
  },
);

t.test('sign out ends the session through the provider and returns to a page of ours', async (t) => {
  const { browser } = await signedIn('alice@contoso', '/my/apps');
  const start = await browser.request(`${server.url}/portal/sign-out`);
  t.equal(start.status, 303);
  const endSession = new URL(start.headers.get('location')!, server.url);
  const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as {
    end_session_endpoint: string;
  };
  t.equal(`${server.url}${endSession.pathname}`, discovery.end_session_endpoint, "the provider's end_session_endpoint");
  t.equal(endSession.searchParams.get('client_id'), FIRST_PARTY_CLIENT_ID);
  t.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${server.url}/portal/signed-out`);

  const confirm = await browser.visit(endSession.toString());
  t.equal(pageName(confirm.body), 'logout', 'the provider asks to confirm (its form carries its own CSRF token)');
  const done = await browser.submit(confirm, /\/session\/end\/confirm$/, { logout: 'yes' });
  t.equal(pageName(done.body), 'signed-out', 'ends at our page');
  t.notOk(accountOf(done));
  const myApps = await browser.visit(`${server.url}/my/apps`);
  t.equal(pageName(myApps.body), 'login', 'My apps asks to sign in again');
  t.notOk(accountOf(await browser.visit(`${server.url}/`)), 'the landing page shows nobody signed in');

  // "No, stay signed in" keeps the session, and ends on the landing page showing the account.
  const other = await signedIn('alice@contoso', '/my/apps');
  const stay = await other.browser.visit(`${server.url}/portal/sign-out`);
  const kept = await other.browser.submit(stay, /\/session\/end\/confirm$/, {});
  t.equal(pageName(kept.body), 'home');
  t.equal(accountOf(kept), 'alice@contoso');
});

t.test('cancelling the admin-centre sign-in ends on the landing page, not an error page', async (t) => {
  const browser = new Browser(server.url);
  const login = await browser.visit(`${server.url}/admin`);
  t.equal(pageName(login.body), 'login');
  const cancelled = await browser.submit(login, /\/abort$/, {});
  t.equal(cancelled.status, 200);
  t.equal(pageName(cancelled.body), 'home');
  t.match(cancelled.body, /data-notice="sign-in-cancelled"/);
  t.notOk(accountOf(cancelled));
});

t.test('the landing, signed-out and confirmation pages are in German', async (t) => {
  const browser = new Browser(server.url, { 'accept-language': 'de' });
  const home = await browser.visit(`${server.url}/`);
  t.match(home.body, /<html lang="de">/);
  t.match(home.body, /Anmelden/);
  const login = await browser.visit(`${server.url}/admin`);
  const cancelled = await browser.submit(login, /\/abort$/, {});
  t.match(cancelled.body, /Die Anmeldung wurde abgebrochen/);
  const page = await signInOnPage(
    browser,
    await browser.visit(`${server.url}/admin`),
    as('admin@contoso').signIn,
    PASSWORD,
  );
  t.match(page.body, /Abmelden/);
  t.match(page.body, /Angemeldet als <strong>admin@contoso<\/strong>/);
  const out = await browser.visit(`${server.url}/portal/sign-out`);
  const done = await browser.submit(out, /\/session\/end\/confirm$/, { logout: 'yes' });
  t.equal(pageName(done.body), 'signed-out');
  t.match(done.body, /Sie sind abgemeldet/);
});
