// Revocation with the cached check, through the real HTTP server: two Accord instances on one
// database (each its own pool and listener, as two processes) both refuse a token within a
// second of its grant or app going, and a lost listener never lets a stale "alive" through.
//
// To see whether an answer came from the cache, the last test deletes a grant *unannounced* (a
// bare DELETE: Accord's own statements announce what they remove, the table does not): the
// database says "gone", so a 200 can only have come from the cache.

import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import t, { type Test } from 'tap';
import { createPool } from '../../src/db/pool.js';
import { LISTENER_APPLICATION_NAME } from '../../src/services/grant-liveness.js';
import { MyApps } from '../../src/services/my-apps.js';
import { refusedWithin } from '../support/api.js';
import { registerApp, relyingParty } from '../support/flows.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { callApi, userTokens } from './support.js';

const first = await startTestServer();
t.teardown(() => first.close());
// The second instance: the same issuer and database, a pool of its own, its own port.
const secondPool = createPool(first.database.url, () => undefined);
const secondServer = await startTestServer(
  { ISSUER: first.url },
  { url: first.database.url, pool: secondPool, drop: () => secondPool.end() },
);
t.teardown(async () => {
  await secondServer.close();
  await secondPool.end();
});
const second: TestServer = { ...secondServer, url: `http://127.0.0.1:${secondServer.config.port}` };
const instances = [first, second] as const;
const { directory, pool } = first;

const password = 'correct horse battery';
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
const users: Record<string, string> = {};
for (const username of ['alice', 'bob', 'carol']) {
  users[username] = (
    await directory.createUser({ tenantId: 'contoso', username, password, role: 'user' }, 'operator')
  ).id;
}
const app = await registerApp(first, { tenant: 'contoso', scopes: ['openid', 'User.Read'] });
const signIn = (username: string) =>
  userTokens(first, app, { signIn: `${username}@contoso`, password }, 'openid User.Read');

async function expectRefusedOnBoth(t: Test, token: string, what: string): Promise<void> {
  for (const [i, server] of instances.entries()) {
    const response = await refusedWithin(() => callApi(server, token, '/me'), 1_000);
    t.ok(
      response.afterMs !== undefined,
      `${what}: instance ${i + 1} refuses it ${response.afterMs ?? '(never)'} ms later`,
    );
    t.equal(response.body?.error, 'invalid_token');
    t.match(response.body?.error_description, /revoked/);
  }
}

async function listenerPids(): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = $1::text AND datname = current_database()`,
    [LISTENER_APPLICATION_NAME],
  );
  return rows.map((row) => row.pid).sort();
}

t.test('each instance listens on a connection of its own', async (t) => {
  t.equal((await listenerPids()).length, 2);
});

t.test(
  'withdrawing consent on My apps refuses the accepted token on this instance and on the other within a second',
  async (t) => {
    const tokens = await signIn('alice');
    // Twice each: the second answer comes from the caches.
    for (const server of [...instances, ...instances])
      t.equal((await callApi(server, tokens.access_token, '/me')).status, 200);
    const myApps = new MyApps(pool, first.accord.services.catalogue);
    t.equal(await myApps.revokeOwnConsent('contoso', users.alice!, app.clientId), true);
    await expectRefusedOnBoth(t, tokens.access_token, 'consent withdrawn');
  },
);

t.test('deleting an app refuses its own (client credentials) token on both instances within a second', async (t) => {
  const { app: daemon, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Daemon',
      multiTenant: false,
      public: false,
      redirectUris: ['https://daemon.example.test/cb'],
      scopes: ['User.Read'],
    },
    'operator',
  );
  const rp = await relyingParty(first, daemon.clientId, clientSecret);
  const token = (await oidc.clientCredentialsGrant(rp.config, { scope: 'User.Read' })).access_token;
  for (const server of [...instances, ...instances]) {
    // Accepted as a token (no user behind it, so /me has nothing to show it).
    const response = await callApi(server, token, '/me');
    t.equal(response.status, 403, 'accepted, then refused /me for want of a user');
    t.equal(response.body?.error, 'insufficient_scope');
  }
  await directory.deleteApp('contoso', daemon.clientId, 'operator');
  await expectRefusedOnBoth(t, token, 'app deleted');
});

t.test(
  'a lost listener empties the cache, so a revocation nobody heard is honoured; caching resumes once it listens again',
  async (t) => {
    const bob = await signIn('bob');
    const carol = await signIn('carol');
    for (const server of [...instances, ...instances])
      t.equal((await callApi(server, bob.access_token, '/me')).status, 200);

    const before = await listenerPids();
    await pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::integer[]) AS pid', [before]);
    // Both instances have noticed and listen again on new connections.
    const deadline = Date.now() + 5_000;
    let after: number[] = [];
    while (Date.now() < deadline) {
      after = await listenerPids();
      if (after.length === 2 && !after.some((pid) => before.includes(pid))) break;
      await sleep(20);
    }
    t.equal(after.length, 2, 'both listen again');
    t.notOk(
      after.some((pid) => before.includes(pid)),
      'on new connections',
    );

    // bob's grant was cached before the loss; it goes now without a notification.
    await deleteGrantUnannounced(String(decodeJwt(bob.access_token).gid));
    for (const [i, server] of instances.entries()) {
      t.equal(
        (await callApi(server, bob.access_token, '/me')).status,
        401,
        `instance ${i + 1}: refused at the very next request (read from the database)`,
      );
    }

    // LISTEN has returned; the instances set their flag a moment later.
    await sleep(200);
    for (const server of instances) t.equal((await callApi(server, carol.access_token, '/me')).status, 200);
    await deleteGrantUnannounced(String(decodeJwt(carol.access_token).gid));
    for (const [i, server] of instances.entries()) {
      t.equal(
        (await callApi(server, carol.access_token, '/me')).status,
        200,
        `instance ${i + 1}: answered from its cache again`,
      );
    }
  },
);

async function deleteGrantUnannounced(grantId: string): Promise<void> {
  await pool.query(`DELETE FROM oidc_models WHERE model = 'Grant' AND id = $1::text`, [grantId]);
}
