// The cached revocation check against a real PostgreSQL: "alive" is served from the cache once
// read, every way Accord removes a grant or app is heard through LISTEN/NOTIFY, the cache is
// bounded in size and age, and a lost listener empties and bypasses it until it listens again.
//
// To see whether an answer came from the cache, some tests delete a row *unannounced* (a bare
// DELETE: the statements of src/db/ announce what they remove, the table itself does not): the
// database says "gone", so "alive" can only have come from the cache.

import { randomUUID } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import t, { type Test } from 'tap';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { deleteModel, lockGrantScopes, purgeExpiredModels, setGrantScopes } from '../../src/db/oidc-models.js';
import { listPermissions } from '../../src/db/permissions.js';
import { createPool, inTransaction, type Pool } from '../../src/db/pool.js';
import { PostgresAdapter } from '../../src/provider/postgres-adapter.js';
import { Directory } from '../../src/services/directory.js';
import {
  GrantLiveness,
  type GrantLivenessOptions,
  LISTENER_APPLICATION_NAME,
} from '../../src/services/grant-liveness.js';
import { revokeGrants } from '../../src/services/revocation.js';
import { createTestDatabase } from '../support/database.js';

const database = await createTestDatabase();
t.teardown(() => database.drop());
const { pool } = database;

/** A GrantLiveness that is listening, closed when the test ends. */
async function startLiveness(t: Test, options: GrantLivenessOptions = {}): Promise<GrantLiveness> {
  const liveness = new GrantLiveness(pool, options);
  t.teardown(() => liveness.close());
  await liveness.start();
  t.ok(liveness.isListening, 'listening');
  return liveness;
}

