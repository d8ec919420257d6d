import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Adapter, type AdapterPayload, errors } from 'oidc-provider';
import t, { type Test } from 'tap';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { deleteGrants, purgeExpiredModels } from '../../src/db/oidc-models.js';
import { listPermissions } from '../../src/db/permissions.js';
import { postgresAdapterFactory } from '../../src/provider/postgres-adapter.js';
import { Directory } from '../../src/services/directory.js';
import { createTestDatabase } from '../support/database.js';

const database = await createTestDatabase();
t.teardown(() => database.drop());

const id = (prefix: string) => `${prefix}-${randomBytes(8).toString('base64url')}`;

/**
 * What oidc-provider needs from any storage adapter (its documented Adapter interface), written
 * once so a second storage could be held to the same contract.
 */
function adapterContract(t: Test, adapterFor: (model: string) => Adapter) {
  const codes = adapterFor('AuthorizationCode');
  const accessTokens = adapterFor('AccessToken');
  const refreshTokens = adapterFor('RefreshToken');
  const sessions = adapterFor('Session');
  const interactions = adapterFor('Interaction');
  const deviceCodes = adapterFor('DeviceCode');
  const grants = adapterFor('Grant');

  t.test('upsert then find returns the payload as stored, unknown fields included', async (t) => {
    const jti = id('code');
    const payload: AdapterPayload = {
      jti,
      kind: 'AuthorizationCode',
      grantId: id('grant'),
      accountId: 'user-1',
      clientId: 'client-1',
      scope: 'openid profile',
      iat: 1_700_000_000,
      exp: 1_700_000_060,
      // Fields the adapter has never heard of must survive untouched.
      futureField: { nested: [1, 'two', { three: true }], nothing: null },
      'x-ünicode': 'ünïcødé ✓',
    };
    await codes.upsert(jti, payload, 60);
    t.same(await codes.find(jti), payload);
    t.equal(await codes.find(id('missing')), undefined, 'an unknown id is undefined');
    t.equal(await accessTokens.find(jti), undefined, 'models are separate namespaces');
  });

  t.test('upsert of an existing id replaces the payload', async (t) => {
    const jti = id('session');
    await sessions.upsert(jti, { jti, accountId: 'first', note: 'gone after overwrite' }, 60);
    await sessions.upsert(jti, { jti, accountId: 'second' }, 60);
    t.same(await sessions.find(jti), { jti, accountId: 'second' });
  });

  t.test('an expired entry is not found', async (t) => {
    const short = id('short');
    const long = id('long');
    await accessTokens.upsert(short, { jti: short }, 1);
    await accessTokens.upsert(long, { jti: long }, 60);
    t.ok(await accessTokens.find(short), 'found before it expires');
    await sleep(1100);
    t.equal(await accessTokens.find(short), undefined, 'gone after expiresIn');
    t.ok(await accessTokens.find(long), 'a longer-lived entry is still found');
  });

  t.test('findByUid finds an interaction or session by its uid', async (t) => {
    const sessionId = id('session');
    const uid = id('uid');
    await sessions.upsert(sessionId, { jti: sessionId, uid, accountId: 'user-1' }, 60);
    t.same(await sessions.findByUid(uid), { jti: sessionId, uid, accountId: 'user-1' });
    t.equal(await sessions.findByUid(id('uid')), undefined);
    t.equal(await interactions.findByUid(uid), undefined, 'only within the model');
  });

  t.test('findByUserCode finds a device code by its user code', async (t) => {
    const jti = id('device');
    const userCode = 'BCDF-GHJK';
    await deviceCodes.upsert(jti, { jti, userCode, clientId: 'client-1' }, 60);
    t.same(await deviceCodes.findByUserCode(userCode), { jti, userCode, clientId: 'client-1' });
    t.equal(await deviceCodes.findByUserCode('ZZZZ-ZZZZ'), undefined);
  });

  t.test('destroy removes the entry', async (t) => {
    const jti = id('interaction');
    await interactions.upsert(jti, { jti, uid: jti }, 60);
    await interactions.destroy(jti);
    t.equal(await interactions.find(jti), undefined);
    t.equal(await interactions.findByUid(jti), undefined);
    await interactions.destroy(jti); // destroying twice is harmless
  });

  t.test('consume marks the entry consumed with a timestamp in seconds', async (t) => {
    const jti = id('code');
    await codes.upsert(jti, { jti, grantId: id('grant'), scope: 'openid' }, 60);
    const before = Math.floor(Date.now() / 1000);
    await codes.consume(jti);
    const stored = await codes.find(jti);
    t.ok(stored, 'still found after consume');
    t.type(stored?.consumed, 'number');
    t.ok(Math.abs(Number(stored?.consumed) - before) <= 5, 'consumed is now, in epoch seconds');
    t.equal(stored?.scope, 'openid', 'the rest of the payload is kept');
  });

  t.test(
    'of 10 concurrent consumes exactly one wins; the losers get invalid_grant and revoke the whole grant',
    async (t) => {
      const grantId = id('grant');
      const otherGrantId = id('grant');
      const code = id('code');
      const accessToken = id('at');
      const refreshToken = id('rt');
      const otherToken = id('at');
      await grants.upsert(grantId, { jti: grantId, accountId: 'user-1' }, 60);
      await grants.upsert(otherGrantId, { jti: otherGrantId, accountId: 'user-1' }, 60);
      await codes.upsert(code, { jti: code, grantId }, 60);
      await accessTokens.upsert(accessToken, { jti: accessToken, grantId }, 60);
      await refreshTokens.upsert(refreshToken, { jti: refreshToken, grantId }, 60);
      await accessTokens.upsert(otherToken, { jti: otherToken, grantId: otherGrantId }, 60);

      const results = await Promise.allSettled(Array.from({ length: 10 }, () => codes.consume(code)));
      const won = results.filter((result) => result.status === 'fulfilled');
      const lost = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      t.equal(won.length, 1, 'exactly one consume resolves');
      t.equal(lost.length, 9);
      for (const { reason } of lost) {
        t.ok(reason instanceof errors.InvalidGrant, 'rejects with InvalidGrant');
        t.equal((reason as { error?: string }).error, 'invalid_grant');
      }
      t.equal(await codes.find(code), undefined, 'the replayed code is gone');
      t.equal(await accessTokens.find(accessToken), undefined, "the grant's access token is revoked");
      t.equal(await refreshTokens.find(refreshToken), undefined, "the grant's refresh token is revoked");
      t.ok(await accessTokens.find(otherToken), "another grant's token is untouched");
      // oidc-provider never sees this replay (consume throws before it could revoke anything), so
      // the loser revokes the Grant itself too: a token the winner saves later has no grant left.
      t.equal(await grants.find(grantId), undefined, 'the Grant itself is revoked');
      t.ok(await grants.find(otherGrantId), 'another Grant is untouched');
    },
  );

  t.test('consuming an already consumed entry rejects with invalid_grant', async (t) => {
    const jti = id('rt');
    await refreshTokens.upsert(jti, { jti }, 60);
    await refreshTokens.consume(jti);
    const reason: unknown = await refreshTokens.consume(jti).then(
      () => undefined,
      (error: unknown) => error,
    );
    t.ok(reason instanceof errors.InvalidGrant);
    t.equal((reason as { error?: string } | undefined)?.error, 'invalid_grant');
  });

  t.test("revokeByGrantId removes that model's entries of that grant and only those", async (t) => {
    const grantId = id('grant');
    const keptGrantId = id('grant');
    const tokens = [
      [codes, id('code')],
      [accessTokens, id('at')],
      [refreshTokens, id('rt')],
      [deviceCodes, id('device')],
    ] as const;
    const otherGrant = [
      [codes, id('code')],
      [accessTokens, id('at')],
      [refreshTokens, id('rt')],
    ] as const;
    for (const [adapter, jti] of tokens) await adapter.upsert(jti, { jti, grantId }, 60);
    for (const [adapter, jti] of otherGrant) await adapter.upsert(jti, { jti, grantId: keptGrantId }, 60);
    const noGrant = id('session');
    await sessions.upsert(noGrant, { jti: noGrant }, 60);
    // An interaction records the grant it started from; a sign-in as another account revokes that
    // grant (the old session ends) while the interaction goes on.
    const interaction = id('interaction');
    await interactions.upsert(interaction, { jti: interaction, grantId }, 60);

    // oidc-provider calls it on each model it revokes (lib/helpers/revoke.js).
    await accessTokens.revokeByGrantId(grantId);
    t.equal(await accessTokens.find(tokens[1][1]), undefined, 'the access token of the grant is revoked');
    for (const [adapter, jti] of [tokens[0], tokens[2], tokens[3]])
      t.ok(await adapter.find(jti), `${jti} is another model's`);
    for (const [model, adapter] of [
      ['AuthorizationCode', codes],
      ['RefreshToken', refreshTokens],
      ['DeviceCode', deviceCodes],
    ] as const) {
      await adapter.revokeByGrantId(grantId);
      t.equal(await adapter.find(tokens.find(([a]) => a === adapter)![1]), undefined, `${model} revoked`);
    }
    for (const [adapter, jti] of otherGrant) t.ok(await adapter.find(jti), `${jti} kept`);
    t.ok(await sessions.find(noGrant), 'an entry without a grant is kept');
    t.ok(await interactions.find(interaction), 'the interaction that started from the grant is kept');
    // Accord's own revocation of whole grants (withdrawn consent, a replayed code) keeps it too.
    await deleteGrants(database.pool, [grantId]);
    t.ok(await interactions.find(interaction), 'kept when Accord revokes the grant');
  });
}

