// A database that is not up yet when Accord starts (started alongside it, or restarting) is waited
// for, with backoff, for DATABASE_STARTUP_TIMEOUT_MS: meanwhile the process is live (/healthz 200)
// but not ready (/readyz 503), and every endpoint answers 503 with Retry-After — the protocol
// endpoints and the APIs as JSON, a browser the `unavailable` page. Once the database answers, the
// server migrates and serves. After the bound it exits 1 naming the setting; a signal ends the wait.
import t from 'tap';
import { startServerProcess } from '../support/server.js';
import { PrivateDatabase } from './support.js';

t.setTimeout(300_000);

const database = await PrivateDatabase.start();
t.teardown(() => database.destroy());
await database.stop();

t.test('the server waits for a database that is not up yet, answering 503 meanwhile, then serves', async (t) => {
  const server = await startServerProcess(database.url, { LOG_LEVEL: 'info' }, { until: 'live' });
  t.teardown(() => server.kill());
  const { origin } = server;

  const ready = await fetch(`${origin}/readyz`);
  t.equal(ready.status, 503, '/readyz: not ready');
  t.equal(ready.headers.get('retry-after'), '5');
  t.same(await ready.json(), {
    error: 'temporarily_unavailable',
    error_description: 'Accord is starting: the database is not reachable yet.',
  });
  t.same(await (await fetch(`${origin}/healthz`)).json(), { status: 'ok' }, '/healthz: the process is up');

  for (const [method, path] of [
    ['GET', '/.well-known/openid-configuration'],
    ['GET', '/jwks'],
    ['POST', '/token'],
    ['GET', '/auth?client_id=x'],
    ['GET', '/api/v1/openapi.json'],
    ['GET', '/data/v1/me'],
  ] as const) {
    const response = await fetch(`${origin}${path}`, { method });
    t.equal(response.status, 503, `${method} ${path}: 503`);
    t.equal(response.headers.get('retry-after'), '5');
    t.match(await response.json(), { error: 'temporarily_unavailable' });
  }
  const page = await fetch(`${origin}/admin`, { headers: { accept: 'text/html', 'accept-language': 'de' } });
  t.equal(page.status, 503);
  const html = await page.text();
  t.match(html, /data-page="unavailable"/, 'a browser gets the unavailable page');
  t.match(html, /<html lang="de"/, 'in its language');

  // Still waiting a while later, and saying so in its log, as JSON.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  t.equal(server.child.exitCode, null, 'the process has not given up');
  const retries = server
    .output()
    .split('\n')
    .filter((line) => line.includes('database not reachable yet; retrying'));
  t.ok(retries.length >= 2, 'each attempt is logged');
  t.match(JSON.parse(retries[0]!), { level: 40, attempt: 1, err: { code: 'ECONNREFUSED' } });

  await database.restart();
  const deadline = Date.now() + 90_000;
  let status = 0;
  while (Date.now() < deadline) {
    status = await fetch(`${origin}/readyz`).then(
      (response) => response.status,
      () => 0, // the moment the app takes the port over
    );
    if (status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(status, 200, 'ready once the database answers');
  const discovery = await fetch(`${origin}/.well-known/openid-configuration`);
  t.equal(discovery.status, 200, 'the provider serves');
  t.equal(((await discovery.json()) as { issuer: string }).issuer, `http://localhost:${new URL(origin).port}`);

  await server.kill();
  t.equal((await server.exited).code, 0, 'and stops cleanly');
  await database.stop();
});

t.test('after DATABASE_STARTUP_TIMEOUT_MS the server gives up with exit code 1, naming the setting', async (t) => {
  const server = await startServerProcess(database.url, { DATABASE_STARTUP_TIMEOUT_MS: '1500' }, { until: 'live' });
  t.teardown(() => server.kill());
  const { code } = await server.exited;
  t.equal(code, 1);
  t.match(
    server.output(),
    /accord: failed to start: the database did not answer within 1\.5 s \(DATABASE_STARTUP_TIMEOUT_MS\): .*ECONNREFUSED/,
  );
});

t.test('SIGTERM while waiting for the database ends the process at once', async (t) => {
  const server = await startServerProcess(database.url, {}, { until: 'live' });
  t.teardown(() => server.kill());
  const signalled = Date.now();
  server.child.kill('SIGTERM');
  const { code, at } = await server.exited;
  t.equal(code, 0);
  t.ok(at - signalled < 5_000, `stopped in ${at - signalled} ms`);
});
