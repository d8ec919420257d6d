// The data API through real flows: a token reaches only its own user's items, scopes decide what
// it may do, admin-consented *.All permissions stay inside the token's tenant, bodies are checked.

import * as oidc from 'openid-client';
import t from 'tap';
import { listSentMail } from '../../src/db/sent-mail.js';
import { insertSiteItem } from '../../src/db/site-items.js';
import { insertSite } from '../../src/db/sites.js';
import { Browser } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  registerApp,
  signInOnPage,
  startAuthorization,
} from '../support/flows.js';
import { startTestServer } from '../support/server.js';
import { callApi, scopesOf, userTokens } from './support.js';

const server = await startTestServer();
t.teardown(() => server.close());

const password = 'correct horse battery';
await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await server.directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
const alice = await server.directory.createUser(
  {
    tenantId: 'contoso',
    username: 'alice',
    password,
    role: 'user',
    email: 'alice@contoso.example',
    displayName: 'Alice Smith',
  },
  'operator',
);
const bob = await server.directory.createUser(
  { tenantId: 'contoso', username: 'bob', password, role: 'user', displayName: 'Bob' },
  'operator',
);
const adele = await server.directory.createUser(
  { tenantId: 'contoso', username: 'adele', password, role: 'admin', displayName: 'Adele' },
  'operator',
);
const frank = await server.directory.createUser(
  { tenantId: 'fabrikam', username: 'frank', password, role: 'user', displayName: 'Frank' },
  'operator',
);
const app = await registerApp(server, {
  tenant: 'contoso',
  multiTenant: true,
  scopes: [
    'openid',
    'offline_access',
    'User.Read',
    'Calendars.Read',
    'Calendars.ReadWrite',
    'Files.Read',
    'Files.ReadWrite',
    'Mail.Send',
    'User.Read.All',
    'Sites.Read.All',
  ],
});
const signIn = (username: string, tenant = 'contoso') => ({ signIn: `${username}@${tenant}`, password });

const aliceToken = (
  await userTokens(server, app, signIn('alice'), 'openid User.Read Calendars.ReadWrite Files.ReadWrite Mail.Send')
).access_token;
const frankToken = (await userTokens(server, app, signIn('frank', 'fabrikam'), 'openid User.Read Calendars.ReadWrite'))
  .access_token;

t.test('a user token reads its own profile, at /me and at /users/{own id}', async (t) => {
  const me = await callApi(server, aliceToken, '/me');
  t.equal(me.status, 200);
  t.same(me.body, {
    id: alice.id,
    tenant: 'contoso',
    username: 'alice',
    displayName: 'Alice Smith',
    email: 'alice@contoso.example',
  });
  t.equal(me.headers.get('cache-control'), 'no-store');
  const byId = await callApi(server, aliceToken, `/users/${alice.id}`);
  t.equal(byId.status, 200);
  t.same(byId.body, me.body);
  const own = await callApi(server, aliceToken, `/users/${alice.id}/calendar/events`);
  t.equal(own.status, 200);
  t.same(own.body, { value: [] });
});

t.test("a user token is refused another user's profile and calendar, in its tenant and in another", async (t) => {
  for (const [other, token] of [
    [bob, aliceToken],
    [frank, aliceToken],
    [alice, frankToken],
  ] as const) {
    for (const path of [`/users/${other.id}`, `/users/${other.id}/calendar/events`]) {
      const response = await callApi(server, token, path);
      t.equal(response.status, 403, path);
      t.equal(response.body.error, 'insufficient_scope');
      t.match(response.headers.get('www-authenticate'), /^Bearer realm="accord", error="insufficient_scope"/);
      t.notMatch(JSON.stringify(response.body), other.displayName, 'nothing of the other user leaks');
    }
  }
});

t.test('calendar events round-trip: POST, GET, DELETE; only their owner sees them', async (t) => {
  const created = await callApi(server, aliceToken, '/me/calendar/events', {
    body: { subject: 'Planning', start: '2030-01-02T09:00:00Z', end: '2030-01-02T10:00:00+00:00', location: 'Room 1' },
  });
  t.equal(created.status, 201);
  t.match(created.body, {
    subject: 'Planning',
    body: '',
    location: 'Room 1',
    start: '2030-01-02T09:00:00.000Z',
    end: '2030-01-02T10:00:00.000Z',
  });
  t.equal(created.headers.get('location'), `${server.url}/data/v1/me/calendar/events/${created.body.id}`);

  const list = await callApi(server, aliceToken, '/me/calendar/events');
  t.same(
    list.body.value.map((event: { id: string }) => event.id),
    [created.body.id],
  );
  t.same((await callApi(server, aliceToken, `/users/${alice.id}/calendar/events`)).body, list.body);
  t.same((await callApi(server, aliceToken, `/me/calendar/events/${created.body.id}`)).body, created.body);

  t.equal(
    (await callApi(server, frankToken, `/me/calendar/events/${created.body.id}`)).status,
    404,
    "another user's event is not found",
  );
  t.equal(
    (await callApi(server, frankToken, `/me/calendar/events/${created.body.id}`, { method: 'DELETE' })).status,
    404,
  );
  t.same((await callApi(server, frankToken, '/me/calendar/events')).body, { value: [] });

  const deleted = await callApi(server, aliceToken, `/me/calendar/events/${created.body.id}`, { method: 'DELETE' });
  t.equal(deleted.status, 204);
  t.equal(deleted.body, undefined);
  const gone = await callApi(server, aliceToken, `/me/calendar/events/${created.body.id}`);
  t.equal(gone.status, 404);
  t.same(gone.body, { error: 'not_found', error_description: 'event not found' });
  t.equal(
    (await callApi(server, aliceToken, `/me/calendar/events/${created.body.id}`, { method: 'DELETE' })).status,
    404,
  );
});