t.test('the Postgres adapter keeps the adapter contract', async (t) => {
  adapterContract(t, postgresAdapterFactory(database.pool));
});

t.test(
  'findByUid reads the row this process saw for the uid in one statement, and survives a stale hint',
  async (t) => {
    let statements = 0;
    const counting = new Proxy(database.pool, {
      get(pool, property) {
        if (property === 'query') {
          return (...args: unknown[]) => {
            statements++;
            return (pool.query as (...query: unknown[]) => unknown).apply(pool, args);
          };
        }
        return Reflect.get(pool, property);
      },
    });
    const sessions = postgresAdapterFactory(counting)('Session');
    const uid = id('uid');
    const first = id('session');
    await sessions.upsert(first, { jti: first, uid, accountId: 'user-1' }, 60);

    statements = 0;
    t.same(await sessions.findByUid(uid), { jti: first, uid, accountId: 'user-1' });
    t.equal(statements, 1, 'the row by the id this process saved it under, without oidc_model_keys');

    // Another process gives the session a new id (oidc-provider's resetIdentifier: the old row is
    // destroyed, the new one saved): this process's hint now names a row that is gone.
    const second = id('session');
    const other = postgresAdapterFactory(database.pool)('Session');
    await database.pool.query('DELETE FROM oidc_models WHERE id = $1::text', [first]);
    await database.pool.query(
      `INSERT INTO oidc_models (model, id, payload, uid, expires_at) VALUES ('Session', $1::text, $2::jsonb, $3::text, now() + interval '1 minute')`,
      [second, { jti: second, uid, accountId: 'user-1' }, uid],
    );
    await database.pool.query(`UPDATE oidc_model_keys SET id = $1::text WHERE key = $2::text AND kind = 'uid'`, [
      second,
      uid,
    ]);
    statements = 0;
    t.same(await sessions.findByUid(uid), { jti: second, uid, accountId: 'user-1' }, 'found through oidc_model_keys');
    t.equal(statements, 3, 'the stale hint costs one statement');
    statements = 0;
    t.ok(await sessions.findByUid(uid));
    t.equal(statements, 1, 'and the hint is mended');
    t.ok(await other.findByUid(uid));

    await sessions.destroy(second);
    t.equal(await sessions.findByUid(uid), undefined, 'a destroyed session is not found through its hint');
  },
);

