// The demo seed as `npm start` and `accord seed --demo` run it: what `accord demo-app` relies on
// (the app may ask for a refresh token and sign out back to :8080; its credentials kept for the
// owner only), and a data folder that cannot be written costs only that default, never the start.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { findApp } from '../../src/db/apps.js';
import {
  demoAppCredentialsFile,
  describeSeed,
  readDemoAppCredentials,
  seedDemo,
} from '../../src/services/demo-seed.js';
import { createTestDatabase } from '../support/database.js';

t.test('the seed registers the demo app for accord demo-app and keeps its credentials in DATA_DIR', async (t) => {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'accord-seed-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));

  const seed = await seedDemo(db.pool, path.join(dataDir, 'data'));
  const file = demoAppCredentialsFile(path.join(dataDir, 'data'));
  t.same(seed.credentials, { file });
  t.equal((await stat(file)).mode & 0o777, 0o600, 'readable by its owner only');
  t.same(await readDemoAppCredentials(path.join(dataDir, 'data')), {
    client_id: seed.app.client_id,
    client_secret: seed.app.client_secret,
  });
  t.match(await readFile(file, 'utf8'), /^\{"client_id":"[\w-]+","client_secret":"[\w-]+"\}\n$/);

  const app = await findApp(db.pool, seed.app.client_id);
  t.ok(app!.scopes.includes('offline_access'), 'a refresh token may be asked for');
  t.same(app!.redirectUris, ['http://localhost:8080/callback', 'http://127.0.0.1:8080/callback']);
  t.same(app!.postLogoutRedirectUris, ['http://localhost:8080/', 'http://127.0.0.1:8080/']);
  t.match(describeSeed(seed, 'http://localhost:3000'), /run `npx accord demo-app` and open http:\/\/localhost:8080/);
  t.equal(await readDemoAppCredentials(dataDir), undefined, 'none where no seed kept them');
});

t.test('a data folder that cannot be written: the seed completes and says how to pass the credentials', async (t) => {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  // Under a regular file: no folder can be made there, whoever runs the test.
  const seed = await seedDemo(db.pool, '/dev/null/accord');
  t.match(seed.credentials, { file: '/dev/null/accord/demo-app.json', error: /ENOTDIR/ });
  t.ok(await findApp(db.pool, seed.app.client_id), 'the demo is seeded all the same');
  t.match(
    describeSeed(seed, 'http://localhost:3000'),
    /could not be kept in \/dev\/null\/accord\/demo-app\.json .*--client-id and --client-secret/,
  );
});
