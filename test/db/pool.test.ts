// The pool classes a failure to reach the database as DatabaseUnavailable where pg raised it — on
// the pool's own queries and connections and on a transaction's client — with pg's error as its
// cause. An SQL error stays pg's error, with its code.
import net from 'node:net';
import t from 'tap';
import { DatabaseUnavailable } from '../../src/core/errors.js';
import { createPool, inTransaction, isPgError, PgError } from '../../src/db/pool.js';
import { createTestDatabase } from '../support/database.js';
import { freePort } from '../support/server.js';

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

t.test(
  'a database that refuses connections: DatabaseUnavailable (503, Retry-After), pg’s error its cause',
  async (t) => {
    const port = await freePort(); // nothing listens there
    const pool = createPool(`postgres://postgres@127.0.0.1:${port}/postgres`, () => undefined);
    t.teardown(() => pool.end());
    for (const [how, attempt] of [
      ['pool.query', () => pool.query('SELECT 1')],
      ['pool.connect', () => pool.connect()],
    ] as const) {
      const error = await failure(attempt());
      t.ok(error instanceof DatabaseUnavailable, `${how}: DatabaseUnavailable (${String(error)})`);
      t.match(error, { status: 503, code: 'temporarily_unavailable', headers: { 'retry-after': '5' } });
      t.match((error as Error).cause, { code: 'ECONNREFUSED' }, `${how}: the cause is pg's ECONNREFUSED`);
      t.match((error as Error).message, /ECONNREFUSED/, `${how}: the message keeps pg's words`);
    }
  },
);

t.test('a database host that resets the connection: DatabaseUnavailable', async (t) => {
  const resetting = net.createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => resetting.close(() => resolve())));
  const { port } = resetting.address() as net.AddressInfo;
  const pool = createPool(`postgres://postgres@127.0.0.1:${port}/postgres`, () => undefined);
  t.teardown(() => pool.end());
  const error = await failure(pool.query('SELECT 1'));
  t.ok(error instanceof DatabaseUnavailable, `DatabaseUnavailable (${String(error)})`);
});

t.test('inside a transaction', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());

  t.test("the server ending the transaction's connection: DatabaseUnavailable", async (t) => {
    const error = await failure(
      inTransaction(database.pool, (client) => client.query('SELECT pg_terminate_backend(pg_backend_pid())')),
    );
    t.ok(error instanceof DatabaseUnavailable, `DatabaseUnavailable (${String(error)})`);
    t.match((error as Error).cause, { code: '57P01' }, "PostgreSQL's admin_shutdown");
    t.same((await database.pool.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the pool goes on working');
  });

  t.test('an SQL error is no outage: pg’s own error, with its code', async (t) => {
    const syntax = await failure(database.pool.query('SELEKT 1'));
    t.notOk(syntax instanceof DatabaseUnavailable);
    t.match(syntax, { code: '42601' });
    const duplicate = await failure(
      inTransaction(database.pool, async (client) => {
        await client.query('CREATE TABLE twice (id int PRIMARY KEY)');
        await client.query('INSERT INTO twice VALUES (1), (1)');
      }),
    );
    t.notOk(duplicate instanceof DatabaseUnavailable);
    t.ok(isPgError(duplicate, PgError.uniqueViolation), 'a unique violation stays one');
  });
});
