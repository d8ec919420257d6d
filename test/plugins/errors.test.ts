// The error handler classes an error by where it came from (issue 18): a client hanging up
// mid-upload is the client's doing — logged as a refused request, not as a database outage and
// not as a fault (an error-level line would page someone). The real server process, its JSON log.
import net from 'node:net';
import t from 'tap';
import { requestForLog } from '../../src/plugins/log-redaction.js';
import { createTestDatabase } from '../support/database.js';
import { type ServerProcess, startServerProcess } from '../support/server.js';

const database = await createTestDatabase();
let server: ServerProcess | undefined;
t.teardown(async () => {
  await server?.kill();
  await database.drop();
});
server = await startServerProcess(database.url, { LOG_LEVEL: 'info' });
const port = Number(new URL(server.origin).port);

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  req?: { url?: string };
  err?: { code?: string; statusCode?: number };
}

function logLines(): LogLine[] {
  return server!
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** Resolves once `found` returns something for the log so far, re-reading it as the process writes. */
async function untilLogged<T>(found: (lines: LogLine[]) => T | undefined, ms = 5_000): Promise<T> {
  const stdout = server!.child.stdout!;
  return new Promise<T>((resolve, reject) => {
    const check = () => {
      const result = found(logLines());
      if (result === undefined) return;
      clearTimeout(timer);
      stdout.off('data', check);
      resolve(result);
    };
    const timer = setTimeout(() => {
      stdout.off('data', check);
      reject(new Error(`not logged within ${ms} ms:\n${server!.output().slice(-2_000)}`));
    }, ms);
    stdout.on('data', check);
    check();
  });
}

/**
 * Sends the head of a POST of `path` with a 10,000-byte body, then part of the body once the
 * server has logged the request, then hangs up (a TCP reset). Resolves with the request's log id.
 */
async function hangUpMidUpload(path: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  socket.write(
    [
      `POST ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Content-Type: application/x-www-form-urlencoded',
      'Content-Length: 10000',
      '',
      '',
    ].join('\r\n'),
  );
  // Logged: the server has taken the request on (its hooks do no I/O) and waits for the body.
  // Logged by its path as the log shows it: an interaction's uid masked (plugins/log-redaction.ts).
  const logged = requestForLog('POST', path).url;
  const reqId = await untilLogged((lines) => lines.find((line) => line.req?.url === logged)?.reqId);
  socket.write('username=alice%40contoso&password=');
  socket.resetAndDestroy(); // the client goes away with 9,966 bytes still to send
  return reqId;
}

/** What the server logged about the request: its outcome, and every line at warn or above. */
async function loggedAbout(reqId: string) {
  const outcome = await untilLogged((lines) =>
    lines.find(
      (line) => line.reqId === reqId && /^(request refused|request failed|client closed the request)$/.test(line.msg),
    ),
  );
  const ofRequest = logLines().filter((line) => line.reqId === reqId);
  return { outcome, warnings: ofRequest.filter((line) => line.level >= 40).map((line) => JSON.stringify(line)) };
}

t.test('a client that hangs up mid-upload is logged as such, not as a database outage or a fault', async (t) => {
  const { outcome, warnings } = await loggedAbout(await hangUpMidUpload('/interaction/hangs-up/consent'));
  t.match(
    outcome,
    { level: 30, msg: 'client closed the request', err: { code: 'ECONNRESET' } },
    JSON.stringify(outcome),
  );
  t.same(warnings, [], 'no warning or error for it');
  t.notOk(
    logLines().some((line) => /database/i.test(line.msg)),
    'nothing said about the database',
  );
});
