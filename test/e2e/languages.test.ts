// Every page in the reader's language, end to end: `ui_locales=de` gives the German sign-in page
// (lang="de") and then the German consent page; no preference gives English; Accept-Language
// gives German My apps, admin consent and error pages; discovery names the languages; and no page
// rendered here asks for a key the catalogues lack.
import t from 'tap';
import { clearMissingKeys, reportedMissingKeys } from '../../src/plugins/i18n.js';
import { EnterpriseApps } from '../../src/services/enterprise-apps.js';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { REDIRECT_URI, registerApp, signInOnPage, startAuthorization } from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory } = server;
clearMissingKeys();

const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
]);
const planner = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Vendor Planner',
  scopes: ['openid', 'User.Read', 'Calendars.Read', 'User.Read.All'],
});
const inHouse = await registerApp(server, {
  tenant: 'fabrikam',
  name: 'Fabrikam Only',
  scopes: ['openid', 'User.Read'],
  multiTenant: false,
});
const blocked = await registerApp(server, { tenant: 'fabrikam', name: 'Blocked Tool', scopes: ['openid'] });
// In use in Contoso (an admin granted it), then blocked there.
await server.accord.services.consent.grantAdminConsent(
  'contoso',
  as('admin@contoso').id,
  blocked.clientId,
  ['openid'],
  'test',
);
await new EnterpriseApps(server.pool).block('contoso', blocked.clientId, 'operator');

/** Every page this test saw, to look for keys that were not translated. */
const seen: PageResponse[] = [];
function look(page: PageResponse): PageResponse {
  seen.push(page);
  return page;
}
const lang = (page: PageResponse) => /<html lang="([^"]*)"/.exec(page.body)?.[1];
const text = (page: PageResponse) =>
  page.body
    .replace(/<\/?(strong|a|time|span|code|b|em)\b[^>]*>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

t.test('discovery lists the languages of the pages', async (t) => {
  const response = await fetch(`${server.url}/.well-known/openid-configuration`);
  t.same((await response.json()).ui_locales_supported, ['en', 'de']);
});

t.test('/auth?…&ui_locales=de shows the German sign-in page and then the German consent page', async (t) => {
  // The browser prefers English: the app's ui_locales wins, for the whole flow.
  const browser = new Browser(server.url, { 'accept-language': 'en-GB,en;q=0.9' });
  const auth = await startAuthorization(browser, planner, {
    scope: 'openid User.Read Calendars.Read',
    ui_locales: 'de-CH en',
  });
  const login = look(auth.page);
  t.equal(pageName(login.body), 'login');
  t.equal(lang(login), 'de', 'lang="de"');
  t.match(login.body, /<title>Anmelden · Accord<\/title>/);
  t.match(text(login), /um mit Vendor Planner fortzufahren/);
  t.match(login.body, /<label for="username">Benutzername<\/label>/);

  const wrong = look(await browser.submit(login, /\/login$/, { username: 'alice@contoso', password: 'nope' }));
  t.equal(wrong.status, 401);
  t.equal(lang(wrong), 'de');
  t.match(text(wrong), /Der Benutzername oder das Passwort ist falsch\./, 'the sign-in error in German');

  const consent = look(await signInOnPage(browser, wrong, 'alice@contoso', PASSWORD));
  t.equal(pageName(consent.body), 'consent');
  t.equal(lang(consent), 'de', 'the consent page keeps the language');
  t.match(consent.body, /<h1>Angeforderte Berechtigungen<\/h1>/);
  t.match(text(consent), /Angemeldet als alice@contoso\./);
  t.match(text(consent), /Diese App möchte:/);
  t.match(consent.body, /<li data-scope="User.Read">Ihr Profil lesen<\/li>/, 'the permission in German');
  t.match(consent.body, /<li data-scope="Calendars.Read">Ihren Kalender lesen<\/li>/);
  t.match(text(consent), /Nicht verifizierter Herausgeber/);
  t.match(text(consent), /Datenschutzerklärung \(keine veröffentlicht\)/);
  t.match(consent.body, /<button type="submit" name="decision" value="accept">Zustimmen<\/button>/);
  t.notMatch(text(consent), /Permissions requested|Read your profile|Signed in as/, 'no English left');
});

t.test('without a preference the pages are English', async (t) => {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, planner, { scope: 'openid User.Read' });
  const login = look(auth.page);
  t.equal(lang(login), 'en');
  t.match(login.body, /<title>Sign in · Accord<\/title>/);
  const consent = look(await signInOnPage(browser, login, 'alice@contoso', PASSWORD));
  t.equal(lang(consent), 'en');
  t.match(consent.body, /<h1>Permissions requested<\/h1>/);
  t.match(consent.body, /<li data-scope="User.Read">Read your profile<\/li>/);
});