async function newGrant(expiresIn = '1 hour'): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO oidc_models (model, id, payload, expires_at) VALUES ('Grant', $1::text, '{}', now() + $2::interval)`,
    [id, expiresIn],
  );
  return id;
}

async function deleteUnannounced(grantIds: string[]): Promise<void> {
  await pool.query(`DELETE FROM oidc_models WHERE model = 'Grant' AND id = ANY ($1::text[])`, [grantIds]);
}

const revoked = (liveness: GrantLiveness, grantId: string) =>
  liveness.isRevoked({ grantId, clientId: 'app', sub: 'user' });

/** Polls until `check` holds, for at most `ms`; resolves how long it took, or undefined. */
async function within(ms: number, check: () => Promise<boolean> | boolean): Promise<number | undefined> {
  const from = Date.now();
  while (Date.now() - from <= ms) {
    if (await check()) return Date.now() - from;
    await sleep(5);
  }
  return undefined;
}

const listenerPids = async () =>
  (
    await pool.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1::text AND datname = current_database()',
      [LISTENER_APPLICATION_NAME],
    )
  ).rows.map((row) => row.pid);

t.test('a live grant is read once and then answered from the cache; a refusal is never cached', async (t) => {
  const liveness = await startLiveness(t);
  const grantId = await newGrant();
  t.equal(await revoked(liveness, grantId), false, 'alive');
  t.equal(liveness.size, 1, 'cached');
  await deleteUnannounced([grantId]);
  t.equal(await revoked(liveness, grantId), false, 'served from the cache (the row is gone, unannounced)');

  t.equal(await revoked(liveness, 'no-such-grant'), true, 'an unknown grant is refused');
  t.equal(await liveness.isRevoked({ clientId: 'app', sub: 'user' }), true, 'a user token without a grant is refused');
  t.equal(liveness.size, 1, 'refusals are not cached');
});

t.test("a grant deleted by any of Accord's statements is refused within a second", async (t) => {
  const liveness = await startLiveness(t);
  const deleters: Array<[string, (grantId: string) => Promise<unknown>]> = [
    ['revokeGrants', (grantId) => revokeGrants(pool, [grantId])],
    ["the adapter's destroy", (grantId) => new PostgresAdapter(pool, 'Grant').destroy(grantId)],
    ['revokeGrants inside a transaction', (grantId) => inTransaction(pool, (tx) => revokeGrants(tx, [grantId]))],
    [
      "the adapter's destroy inside a transaction",
      (grantId) => inTransaction(pool, (tx) => deleteModel(tx, 'Grant', grantId)),
    ],
    ['a replayed code (the adapter revokes its grant)', (grantId) => replayCodeOf(grantId)],
  ];
  for (const [how, remove] of deleters) {
    const grantId = await newGrant();
    t.equal(await revoked(liveness, grantId), false, `${how}: alive before`);
    await remove(grantId);
    const after = await within(1_000, () => revoked(liveness, grantId));
    t.ok(after !== undefined, `${how}: refused ${after} ms after the delete`);
  }
});

t.test('a grant narrowed in place refuses the tokens carrying a scope it no longer holds', async (t) => {
  const api = 'https://api.example.test';
  const liveness = await startLiveness(t, { tokenScopeName: (scope) => scope.replace(`${api}/`, '') });
  const grantId = randomUUID();
  await pool.query(
    `INSERT INTO oidc_models (model, id, payload, expires_at) VALUES ('Grant', $1::text, $2::jsonb, now() + interval '1 hour')`,
    [grantId, JSON.stringify({ openid: { scope: 'openid' }, resources: { [api]: `${api}/read ${api}/write` } })],
  );
  const token = (...scopes: string[]) =>
    liveness.isRevoked({ grantId, clientId: 'app', sub: 'user', audience: api, scopes: new Set(scopes) });
  t.equal(await token('read', 'write'), false, 'every scope held (named as the API names it)');
  t.equal(await token('admin'), true, 'a scope the grant never held is refused');
  t.equal(await token('read'), false, 'from the cache now');
  t.equal(
    await liveness.isRevoked({
      grantId,
      clientId: 'app',
      sub: 'user',
      audience: 'https://other.example.test',
      scopes: new Set(['read']),
    }),
    true,
    'a scope held for another API does not count',
  );

  await inTransaction(pool, async (tx) => {
    const held = (await lockGrantScopes(tx, grantId))!;
    t.same(held, { openid: ['openid'], resources: { [api]: [`${api}/read`, `${api}/write`] } });
    await setGrantScopes(tx, grantId, { openid: held.openid, resources: { [api]: [`${api}/read`] } });
  });
  const after = await within(1_000, () => token('read', 'write'));
  t.ok(after !== undefined, `the token carrying the removed scope is refused ${after} ms after the change`);
  t.equal(await token('read'), false, 'a token within the narrower set still works');

  await setGrantScopes(pool, grantId, { openid: ['openid'], resources: { [api]: [] } });
  t.same(
    await lockGrantScopes(pool, grantId),
    { openid: ['openid'], resources: {} },
    'an API left with nothing drops out',
  );
  t.ok((await within(1_000, () => token('read'))) !== undefined, 'and its tokens are refused');
});

/** Issues a code under the grant and redeems it twice: the second redemption revokes the grant. */
async function replayCodeOf(grantId: string): Promise<void> {
  const codes = new PostgresAdapter(pool, 'AuthorizationCode');
  const code = randomUUID();
  await codes.upsert(code, { jti: code, grantId, kind: 'AuthorizationCode' }, 60);
  await codes.consume(code);
  await codes.consume(code).catch(() => undefined);
}

/**
 * A pool whose query results wait at a gate: a read that sees the grant alive is held while the
 * test changes things, as a slow read would be.
 */
function gatedPool() {
  let gate: Promise<void> | undefined;
  let open: () => void = () => undefined;
  const gated = Object.create(pool) as Pool;
  gated.query = (async (...args: unknown[]) => {
    const result = await (pool.query as (...a: unknown[]) => Promise<unknown>)(...args);
    await gate;
    return result;
  }) as unknown as Pool['query'];
  return {
    pool: gated,
    close: () => (gate = new Promise((resolve) => (open = resolve))),
    open: () => open(),
  };
}

t.test('a read that was in flight when a revocation was announced is not cached', async (t) => {
  const gated = gatedPool();
  const liveness = new GrantLiveness(gated.pool);
  t.teardown(() => liveness.close());
  await liveness.start();
  const grantId = await newGrant();
  gated.close();
  const answer = revoked(liveness, grantId);
  await sleep(50);
  await revokeGrants(pool, [grantId]);
  await sleep(100); // the notification arrives while the read is held
  gated.open();
  t.equal(await answer, false, 'that request got the answer of its read (alive when read)');
  t.equal(liveness.size, 0, 'which was not cached');
  t.equal(await revoked(liveness, grantId), true, 'the next check reads the database');
});

t.test(
  'a read begun while the listener was away is not cached, even if it ends after the listener is back',
  async (t) => {
    const gated = gatedPool();
    const liveness = new GrantLiveness(gated.pool, { reconnectDelayMs: [300, 300] });
    t.teardown(() => liveness.close());
    await liveness.start();
    const grantId = await newGrant();
    await pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::integer[]) AS pid', [await listenerPids()]);
    t.ok((await within(1_000, () => !liveness.isListening)) !== undefined, 'the loss is noticed');
    gated.close();
    const answer = revoked(liveness, grantId);
    await sleep(50);
    await revokeGrants(pool, [grantId]); // announced to nobody
    t.ok((await within(2_000, () => liveness.isListening)) !== undefined, 'listening again');
    gated.open();
    t.equal(await answer, false, 'alive when read');
    t.equal(liveness.size, 0, 'not cached: it was read before LISTEN took effect');
    t.equal(await revoked(liveness, grantId), true);
  },
);

t.test('a rolled-back revocation leaves the grant alive and cached', async (t) => {
  const liveness = await startLiveness(t);
  const grantId = await newGrant();
  t.equal(await revoked(liveness, grantId), false);
  await t.rejects(
    inTransaction(pool, async (tx) => {
      await revokeGrants(tx, [grantId]);
      throw new Error('changed my mind');
    }),
  );
  await sleep(50);
  t.equal(liveness.size, 1, 'still cached: nothing was announced');
  t.equal(await revoked(liveness, grantId), false);
});

t.test(
  'a cached grant is refused once its own expiry passes, and at once when an upsert moves that expiry earlier',
  async (t) => {
    const liveness = await startLiveness(t);
    const expiring = await newGrant('400 milliseconds');
    t.equal(await revoked(liveness, expiring), false, 'alive before its expiry');
    await sleep(500);
    t.equal(await revoked(liveness, expiring), true, 'refused after it, with no notification');

    // oidc-provider re-saves a Grant with a new expiresIn; the row's expires_at is replaced.
    const grantId = await newGrant('1 hour');
    t.equal(await revoked(liveness, grantId), false);
    await new PostgresAdapter(pool, 'Grant').upsert(grantId, { accountId: 'user', clientId: 'app' }, 1);
    await sleep(1_200);
    t.equal(
      await revoked(liveness, grantId),
      true,
      'the shortened expiry applies although the grant was cached for an hour',
    );

    t.ok((await purgeExpiredModels(pool)) >= 1, 'expired grants are purged later');
  },
);

t.test("an app's own token is refused once the app is deleted", async (t) => {
  const liveness = await startLiveness(t);
  const directory = new Directory(pool, new PermissionCatalogue(await listPermissions(pool)));
  await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  const { app } = await directory.createApp(
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
  const appToken = { clientId: app.clientId };
  t.equal(await liveness.isRevoked(appToken), false, 'the app exists');
  t.equal(liveness.size, 1, 'cached');
  await directory.deleteApp('contoso', app.clientId, 'operator');
  const after = await within(1_000, () => liveness.isRevoked(appToken));
  t.ok(after !== undefined, `refused ${after} ms after the app was deleted`);
  t.equal(await liveness.isRevoked({ clientId: 'no-such-app' }), true, 'an unknown app is refused');
});

t.test('the cache keeps at most maxEntries, dropping the oldest, and reads again after maxAgeMs', async (t) => {
  const bounded = await startLiveness(t, { maxEntries: 3 });
  const grants = [await newGrant(), await newGrant(), await newGrant(), await newGrant(), await newGrant()];
  for (const grantId of grants) t.equal(await revoked(bounded, grantId), false);
  t.equal(bounded.size, 3, 'three entries kept');
  await deleteUnannounced(grants);
  const answers = [];
  for (const grantId of grants) answers.push(await revoked(bounded, grantId));
  t.same(
    answers,
    [true, true, false, false, false],
    'the two oldest were dropped (read again: gone); the newest three still come from the cache',
  );

  const aging = await startLiveness(t, { maxAgeMs: 200 });
  const grantId = await newGrant();
  t.equal(await revoked(aging, grantId), false);
  await deleteUnannounced([grantId]);
  t.equal(await revoked(aging, grantId), false, 'from the cache while young');
  await sleep(250);
  t.equal(await revoked(aging, grantId), true, 'read again once older than maxAgeMs');
});

t.test(
  'a lost listener: the cache is emptied and bypassed, a revocation meanwhile is honoured, and caching resumes after it listens again',
  async (t) => {
    const events: string[] = [];
    const log = {
      info: (_: object, message: string) => events.push(`info: ${message}`),
      warn: (_: object, message: string) => events.push(`warn: ${message}`),
    };
    // A long reconnect delay holds the window open so the test acts inside it.
    const liveness = await startLiveness(t, { reconnectDelayMs: [600, 600], log });
    const revokedMeanwhile = await newGrant();
    const readMeanwhile = await newGrant();
    t.equal(await revoked(liveness, revokedMeanwhile), false);
    t.equal(liveness.size, 1);

    const [pid] = await listenerPids();
    t.ok(pid, 'the listener is in pg_stat_activity under its application_name');
    await pool.query('SELECT pg_terminate_backend($1::integer)', [pid]);
    t.ok((await within(1_000, () => !liveness.isListening)) !== undefined, 'the loss is noticed');
    t.equal(liveness.size, 0, 'the cache was emptied');

    // Nobody hears this revocation's notification.
    await revokeGrants(pool, [revokedMeanwhile]);
    t.notOk(liveness.isListening, 'still not listening');
    t.equal(
      await revoked(liveness, revokedMeanwhile),
      true,
      'the revocation made without a listener is honoured (read from the database)',
    );
    t.equal(await revoked(liveness, readMeanwhile), false, 'a live grant is still accepted');
    t.equal(liveness.size, 0, 'but not cached while not listening');

    t.ok((await within(3_000, () => liveness.isListening)) !== undefined, 'listening again on its own');
    t.not((await listenerPids())[0], pid, 'on a new connection');
    t.equal(await revoked(liveness, readMeanwhile), false);
    t.equal(liveness.size, 1, 'caching again');
    await deleteUnannounced([readMeanwhile]);
    t.equal(await revoked(liveness, readMeanwhile), false, 'answered from the cache again');
    t.same(events, [
      'warn: revocation listener lost; checking every token against the database until it reconnects',
      'info: revocation listener connected again; caching grant checks',
    ]);
  },
);

/**
 * A TCP relay to PostgreSQL that can go silent: connections open through it stay open but carry
 * nothing more either way, as when a network drops packets without resetting anything.
 */
async function silenceableRelay(databaseUrl: string) {
  const target = new URL(databaseUrl);
  const open: Array<[net.Socket, net.Socket]> = [];
  const relay = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    open.push([client, upstream]);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const url = new URL(databaseUrl);
  url.host = `127.0.0.1:${(relay.address() as AddressInfo).port}`;
  return {
    url: url.toString(),
    silence: () => {
      for (const [client, upstream] of open) {
        client.unpipe();
        upstream.unpipe();
        client.pause();
        upstream.pause();
      }
    },
    close: async () => {
      for (const sockets of open) for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    },
  };
}

t.test('a listener connection that goes silent is given up by the heartbeat, and the cache with it', async (t) => {
  const relay = await silenceableRelay(database.url);
  t.teardown(() => relay.close());
  // The pool's query_timeout bounds the heartbeat; short here so the test is quick.
  const relayed = new pg.Pool({ connectionString: relay.url, query_timeout: 300, connectionTimeoutMillis: 1_000 });
  relayed.on('error', () => undefined);
  t.teardown(() => relayed.end());
  const liveness = new GrantLiveness(relayed, { heartbeatMs: 100, reconnectDelayMs: [50, 100] });
  t.teardown(() => liveness.close());
  await liveness.start();
  t.ok(liveness.isListening);
  const grantId = await newGrant();
  t.equal(await revoked(liveness, grantId), false);
  t.equal(liveness.size, 1);

  relay.silence(); // the listener's connection (and the pool's) now carry nothing
  const after = await within(2_000, () => !liveness.isListening);
  t.ok(after !== undefined, `given up ${after} ms later`);
  t.equal(liveness.size, 0, 'the cache was emptied');
  t.ok((await within(3_000, () => liveness.isListening)) !== undefined, 'listening again through a new connection');
});

t.test(
  'without a database: start() still resolves, every check fails as the database does, close() does not hang',
  async (t) => {
    const unreachable: Pool = createPool('postgres://postgres@127.0.0.1:1/nothing', () => undefined);
    t.teardown(() => unreachable.end());
    const liveness = new GrantLiveness(unreachable, {
      reconnectDelayMs: [50, 100],
      log: { info: () => undefined, warn: () => undefined },
    });
    await liveness.start();
    t.notOk(liveness.isListening);
    await t.rejects(
      liveness.isRevoked({ grantId: 'g', clientId: 'app', sub: 'user' }),
      'the database error reaches the caller (a 503 there)',
    );
    await sleep(300); // a few reconnect attempts
    const from = Date.now();
    await liveness.close();
    t.ok(Date.now() - from < 1_000, 'closed at once');
    await liveness.start();
    t.notOk(liveness.isListening, 'a closed instance does not listen again');
  },
);
