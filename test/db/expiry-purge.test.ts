// The expiry purge (src/services/expiry-purge.ts over the purge statements of src/db/): in batches,
// it removes exactly the expired rows of every expiring table — oidc-provider's models with the
// lookup keys of the models it removes, DPoP proofs, rate-limit windows, ended sign-in failure
// streaks — and leaves the live ones; a locked row makes it give way rather than wait.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { rememberDpopProof } from '../../src/db/dpop-proofs.js';
import { upsertModel } from '../../src/db/oidc-models.js';
import { inTransaction } from '../../src/db/pool.js';
import { countHit } from '../../src/db/rate-limits.js';
import { recordSignInFailure } from '../../src/db/sign-in-failures.js';
import { EXPIRING_TABLES, ExpiryPurge } from '../../src/services/expiry-purge.js';
import { STREAK_SECONDS } from '../../src/services/sign-in.js';
import { createTestDatabase } from '../support/database.js';

const database = await createTestDatabase();
t.teardown(() => database.drop());
const { pool } = database;

const id = (prefix: string) => `${prefix}-${randomBytes(8).toString('base64url')}`;
const HOUR = 3600;

interface Seeded {
  expiredModels: string[];
  liveModels: string[];
  expiredUids: string[];
  liveUids: string[];
  expiredProofs: string[];
  liveProofs: string[];
  endedWindows: string[];
  runningWindows: string[];
  endedStreaks: string[];
  runningStreaks: string[];
}

/** Rows of every expiring table, some expired (moved into the past by UPDATE), some live. */
async function seed(expiredPerTable: number): Promise<Seeded> {
  const seeded: Seeded = {
    expiredModels: [],
    liveModels: [],
    expiredUids: [],
    liveUids: [],
    expiredProofs: [],
    liveProofs: [],
    endedWindows: [],
    runningWindows: [],
    endedStreaks: [],
    runningStreaks: [],
  };
  const model = async (name: string, expired: boolean, withUid: boolean, expiresIn = HOUR) => {
    const modelId = id(name);
    const uid = withUid ? id('uid') : null;
    await upsertModel(pool, {
      model: name,
      id: modelId,
      payload: { jti: modelId, ...(uid ? { uid } : {}) },
      grantId: null,
      userCode: null,
      uid,
      expiresIn,
    });
    (expired ? seeded.expiredModels : seeded.liveModels).push(modelId);
    if (uid) (expired ? seeded.expiredUids : seeded.liveUids).push(uid);
  };
  for (let i = 0; i < expiredPerTable; i++) {
    await model('Session', true, true);
    await model('AuthorizationCode', true, false);
    await model('Interaction', true, false);
    const proof = id('proof');
    await rememberDpopProof(pool, proof, Math.floor(Date.now() / 1000) + HOUR);
    seeded.expiredProofs.push(proof);
    const window = `POST /login ${id('address')}`;
    await countHit(pool, window, HOUR * 1000);
    seeded.endedWindows.push(window);
    const username = id('user');
    await recordSignInFailure(pool, { tenantId: 'contoso', username }, '192.0.2.1', new Date(), STREAK_SECONDS);
    seeded.endedStreaks.push(username);
  }
  await model('Session', false, true);
  await model('RefreshToken', false, false);
  await model('Grant', false, false, 0); // never expires
  const proof = id('proof');
  await rememberDpopProof(pool, proof, Math.floor(Date.now() / 1000) + HOUR);
  seeded.liveProofs.push(proof);
  const window = `POST /login ${id('address')}`;
  await countHit(pool, window, HOUR * 1000);
  seeded.runningWindows.push(window);
  const username = id('user');
  // A streak whose last failure is 14 minutes old is still running.
  await recordSignInFailure(
    pool,
    { tenantId: 'contoso', username },
    '192.0.2.1',
    new Date(Date.now() - (STREAK_SECONDS - 60) * 1000),
    STREAK_SECONDS,
  );
  seeded.runningStreaks.push(username);

  // Into the past: expired a second ago, ended a second ago, a streak whose last failure is a second past its end.
  await pool.query(`UPDATE oidc_models SET expires_at = now() - interval '1 second' WHERE id = ANY ($1::text[])`, [
    seeded.expiredModels,
  ]);
  await pool.query(`UPDATE dpop_proofs SET expires_at = now() - interval '1 second' WHERE key = ANY ($1::text[])`, [
    seeded.expiredProofs,
  ]);
  await pool.query(`UPDATE rate_limit_windows SET ends_at = now() - interval '1 second' WHERE key = ANY ($1::text[])`, [
    seeded.endedWindows,
  ]);
  for (const table of ['sign_in_failures', 'sign_in_address_failures'])
    await pool.query(
      `UPDATE ${table} SET last_failure_at = now() - make_interval(secs => $2::integer + 1)
        WHERE tenant_id = 'contoso' AND username = ANY ($1::text[])`,
      [seeded.endedStreaks, STREAK_SECONDS],
    );
  return seeded;
}

async function column(sql: string, values: unknown[]): Promise<string[]> {
  const { rows } = await pool.query<{ value: string }>(sql, values);
  return rows.map((row) => row.value).sort();
}

