// PostgreSQL restarted under load: while it is down every request fails fast with 503
// temporarily_unavailable (never a 500, never a hang); once it is back the same process serves
// again without a restart, and no consent or grant was lost or duplicated. Then PostgreSQL frozen
// (SIGSTOP: connections open, nothing answers), which is where pg's timeouts decide.

import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { migrate } from '../../src/db/migrate.js';
import { userTokens } from '../data-api/support.js';
import { registerApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';
import { consentSnapshot, PrivateDatabase, type Sample, sample } from './support.js';

// With PostgreSQL stopped its port refuses connections at once, so a request should fail well
// within pg's connectionTimeoutMillis (5 s, src/db/pool.ts); this is the bound we hold it to.
const FAIL_FAST_MS = 6_000;
const OUTAGE_MS = 2_500;

const database = await PrivateDatabase.start();
t.teardown(() => database.destroy());
await migrate(database.pool);
const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' }, database.asTestDatabase());
t.teardown(() => server.close());
const { directory } = server;

const password = 'correct horse battery';
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
const admin = await directory.createUser(
  { tenantId: 'contoso', username: 'admin', password, role: 'admin' },
  'operator',
);
for (const username of ['alice', 'bob'])
  await directory.createUser({ tenantId: 'contoso', username, password, role: 'user' }, 'operator');
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read', 'Calendars.Read'] });
// Consents in place: two users' own (through the real flow, so each has a Grant) and the admin's.
const aliceTokens = await userTokens(server, app, { signIn: 'alice@contoso', password }, 'openid User.Read');
await userTokens(server, app, { signIn: 'bob@contoso', password }, 'openid User.Read Calendars.Read');
await server.accord.services.consent.grantAdminConsent('contoso', admin.id, app.clientId, ['Calendars.Read'], 'test');
const { app: daemon, clientSecret } = await directory.createApp(
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
const before = await consentSnapshot(server.pool);

const requests: Record<string, (signal: AbortSignal) => Promise<Response>> = {
  readyz: (signal) => fetch(`${server.url}/readyz`, { signal }),
  dataApi: (signal) =>
    fetch(`${server.url}/data/v1/me`, {
      signal,
      headers: { authorization: `Bearer ${aliceTokens.access_token}`, accept: 'application/json' },
    }),
  token: (signal) =>
    fetch(`${server.url}/token`, {
      method: 'POST',
      signal,
      headers: {
        authorization: `Basic ${Buffer.from(`${daemon.clientId}:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'User.Read' }).toString(),
    }),
};

/** One worker per kind of request, each sending the next as soon as the last one answered. */
function loadLoop() {
  const samples: Sample[] = [];
  let running = true;
  const workers = Object.entries(requests).map(async ([kind, request]) => {
    while (running) {
      samples.push(await sample(kind, request));
      await sleep(25);
    }
  });
  return {
    samples,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return samples;
    },
  };
}

const describe = (s: Sample) => `${s.kind} ${s.status} after ${s.ms} ms: ${s.body.slice(0, 160)}`;

t.test('the steady loop succeeds while PostgreSQL is up', async (t) => {
  for (const [kind, request] of Object.entries(requests)) {
    const s = await sample(kind, request);
    t.equal(s.status, 200, describe(s));
  }
});

t.test(
  'PostgreSQL stopped and started under load: 503 fast, recovery on its own, nothing lost or duplicated',
  async (t) => {
    const load = loadLoop();
    await sleep(500);
    await database.stop();
    const outageFrom = Date.now();
    await sleep(OUTAGE_MS);
    const outageTo = Date.now();
    await database.restart();
    const restartedAt = Date.now();

    // The pool reconnects by itself: readiness comes back without touching the app.
    let readyAfter: number | undefined;
    while (Date.now() - restartedAt < 15_000) {
      const s = await sample('readyz', requests.readyz!);
      if (s.status === 200) {
        readyAfter = Date.now() - restartedAt;
        break;
      }
      await sleep(50);
    }
    t.ok(readyAfter !== undefined, `ready again ${readyAfter} ms after PostgreSQL came back`);
    await sleep(500);
    const samples = await load.stop();

    const outage = samples.filter((s) => s.startedAt >= outageFrom && s.startedAt + s.ms <= outageTo);
    for (const kind of Object.keys(requests)) {
      const during = outage.filter((s) => s.kind === kind);
      t.ok(during.length >= 3, `${kind}: ${during.length} requests during the outage`);
      t.same(
        during.filter((s) => s.status !== 503).map(describe),
        [],
        `${kind}: every answer during the outage is 503`,
      );
      t.same(
        during.filter((s) => !/"error":"temporarily_unavailable"/.test(s.body)).map(describe),
        [],
        `${kind}: with error temporarily_unavailable`,
      );
      t.same(
        during.filter((s) => typeof s.status !== 'number').map(describe),
        [],
        `${kind}: every request got an answer`,
      );
      const slowest = Math.max(0, ...during.map((s) => s.ms));
      t.ok(slowest < FAIL_FAST_MS, `${kind}: slowest answer during the outage took ${slowest} ms`);
    }
    // Whatever straddled the stop or the start may have succeeded or not, but never as a 500.
    for (const kind of Object.keys(requests)) {
      t.same(
        samples.filter((s) => s.kind === kind && s.status !== 200 && s.status !== 503).map(describe),
        [],
        `${kind}: no request in the whole run got anything but 200 or 503`,
      );
    }

    // After recovery everything answers 200 again, in the same process.
    for (const [kind, request] of Object.entries(requests)) {
      const s = await sample(kind, request);
      t.equal(s.status, 200, `after recovery: ${describe(s)}`);
    }
    const after = await consentSnapshot(server.pool);
    t.same(after.userConsents, before.userConsents, 'user consents unchanged');
    t.same(after.adminConsents, before.adminConsents, 'admin consents unchanged');
    t.same(after.grants, before.grants, 'grants unchanged');
    t.equal(after.auditEvents, before.auditEvents, 'no audit event added or lost');
  },
);

t.test('PostgreSQL that stops answering: requests fail within the bound, and the service recovers', async (t) => {
  // Every connection in the pool is open and idle (the loop above used them); then nothing answers.
  database.pause();
  // The clients wait (no deadline of theirs cuts in); the database answers again after the bound.
  const pending = Promise.all(
    Array.from({ length: 12 }, (_, i) => {
      const kind = Object.keys(requests)[i % 3]!;
      return sample(kind, requests[kind]!, 30_000);
    }),
  );
  await sleep(FAIL_FAST_MS + 1_000).finally(() => database.resume());
  const results = await pending;
  const late = results.filter((s) => s.ms >= FAIL_FAST_MS);
  t.comment(`while PostgreSQL did not answer: ${results.map((s) => `${s.kind} ${s.status} in ${s.ms} ms`).join(', ')}`);
  t.same(late.map(describe), [], `every request is answered within ${FAIL_FAST_MS} ms`);
  for (const kind of Object.keys(requests)) {
    t.same(
      results.filter((s) => s.kind === kind && s.status !== 503 && s.status !== 200).map(describe),
      [],
      `${kind}: every answer is a 503, or a 200 once the database answers again`,
    );
  }
  for (const [kind, request] of Object.entries(requests)) {
    const s = await sample(kind, request);
    t.equal(s.status, 200, `after it answers again: ${describe(s)}`);
  }
  t.same((await consentSnapshot(server.pool)).grants, before.grants, 'grants unchanged');
});