t.test('purgeExpiredModels deletes expired rows only', async (t) => {
  const adapterFor = postgresAdapterFactory(database.pool);
  const tokens = adapterFor('AccessToken');
  const expired = [id('expired'), id('expired')];
  const live = id('live');
  const forever = id('forever');
  for (const jti of expired) await tokens.upsert(jti, { jti }, 60);
  await tokens.upsert(live, { jti: live }, 60);
  await tokens.upsert(forever, { jti: forever }, 0);
  await database.pool.query(
    `UPDATE oidc_models SET expires_at = now() - interval '1 second' WHERE id = ANY ($1::text[])`,
    [expired],
  );

  const purged = await purgeExpiredModels(database.pool);
  t.ok(purged >= expired.length, 'reports the rows it deleted');
  const { rows } = await database.pool.query<{ id: string }>(
    'SELECT id FROM oidc_models WHERE id = ANY ($1::text[]) ORDER BY id',
    [[...expired, live, forever]],
  );
  t.same(rows.map((row) => row.id).sort(), [live, forever].sort(), 'unexpired and non-expiring rows stay');
  const { rowCount } = await database.pool.query('SELECT 1 FROM oidc_models WHERE expires_at < now()');
  t.equal(rowCount, 0, 'no expired row is left');
  t.equal(await purgeExpiredModels(database.pool), 0, 'nothing left to purge');
});

