import os from 'node:os';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, type JWK, jwtVerify } from 'jose';
import t from 'tap';
import { createPool } from '../../src/db/pool.js';
import { loadServerSecret } from '../../src/db/server-secrets.js';
import {
  loadSigningKeys,
  RETIRED_KEY_GRACE_SECONDS,
  rotateSigningKeys,
  SIGNING_ALGORITHMS,
} from '../../src/services/signing-keys.js';
import { createTestDatabase } from '../support/database.js';
import { startTestServer, type TestServer } from '../support/server.js';

const database = await createTestDatabase();
t.teardown(() => database.drop());

const kids = (keys: JWK[]) => keys.map((key) => key.kid!);
const sorted = (values: string[]) => [...values].sort();

async function publishedKeys(server: TestServer): Promise<JWK[]> {
  const response = await fetch(`${server.url}/jwks`);
  if (response.status !== 200) throw new Error(`/jwks answered ${response.status}`);
  return ((await response.json()) as JSONWebKeySet).keys;
}

type KeyState = 'active' | 'next' | 'retired';

async function keyRowsOf(pool: typeof database.pool): Promise<{ kid: string; alg: string; state: KeyState }[]> {
  const { rows } = await pool.query<{ kid: string; alg: string; state: KeyState }>(
    `SELECT kid, alg, CASE WHEN retire_after IS NOT NULL THEN 'retired' WHEN activated_at IS NULL THEN 'next' ELSE 'active' END AS state
       FROM signing_keys ORDER BY created_at, kid`,
  );
  return rows;
}

const kidsIn = async (state: KeyState) =>
  sorted((await keyRowsOf(database.pool)).filter((row) => row.state === state).map((row) => row.kid));

