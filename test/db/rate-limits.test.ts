// The shared rate-limit counters: fixed windows, every concurrent hit counted once, keys apart.

import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { countHit, purgeEndedRateLimitWindows } from '../../src/db/rate-limits.js';
import { createTestDatabase } from '../support/database.js';

const database = await createTestDatabase();
t.teardown(() => database.drop());
const { pool } = database;

t.test('hits count up within a window and start again at 1 once it has ended', async (t) => {
  const first = await countHit(pool, 'POST /login 192.0.2.1', 300);
  t.equal(first.current, 1);
  t.ok(first.ttl > 0 && first.ttl <= 300, `the window ends within its length (${first.ttl} ms)`);
  t.equal((await countHit(pool, 'POST /login 192.0.2.1', 300)).current, 2);
  const third = await countHit(pool, 'POST /login 192.0.2.1', 300);
  t.equal(third.current, 3);
  t.ok(third.ttl <= first.ttl, 'a hit does not extend the window');
  await sleep(350);
  const fresh = await countHit(pool, 'POST /login 192.0.2.1', 300);
  t.equal(fresh.current, 1, 'a new window');
  t.ok(fresh.ttl > 200, `with its full length (${fresh.ttl} ms)`);
});

t.test('fifty concurrent hits on one key are each counted once', async (t) => {
  const counts = await Promise.all(Array.from({ length: 50 }, () => countHit(pool, 'POST /login 192.0.2.2', 60_000)));
  t.same(
    counts.map((count) => count.current).sort((a, b) => a - b),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
});

t.test('keys count apart, and ended windows are purged', async (t) => {
  t.equal((await countHit(pool, 'POST /login 192.0.2.3', 60_000)).current, 1);
  t.equal((await countHit(pool, 'POST /other 192.0.2.3', 60_000)).current, 1, 'another route');
  await countHit(pool, 'POST /login 192.0.2.4', 1);
  await sleep(10);
  t.ok((await purgeEndedRateLimitWindows(pool)) >= 1);
  const { rows } = await pool.query<{ key: string }>('SELECT key FROM rate_limit_windows ORDER BY key');
  t.notOk(
    rows.some((row) => row.key === 'POST /login 192.0.2.4'),
    'the ended window is gone',
  );
  t.ok(
    rows.some((row) => row.key === 'POST /login 192.0.2.3'),
    'a running one stays',
  );
});
