// SIGTERM behind a load balancer (issue 18): the real server process, a load balancer-like poller
// of /readyz that sends traffic only while it answers 200, and clients that connected just before
// the signal. On SIGTERM /readyz answers 503 for SHUTDOWN_GRACE_MS while every request is still
// served, so the balancer drains it; then the listener closes, the request still in flight
// finishes, and the process exits 0.

import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { PermissionCatalogue } from '../../src/core/permission-catalogue.js';
import { listPermissions } from '../../src/db/permissions.js';
import { Directory } from '../../src/services/directory.js';
import { createTestDatabase } from '../support/database.js';
import { type ServerProcess, startServerProcess } from '../support/server.js';

const GRACE_MS = 1_500;
/** How often the balancer asks /readyz (a real one: every few seconds, hence the grace). */
const POLL_MS = 50;
const EARLY_CONNECTIONS = 40;

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
const port = Number(new URL(origin).port);

interface Answer {
  /** When the request was sent. */
  at: number;
  /** The HTTP status, or the error's code when no response came. */
  status: number | string;
  body: string;
}

const tokenBody = new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }).toString();
const tokenHeaders = {
  authorization: `Basic ${Buffer.from(`${app.clientId}:${clientSecret}`).toString('base64')}`,
  'content-type': 'application/x-www-form-urlencoded',
  'content-length': String(Buffer.byteLength(tokenBody)),
};

/** One request on a new connection, as a balancer sends it. */
function send(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const at = Date.now();
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ at, status: response.statusCode ?? 0, body }));
        response.on('error', (error: NodeJS.ErrnoException) => resolve({ at, status: error.code ?? 'error', body }));
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ at, status: error.code ?? 'error', body: '' }));
    request.end(options.body);
  });
}

const token = () => send('/token', { method: 'POST', headers: tokenHeaders, body: tokenBody });

/** A token request written on `socket`, a connection opened earlier; resolves with the answer. */
function tokenOn(socket: net.Socket): Promise<Answer> {
  const at = Date.now();
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(received)?.[1];
      resolve({
        at,
        status: status ? Number(status) : 'closed without an answer',
        body: received.split('\r\n\r\n')[1] ?? '',
      });
    });
    socket.write(
      [
        'POST /token HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        `Authorization: ${tokenHeaders.authorization}`,
        'Content-Type: application/x-www-form-urlencoded',
        `Content-Length: ${tokenBody.length}`,
        'Connection: close',
        '',
        tokenBody,
      ].join('\r\n'),
    );
  });
}

/**
 * The balancer: polls /readyz every POLL_MS and takes the server out of rotation at the first
 * answer that is not 200; meanwhile its workers send token requests while it is in rotation.
 */
function loadBalancer() {
  const polls: Answer[] = [];
  const traffic: Answer[] = [];
  let inRotation = true;
  let outOfRotationAt: number | undefined;
  const poller = (async () => {
    for (;;) {
      const poll = await send('/readyz');
      polls.push(poll);
      if (poll.status !== 200 && inRotation) {
        inRotation = false;
        outOfRotationAt = Date.now();
      }
      if (poll.status === 'ECONNREFUSED') return;
      await sleep(POLL_MS);
    }
  })();
  const workers = Array.from({ length: 4 }, async () => {
    while (inRotation) traffic.push(await token());
  });
  return {
    polls,
    traffic,
    outOfRotationAt: () => outOfRotationAt,
    done: () => Promise.all([poller, ...workers]),
  };
}

const connect = () =>
  new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket)).once('error', reject);
  });

const describe = (answer: Answer) =>
  `${answer.status} sent at ${answer.at - signalledAt} ms: ${answer.body.slice(0, 120)}`;
let signalledAt = Infinity;