t.test('files round-trip: POST, GET, DELETE', async (t) => {
  const created = await callApi(server, aliceToken, '/me/drive/files', {
    body: { name: 'notes.txt', content: 'Grüße ✓' },
  });
  t.equal(created.status, 201);
  t.match(created.body, {
    name: 'notes.txt',
    contentType: 'text/plain',
    content: 'Grüße ✓',
    size: Buffer.byteLength('Grüße ✓'),
  });
  t.equal(created.headers.get('location'), `${server.url}/data/v1/me/drive/files/${created.body.id}`);

  const list = await callApi(server, aliceToken, '/me/drive/files');
  t.equal(list.status, 200);
  t.same(list.body, {
    value: [
      {
        id: created.body.id,
        name: 'notes.txt',
        contentType: 'text/plain',
        size: created.body.size,
        createdAt: created.body.createdAt,
      },
    ],
  });
  t.same((await callApi(server, aliceToken, `/me/drive/files/${created.body.id}`)).body, created.body);

  t.equal((await callApi(server, aliceToken, `/me/drive/files/${created.body.id}`, { method: 'DELETE' })).status, 204);
  t.equal((await callApi(server, aliceToken, `/me/drive/files/${created.body.id}`)).status, 404);
  t.same((await callApi(server, aliceToken, '/me/drive/files')).body, { value: [] });
});

t.test('collections are paged with $top and @odata.nextLink', async (t) => {
  const ids: string[] = [];
  for (const name of ['a.txt', 'b.txt', 'c.txt'])
    ids.push((await callApi(server, aliceToken, '/me/drive/files', { body: { name, content: name } })).body.id);
  const first = await callApi(server, aliceToken, '/me/drive/files?$top=2');
  t.same(
    first.body.value.map((file: { name: string }) => file.name),
    ['a.txt', 'b.txt'],
  );
  const next = new URL(first.body['@odata.nextLink']);
  t.equal(next.origin + next.pathname, `${server.url}/data/v1/me/drive/files`);
  const second = await callApi(server, aliceToken, `${next.pathname.replace('/data/v1', '')}${next.search}`);
  t.same(
    second.body.value.map((file: { name: string }) => file.name),
    ['c.txt'],
  );
  t.notOk('@odata.nextLink' in second.body, 'the last page has no next link');
  t.equal(
    (await callApi(server, aliceToken, '/me/drive/files?$top=1000')).status,
    400,
    'a page holds at most 100 items',
  );
  for (const id of ids) await callApi(server, aliceToken, `/me/drive/files/${id}`, { method: 'DELETE' });
});

t.test('a token without Files.ReadWrite can read files but not create or delete them', async (t) => {
  const readOnly = (await userTokens(server, app, signIn('bob'), 'openid Files.Read')).access_token;
  t.same(scopesOf(readOnly), ['Files.Read']);
  t.equal((await callApi(server, readOnly, '/me/drive/files')).status, 200);
  const file = (await callApi(server, aliceToken, '/me/drive/files', { body: { name: 'keep.txt', content: 'x' } }))
    .body;
  for (const [method, path, body] of [
    ['DELETE', `/me/drive/files/${file.id}`, undefined],
    ['POST', '/me/drive/files', { name: 'new.txt', content: 'x' }],
  ] as const) {
    const response = await callApi(server, readOnly, path, { method, body });
    t.equal(response.status, 403, method);
    t.equal(response.body.error, 'insufficient_scope');
    t.match(
      response.headers.get('www-authenticate'),
      /^Bearer realm="accord", error="insufficient_scope", error_description="[^"]+", scope="Files.ReadWrite"$/,
    );
  }
  t.equal((await callApi(server, readOnly, '/me')).status, 403, 'User.Read was not asked for');
  t.equal((await callApi(server, readOnly, '/me/calendar/events')).status, 403);
  t.equal((await callApi(server, aliceToken, `/me/drive/files/${file.id}`)).status, 200, 'the file is still there');
});

