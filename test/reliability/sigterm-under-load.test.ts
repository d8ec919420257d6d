// SIGTERM under load: the real server process (src/server.ts) with 20 token requests in flight at
// all times. Every request the server took on is answered 200, through the shutdown grace and
// after it; once it stops listening, new connections are refused (counted apart); the process
// exits 0.

import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { listPermissions } from '../../src/db/permissions.js';
import { Directory } from '../../src/services/directory.js';
import { createTestDatabase } from '../support/database.js';
import { type ServerProcess, startServerProcess } from '../support/server.js';
import { type Sample, sample } from './support.js';

const CONCURRENCY = 20;
const GRACE_MS = 1_000;

const database = await createTestDatabase();
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

let server: ServerProcess | undefined;
t.teardown(async () => {
  await server?.kill();
  await database.drop();
});
server = await startServerProcess(database.url, { SHUTDOWN_GRACE_MS: String(GRACE_MS) });
const { child, origin, exited } = server;

// Keep-alive connections, as a real client pool uses them (node:http, so that a connection the
// server closes is reported as such rather than retried).
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
t.teardown(() => agent.destroy());
const tokenBody = new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }).toString();
const tokenRequest = (signal: AbortSignal) =>
  new Promise<Response>((resolve, reject) => {
    const request = http.request(
      `${origin}/token`,
      {
        method: 'POST',
        agent,
        signal,
        headers: {
          authorization: `Basic ${Buffer.from(`${app.clientId}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(tokenBody),
          accept: 'application/json',
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: response.statusCode ?? 0 })));
        response.on('error', reject);
      },
    );
    // sample() reads the code from `cause`, as fetch reports it.
    // A reset on a reused keep-alive socket is told apart: the server closed the socket as idle
    // before it read the request (Node's docs name this as the case a client should retry).
    request.on('error', (error: NodeJS.ErrnoException) => {
      const code =
        request.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')
          ? `${error.code} on a reused socket`
          : error.code;
      reject(Object.assign(new Error(error.message), { cause: { code } }));
    });
    request.end(tokenBody);
  });

// Warm the server up first: its first token requests load and compile code, and a connection
// still waiting in the accept queue when the listener closes is reset, not served.
for (let i = 0; i < 5; i++) {
  const s = await sample('token', tokenRequest);
  if (s.status !== 200) throw new Error(`warm-up token request failed: ${s.status} ${s.body}`);
}

t.test('SIGTERM with 20 token requests in flight: every answered request is a 200, the process exits 0', async (t) => {
  const samples: Sample[] = [];
  let signalledAt = Infinity;
  // Each worker sends requests back to back until the server refuses its connection.
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const s = await sample('token', tokenRequest);
      samples.push(s);
      if (s.status === 'ECONNREFUSED' || Date.now() - signalledAt > GRACE_MS + 10_000) return;
    }
  });

  // Steady load first: every worker has completed requests (the server has long been accepting).
  const loadFrom = Date.now();
  while (samples.length < 5 * CONCURRENCY && Date.now() - loadFrom < 10_000) await sleep(20);
  const warm = samples.length;
  signalledAt = Date.now();
  child.kill('SIGTERM');
  await Promise.all(workers);
  const exit = await Promise.race([exited, sleep(10_000, undefined, { ref: false }).then(() => undefined)]);

  const answered = samples.filter((s) => typeof s.status === 'number');
  const refused = samples.filter((s) => s.status === 'ECONNREFUSED');
  // Connections the server never took on: refused, reset in the accept queue as the listener
  // closed, or an idle keep-alive socket closed as the request was being written. Only requests
  // sent after SIGTERM may end that way.
  const notTakenOn = samples.filter(
    (s) =>
      typeof s.status !== 'number' && /^(ECONNRESET|EPIPE)|^ECONNREFUSED$/.test(s.status) && s.startedAt >= signalledAt,
  );
  const idleResets = notTakenOn.filter((s) => typeof s.status === 'string' && s.status.endsWith('on a reused socket'));
  const queueResets = notTakenOn.filter((s) => s.status === 'ECONNRESET' || s.status === 'EPIPE');
  const otherwise = samples.filter((s) => typeof s.status !== 'number' && !notTakenOn.includes(s));
  const inFlightAtSignal = samples.filter((s) => s.startedAt < signalledAt && s.startedAt + s.ms > signalledAt);
  const describe = (s: Sample) =>
    `${s.status} after ${s.ms} ms (started ${s.startedAt - signalledAt} ms from SIGTERM): ${s.body.slice(0, 200)}`;
  const closing503 = answered.filter((s) => s.status === 503 && /"error":"Service Unavailable"/.test(s.body));
  t.comment(
    `${warm} requests before SIGTERM; ${answered.length} answered in all (${closing503.length} of them Fastify's 503 while closing), ` +
      `${inFlightAtSignal.length} in flight at SIGTERM; ${refused.length} refused at connect; ` +
      `${idleResets.length} reset on a reused idle keep-alive socket; ${queueResets.length} reset in the accept queue; ${otherwise.length} failed otherwise`,
  );

  t.ok(warm >= 5 * CONCURRENCY, `load was running (${warm} requests before SIGTERM)`);
  t.ok(inFlightAtSignal.length > 0, `${inFlightAtSignal.length} requests were in flight when SIGTERM arrived`);
  t.same(
    inFlightAtSignal.filter((s) => s.status !== 200).map(describe),
    [],
    'every request in flight at SIGTERM completed with 200',
  );
  t.same(
    answered.filter((s) => s.status !== 200 && !closing503.includes(s)).map(describe),
    [],
    "every other answer is a 200, or Fastify's load-shedding 503 for a request that arrived while closing",
  );
  t.same(
    closing503.map(describe),
    [],
    'a request that reached the server after SIGTERM is served, not refused with 503',
  );
  t.same(
    otherwise.map(describe),
    [],
    'every request without a response was sent after SIGTERM and never taken on (refused or reset)',
  );
  t.equal(refused.length, CONCURRENCY, 'each worker stopped at a refused connection');
  t.ok(exit, 'the process exited');
  t.equal(exit?.code, 0, 'exit code 0');
  if (exit) t.ok(exit.at - signalledAt < GRACE_MS + 5_000, `exited ${exit.at - signalledAt} ms after SIGTERM`);
  t.notMatch(server.output(), /shutdown failed|failed to start/);
});
