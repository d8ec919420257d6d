import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { PermissionCatalogue } from '../src/core/permission-catalogue.js';
import { listPermissions } from '../src/db/permissions.js';
import { Directory } from '../src/services/directory.js';
import { createTestDatabase } from './support/database.js';
import { type ServerProcess, startServerProcess } from './support/server.js';

// The real server process (src/server.ts), as an operator starts it, on a fresh database; without
// a shutdown grace, so that SIGTERM closes the listener at once (the grace: reliability/sigterm-drain).
const database = await createTestDatabase();
let server: ServerProcess | undefined;
t.teardown(async () => {
  await server?.kill();
  await database.drop();
});
server = await startServerProcess(database.url, { SHUTDOWN_GRACE_MS: '0' });
const { child, origin, exited } = server;
const port = Number(new URL(origin).port);

function assertNoInternals(t: Test, body: string) {
  t.notMatch(body, /\n\s+at /, 'no stack trace');
  t.notMatch(body, /node_modules|\/src\//, 'no file paths');
}

t.test('/healthz and /readyz answer 200', async (t) => {
  const health = await fetch(`${origin}/healthz`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
  const ready = await fetch(`${origin}/readyz`);
  t.equal(ready.status, 200);
  t.same(await ready.json(), { status: 'ready' });
});

t.test('an unknown route is a 404 with an OAuth-style JSON body', async (t) => {
  const response = await fetch(`${origin}/no/such/route?x=1`);
  t.equal(response.status, 404);
  t.match(response.headers.get('content-type'), /application\/json/);
  t.same(await response.json(), { error: 'not_found', error_description: 'No route GET /no/such/route' });
});

t.test('a wrong method on /healthz is a 404/405 JSON error, never a 500', async (t) => {
  for (const method of ['POST', 'DELETE', 'PUT', 'PATCH']) {
    const response = await fetch(`${origin}/healthz`, { method });
    t.ok([404, 405].includes(response.status), `${method} → ${response.status}`);
    const body = (await response.json()) as Record<string, unknown>;
    t.type(body.error, 'string');
    t.type(body.error_description, 'string');
  }
});

t.test('invalid JSON to a Fastify route is a 400 with an OAuth-style body and no stack', async (t) => {
  const response = await fetch(`${origin}/interaction/x/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: '{bad',
  });
  t.equal(response.status, 400);
  const text = await response.text();
  const body = JSON.parse(text) as Record<string, unknown>;
  t.equal(body.error, 'invalid_request');
  t.type(body.error_description, 'string');
  t.same(Object.keys(body).sort(), ['error', 'error_description'], 'nothing else in the body');
  assertNoInternals(t, text);
});

t.test('a body over the limit is refused with 413', async (t) => {
  const form = new URLSearchParams({ username: 'alice', password: 'x'.repeat(100 * 1024) }).toString();
  const response = await fetch(`${origin}/interaction/x/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form,
  });
  t.equal(response.status, 413);
  t.match(await response.json(), { error: 'request_too_large' });
});

t.test('an unknown interaction in a browser is a 4xx error page with the security headers', async (t) => {
  const response = await fetch(`${origin}/interaction/unknownuid`, { headers: { accept: 'text/html' } });
  t.ok(response.status >= 400 && response.status < 500, `4xx (${response.status})`);
  t.match(response.headers.get('content-type'), /text\/html/);
  const html = await response.text();
  t.match(html, /<body[^>]*data-page="error"/, 'the error page');
  assertNoInternals(t, html);
  t.match(response.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  t.equal(response.headers.get('x-frame-options'), 'DENY');
  t.equal(response.headers.get('referrer-policy'), 'no-referrer');
  t.equal(response.headers.get('cache-control'), 'no-store');
});

/** A raw HTTP/1.1 connection, to control exactly when each byte is sent. */
async function rawConnection() {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  return {
    socket,
    closed,
    received: () => received,
    async waitFor(pattern: RegExp, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!pattern.test(received)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(received)}`);
        await sleep(10);
      }
    },
  };
}

async function connectionRefused(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

t.test('SIGTERM: no new connections, the in-flight request completes, idle connections close, exit 0', async (t) => {
  // A confidential app, so the in-flight request is a real one: a client_credentials token.
  const directory = new Directory(database.pool, new PermissionCatalogue(await listPermissions(database.pool)));
  await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
  const { app, clientSecret } = await directory.createApp(
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

  // A keep-alive connection that has finished a request and sits idle.
  const idle = await rawConnection();
  idle.socket.write(`GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  await idle.waitFor(/\r\n\r\n\{"status":"ready"\}/);
  t.match(idle.received(), /^HTTP\/1\.1 200 /);
  t.match(idle.received(), /connection: keep-alive/i);

  // A request in flight: headers sent and dispatched (the server answers 100 Continue), body not yet.
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }).toString();
  const inFlight = await rawConnection();
  inFlight.socket.write(
    [
      'POST /token HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      `Authorization: Basic ${Buffer.from(`${app.clientId}:${clientSecret}`).toString('base64')}`,
      'Content-Type: application/x-www-form-urlencoded',
      `Content-Length: ${body.length}`,
      'Expect: 100-continue',
      '',
      '',
    ].join('\r\n'),
  );
  await inFlight.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
  inFlight.socket.write(body.slice(0, 10));

  const signalledAt = Date.now();
  child.kill('SIGTERM');

  const deadline = Date.now() + 5000;
  while (!(await connectionRefused()) && Date.now() < deadline) await sleep(20);
  t.ok(await connectionRefused(), 'new connections are refused once shutdown starts');
  await Promise.race([idle.closed, sleep(3000)]);
  t.ok(idle.socket.destroyed || idle.socket.readableEnded, 'the idle keep-alive connection was closed by the server');
  t.equal(child.exitCode, null, 'still running while a request is in flight');

  inFlight.socket.write(body.slice(10));
  await inFlight.waitFor(/\r\n\r\n\{.*\}$/s);
  const response = inFlight.received().replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
  t.match(response, /^HTTP\/1\.1 200 /, 'the in-flight request completes with 200');
  t.match(response, /"access_token":"ey/, 'with a real token');

  const exit = await Promise.race([exited, sleep(5000).then(() => undefined)]);
  t.ok(exit, 'the process exits soon after the last response');
  t.equal(exit?.code, 0, 'exit code 0');
  if (exit) t.ok(exit.at - signalledAt < 5000, `exited ${exit.at - signalledAt} ms after SIGTERM`);
  await Promise.race([inFlight.closed, sleep(1000)]);
  t.ok(inFlight.socket.destroyed || inFlight.socket.readableEnded, 'the finished connection was closed');
  t.notMatch(server.output(), /shutdown failed|failed to start/);
});