t.test(
  'request bodies are checked: unknown fields, lengths and formats give 400 invalid_request naming the field',
  async (t) => {
    const cases: [string, unknown, RegExp][] = [
      ['/me/drive/files', { name: 'a.txt', content: 'x', owner: 'bob' }, /^body\.owner is not a known field$/],
      [
        '/me/drive/files',
        { name: 'a'.repeat(256), content: 'x' },
        /^body\.name must NOT have more than 255 characters$/,
      ],
      ['/me/drive/files', { name: '../etc/passwd', content: 'x' }, /^body\.name must match pattern/],
      ['/me/drive/files', { name: 'a.txt' }, /^body\.content is required$/],
      ['/me/drive/files', { name: 'a.txt', content: 123 }, /^body\.content must be string$/],
      [
        '/me/drive/files',
        { name: 'a.txt', content: 'x'.repeat(32_769) },
        /^body\.content must NOT have more than 32768 characters$/,
      ],
      [
        '/me/calendar/events',
        { subject: 'x', start: 'tomorrow', end: '2030-01-01T10:00:00Z' },
        /^body\.start must match format "date-time"$/,
      ],
      [
        '/me/calendar/events',
        { subject: 'x', start: '2030-01-01T10:00:00Z', end: '2030-01-01T09:00:00Z' },
        /^body\.end must not be before body\.start$/,
      ],
      [
        '/me/calendar/events',
        { subject: 'x', start: '2030-01-01T10:00:00Z', end: '2030-01-01T11:00:00Z', attendees: [] },
        /^body\.attendees is not a known field$/,
      ],
      ['/me/sendMail', { to: ['not an address'], subject: 'Hi' }, /^body\.to\.0 must match format "email"$/],
      ['/me/sendMail', { to: [], subject: 'Hi' }, /^body\.to must NOT have fewer than 1 items$/],
    ];
    for (const [path, body, description] of cases) {
      const response = await callApi(server, aliceToken, path, { body });
      t.equal(response.status, 400, `${path} ${JSON.stringify(body).slice(0, 80)}`);
      t.equal(response.body.error, 'invalid_request');
      t.match(response.body.error_description, description);
    }
    const unauthenticated = await callApi(server, undefined, '/me/drive/files', { body: { junk: true } });
    t.equal(unauthenticated.status, 401, 'the token is checked before the body');
  },
);

t.test("sendMail stores the mail in the sender's sent items and answers 202", async (t) => {
  const sent = await callApi(server, aliceToken, '/me/sendMail', {
    body: { to: ['bob@contoso.example'], subject: 'Lunch?', body: 'At noon.' },
  });
  t.equal(sent.status, 202);
  t.equal(sent.body, undefined);
  t.match(await listSentMail(server.pool, 'contoso', alice.id), [
    { clientId: app.clientId, recipients: ['bob@contoso.example'], subject: 'Lunch?', body: 'At noon.' },
  ]);
  const noMail = await callApi(server, frankToken, '/me/sendMail', { body: { to: ['x@example.com'], subject: 'x' } });
  t.equal(noMail.status, 403);
  t.match(noMail.headers.get('www-authenticate'), /scope="Mail.Send"/);
});

t.test('no token, or a malformed Authorization header, is refused with RFC 6750 challenges', async (t) => {
  const none = await callApi(server, undefined, '/me');
  t.equal(none.status, 401);
  t.equal(none.headers.get('www-authenticate'), 'Bearer realm="accord"');
  const malformed = await callApi(server, undefined, '/me', { headers: { authorization: 'Basic abc' } });
  t.equal(malformed.status, 400);
  t.equal(malformed.body.error, 'invalid_request');
  t.match(malformed.headers.get('www-authenticate'), /error="invalid_request"/);
});

t.test('an admin-consented User.Read.All token reads profiles of its own tenant only', async (t) => {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, app, { scope: 'openid User.Read.All Sites.Read.All' });
  const consent = await signInOnPage(browser, auth.page, 'adele@contoso', password);
  const callback = appRedirect(await answerConsent(browser, consent, 'accept', { on_behalf_of_org: 'true' }));
  const adminToken = (await exchangeCode(app, callback, auth)).access_token;
  t.same(scopesOf(adminToken), ['Sites.Read.All', 'User.Read.All']);

  const bobProfile = await callApi(server, adminToken, `/users/${bob.id}`);
  t.equal(bobProfile.status, 200);
  t.same(bobProfile.body, { id: bob.id, tenant: 'contoso', username: 'bob', displayName: 'Bob', email: null });
  t.equal((await callApi(server, adminToken, '/me')).body.id, adele.id);

  const otherTenant = await callApi(server, adminToken, `/users/${frank.id}`);
  t.equal(otherTenant.status, 404, "another tenant's user is not found, as if absent");
  t.same(otherTenant.body, { error: 'not_found', error_description: 'user not found' });
  t.equal((await callApi(server, adminToken, '/users/no-such-user')).status, 404);
  t.equal(
    (await callApi(server, adminToken, `/users/${bob.id}/calendar/events`)).status,
    403,
    'there is no Calendars.Read.All',
  );

  // The tenant-wide grant covers every user of the tenant: Alice gets User.Read.All without being asked.
  const aliceAll = (await userTokens(server, app, signIn('alice'), 'openid User.Read.All')).access_token;
  t.equal((await callApi(server, aliceAll, `/users/${bob.id}`)).status, 200);
  t.equal((await callApi(server, aliceAll, `/users/${frank.id}`)).status, 404);
});