t.test('purgeExpiredModels works in batches', async (t) => {
  const tokens = postgresAdapterFactory(database.pool)('AccessToken');
  const expired = Array.from({ length: 5 }, () => id('batch'));
  for (const jti of expired) await tokens.upsert(jti, { jti }, 60);
  await database.pool.query(
    `UPDATE oidc_models SET expires_at = now() - interval '1 second' WHERE id = ANY ($1::text[])`,
    [expired],
  );
  t.equal(await purgeExpiredModels(database.pool, 2), 2);
  t.equal(await purgeExpiredModels(database.pool, 2), 2);
  t.equal(await purgeExpiredModels(database.pool, 2), 1);
  t.equal(await purgeExpiredModels(database.pool, 2), 0);
});

t.test('the Client model is read from the apps table', async (t) => {
  const directory = new Directory(database.pool, new PermissionCatalogue(await listPermissions(database.pool)));
  await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Calendar Sync',
      multiTenant: true,
      public: false,
      redirectUris: ['https://calendar.example.test/callback'],
      homepageUrl: 'https://calendar.example.test',
      scopes: ['openid', 'profile', 'User.Read'],
    },
    'operator',
  );
  t.ok(clientSecret);
  const clients = postgresAdapterFactory(database.pool)('Client');

  const metadata = await clients.find(app.clientId);
  t.ok(metadata, 'found by client_id');
  t.equal(metadata?.client_id, app.clientId);
  t.equal(metadata?.client_name, 'Calendar Sync');
  t.same(metadata?.redirect_uris, ['https://calendar.example.test/callback']);
  t.same(metadata?.grant_types, ['authorization_code', 'refresh_token', 'client_credentials']);
  t.equal(metadata?.token_endpoint_auth_method, 'client_secret_basic');
  t.equal(
    metadata?.scope,
    'openid profile grant_management_query grant_management_revoke',
    "only OpenID scopes go to the provider, and a confidential app's Grant Management scopes (issue 15)",
  );
  t.equal(metadata?.client_uri, 'https://calendar.example.test');
  t.ok(metadata?.client_secret, 'a confidential app has a (hashed) secret');
  t.not(metadata?.client_secret, clientSecret, 'the stored secret is not the plaintext');
  t.notOk(JSON.stringify(metadata).includes(clientSecret!), 'the plaintext secret appears nowhere');

  t.equal(await clients.find('no-such-client'), undefined);

  // A change to the registration applies at once: there is no cached copy.
  await directory.updateApp(
    'contoso',
    app.clientId,
    { redirectUris: ['https://calendar.example.test/new'] },
    'operator',
  );
  t.same((await clients.find(app.clientId))?.redirect_uris, ['https://calendar.example.test/new']);

  await t.rejects(
    clients.upsert(app.clientId, { client_id: app.clientId }, 0),
    /registered through Accord/,
    'the provider cannot register clients',
  );
  const { rowCount } = await database.pool.query("SELECT 1 FROM oidc_models WHERE model = 'Client'");
  t.equal(rowCount, 0, 'nothing about clients is kept in oidc_models');
});

t.test('a public app has no secret and authenticates with none', async (t) => {
  const directory = new Directory(database.pool, new PermissionCatalogue(await listPermissions(database.pool)));
  await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
  const { app, clientSecret } = await directory.createApp(
    {
      publisherTenantId: 'fabrikam',
      name: 'Mobile',
      multiTenant: false,
      public: true,
      redirectUris: ['https://mobile.example.test/cb'],
      scopes: ['openid'],
    },
    'operator',
  );
  t.equal(clientSecret, undefined);
  const metadata = await postgresAdapterFactory(database.pool)('Client').find(app.clientId);
  t.notOk(metadata && 'client_secret' in metadata, 'no client_secret');
  t.equal(metadata?.token_endpoint_auth_method, 'none');
  t.same(metadata?.grant_types, ['authorization_code', 'refresh_token']);
});
