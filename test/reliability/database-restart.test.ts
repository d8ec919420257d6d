// PostgreSQL restarted under load: while it is down every request fails fast with 503
// temporarily_unavailable (never a 500, never a hang); once it is back the same process serves
// again without a restart, and no consent or grant was lost or duplicated — among them the
// consents and grants that users were giving through the consent page while PostgreSQL went
// down and came back. Then PostgreSQL frozen (SIGSTOP: connections open, nothing answers), which
// is where pg's timeouts decide.

import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { migrate } from '../../src/db/migrate.js';
import { userTokens } from '../data-api/support.js';
import { Browser, pageName } from '../support/browser.js';
import { answerConsent, registerApp, signInOnPage, startAuthorization } from '../support/flows.js';
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
// The users who consent while PostgreSQL goes down and comes back, one flow each.
const WRITERS = Array.from({ length: 60 }, (_, i) => `writer${i}`);
const writerIds = new Map<string, string>();
for (const username of WRITERS)
  writerIds.set(
    username,
    (await directory.createUser({ tenantId: 'contoso', username, password, role: 'user' }, 'operator')).id,
  );
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read', 'Calendars.Read'] });
// Consents in place: two users' own (through the real flow, so each has a Grant) and the admin's.
const aliceTokens = await userTokens(server, app, { signIn: 'alice@contoso', password }, 'openid User.Read');
await userTokens(server, app, { signIn: 'bob@contoso', password }, 'openid User.Read Calendars.Read');
await server.accord.services.consent.grantAdminConsent('contoso', admin.id, app.clientId, ['Calendars.Read'], 'test');
// The app the writers consent to: theirs alone, no admin consent (which would give each a grant at sign-in).
const writersApp = await registerApp(server, { tenant: 'contoso', name: 'Writers', scopes: ['openid', 'User.Read'] });
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
const othersBefore = await othersSnapshot();

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

/**
 * A user's consent through the real pages: /auth, sign-in, accept (when asked). Resolves to 'code'
 * when the app got a code, else to the status (or error) of the step that failed.
 */
/**
 * How an attempt ended: `code` at the app; `temporarily_unavailable` at the app (OAuth 2.0
 * §4.1.2.1: what the provider answers an outage with once it could check the redirect_uri); or the
 * status of the page it stopped on (503 while the database is away).
 */
function outcomeOf(response: { status: number; headers: Headers }): string | number {
  const location = response.headers.get('location') ?? '';
  if (/[?&]code=/.test(location)) return 'code';
  if (/[?&]error=temporarily_unavailable(&|$)/.test(location)) return 'temporarily_unavailable';
  return response.status;
}

async function consentFlow(username: string): Promise<string | number> {
  const browser = new Browser(server.url);
  try {
    const auth = await startAuthorization(browser, writersApp, { scope: 'openid User.Read' });
    if (pageName(auth.page.body) !== 'login') return outcomeOf(auth.page);
    const consent = await signInOnPage(browser, auth.page, `${username}@contoso`, password);
    // Consented already (a flow cut off after its commit): straight back to the app.
    const done = pageName(consent.body) === 'consent' ? await answerConsent(browser, consent, 'accept') : consent;
    return outcomeOf(done);
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
  }
}

/**
 * One worker per kind of request, each sending the next as soon as the last one answered, and
 * one worker of users consenting (each writer once), which writes consents, grants and audit events.
 */
function loadLoop() {
  const samples: Sample[] = [];
  const flows: Array<{ username: string; outcome: string | number; startedAt: number }> = [];
  let running = true;
  const workers = Object.entries(requests).map(async ([kind, request]) => {
    while (running) {
      samples.push(await sample(kind, request));
      await sleep(25);
    }
  });
  // Each writer tries until their consent reaches the app (as a user would), then the next one.
  const writer = (async () => {
    for (const username of WRITERS) {
      let outcome: string | number | undefined;
      while (running && outcome !== 'code') {
        const startedAt = Date.now();
        outcome = await consentFlow(username);
        flows.push({ username, outcome, startedAt });
        await sleep(25);
      }
      if (!running) break;
    }
  })();
  return {
    samples,
    flows,
    stop: async () => {
      running = false;
      await Promise.all([...workers, writer]);
      return { samples, flows };
    },
  };
}

