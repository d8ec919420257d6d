// 100 concurrent consent changes on one tenant and app: users consenting, the admin consenting for
// the tenant, users withdrawing their consent (My apps) and admins revoking it (Enterprise apps),
// and sign-ins building grants, all at once. The final state must be consistent, and the audit
// trail must hold exactly one event per change, in an order that replays to that final state.
import t from 'tap';
import type { GrantModel } from '../../src/provider/grant-sync.js';
import { EnterpriseApps } from '../../src/services/enterprise-apps.js';
import { MyApps } from '../../src/services/my-apps.js';
import { registerApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer();
t.teardown(() => server.close());
const { directory, pool } = server;
const { consent, grants: grantSync, catalogue } = server.accord.services;
const Grant = server.accord.provider.Grant as unknown as GrantModel;
const myApps = new MyApps(pool, catalogue);
const enterpriseApps = new EnterpriseApps(pool);

const TENANT = 'contoso';
await directory.createTenant({ id: TENANT, name: 'Contoso' }, 'operator');
const admin = await directory.createUser(
  { tenantId: TENANT, username: 'admin', password: 'correct horse battery', role: 'admin' },
  'operator',
);
const users: string[] = [];
for (let i = 0; i < 10; i++) {
  users.push(
    (
      await directory.createUser(
        { tenantId: TENANT, username: `user${i}`, password: 'correct horse battery', role: 'user' },
        'operator',
      )
    ).id,
  );
}
const USER_SCOPES = [['openid', 'User.Read'], ['Calendars.Read'], ['Files.Read', 'User.Read'], ['Mail.Send']];
// One per admin consent below (20): the app registers every scope the catalogue has for data and sign-in.
const ADMIN_SCOPES = [
  'User.Read.All',
  'Calendars.ReadWrite',
  'Sites.Read.All',
  'profile',
  'email',
  'Files.ReadWrite',
  'offline_access',
];
const app = await registerApp(server, {
  tenant: TENANT,
  scopes: [...new Set([...USER_SCOPES.flat(), ...ADMIN_SCOPES])],
});
const clientId = app.clientId;

// Before the race: every user has consented to sign-in and their profile, and holds a grant.
for (const user of users) {
  await consent.grantUserConsent(user, clientId, ['openid', 'User.Read']);
  await grantSync.loadGrant(Grant, user, clientId);
}
// The race's event ids cross 999 -> 1000, so a replay that ordered them as text would break.
const { rows: startRows } = await pool.query<{ from: string }>(
  "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), greatest(max(id), 960))::text AS from FROM audit_events",
);
const auditFrom = startRows[0]!.from;

type Kind = 'user consent' | 'admin consent' | 'own revocation' | 'admin revocation' | 'sign-in';
interface Operation {
  kind: Kind;
  user: string;
  scopes: string[];
}
// A fixed mix, so every run races the same operations: 40 user consents, 20 admin consents,
// 10 + 10 revocations, 20 sign-ins, spread over the ten users.
const CYCLE: Kind[] = [
  'user consent',
  'admin consent',
  'own revocation',
  'user consent',
  'sign-in',
  'user consent',
  'admin consent',
  'admin revocation',
  'user consent',
  'sign-in',
];
// All hundred start at once; each user has ten, one or two of every kind, so a user's own
// operations race one another. Each admin consent grants a single scope (seven scopes over
// twenty consents), so a lost update shows in the audit trail's replay.
const operations: Operation[] = Array.from({ length: 100 }, (_, i) => {
  const kind = CYCLE[i % CYCLE.length]!;
  const scopes =
    kind === 'admin consent'
      ? [ADMIN_SCOPES[Math.floor(i / 5) % ADMIN_SCOPES.length]!]
      : USER_SCOPES[i % USER_SCOPES.length]!;
  return { kind, user: users[Math.floor(i / CYCLE.length)]!, scopes };
});

/** Runs one operation; resolves to whether the service reported a change (undefined: it does not say). */
async function run(operation: Operation): Promise<boolean | undefined> {
  switch (operation.kind) {
    case 'user consent':
      await consent.grantUserConsent(operation.user, clientId, operation.scopes);
      return undefined;
    case 'admin consent':
      await consent.grantAdminConsent(TENANT, admin.id, clientId, operation.scopes, 'test');
      return true;
    case 'own revocation':
      return myApps.revokeOwnConsent(TENANT, operation.user, clientId);
    case 'admin revocation':
      try {
        return (await enterpriseApps.revokeUserConsent(TENANT, clientId, operation.user, admin.id)).changed;
      } catch (error) {
        if ((error as { status?: number }).status === 404) return false; // nothing to revoke by then
        throw error;
      }
    case 'sign-in':
      await grantSync.loadGrant(Grant, operation.user, clientId);
      return undefined;
  }
}

const outcomes = await Promise.allSettled(operations.map(run));

interface AuditRow {
  id: string;
  actor: string;
  action: string;
  details: { added?: string[]; scopes?: string[]; before?: string[]; userId?: string };
}
const { rows: audit } = await pool.query<AuditRow>(
  // Ordered by the bigint column: `ORDER BY id` would sort the text output column ("100" < "89").
  `SELECT id::text, actor, action, details FROM audit_events WHERE id > $1::bigint AND target = $2::text ORDER BY audit_events.id`,
  [auditFrom, clientId],
);
const { rows: userConsents } = await pool.query<{ user_id: string; scopes: string[]; grant_id: string | null }>(
  `SELECT user_id, scopes, grant_id FROM user_consents WHERE tenant_id = $1::text AND client_id = $2::text`,
  [TENANT, clientId],
);
const { rows: adminConsents } = await pool.query<{ scopes: string[] }>(
  `SELECT scopes FROM admin_consents WHERE tenant_id = $1::text AND client_id = $2::text`,
  [TENANT, clientId],
);
const { rows: grants } = await pool.query<{
  id: string;
  account_id: string;
  openid: string | null;
  resources: Record<string, string> | null;
}>(
  `SELECT id, payload->>'accountId' AS account_id, payload->'openid'->>'scope' AS openid, payload->'resources' AS resources
     FROM oidc_models WHERE model = 'Grant' AND payload->>'clientId' = $1::text`,
  [clientId],
);
// A second app nobody has consented to yet: ten admin consents, one scope each, all at once —
// the first consent for an app inserts its row, so there is no row to lock yet.
const freshApp = await registerApp(server, {
  tenant: TENANT,
  name: 'Fresh App',
  scopes: ['openid', ...ADMIN_SCOPES, ...USER_SCOPES.flat()],
});
const FRESH_SCOPES = [...ADMIN_SCOPES, 'Calendars.Read', 'Files.Read', 'Mail.Send'];
const freshOutcomes = await Promise.allSettled(
  FRESH_SCOPES.map((scope) => consent.grantAdminConsent(TENANT, admin.id, freshApp.clientId, [scope], 'test')),
);
const { rows: freshConsent } = await pool.query<{ scopes: string[] }>(
  'SELECT scopes FROM admin_consents WHERE tenant_id = $1::text AND client_id = $2::text',
  [TENANT, freshApp.clientId],
);
const { rows: freshAudit } = await pool.query<{ before: string[]; scopes: string[] }>(
  `SELECT details->'before' AS before, details->'scopes' AS scopes FROM audit_events WHERE target = $1::text AND action = 'consent.admin.granted' ORDER BY id`,
  [freshApp.clientId],
);

const sorted = (scopes: Iterable<string>) => catalogue.sort([...new Set(scopes)]);
const grantScopes = (grant: (typeof grants)[number]) =>
  sorted(
    [
      ...(grant.openid ?? '').split(' '),
      ...Object.values(grant.resources ?? {}).flatMap((list) => list.split(' ')),
    ].filter(Boolean),
  );

// Known: lockUserConsent (src/db/consents.ts) inserts the row if missing, then SELECTs it FOR
// UPDATE; a revocation that deletes the row in between leaves the SELECT empty, and the caller
// fails with a TypeError (a 500 on the consent page).
const LOCK_USER_CONSENT_RACE = /Cannot read properties of undefined \(reading 'scopes'\)/;

t.test('every operation completed without an error', async (t) => {
  const failures = outcomes.flatMap((outcome, i) =>
    outcome.status === 'rejected'
      ? [`${operations[i]!.kind} ${operations[i]!.user}: ${(outcome.reason as Error).message}`]
      : [],
  );
  t.same(
    failures.filter((failure) => !LOCK_USER_CONSENT_RACE.test(failure)),
    [],
    'no unexpected error',
  );
  t.same(
    failures.filter((failure) => LOCK_USER_CONSENT_RACE.test(failure)),
    [],
    'no consent or revocation fails when the row is deleted under it',
  );
});

t.test('the admin consent is the union of everything the admin granted, audited once per grant', async (t) => {
  t.equal(adminConsents.length, 1, 'one admin consent row');
  t.same(adminConsents[0]?.scopes, sorted(ADMIN_SCOPES), 'no admin grant was lost');
  const events = audit.filter((event) => event.action === 'consent.admin.granted');
  // Every admin consent is recorded, also one adding nothing new: it re-records who granted it
  // and when, and lifts a block.
  t.equal(
    events.length,
    operations.filter((operation) => operation.kind === 'admin consent').length,
    'one audit event per admin consent',
  );
  // Replayed in order, each event starts where the previous one ended.
  let state: string[] = [];
  const breaks: string[] = [];
  for (const event of events) {
    if (JSON.stringify(event.details.before) !== JSON.stringify(state))
      breaks.push(`event ${event.id}: before ${event.details.before} but was ${state}`);
    state = event.details.scopes ?? [];
  }
  t.same(breaks, [], 'the audit trail replays without a gap');
  t.same(state, adminConsents[0]?.scopes, 'and ends at the recorded admin consent');
});

t.test("each user's consent is exactly what the audit trail replays to, one event per change", async (t) => {
  const revocations = operations.flatMap((operation, i) =>
    operation.kind.endsWith('revocation') &&
    outcomes[i]!.status === 'fulfilled' &&
    (outcomes[i] as PromiseFulfilledResult<boolean | undefined>).value
      ? [operation]
      : [],
  );
  const revokedEvents = audit.filter((event) => event.action === 'consent.user.revoked');
  t.equal(
    revokedEvents.length,
    revocations.length,
    `one audit event per revocation that removed something (${revocations.length})`,
  );

  for (const [index, user] of users.entries()) {
    // Replay: the starting consent, then the user's own grants and the revocations of their consent.
    let state = ['openid', 'User.Read'];
    const breaks: string[] = [];
    for (const event of audit) {
      const subject =
        event.action === 'consent.user.granted'
          ? event.actor
          : event.action === 'consent.user.revoked'
            ? (event.details.userId ?? event.actor)
            : undefined;
      if (subject !== user) continue;
      if (event.action === 'consent.user.granted') {
        const added = event.details.added ?? [];
        const before = (event.details.scopes ?? []).filter((scope) => !added.includes(scope));
        if (added.length === 0 || added.some((scope) => state.includes(scope)))
          breaks.push(`event ${event.id} adds ${added}, already had ${state}`);
        if (JSON.stringify(before) !== JSON.stringify(state))
          breaks.push(`event ${event.id}: before ${before} but was ${state}`);
        state = event.details.scopes ?? [];
      } else {
        if (JSON.stringify(event.details.scopes) !== JSON.stringify(state))
          breaks.push(`event ${event.id} revokes ${event.details.scopes} but was ${state}`);
        state = [];
      }
    }
    const row = userConsents.find((consent) => consent.user_id === user);
    t.same(breaks, [], `user${index}: the audit trail replays without a gap or a repeat`);
    t.same(row?.scopes ?? [], state, `user${index}: the consent recorded is where the audit trail ends`);
  }
});

// Known: loadGrant (a sign-in) reads the consent, then saves a Grant and claims the row outside
// any lock; a revocation committed in between leaves a live Grant with the revoked permissions.

t.test('every grant belongs to one consent and holds nothing that was not granted', async (t) => {
  const grantIds = new Set(grants.map((grant) => grant.id));
  t.same(
    userConsents.filter((row) => row.grant_id !== null && !grantIds.has(row.grant_id)).map((row) => row.user_id),
    [],
    "each consent's grant_id is null or an existing grant",
  );
  const referenced = userConsents.flatMap((row) => (row.grant_id ? [row.grant_id] : []));
  t.equal(new Set(referenced).size, referenced.length, 'no grant is shared by two consents');
  t.same(
    grants
      .filter((grant) => !referenced.includes(grant.id))
      .map((grant) => `${grant.id} of ${grant.account_id}: ${grantScopes(grant)}`),
    [],
    'no grant is left behind without a consent (it could still issue tokens)',
  );
  const admin = adminConsents[0]?.scopes ?? [];
  const excess = grants.flatMap((grant) => {
    const row = userConsents.find((consent) => consent.grant_id === grant.id);
    const allowed = new Set([...(row?.scopes ?? []), ...admin]);
    const extra = grantScopes(grant).filter((scope) => !allowed.has(scope));
    return extra.length > 0 ? [`${grant.account_id}: ${extra}`] : [];
  });
  t.same(excess, [], 'no grant holds a permission that is neither the user’s nor the admin’s');
  t.same(
    grants
      .filter((grant) => userConsents.find((row) => row.grant_id === grant.id)?.user_id !== grant.account_id)
      .map((grant) => `${grant.id} of ${grant.account_id}`),
    [],
    'each grant belongs to the user whose consent names it',
  );
});

t.test('admin consents racing on an app with no admin consent yet are all kept', async (t) => {
  t.same(
    freshOutcomes.filter((outcome) => outcome.status === 'rejected'),
    [],
    'every admin consent succeeded',
  );
  t.same(freshConsent[0]?.scopes, sorted(FRESH_SCOPES), 'the admin consent is the union of all ten');
  t.same(
    freshAudit.map((event) => event.before.length),
    FRESH_SCOPES.map((_, i) => i),
    'each audit event starts from what the one before it recorded',
  );
});
