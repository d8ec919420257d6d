// /auth while PostgreSQL is down (issue 18): the answer is temporarily_unavailable, sent to the
// app with state and iss whenever the redirect_uri can be checked against the app's registration
// (RFC 6749 §4.1.2.1) — prompt=none included — and otherwise a page that says the service is
// briefly unavailable, 503 with Retry-After. Never "server_error", never a redirect to a
// redirect_uri that is not registered. Once PostgreSQL is back, the same requests succeed.

import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import t, { type Test } from 'tap';
import { migrate } from '../../src/db/migrate.js';
import { Browser, type PageResponse, pageName } from '../support/browser.js';
import { fullFlow, REDIRECT_URI, registerApp, startAuthorization } from '../support/flows.js';
import { seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';
import { PrivateDatabase } from './support.js';

const database = await PrivateDatabase.start();
t.teardown(() => database.destroy());
await migrate(database.pool);
const server = await startTestServer({}, database.asTestDatabase());
t.teardown(() => server.close());
const as = await seedPeople(server.directory, [['contoso', 'alice', 'user']]);
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read'] });
// An app this server has never been asked about: its registration has not been read.
const unseen = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read'], name: 'Unseen' });
const scope = 'openid User.Read';

// Alice has signed in and consented.
const alice = new Browser(server.url);
await fullFlow(server, app, as('alice@contoso'), { scope }, alice);
// A sign-in page of another browser, opened before the outage.
const visitor = new Browser(server.url);
const interaction = await startAuthorization(visitor, app, { scope });

/** The query of the redirect to the app, when the response is one; else undefined. */
function redirectedWith(page: PageResponse, parameter: string): URLSearchParams | undefined {
  const location = page.headers.get('location');
  if (page.status < 300 || page.status >= 400 || !location?.startsWith(REDIRECT_URI)) return undefined;
  const query = new URL(location).searchParams;
  return query.has(parameter) ? query : undefined;
}

const describe = (page: PageResponse) =>
  `${page.status} ${pageName(page.body) ?? ''} ${page.headers.get('location') ?? ''} ${/<code>([^<]*)<\/code>/.exec(page.body)?.[1] ?? ''}`;

function assertUnavailablePage(t: Test, page: PageResponse) {
  t.equal(page.status, 503, `503 (${describe(page)})`);
  t.equal(page.headers.get('retry-after'), '5', 'Retry-After says when to try again');
  t.equal(page.headers.get('location'), null, 'not a redirect');
  t.equal(pageName(page.body), 'unavailable', 'the page that says the service is briefly unavailable');
  t.match(page.body, /briefly unavailable/);
  t.match(page.body, /try again/i);
  t.notMatch(page.body, /server_error|oops|something went wrong/i, 'no generic failure');
}

t.test('before the outage: prompt=none gives the app a code; a new browser gets the sign-in page', async (t) => {
  const { page } = await startAuthorization(alice, app, { scope, prompt: 'none' });
  t.ok(redirectedWith(page, 'code'), describe(page));
  t.equal(pageName(interaction.page.body), 'login');
});

t.test('while PostgreSQL is down', async (t) => {
  await database.stop();
  t.teardown(() => database.restart());

  t.test('prompt=none: the app gets error=temporarily_unavailable with its state and iss', async (t) => {
    const { page, state } = await startAuthorization(alice, app, { scope, prompt: 'none' });
    const answer = redirectedWith(page, 'error');
    t.ok(answer, `a redirect to the app (${describe(page)})`);
    t.equal(answer?.get('error'), 'temporarily_unavailable');
    t.equal(answer?.get('state'), state, 'with its state');
    t.equal(answer?.get('iss'), server.url, 'and iss (RFC 9207)');
    t.notOk(answer?.has('code'), 'no code');
  });

  t.test('a request of a browser without a session: the app gets temporarily_unavailable too', async (t) => {
    const { page, state } = await startAuthorization(new Browser(server.url), app, { scope });
    const answer = redirectedWith(page, 'error');
    t.ok(answer, `a redirect to the app (${describe(page)})`);
    t.equal(answer?.get('error'), 'temporarily_unavailable');
    t.equal(answer?.get('state'), state);
    t.equal(answer?.get('iss'), server.url);
  });

  t.test('a redirect_uri the app did not register: no redirect', async (t) => {
    const url = oidc.buildAuthorizationUrl(app.config, {
      redirect_uri: 'https://attacker.example.test/callback',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      scope,
      state: 'x',
      prompt: 'none',
    });
    const page = await new Browser(server.url).visit(url.href);
    t.equal(page.headers.get('location'), null, `not a redirect (${describe(page)})`);
    t.ok(page.status >= 400, `an error page (${describe(page)})`);
    t.match(pageName(page.body), /^(error|unavailable)$/);
  });

  t.test('an app whose registration cannot be read: the briefly-unavailable page, 503', async (t) => {
    const { page } = await startAuthorization(new Browser(server.url), unseen, { scope, prompt: 'none' });
    assertUnavailablePage(t, page);
  });

  t.test("Accord's own pages: the same page", async (t) => {
    const page = await visitor.request(interaction.page.url);
    assertUnavailablePage(t, page);
  });

  t.test('the token endpoint: 503 temporarily_unavailable in JSON, with Retry-After', async (t) => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }).toString(),
    });
    t.equal(response.status, 503);
    t.equal(response.headers.get('retry-after'), '5');
    t.match(await response.json(), { error: 'temporarily_unavailable' });
  });
});

t.test('once PostgreSQL is back, prompt=none gives the app a code again', async (t) => {
  const deadline = Date.now() + 15_000;
  while ((await fetch(`${server.url}/readyz`)).status !== 200 && Date.now() < deadline) await sleep(50);
  const { page } = await startAuthorization(alice, app, { scope, prompt: 'none' });
  t.ok(redirectedWith(page, 'code'), describe(page));
});
