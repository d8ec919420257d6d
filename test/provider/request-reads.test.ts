// The reads of a signed-in /auth that shows no page (the hot path of a returning user): the app,
// the user and the consent record are each read once per request (provider/request-memo.ts), and
// the consent record is read alongside the user's row, not after it (findAccount starts it).
import t from 'tap';
import { appRedirect, fullFlow, registerApp, startAuthorization } from '../support/flows.js';
import { seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer();
t.teardown(() => server.close());
const as = await seedPeople(server.directory, [['contoso', 'alice', 'user']]);
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read'] });

// The named statements (find-app-with-secrets, find-user, load-access, …) sent through the pool, as the order
// in which each was sent and each answer came back.
const events: string[] = [];
let recording = false;
const pool = server.pool as unknown as { query: (...args: unknown[]) => Promise<unknown> };
const query = pool.query.bind(pool);
pool.query = (...args: unknown[]) => {
  const result = query(...args);
  const name = (args[0] as { name?: string } | undefined)?.name;
  if (recording && name) {
    events.push(`sent ${name}`);
    result.then(
      () => events.push(`answered ${name}`),
      () => events.push(`failed ${name}`),
    );
  }
  return result;
};

t.test('a silent /auth reads each row once, the consent record alongside the user', async (t) => {
  // Alice consents once; her next /auth in the same browser is answered with a code, no page.
  const { browser } = await fullFlow(server, app, as('alice@contoso'), { scope: 'openid User.Read' });
  recording = true;
  const silent = await startAuthorization(browser, app, { scope: 'openid User.Read' });
  recording = false;
  t.ok(appRedirect(silent.page).searchParams.get('code'), 'a code, without a page');

  const sent = (name: string) => events.filter((event) => event === `sent ${name}`).length;
  t.same(
    // The client lookup reads the app with its secrets; the decision and the grant reuse that read.
    {
      client: sent('find-app-with-secrets'),
      app: sent('find-app'),
      user: sent('find-user'),
      consent: sent('load-access'),
    },
    { client: 1, app: 0, user: 1, consent: 1 },
    'each read once',
  );
  t.ok(
    events.indexOf('sent load-access') < events.indexOf('answered find-user'),
    `the consent record is asked for before the user's row is back (${events.join(', ')})`,
  );
  t.notOk(
    events.some((event) => event.startsWith('failed')),
    'no read failed',
  );
});