t.test('SIGTERM: /readyz 503 for the grace while everything is served; then close, finish, exit 0', async (t) => {
  const balancer = loadBalancer();
  while (balancer.traffic.length < 20) await sleep(10); // in rotation, with traffic
  t.same(balancer.polls.filter((poll) => poll.status !== 200).map(describe), [], 'ready before SIGTERM');

  // Clients that connected just before the signal and send their requests just after it (each asks
  // the server to close the connection after its answer: a half-close would abort it); and one
  // that connected and never sends anything (a browser's preconnect).
  const early = await Promise.all(Array.from({ length: EARLY_CONNECTIONS }, connect));
  const silent = await connect();
  silent.on('error', () => undefined);
  const silentClosed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
  signalledAt = Date.now();
  child.kill('SIGTERM');
  const earlyAnswers = Promise.all(early.map((socket) => tokenOn(socket)));

  // A request that will be in flight when the listener closes: headers now, its body later.
  const inFlight = await connect();
  let inFlightResponse = '';
  inFlight.on('data', (chunk: Buffer) => (inFlightResponse += chunk.toString()));
  inFlight.on('error', () => undefined);
  inFlight.write(
    [
      'POST /token HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      `Authorization: ${tokenHeaders.authorization}`,
      'Content-Type: application/x-www-form-urlencoded',
      `Content-Length: ${tokenBody.length}`,
      '',
      tokenBody.slice(0, 10),
    ].join('\r\n'),
  );

  // Halfway through the grace, a client that knows nothing of the balancer: still served.
  await sleep(GRACE_MS / 2);
  const midGrace = await token();

  await balancer.done(); // the poller stops at the first refused connection
  const refusedAt = balancer.polls.find((poll) => poll.status === 'ECONNREFUSED')?.at;
  inFlight.write(tokenBody.slice(10)); // the listener is closed; the request is completed now
  const inFlightClosed = new Promise<void>((resolve) => inFlight.on('close', () => resolve()));
  await Promise.race([inFlightClosed, sleep(5_000)]);
  const exit = await Promise.race([exited, sleep(5_000).then(() => undefined)]);

  // The polls sent during the grace; one sent as the listener closes may be reset or refused.
  const draining = balancer.polls.filter((poll) => poll.at >= signalledAt && poll.at < signalledAt + GRACE_MS);
  t.comment(
    `${balancer.traffic.length} requests through the balancer; out of rotation ${balancer.outOfRotationAt()! - signalledAt} ms after SIGTERM; ` +
      `${draining.length} polls answered while draining; first refused connection ${refusedAt! - signalledAt} ms after SIGTERM; ` +
      `exit ${exit ? exit.at - signalledAt : '—'} ms after SIGTERM`,
  );
  t.ok(draining.length >= 3, `the balancer's polls were answered while draining (${draining.length})`);
  t.same(draining.filter((poll) => poll.status !== 503).map(describe), [], '/readyz answers 503 from SIGTERM on');
  t.ok(
    balancer.outOfRotationAt()! - signalledAt < GRACE_MS,
    `the balancer took it out of rotation within the grace (${balancer.outOfRotationAt()! - signalledAt} ms)`,
  );
  t.same(
    balancer.traffic.filter((answer) => answer.status !== 200).map(describe),
    [],
    'every request the balancer sent was answered 200, those sent after SIGTERM too',
  );
  t.same(
    (await earlyAnswers).filter((answer) => answer.status !== 200).map(describe),
    [],
    `the ${EARLY_CONNECTIONS} connections opened just before SIGTERM are served`,
  );
  t.equal(midGrace.status, 200, `a new connection halfway through the grace is served (${describe(midGrace)})`);
  t.ok(
    refusedAt !== undefined && refusedAt - signalledAt >= GRACE_MS - POLL_MS,
    'the listener stays open for the grace',
  );
  t.ok(refusedAt !== undefined && refusedAt - signalledAt < GRACE_MS + 2_000, 'and closes after it');
  const response = inFlightResponse;
  t.match(response, /^HTTP\/1\.1 200 /, 'the request in flight when the listener closed completes with 200');
  t.match(response, /"access_token":"ey/, 'with a real token');
  t.ok(exit, 'the process exited, the silent connection did not hold it up');
  await Promise.race([silentClosed, sleep(1_000)]);
  t.ok(silent.destroyed || silent.readableEnded, 'the connection that sent nothing was closed by the server');
  t.equal(exit?.code, 0, 'exit code 0');
  t.notMatch(server!.output(), /shutdown failed|failed to start/);
});
