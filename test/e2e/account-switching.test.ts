// Switching accounts in one browser: signed in as one person, a `prompt=login` sign-in as another
// ends the old session (oidc-provider's end-session form, submitted here as a browser without
// JavaScript does: its visible Continue button) and completes at the app with the new account's
// code — its own consent first when it has none. Also the portal's "Sign in with another account".
import t from 'tap';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  continueThroughEndSession,
  exchangeCode,
  fullFlow,
  REDIRECT_URI,
  registerApp,
  signInOnPage,
  startAuthorization,
} from '../support/flows.js';
import { seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const person = await seedPeople(server.directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
]);
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'profile', 'User.Read'] });

/** A browser signed in to the app as `who` (consent given), ready for the next request. */
async function signedInAs(who: string): Promise<Browser> {
  const { browser, callback, auth } = await fullFlow(server, app, person(who), { scope: 'openid User.Read' });
  const tokens = await exchangeCode(app, callback, auth);
  if (tokens.claims()?.sub !== person(who).id) throw new Error(`not signed in as ${who}`);
  return browser;
}

/** The sign-in as `who` from a prompt=login page, through the old session's end, to the next page. */
async function switchTo(browser: Browser, loginPage: PageResponse, who: string): Promise<PageResponse> {
  const afterSignIn = await signInOnPage(browser, loginPage, person(who).signIn, person(who).password);
  return continueThroughEndSession(browser, afterSignIn);
}

for (const [from, to] of [
  ['alice@contoso', 'admin@contoso'],
  ['admin@contoso', 'alice@contoso'],
] as const) {
  t.test(`${from} switches to ${to}: consent for the new account first, then its code at the app`, async (t) => {
    // The two accounts' consent is independent: `to` has never used the app.
    await server.pool.query('DELETE FROM user_consents');
    const browser = await signedInAs(from);
    const auth = await startAuthorization(browser, app, { scope: 'openid User.Read', prompt: 'login' });
    t.equal(pageName(auth.page.body), 'login', 'prompt=login asks for a sign-in although signed in');
    const consent = await switchTo(browser, auth.page, to);
    t.equal(pageName(consent.body), 'consent', `${to} is asked for their own consent`);
    t.match(consent.body, `<strong>${to}</strong>`, 'the consent page names the new account');
    t.notMatch(consent.body, from, 'and not the old one');
    const tokens = await exchangeCode(app, appRedirect(await answerConsent(browser, consent, 'accept')), auth);
    t.equal(tokens.claims()?.sub, person(to).id, "the app receives the new account's code");

    // The browser's session is now the new account's: a silent request signs in as them.
    const silent = await startAuthorization(browser, app, { scope: 'openid User.Read', prompt: 'none' });
    const again = await exchangeCode(app, appRedirect(silent.page), silent);
    t.equal(again.claims()?.sub, person(to).id, 'the session belongs to the new account');
  });
}

t.test('switching to an account that has consented goes straight back to the app', async (t) => {
  await signedInAs('admin@contoso');
  const browser = await signedInAs('alice@contoso');
  const auth = await startAuthorization(browser, app, { scope: 'openid User.Read', prompt: 'login' });
  const page = await switchTo(browser, auth.page, 'admin@contoso');
  const tokens = await exchangeCode(app, appRedirect(page), auth);
  t.equal(tokens.claims()?.sub, person('admin@contoso').id);
});

t.test('a first sign-in with prompt=login goes through consent to the app, not back to the sign-in', async (t) => {
  await server.pool.query('DELETE FROM user_consents');
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, app, { scope: 'openid User.Read', prompt: 'login' });
  const consent = await signInOnPage(
    browser,
    auth.page,
    person('alice@contoso').signIn,
    person('alice@contoso').password,
  );
  t.equal(pageName(consent.body), 'consent');
  const tokens = await exchangeCode(app, appRedirect(await answerConsent(browser, consent, 'accept')), auth);
  t.equal(tokens.claims()?.sub, person('alice@contoso').id);
});

t.test('signing in again as the same account needs no end of session', async (t) => {
  const browser = await signedInAs('alice@contoso');
  const auth = await startAuthorization(browser, app, { scope: 'openid User.Read', prompt: 'login' });
  const page = await signInOnPage(browser, auth.page, person('alice@contoso').signIn, person('alice@contoso').password);
  const tokens = await exchangeCode(app, appRedirect(page), auth);
  t.equal(tokens.claims()?.sub, person('alice@contoso').id);
});

/** The page's "Sign in with another account" link, followed to the sign-in page it leads to. */
async function followSwitchAccountLink(browser: Browser, page: PageResponse): Promise<PageResponse> {
  const href = /<a href="([^"]+)">Sign in with another account<\/a>/.exec(page.body)?.[1];
  if (!href) throw new Error(`no "Sign in with another account" link on the ${pageName(page.body)} page`);
  return browser.visit(new URL(href.replace(/&amp;/g, '&'), page.url).toString());
}

t.test('"Sign in with another account" on the admin centre\'s "Admins only" page opens it as an admin', async (t) => {
  const browser = new Browser(server.url);
  const loginPage = await browser.visit(`${server.url}/admin/apps`);
  const refused = await signInOnPage(
    browser,
    loginPage,
    person('alice@contoso').signIn,
    person('alice@contoso').password,
  );
  t.equal(refused.status, 403);
  t.equal(pageName(refused.body), 'refused', 'alice is not an admin');
  const signInPage = await followSwitchAccountLink(browser, refused);
  t.equal(pageName(signInPage.body), 'login', 'the link asks for a sign-in');
  const adminPage = await switchTo(browser, signInPage, 'admin@contoso');
  t.equal(adminPage.status, 200);
  t.equal(pageName(adminPage.body), 'admin-apps', 'back on the page alice was refused, now as the admin');
  t.match(adminPage.body, /admin@contoso/);
  const again = await browser.visit(`${server.url}/admin`);
  t.equal(pageName(again.body), 'admin-home', 'the browser stays signed in as the admin');
});

t.test('"Sign in with another account" on "You can\'t grant this" lets an admin grant the app', async (t) => {
  const vendor = await registerApp(server, { tenant: 'fabrikam', name: 'Vendor', scopes: ['openid', 'User.Read'] });
  const adminConsentUrl = `${server.url}/contoso/adminconsent?${new URLSearchParams({ client_id: vendor.clientId, redirect_uri: REDIRECT_URI, state: 'switch-1' }).toString()}`;
  const browser = await signedInAs('alice@contoso');
  const refused = await browser.visit(adminConsentUrl);
  t.equal(refused.status, 403);
  t.equal(pageName(refused.body), 'refused', "the page says alice can't grant it");
  t.notMatch(refused.body, /name="decision"/, 'alice cannot grant it');
  const signInPage = await followSwitchAccountLink(browser, refused);
  const consentPage = await switchTo(browser, signInPage, 'admin@contoso');
  t.equal(consentPage.status, 200);
  t.equal(pageName(consentPage.body), 'admin-consent');
  t.match(consentPage.body, /name="decision"/, 'the admin is offered the decision');
  const callback = appRedirect(await browser.submit(consentPage, /adminconsent/, { decision: 'accept' }));
  t.equal(callback.searchParams.get('admin_consent'), 'True');
  t.equal(callback.searchParams.get('state'), 'switch-1');
});