t.test('Sites.Read.All reads the site items of its own tenant only', async (t) => {
  await insertSite(server.pool, 'contoso', { id: 'intranet', name: 'Contoso intranet' });
  await insertSiteItem(server.pool, 'contoso', 'intranet', { title: 'Welcome', content: 'Hello Contoso' });
  await insertSiteItem(server.pool, 'contoso', 'intranet', { title: 'Holidays', content: '' });
  await insertSite(server.pool, 'fabrikam', { id: 'intranet', name: 'Fabrikam intranet' });
  await insertSiteItem(server.pool, 'fabrikam', 'intranet', { title: 'Fabrikam secret', content: 'x' });
  await insertSite(server.pool, 'fabrikam', { id: 'board', name: 'Fabrikam board' });

  const adminToken = (await userTokens(server, app, signIn('adele'), 'openid Sites.Read.All')).access_token;
  const items = await callApi(server, adminToken, '/sites/intranet/items');
  t.equal(items.status, 200);
  t.same(items.body.value.map((item: { title: string }) => item.title).sort(), ['Holidays', 'Welcome']);
  t.equal((await callApi(server, adminToken, '/sites/board/items')).status, 404, "another tenant's site is not found");
  t.equal((await callApi(server, adminToken, '/sites/Not_A_Site/items')).status, 400);

  const noScope = await callApi(server, aliceToken, '/sites/intranet/items');
  t.equal(noScope.status, 403);
  t.match(noScope.headers.get('www-authenticate'), /scope="Sites.Read.All"/);
});

t.test("an app's own token (client credentials) reaches no user's data", async (t) => {
  const tokens = await oidc.clientCredentialsGrant(app.config, {
    scope: 'User.Read',
    resource: `${server.url}/data/v1`,
  });
  const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString());
  t.equal(payload.aud, `${server.url}/data/v1`);
  // RFC 9068 §2.2: oidc-provider sets `sub` to the client id; no `tid`, no `gid`.
  t.equal(payload.sub, app.clientId);
  t.notOk(payload.tid);
  for (const path of ['/me', `/users/${alice.id}`, `/users/${app.clientId}`, '/me/drive/files']) {
    const response = await callApi(server, tokens.access_token, path);
    t.equal(response.status, 403, `${path} is refused`);
    t.notOk(response.body.id, 'no profile');
    t.match(response.headers.get('www-authenticate'), /error="insufficient_scope"/);
  }
});

t.test("an app's own token never carries User.Read.All or Sites.Read.All, asked for or not", async (t) => {
  // The app registered both *.All permissions; no admin is behind a client-credentials token.
  for (const scope of ['User.Read.All', 'Sites.Read.All', 'User.Read User.Read.All', 'User.Read Sites.Read.All']) {
    const refused = await oidc.clientCredentialsGrant(app.config, { scope, resource: `${server.url}/data/v1` }).then(
      (tokens) => `issued: ${tokens.scope}`,
      (error: { error?: string }) => error.error,
    );
    t.equal(refused, 'invalid_scope', `${scope}: refused`);
  }
  // What it may have: user permissions, exactly as asked.
  const tokens = await oidc.clientCredentialsGrant(app.config, {
    scope: 'User.Read Calendars.Read',
    resource: `${server.url}/data/v1`,
  });
  t.same(scopesOf(tokens.access_token), ['Calendars.Read', 'User.Read'], 'control: user permissions are issued');
  const unasked = await oidc.clientCredentialsGrant(app.config, { resource: `${server.url}/data/v1` });
  t.same(scopesOf(unasked.access_token), [], 'asking for nothing gets nothing, no *.All either');
  await insertSite(server.pool, 'contoso', { id: 'appsite', name: 'App site' });
  for (const path of [`/users/${alice.id}`, '/sites/appsite/items']) {
    const response = await callApi(server, tokens.access_token, path);
    t.equal(response.status, 403, `${path} is refused`);
    t.match(response.headers.get('www-authenticate'), /error="insufficient_scope"/);
  }
});