t.test('Accept-Language: de (no ui_locales) gives the German sign-in, and French falls back to English', async (t) => {
  const german = look(
    (await startAuthorization(new Browser(server.url, { 'accept-language': 'de-AT' }), planner, { scope: 'openid' }))
      .page,
  );
  t.equal(lang(german), 'de');
  const french = look(
    (
      await startAuthorization(new Browser(server.url, { 'accept-language': 'fr-FR,fr;q=0.9' }), planner, {
        scope: 'openid',
      })
    ).page,
  );
  t.equal(lang(french), 'en');
});

t.test('needs admin approval and refused pages in German', async (t) => {
  const browser = new Browser(server.url, { 'accept-language': 'de' });
  const auth = await startAuthorization(browser, planner, { scope: 'openid User.Read.All' });
  const approval = look(await signInOnPage(browser, auth.page, 'alice@contoso', PASSWORD));
  t.equal(pageName(approval.body), 'needs-admin-approval');
  t.equal(lang(approval), 'de');
  t.match(approval.body, /<h1>Genehmigung durch einen Administrator erforderlich<\/h1>/);
  t.match(approval.body, /<li data-scope="User.Read.All">Die Profile aller Personen in Ihrer Organisation lesen<\/li>/);
  const sent = look(await browser.submit(approval, /\/request-approval$/, { reason: 'Für das Team' }));
  t.match(text(sent), /Ihre Anfrage wurde an die Administratoren Ihrer Organisation gesendet/);

  // Asked again later: the page says when, as a German date, and that the date is UTC.
  const again = look((await startAuthorization(browser, planner, { scope: 'openid User.Read.All' })).page);
  t.equal(pageName(again.body), 'needs-admin-approval');
  const today = new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date());
  t.match(text(again), `Sie haben Ihre Administratoren am ${today} bereits gebeten`);
  t.match(text(again), /Zeiten sind in UTC angegeben\./);

  const single = look((await startAuthorization(browser, inHouse, { scope: 'openid User.Read' })).page);
  t.equal(pageName(single.body), 'refused');
  t.equal(lang(single), 'de');
  t.match(text(single), /Fabrikam Only ist in Ihrer Organisation nicht verfügbar/);
  const blockedPage = look((await startAuthorization(browser, blocked, { scope: 'openid' })).page);
  t.equal(pageName(blockedPage.body), 'refused');
  t.match(text(blockedPage), /Ihre Organisation hat Blocked Tool deaktiviert\./);
  t.match(blockedPage.body, /<button type="submit">Zurück zur App<\/button>/);
});