/** A confidential app with a client_credentials grant: its access tokens are ES256 JWTs. */
const directory = await (async () => {
  const server = await startTestServer({}, database);
  await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  const { app, clientSecret } = await server.directory.createApp(
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
  await server.close();
  return { clientId: app.clientId, clientSecret: clientSecret! };
})();

async function accessToken(server: TestServer): Promise<string> {
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${directory.clientId}:${directory.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (response.status !== 200 || !body.access_token)
    throw new Error(`/token answered ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

t.test('concurrent first-time loads on an empty database converge on one key per algorithm', async (t) => {
  const empty = await createTestDatabase();
  const pools = [empty.pool, createPool(empty.url, () => undefined), createPool(empty.url, () => undefined)];
  t.teardown(async () => {
    await Promise.all(pools.slice(1).map((pool) => pool.end()));
    await empty.drop();
  });
  const { rowCount } = await empty.pool.query('SELECT 1 FROM signing_keys');
  t.equal(rowCount, 0, 'a new database has no keys');

  const loads = await Promise.all(pools.flatMap((pool) => [loadSigningKeys(pool), loadSigningKeys(pool)]));
  const first = kids(loads[0]!);
  for (const keys of loads) t.same(kids(keys), first, 'every caller sees the same keys in the same order');
  const signing = loads[0]!.slice(0, SIGNING_ALGORITHMS.length);
  t.same(
    sorted(signing.map((key) => String(key.alg))),
    sorted([...SIGNING_ALGORITHMS]),
    'an active key per algorithm first',
  );
  t.same(
    sorted(kids(signing)),
    sorted((await keyRowsOf(empty.pool)).filter((row) => row.state === 'active').map((row) => row.kid)),
  );

  const { rows } = await empty.pool.query<{ alg: string; active: number; next: number }>(
    `SELECT alg, count(*) FILTER (WHERE activated_at IS NOT NULL)::integer AS active, count(*) FILTER (WHERE activated_at IS NULL)::integer AS next
       FROM signing_keys GROUP BY alg ORDER BY alg`,
  );
  t.same(
    rows,
    sorted([...SIGNING_ALGORITHMS]).map((alg) => ({ alg, active: 1, next: 1 })),
    'exactly one active and one next key per algorithm',
  );
  for (const key of loads[0]!) {
    t.ok(key.d, 'the loaded keys are private (the provider signs with them)');
    t.equal(key.use, 'sig');
  }

  const secrets = await Promise.all(pools.map((pool) => loadServerSecret(pool, 'cookie_key')));
  t.equal(new Set(secrets).size, 1, 'concurrent first loads of a server secret converge on one value');
});

t.test('keys survive a restart: two instances on one database publish the same /jwks', async (t) => {
  const first = await startTestServer({}, database);
  const second = await startTestServer({}, database);
  t.teardown(() => second.close());
  const published = await publishedKeys(first);
  t.equal(published.length, 2 * SIGNING_ALGORITHMS.length, 'the active and the next key of each algorithm');
  t.same(await publishedKeys(second), published, 'two instances at once: identical');
  for (const key of published) t.notOk('d' in key, `${key.kid} is published without its private part`);

  const token = await accessToken(first);
  await first.close();
  const restarted = await startTestServer({}, database);
  t.teardown(() => restarted.close());
  t.same(await publishedKeys(restarted), published, 'after a restart: identical');
  const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: await publishedKeys(restarted) }), {
    issuer: first.url,
  });
  t.equal(payload.client_id, directory.clientId, 'a token from before the restart still verifies');
});

t.test('a running server is recorded with exactly the keys it publishes, until it stops', async (t) => {
  const server = await startTestServer({}, database);
  const published = sorted(kids(await publishedKeys(server)));
  const recorded = async () =>
    (
      await database.pool.query<{ kids: string[] }>(
        'SELECT published_kids AS kids FROM server_instances WHERE description = $1::text',
        [`${os.hostname()} pid ${process.pid}`],
      )
    ).rows.map((row) => sorted(row.kids));
  t.same(await recorded(), [published]);
  await server.close();
  t.same(await recorded(), [], 'gone once it stops');
});

t.test(
  'rotation: the next keys sign once processes restart, every process already publishes them, old keys stay until retire_after',
  async (t) => {
    const before = await loadSigningKeys(database.pool);
    const n = SIGNING_ALGORITHMS.length;
    t.equal(before.length, 2 * n, 'an active and a next key per algorithm before rotating');
    const [oldActive, oldNext] = [await kidsIn('active'), await kidsIn('next')];
    t.same(sorted(kids(before.slice(0, n))), oldActive, 'the active keys come first (they sign)');
    const running = await startTestServer({}, database);
    t.teardown(() => running.close());
    const oldToken = await accessToken(running);
    const oldEs256 = before.find((key) => key.alg === 'ES256')!.kid;
    t.equal(decodeProtectedHeader(oldToken).kid, oldEs256);
    t.ok(
      oldNext.every((kid) => kids(before).includes(kid)),
      'the next keys are published before any rotation',
    );

    const rotated = await rotateSigningKeys(database.pool);
    t.same(sorted(rotated.active), oldNext, 'the rotation activates the keys that were next');
    t.equal(rotated.next.length, n, 'and makes a new next key per algorithm');
    t.same(await kidsIn('retired'), oldActive, 'exactly the old active keys are retiring');
    t.same(await kidsIn('next'), sorted(rotated.next));
    const { rows: retire } = await database.pool.query<{ seconds: number }>(
      'SELECT extract(epoch FROM retire_after - now())::integer AS seconds FROM signing_keys WHERE retire_after IS NOT NULL',
    );
    for (const { seconds } of retire)
      t.ok(Math.abs(seconds - RETIRED_KEY_GRACE_SECONDS) < 60, 'retired after the grace period');

    const after = await loadSigningKeys(database.pool);
    t.same(sorted(kids(after.slice(0, n))), sorted(rotated.active), 'the activated keys come first (they sign)');
    t.same(sorted(kids(after.slice(n, 2 * n))), sorted(rotated.next), 'then the new next keys');
    t.same(sorted(kids(after.slice(2 * n))), oldActive, 'then the retiring keys (still published)');
    t.equal((await keyRowsOf(database.pool)).length, 3 * n, 'loading after a rotation creates no further keys');

    t.equal(
      decodeProtectedHeader(await accessToken(running)).kid,
      oldEs256,
      'a process started before the rotation keeps its keys until restarted',
    );

    const fresh = await startTestServer({}, database);
    t.teardown(() => fresh.close());
    const published = await publishedKeys(fresh);
    t.same(sorted(kids(published)), sorted(kids(after)), 'a new process publishes the active, next and retiring keys');
    const newToken = await accessToken(fresh);
    const newEs256 = after.find((key) => key.alg === 'ES256')!.kid!;
    t.ok(rotated.active.includes(newEs256), 'the first ES256 key is the activated one');
    t.equal(decodeProtectedHeader(newToken).kid, newEs256, 'a new process signs with it');

    // Mid rolling restart: one process signs with the old key, one with the new; a relying party may
    // fetch /jwks from either.
    for (const [name, server] of [
      ['the process not yet restarted', running],
      ['the restarted process', fresh],
    ] as const) {
      const jwks = createLocalJWKSet({ keys: await publishedKeys(server) });
      await t.resolves(
        jwtVerify(oldToken, jwks),
        `a token signed before the rotation verifies with the /jwks of ${name}`,
      );
      await t.resolves(
        jwtVerify(newToken, jwks),
        `a token signed with the activated key verifies with the /jwks of ${name}`,
      );
    }

    // The grace period ends.
    await database.pool.query(
      `UPDATE signing_keys SET retire_after = now() - interval '1 second' WHERE kid = ANY ($1::text[])`,
      [oldActive],
    );
    const current = await loadSigningKeys(database.pool);
    t.same(
      sorted(kids(current)),
      sorted([...rotated.active, ...rotated.next]),
      'keys past retire_after are no longer loaded',
    );
    const later = await startTestServer({}, database);
    t.teardown(() => later.close());
    const laterKeys = await publishedKeys(later);
    t.same(sorted(kids(laterKeys)), sorted([...rotated.active, ...rotated.next]), 'nor published');
    await t.rejects(
      jwtVerify(oldToken, createLocalJWKSet({ keys: laterKeys })),
      'a token signed by a retired key no longer verifies',
    );
  },
);

t.test(
  'a database from before next keys (migration 0010) gets them on the first load, and a rotation without them still switches keys',
  async (t) => {
    const legacy = await createTestDatabase();
    t.teardown(() => legacy.drop());
    await loadSigningKeys(legacy.pool);
    await legacy.pool.query('DELETE FROM signing_keys WHERE activated_at IS NULL');
    const activeBefore = (await keyRowsOf(legacy.pool)).map((row) => row.kid);

    const rotated = await rotateSigningKeys(legacy.pool);
    const rows = await keyRowsOf(legacy.pool);
    t.same(
      sorted(rows.filter((row) => row.state === 'retired').map((row) => row.kid)),
      sorted(activeBefore),
      'the active keys retire',
    );
    t.same(
      sorted(rows.filter((row) => row.state === 'active').map((row) => row.kid)),
      sorted(rotated.active),
      'new keys are activated at once',
    );
    t.same(
      sorted(rows.filter((row) => row.state === 'next').map((row) => row.kid)),
      sorted(rotated.next),
      'and next keys made',
    );

    await legacy.pool.query('DELETE FROM signing_keys WHERE activated_at IS NULL');
    await loadSigningKeys(legacy.pool);
    t.equal(
      (await keyRowsOf(legacy.pool)).filter((row) => row.state === 'next').length,
      SIGNING_ALGORITHMS.length,
      'a load creates missing next keys',
    );
  },
);