/** The writers' consents, grants and audit events as stored, per writer. */
async function writersState() {
  const ids = [...writerIds.values()];
  const [consents, grants, events] = await Promise.all([
    server.pool.query<{ user_id: string; scopes: string[]; grant_id: string | null }>(
      'SELECT user_id, scopes, grant_id FROM user_consents WHERE user_id = ANY($1::text[]) AND client_id = $2::text',
      [ids, writersApp.clientId],
    ),
    server.pool.query<{ id: string; account_id: string }>(
      `SELECT id, payload->>'accountId' AS account_id FROM oidc_models
        WHERE model = 'Grant' AND payload->>'accountId' = ANY($1::text[]) AND payload->>'clientId' = $2::text`,
      [ids, writersApp.clientId],
    ),
    server.pool.query<{ actor: string }>(
      `SELECT actor FROM audit_events WHERE action = 'consent.user.granted' AND actor = ANY($1::text[]) AND target = $2::text`,
      [ids, writersApp.clientId],
    ),
  ]);
  return WRITERS.map((username) => {
    const id = writerIds.get(username)!;
    const consent = consents.rows.filter((row) => row.user_id === id);
    const own = grants.rows.filter((row) => row.account_id === id);
    return {
      username,
      consents: consent.map((row) => row.scopes.join(' ')),
      grants: own.length,
      grantIsTheConsents: own.length === 1 && consent[0]?.grant_id === own[0]!.id,
      auditEvents: events.rows.filter((row) => row.actor === id).length,
    };
  });
}

/** Someone who consented: one consent with what was asked, one grant named by it, one audit event. */
const CONSENTED = (username: string) => ({
  username,
  consents: ['openid User.Read'],
  grants: 1,
  grantIsTheConsents: true,
  auditEvents: 1,
});
/** Consent recorded (with its audit event), its grant not built yet: the next sign-in builds it from the consent. */
const RECORDED = (username: string) => ({
  username,
  consents: ['openid User.Read'],
  grants: 0,
  grantIsTheConsents: false,
  auditEvents: 1,
});
const UNTOUCHED = (username: string) => ({
  username,
  consents: [],
  grants: 0,
  grantIsTheConsents: false,
  auditEvents: 0,
});

/** The consent state of everyone but the writers. */
async function othersSnapshot() {
  const ids = new Set(writerIds.values());
  const snapshot = await consentSnapshot(server.pool);
  return {
    userConsents: snapshot.userConsents.filter((row) => !ids.has(row.user_id)),
    adminConsents: snapshot.adminConsents,
    grants: snapshot.grants.filter((row) => !ids.has(row.account_id)),
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
    const { samples, flows } = await load.stop();

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
    // The consents given meanwhile, each writer trying until theirs reached the app: every
    // attempt that failed got a 503; each writer who got through has one consent, one grant and
    // one audit event — also when an attempt cut off after its commit came before (never twice);
    // the writer still trying when the load stopped has nothing, or the consent whole (its grant
    // is built at the next sign-in), never half.
    const failed = flows.filter((flow) => flow.outcome !== 'code');
    const completed = [...new Set(flows.filter((flow) => flow.outcome === 'code').map((flow) => flow.username))];
    const tried = [...new Set(flows.map((flow) => flow.username))];
    t.ok(
      completed.length >= 2,
      `${flows.length} consent attempts by ${tried.length} writers, ${completed.length} through`,
    );
    t.ok(
      failed.some((flow) => flow.startedAt >= outageFrom && flow.startedAt < outageTo),
      `${failed.length} attempts cut off by the outage`,
    );
    t.ok(
      flows.some((flow) => flow.outcome === 'code' && flow.startedAt > outageTo),
      'consents went through again after it',
    );
    t.same(
      failed
        .filter((flow) => flow.outcome !== 503 && flow.outcome !== 'temporarily_unavailable')
        .map((flow) => `${flow.username}: ${flow.outcome}`),
      [],
      'every attempt that failed got a 503, or temporarily_unavailable at the app',
    );
    const state = await writersState();
    t.same(
      state.filter((writer) => completed.includes(writer.username)),
      completed.map(CONSENTED),
      'each writer who got through: one consent, one grant, one audit event',
    );
    const stillTrying = state.filter(
      (writer) => tried.includes(writer.username) && !completed.includes(writer.username),
    );
    t.same(
      stillTrying,
      stillTrying.map((writer) =>
        (writer.consents.length === 0 ? UNTOUCHED : writer.grants === 0 ? RECORDED : CONSENTED)(writer.username),
      ),
      'the writer still trying: nothing, or the consent whole',
    );
    t.same(
      state.filter((writer) => !tried.includes(writer.username)),
      WRITERS.filter((username) => !tried.includes(username)).map(UNTOUCHED),
      'nothing for those who did not try',
    );
    for (const { username } of stillTrying) t.equal(await consentFlow(username), 'code', `${username} again`);
    t.same(
      (await writersState()).filter((writer) => tried.includes(writer.username)),
      tried.map(CONSENTED),
      'then every writer has exactly one consent, one grant and one audit event',
    );

    t.same(await othersSnapshot(), othersBefore, "everyone else's consents and grants unchanged");
    const after = await consentSnapshot(server.pool);
    const writerEvents = (await writersState()).reduce((sum, writer) => sum + writer.auditEvents, 0);
    t.equal(after.auditEvents, before.auditEvents + writerEvents, "no audit event but the writers' added or lost");
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
  t.same(await othersSnapshot(), othersBefore, 'consents and grants unchanged');
});
