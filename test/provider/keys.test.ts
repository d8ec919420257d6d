import t from 'tap';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWK } from 'jose';
import { createPool } from '../../src/db/pool.js';
import { loadServerSecret, loadSigningKeys, RETIRED_KEY_GRACE_SECONDS, rotateSigningKeys, SIGNING_ALGORITHMS } from '../../src/provider/keys.js';
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

async function keyRows(): Promise<{ kid: string; alg: string; retired: boolean }[]> {
  const { rows } = await database.pool.query<{ kid: string; alg: string; retired: boolean }>(
    'SELECT kid, alg, retire_after IS NOT NULL AS retired FROM signing_keys ORDER BY created_at, kid',
  );
  return rows;
}

/** A confidential app with a client_credentials grant: its access tokens are ES256 JWTs. */
const directory = await (async () => {
  const server = await startTestServer({}, database);
  await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  const { app, clientSecret } = await server.directory.createApp(
    { publisherTenantId: 'contoso', name: 'Daemon', multiTenant: false, public: false, redirectUris: ['https://daemon.example.test/cb'], scopes: ['User.Read'] },
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
  if (response.status !== 200 || !body.access_token) throw new Error(`/token answered ${response.status} ${JSON.stringify(body)}`);
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
  t.same(sorted(loads[0]!.map((key) => String(key.alg))), sorted([...SIGNING_ALGORITHMS]), 'one key per algorithm');

  const { rows } = await empty.pool.query<{ alg: string; n: number }>('SELECT alg, count(*)::integer AS n FROM signing_keys GROUP BY alg ORDER BY alg');
  t.same(rows, sorted([...SIGNING_ALGORITHMS]).map((alg) => ({ alg, n: 1 })), 'exactly one stored key per algorithm');
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
  t.equal(published.length, SIGNING_ALGORITHMS.length);
  t.same(await publishedKeys(second), published, 'two instances at once: identical');
  for (const key of published) t.notOk('d' in key, `${key.kid} is published without its private part`);

  const token = await accessToken(first);
  await first.close();
  const restarted = await startTestServer({}, database);
  t.teardown(() => restarted.close());
  t.same(await publishedKeys(restarted), published, 'after a restart: identical');
  const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: await publishedKeys(restarted) }), { issuer: first.url });
  t.equal(payload.client_id, directory.clientId, 'a token from before the restart still verifies');

});

t.test('rotation: new keys sign first, old keys stay published until retire_after, then disappear', async (t) => {
  const before = await loadSigningKeys(database.pool);
  t.equal(before.length, SIGNING_ALGORITHMS.length, 'one current key per algorithm before rotating');
  const running = await startTestServer({}, database);
  t.teardown(() => running.close());
  const oldToken = await accessToken(running);
  const oldEs256 = before.find((key) => key.alg === 'ES256')!.kid;
  t.equal(decodeProtectedHeader(oldToken).kid, oldEs256);

  const rotated = await rotateSigningKeys(database.pool);
  t.equal(rotated.length, SIGNING_ALGORITHMS.length, 'one new key per algorithm');
  t.same((await keyRows()).filter((row) => row.retired).map((row) => row.kid).sort(), sorted(kids(before)), 'exactly the old keys are retiring');
  const { rows: retire } = await database.pool.query<{ seconds: number }>(
    'SELECT extract(epoch FROM retire_after - now())::integer AS seconds FROM signing_keys WHERE retire_after IS NOT NULL',
  );
  for (const { seconds } of retire) t.ok(Math.abs(seconds - RETIRED_KEY_GRACE_SECONDS) < 60, 'retired after the grace period');

  const after = await loadSigningKeys(database.pool);
  t.same(sorted(kids(after.slice(0, rotated.length))), sorted(rotated), 'the new keys come first (they sign)');
  t.same(sorted(kids(after.slice(rotated.length))), sorted(kids(before)), 'the old keys follow (still published)');
  t.equal((await keyRows()).length, 2 * SIGNING_ALGORITHMS.length, 'loading after a rotation creates no further keys');

  t.equal(decodeProtectedHeader(await accessToken(running)).kid, oldEs256, 'a process started before the rotation keeps its keys until restarted');

  const fresh = await startTestServer({}, database);
  t.teardown(() => fresh.close());
  const published = await publishedKeys(fresh);
  t.same(sorted(kids(published)), sorted([...rotated, ...kids(before)]), 'a new process publishes old and new keys');
  const newToken = await accessToken(fresh);
  const newEs256 = after.find((key) => key.alg === 'ES256')!.kid;
  t.ok(rotated.includes(newEs256!), 'the first ES256 key is a new one');
  t.equal(decodeProtectedHeader(newToken).kid, newEs256, 'a new process signs with the new key');
  const jwks = createLocalJWKSet({ keys: published });
  await t.resolves(jwtVerify(oldToken, jwks), 'a token signed before the rotation still verifies');
  await t.resolves(jwtVerify(newToken, jwks));

  // The grace period ends.
  await database.pool.query(`UPDATE signing_keys SET retire_after = now() - interval '1 second' WHERE kid = ANY ($1::text[])`, [kids(before)]);
  const current = await loadSigningKeys(database.pool);
  t.same(sorted(kids(current)), sorted(rotated), 'keys past retire_after are no longer loaded');
  const later = await startTestServer({}, database);
  t.teardown(() => later.close());
  const laterKeys = await publishedKeys(later);
  t.same(sorted(kids(laterKeys)), sorted(rotated), 'nor published');
  await t.rejects(jwtVerify(oldToken, createLocalJWKSet({ keys: laterKeys })), 'a token signed by a retired key no longer verifies');
});
