// Every log line is one JSON object, through pino, under client faults too: a malformed chunked
// body or an upload cut off at a protocol endpoint is reported on that request's one
// `request completed` line (the client's doing, at info), never as the multi-line stack trace that
// oidc-provider's Koa application prints on stderr when nobody listens to its errors. The real
// server process (src/server.ts) at LOG_LEVEL=info, with stdout and stderr in one pipe, so that
// the lines are read in the order they were written.
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import t from 'tap';
import { coveredChildEnv, sourceCommand } from '../support/child-env.js';
import { repoRoot } from '../support/database.js';
import { freePort } from '../support/server.js';
import { PrivateDatabase } from './support.js';

// A PostgreSQL of this test's own: the last test stops it under the server.
const database = await PrivateDatabase.start();
t.teardown(() => database.destroy());
const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
// One pipe for stdout and stderr (`2>&1`), so the lines keep their order.
const child: ChildProcess = spawn(
  'sh',
  ['-c', 'exec "$0" "$@" 2>&1', process.execPath, ...sourceCommand('src/server.ts')],
  {
    cwd: repoRoot,
    env: coveredChildEnv({
      PATH: process.env.PATH ?? '',
      DATABASE_URL: database.url,
      PORT: String(port),
      LOG_LEVEL: 'info',
    }),
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
t.teardown(async () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
});

let output = '';
const waiters = new Set<() => void>();
child.stdout!.on('data', (chunk: Buffer) => {
  output += chunk.toString();
  for (const check of waiters) check();
});

/** Resolves once the output (from `from` on) satisfies `done`; fails with the output after `ms`. */
function outputWhere(done: (text: string) => boolean, from = 0, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!done(output.slice(from))) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(output.slice(from));
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`not seen within ${ms} ms; the output was:\n${output.slice(from)}`));
    }, ms);
    waiters.add(check);
    check();
  });
}

interface LogLine {
  level: number;
  msg: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  aborted?: boolean;
  connectionError?: string;
}

/** The lines that are not one JSON log record each. */
function notJsonLines(lines: string[]): string[] {
  return lines.filter((line) => {
    try {
      const parsed = JSON.parse(line) as unknown;
      return typeof parsed !== 'object' || parsed === null || typeof (parsed as LogLine).level !== 'number';
    } catch {
      return true;
    }
  });
}

const completed = (text: string, url: string) =>
  text.split('\n').filter((line) => line.includes('"request completed"') && line.includes(`"url":"${url}"`)).length;

/**
 * Sends `head`, then `body` on a raw connection. `complete`: waits for the server to close it.
 * `reset`: asks for `100 Continue` first, so that the server has taken the request in, then sends
 * the body and resets the connection (RST), as a client hanging up mid-upload. Resolves with what
 * came back once the connection is closed.
 */
function rawRequest(head: string, body: string, hangUp: 'complete' | 'reset'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('error', () => undefined); // a reset is how some of these end
    socket.once('close', () => resolve(received));
    if (hangUp === 'complete') {
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.write(head + body);
      return;
    }
    socket.once('data', (chunk) => {
      received += chunk.toString();
      if (received.startsWith('HTTP/1.1 100 ')) socket.write(body, () => socket.resetAndDestroy());
    });
    socket.write(head.replace(/\r\n\r\n$/, '\r\nExpect: 100-continue\r\n\r\n'));
  });
}

await outputWhere((text) => text.includes('"msg":"Accord is ready"'));

t.test('malformed and cut-off uploads at /token: one JSON line each, no stack trace', async (t) => {
  const from = output.length;
  const head = (extra: string) =>
    `POST /token HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\n${extra}\r\n`;

  // A chunk size that is not hexadecimal: the HTTP parser fails (HPE_INVALID_CHUNK_SIZE).
  const chunked = head('Transfer-Encoding: chunked\r\n');
  const malformed = await rawRequest(chunked, 'zz\r\ngrant_type=x\r\n0\r\n\r\n', 'complete');
  t.match(malformed, /^HTTP\/1\.1 400 /, 'the malformed body is answered 400');
  // A body announced as 1,000 bytes, 20 sent, then the connection reset.
  await rawRequest(head('Content-Length: 1000\r\n'), 'grant_type=client_cr', 'reset');
  // A chunked upload whose connection is reset mid-chunk.
  await rawRequest(chunked, '400\r\ngrant_type=client_cr', 'reset');

  // Then an ordinary protocol request: once its line is out, so is everything the three caused.
  t.equal((await fetch(`${origin}/jwks`)).status, 200);
  const text = await outputWhere((text) => completed(text, '/jwks') === 1, from);

  const lines = text.split('\n').filter((line) => line.trim() !== '');
  t.same(notJsonLines(lines), [], 'every line is a JSON log record');
  if (notJsonLines(lines).length > 0) return;

  const records = lines.map((line) => JSON.parse(line) as LogLine);
  const token = records.filter((record) => record.req?.url === '/token');
  t.equal(token.length, 3, 'one line for each of the three requests');
  t.ok(
    token.every((record) => record.msg === 'request completed' && record.level === 30),
    'each a `request completed` line at info: the client’s doing',
  );
  t.ok(
    token.some((record) => /^HPE_/.test(record.connectionError ?? '')),
    'the malformed body is named by the parser’s code',
  );
  t.ok(
    token.some((record) => record.connectionError === 'ECONNRESET'),
    'a reset upload is named ECONNRESET',
  );
  t.same(
    records.filter((record) => record.level >= 50),
    [],
    'nothing logged as an error',
  );
});

t.test('PostgreSQL stopped under the server: its dropped connections are logged as JSON', async (t) => {
  // Connections in the pool, idle: what the database drops when it shuts down (57P01).
  for (let i = 0; i < 3; i++) t.equal((await fetch(`${origin}/readyz`)).status, 200, 'ready');
  const from = output.length;
  await database.stop();
  await outputWhere((text) => /idle database/.test(text), from);
  // And a request meanwhile: a 503, logged as JSON too.
  t.equal((await fetch(`${origin}/readyz`)).status, 503, 'not ready while the database is away');
  const text = await outputWhere((text) => text.includes('"statusCode":503'), from);
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  t.same(notJsonLines(lines), [], 'every line is a JSON log record');
  t.ok(
    lines.some((line) => line.includes('"msg":"idle database connection lost"')),
    'a dropped connection is a warning through the app’s logger',
  );
});