async function remaining(seeded: Seeded) {
  const all = (list: keyof Seeded, other: keyof Seeded) => [...seeded[list], ...seeded[other]];
  return {
    models: await column('SELECT id AS value FROM oidc_models WHERE id = ANY ($1::text[])', [
      all('expiredModels', 'liveModels'),
    ]),
    uids: await column('SELECT key AS value FROM oidc_model_keys WHERE key = ANY ($1::text[])', [
      all('expiredUids', 'liveUids'),
    ]),
    proofs: await column('SELECT key AS value FROM dpop_proofs WHERE key = ANY ($1::text[])', [
      all('expiredProofs', 'liveProofs'),
    ]),
    windows: await column('SELECT key AS value FROM rate_limit_windows WHERE key = ANY ($1::text[])', [
      all('endedWindows', 'runningWindows'),
    ]),
    streaks: await column(
      `SELECT username AS value FROM sign_in_failures WHERE tenant_id = 'contoso' AND username = ANY ($1::text[])`,
      [all('endedStreaks', 'runningStreaks')],
    ),
    addressStreaks: await column(
      `SELECT username AS value FROM sign_in_address_failures WHERE tenant_id = 'contoso' AND username = ANY ($1::text[])`,
      [all('endedStreaks', 'runningStreaks')],
    ),
  };
}

t.test('a round removes exactly the expired rows of every expiring table, in batches', async (t) => {
  const seeded = await seed(5);
  const before = await remaining(seeded);
  t.equal(before.models.length, 18, 'the seeded models are there');
  t.equal(before.uids.length, 6, 'with the lookup keys of the sessions');

  const round = await new ExpiryPurge(pool, { batchSize: 2, pauseMs: 0 }).run();
  t.same(round.deleted, {
    oidc_models: 15,
    dpop_proofs: 5,
    rate_limit_windows: 5,
    sign_in_failures: 5,
    sign_in_address_failures: 5,
  });
  // 15 rows in batches of 2: 8 batches (the last with 1); 5 rows: 3 batches (the last with 1); four tables of 5.
  t.equal(round.batches, 8 + 4 * 3, 'no batch is larger than its size; a short batch ends its table');
  t.same(round.lockedOut, []);
  t.notOk(round.stopped);

  t.same(await remaining(seeded), {
    models: [...seeded.liveModels].sort(),
    uids: [...seeded.liveUids].sort(),
    proofs: seeded.liveProofs,
    windows: seeded.runningWindows,
    streaks: seeded.runningStreaks,
    addressStreaks: seeded.runningStreaks,
  });
  const next = await new ExpiryPurge(pool, { batchSize: 2, pauseMs: 0 }).run();
  t.same(Object.values(next.deleted), [0, 0, 0, 0, 0], 'nothing is left for the next round');
  t.equal(next.batches, EXPIRING_TABLES.length, 'which asks each table once');
});

t.test("a lookup key that now points at another row stays when the key's old row is purged", async (t) => {
  const uid = id('uid');
  const [old, renewed] = [id('Session'), id('Session')];
  for (const modelId of [old, renewed])
    await upsertModel(pool, {
      model: 'Session',
      id: modelId,
      payload: { jti: modelId, uid },
      grantId: null,
      userCode: null,
      uid,
      expiresIn: HOUR,
    });
  await pool.query(`UPDATE oidc_models SET expires_at = now() - interval '1 second' WHERE id = $1::text`, [old]);
  await new ExpiryPurge(pool, { pauseMs: 0 }).run();
  t.same(await column('SELECT id AS value FROM oidc_model_keys WHERE key = $1::text', [uid]), [renewed]);
});

t.test('a round gives way to a locked row: its table is left for the next round, the others are purged', async (t) => {
  const seeded = await seed(3);
  const locked = seeded.expiredModels[0]!;
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let lockTaken!: () => void;
  const taken = new Promise<void>((resolve) => {
    lockTaken = resolve;
  });
  const holder = inTransaction(pool, async (tx) => {
    await tx.query('SELECT 1 FROM oidc_models WHERE id = $1::text FOR UPDATE', [locked]);
    lockTaken();
    await released;
  });
  await taken;
  const started = performance.now();
  const round = await new ExpiryPurge(pool, { batchSize: 100, pauseMs: 0, lockTimeoutMs: 50 }).run();
  const seconds = (performance.now() - started) / 1000;
  release();
  await holder;
  t.same(round.lockedOut, ['oidc_models']);
  t.equal(round.deleted.oidc_models, 0, 'the batch that met the lock was rolled back, keys and all');
  t.equal(round.deleted.dpop_proofs, 3, 'the other tables were purged');
  t.ok(seconds < 2, `it did not wait for the lock (${seconds.toFixed(2)} s)`);

  const after = await new ExpiryPurge(pool, { batchSize: 100, pauseMs: 0 }).run();
  t.equal(after.deleted.oidc_models, 9, 'the next round, the lock gone, purges them');
  const left = await remaining(seeded);
  t.same(left.models, [...seeded.liveModels].sort());
  t.same(left.uids, [...seeded.liveUids].sort());
});

t.test('a stopped round ends between batches', async (t) => {
  await seed(4);
  const stop = new AbortController();
  stop.abort();
  const round = await new ExpiryPurge(pool, { batchSize: 2, pauseMs: 0 }).run(stop.signal);
  t.ok(round.stopped);
  t.equal(round.batches, 0);
  await new ExpiryPurge(pool, { pauseMs: 0 }).run();
});

t.test('the expiring tables are vacuumed after each purge, not after a fifth of the table is dead', async (t) => {
  const { rows } = await pool.query<{ table: string; options: string[] | null }>(
    `SELECT relname AS table, reloptions AS options FROM pg_class WHERE relname = ANY ($1::text[])`,
    [[...EXPIRING_TABLES, 'oidc_model_keys']],
  );
  t.equal(rows.length, EXPIRING_TABLES.length + 1);
  for (const row of rows)
    t.ok(row.options?.includes('autovacuum_vacuum_scale_factor=0.01'), `${row.table}: ${row.options?.join(', ')}`);
});