t.test('Accept-Language: de gives German My apps, with German dates in UTC', async (t) => {
  const browser = new Browser(server.url, { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' });
  let page = look(await browser.visit(`${server.url}/my/apps`));
  t.equal(pageName(page.body), 'login', 'the portal sign-in is German too');
  t.equal(lang(page), 'de');
  page = look(await signInOnPage(browser, page, 'alice@contoso', PASSWORD));
  t.equal(pageName(page.body), 'my-apps');
  t.equal(lang(page), 'de');
  t.match(page.body, /<title>Meine Apps · Accord<\/title>/);
  t.match(text(page), /Angemeldet als alice@contoso\. Diese Apps können auf Ihre Informationen zugreifen\./);
  t.match(text(page), /Ihre Anfragen zur Genehmigung durch einen Administrator/);
  const today = new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date());
  t.match(page.body, new RegExp(`<time datetime="[^"]+">${today.replace(/\./g, '\\.')}</time>`), 'dates with Intl');
  t.match(text(page), /Wartet auf einen Administrator \(bis /);
  t.match(text(page), /Zeiten sind in UTC angegeben\./);

  const english = look(await browser.request(`${server.url}/my/apps`, { headers: { 'accept-language': 'en' } }));
  t.equal(lang(english), 'en', 'My apps follows Accept-Language on every request');
  t.match(english.headers.get('vary') ?? '', /Accept-Language/, 'and says so to caches');
  t.match(english.body, /<h1>My apps<\/h1>/);
});

t.test('the admin consent page follows Accept-Language', async (t) => {
  const browser = new Browser(server.url, { 'accept-language': 'de' });
  const url = `${server.url}/contoso/adminconsent?${new URLSearchParams({ client_id: planner.clientId, redirect_uri: REDIRECT_URI })}`;
  let page = look(await browser.visit(url));
  page = look(await signInOnPage(browser, page, 'admin@contoso', PASSWORD));
  t.equal(pageName(page.body), 'admin-consent');
  t.equal(lang(page), 'de');
  t.match(page.body, /<h1>Berechtigungen für Ihre Organisation erteilen<\/h1>/);
  t.match(text(page), /Wenn Sie zustimmen, darf diese App für alle Personen in Contoso:/);
  t.match(page.body, /<li data-scope="User.Read.All">Das Profil jedes Benutzers in der Organisation lesen/);
  t.match(text(page), /Für die Organisation zustimmen/);

  const aliceBrowser = new Browser(server.url, { 'accept-language': 'de' });
  let refused = look(await aliceBrowser.visit(url));
  refused = look(await signInOnPage(aliceBrowser, refused, 'alice@contoso', PASSWORD));
  t.equal(refused.status, 403);
  t.equal(lang(refused), 'de');
  t.match(refused.body, /<h1>Sie können diese Berechtigungen nicht erteilen<\/h1>/);
});

t.test('error pages are translated: the code, its explanation and Accord’s own message', async (t) => {
  const browser = new Browser(server.url, { 'accept-language': 'de' });
  const expired = look(await browser.visit(`${server.url}/interaction/no-such-interaction`));
  t.equal(pageName(expired.body), 'error');
  t.equal(lang(expired), 'de');
  t.match(expired.body, /<h1>Diese Anmeldung ist abgelaufen<\/h1>/);
  t.match(text(expired), /Diese Anmeldeseite ist abgelaufen oder wurde in einem anderen Browser geöffnet\./);
  t.match(expired.body, /<code>interaction_expired<\/code>/, 'the code stays');

  const missing = look(await browser.visit(`${server.url}/no/such/page`));
  t.equal(missing.status, 404);
  t.equal(lang(missing), 'de');
  t.match(missing.body, /<h1>Seite nicht gefunden<\/h1>/);
  t.match(
    missing.body,
    /<span lang="en">No route GET \/no\/such\/page<\/span>/,
    'a developer detail is marked English',
  );

  const badTenant = look(await browser.visit(`${server.url}/nowhere/adminconsent?client_id=x&redirect_uri=y`));
  t.match(text(badTenant), /Es gibt keine Organisation „nowhere“\./);

  // oidc-provider's own error page, in the request's ui_locales.
  const unknownClient = look(
    await new Browser(server.url).visit(
      `${server.url}/auth?${new URLSearchParams({ client_id: 'no-such-app', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, ui_locales: 'de' })}`,
    ),
  );
  t.equal(pageName(unknownClient.body), 'error');
  t.equal(lang(unknownClient), 'de');
  t.match(unknownClient.body, /<h1>Diese App ist nicht bekannt<\/h1>/);

  const api = await fetch(`${server.url}/api/v1/no-such`, {
    headers: { 'accept-language': 'de', accept: 'application/json' },
  });
  const body = await api.json();
  t.match(body.error_description, /^No route/, 'JSON APIs keep the English description for developers');
});

t.test('sign-out and signed-out pages in German', async (t) => {
  const browser = new Browser(server.url, { 'accept-language': 'de' });
  // Signed in (through My apps), so there is a session to end.
  await signInOnPage(browser, await browser.visit(`${server.url}/my/apps`), 'alice@contoso', PASSWORD);
  const logout = look(await browser.visit(`${server.url}/session/end?ui_locales=de`));
  t.equal(pageName(logout.body), 'logout');
  t.equal(lang(logout), 'de');
  t.match(text(logout), /Möchten Sie sich von Accord abmelden\?/);
  t.match(text(logout), /Ja, abmelden/);
  const signedOut = look(await browser.visit(`${server.url}/session/end/success`));
  t.equal(pageName(signedOut.body), 'logged-out');
  t.equal(lang(signedOut), 'de');
  t.match(signedOut.body, /<h1>Sie sind abgemeldet<\/h1>/);
});

t.test('no page asked for a key the catalogues lack, nor shows one', async (t) => {
  t.ok(seen.length >= 20, `pages looked at: ${seen.length}`);
  t.same(reportedMissingKeys(), [], 'i18next reported no missing key');
  for (const page of seen)
    t.notMatch(text(page), /\b(common|pages|permissions|admin):[a-z]/i, `${pageName(page.body)} shows no raw key`);
});
