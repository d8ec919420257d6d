// Graduated consent end to end (issue 14): the user consent setting, permission classifications
// and risk-based step-up as a real RP (openid-client), a cookie-keeping browser, the real server
// and the real CLI in its own process see them. The CLI's changes reach the running server
// through the announcement on accord_consent_policy_changed.

import t from 'tap';
import { runAccord } from '../support/accord-cli.js';
import { Browser, pageName } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  exchangeCode,
  registerApp,
  signInOnPage,
  startAuthorization,
  type TestApp,
} from '../support/flows.js';
import { PASSWORD, seedPeople } from '../support/people.js';
import { startTestServer } from '../support/server.js';

// Each CLI run is a process under the runner's loader (~1.5 s of CPU).
t.setTimeout(600_000);

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
const { directory, pool } = server;

const as = await seedPeople(directory, [
  ['contoso', 'admin', 'admin'],
  ['contoso', 'alice', 'user'],
  ['contoso', 'bob', 'user'],
  ['contoso', 'dave', 'user'],
  ['fabrikam', 'carol', 'user'],
]);

const SCOPES = ['openid', 'profile', 'User.Read', 'Calendars.Read', 'Files.Read'];
const verifiedApp = await registerApp(server, { tenant: 'fabrikam', name: 'Verified Planner', scopes: SCOPES });
await directory.setPublisherVerified(verifiedApp.clientId, true, 'operator');
const unverifiedApp = await registerApp(server, { tenant: 'fabrikam', name: 'Unverified Notes', scopes: SCOPES });

async function reachDecision(app: TestApp, user: string, params: Record<string, string>) {
  const browser = new Browser(server.url);
  const auth = await startAuthorization(browser, app, params);
  const page =
    pageName(auth.page.body) === 'login'
      ? await signInOnPage(browser, auth.page, as(user).signIn, PASSWORD)
      : auth.page;
  return { auth, page, browser };
}

async function cli(args: string[]) {
  const run = await runAccord(server.database.url, [...args, '--json']);
  if (run.code !== 0) throw new Error(`accord ${args.join(' ')} exited with ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

/** The server hears the CLI's change a moment after the CLI's commit: wait for its decision to follow. */
async function serverDecides(user: string, app: TestApp, scopes: string[], outcome: string) {
  for (const started = Date.now(); Date.now() - started < 5_000; ) {
    const evaluation = await server.accord.services.consent.evaluate(as(user).id, app.clientId, scopes);
    if (evaluation?.decision.outcome === outcome) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the server did not come to decide ${outcome}`);
}

t.test('verified-low-impact, classify and back to all, as the issue says', async (t) => {
  t.match(await cli(['tenant', 'set-user-consent', 'contoso', 'verified-low-impact']), {
    tenant: 'contoso',
    user_consent: 'verified-low-impact',
  });

  await t.test('a verified app asking for openid User.Read gets the consent page', async (t) => {
    const { auth, page, browser } = await reachDecision(verifiedApp, 'alice@contoso', { scope: 'openid User.Read' });
    t.equal(pageName(page.body), 'consent');
    const tokens = await exchangeCode(verifiedApp, appRedirect(await answerConsent(browser, page, 'accept')), auth);
    t.ok(tokens.access_token);
  });

  await t.test('the same app asking for Calendars.Read needs admin approval, naming the reason', async (t) => {
    const { page, browser } = await reachDecision(verifiedApp, 'bob@contoso', { scope: 'openid Calendars.Read' });
    t.equal(pageName(page.body), 'needs-admin-approval');
    t.match(page.body, /data-reason="consent_policy" data-rule="not_low_impact"/);
    t.match(page.body, /only lets you consent to low-impact permissions/);
    t.match(page.body, /Calendars\.Read/);
    // The admin sees the same reason on the request, and the audit event records it.
    await browser.submit(page, /\/request-approval$/, { reason: 'for my week' });
    const { rows } = await pool.query(
      `SELECT approval_rule FROM consent_requests WHERE tenant_id = 'contoso' AND user_id = $1`,
      [as('bob@contoso').id],
    );
    t.match(rows[0].approval_rule, { id: 'not_low_impact', row: 8, scopes: ['Calendars.Read'] });
    const events = await pool.query(
      `SELECT details FROM audit_events WHERE tenant_id = 'contoso' AND action = 'consent_request.opened'`,
    );
    t.match(events.rows[0].details, { rule: 'not_low_impact', because: /low-impact permissions/ });
  });

  await t.test('a silent request for it answers consent_required', async (t) => {
    // Alice consented to openid User.Read above: signing in goes straight back to the app.
    const signedIn = await reachDecision(verifiedApp, 'alice@contoso', { scope: 'openid User.Read' });
    appRedirect(signedIn.page);
    const silent = await startAuthorization(signedIn.browser, verifiedApp, {
      scope: 'openid Calendars.Read',
      prompt: 'none',
    });
    t.equal(new URL(silent.page.headers.get('location')!).searchParams.get('error'), 'consent_required');
  });

  await t.test('an unverified app asking for User.Read needs admin approval', async (t) => {
    const { page } = await reachDecision(unverifiedApp, 'alice@contoso', { scope: 'openid User.Read' });
    t.equal(pageName(page.body), 'needs-admin-approval');
    t.match(page.body, /data-rule="unverified_publisher"/);
    t.match(page.body, /only lets you consent to apps from verified publishers/);
  });

  await t.test('after classifying Calendars.Read low the user may consent to it', async (t) => {
    t.match(await cli(['permission', 'classify', 'contoso', 'Calendars.Read', 'low']), {
      scope: 'Calendars.Read',
      from: 'medium',
      to: 'low',
    });
    await serverDecides('dave@contoso', verifiedApp, ['openid', 'Calendars.Read'], 'consent');
    const { auth, page, browser } = await reachDecision(verifiedApp, 'dave@contoso', {
      scope: 'openid Calendars.Read',
    });
    t.equal(pageName(page.body), 'consent');
    const tokens = await exchangeCode(verifiedApp, appRedirect(await answerConsent(browser, page, 'accept')), auth);
    t.match(tokens.scope, /Calendars\.Read/);
  });

  await t.test("set-user-consent all restores the seed's rule", async (t) => {
    t.match(await cli(['tenant', 'set-user-consent', 'contoso', 'all']), { user_consent: 'all' });
    const unverified = await reachDecision(unverifiedApp, 'alice@contoso', { scope: 'openid User.Read Files.Read' });
    t.equal(pageName(unverified.page.body), 'consent');
    const medium = await reachDecision(verifiedApp, 'bob@contoso', { scope: 'openid Files.Read' });
    t.equal(pageName(medium.page.body), 'consent');
  });

  const changes = await pool.query(
    `SELECT action, details FROM audit_events WHERE tenant_id = 'contoso'
      AND action IN ('tenant.user_consent.changed', 'permission.classified') ORDER BY id`,
  );
  t.match(changes.rows, [
    { action: 'tenant.user_consent.changed', details: { from: 'all', to: 'verified-low-impact' } },
    { action: 'permission.classified', details: { from: 'medium', to: 'low' } },
    { action: 'tenant.user_consent.changed', details: { from: 'verified-low-impact', to: 'all' } },
  ]);
});

t.test('risk-based step-up sends a new unverified app from another tenant to an admin', async (t) => {
  const risky = await registerApp(server, { tenant: 'fabrikam', name: 'Brand New Mailer', scopes: SCOPES });
  // Registered five days ago, as the database records it: the decision compares it with now.
  await pool.query(`UPDATE apps SET created_at = now() - interval '5 days' WHERE client_id = $1`, [risky.clientId]);

  const before = await reachDecision(risky, 'alice@contoso', { scope: 'openid Files.Read' });
  t.equal(pageName(before.page.body), 'consent', 'off by default: the seed’s behaviour');

  t.match(await cli(['tenant', 'set-risk-step-up', 'contoso', 'on']), { risk_step_up: true, risk_step_up_days: 30 });
  const { page, browser } = await reachDecision(risky, 'alice@contoso', { scope: 'openid Files.Read' });
  t.equal(pageName(page.body), 'needs-admin-approval');
  t.match(page.body, /data-reason="risky_app" data-rule="risky_app"/);
  t.match(page.body, /registered less than 30 days ago/);
  // The same page again (a reload): nothing more is recorded for this sign-in.
  const reloaded = await browser.visit(page.url);
  t.equal(pageName(reloaded.body), 'needs-admin-approval');
  const detected = await pool.query(
    `SELECT actor, target, details FROM audit_events WHERE tenant_id = 'contoso' AND action = 'consent.risky_app_detected'`,
  );
  t.equal(detected.rows.length, 1, 'recorded once for the sign-in, reload or not');
  t.match(detected.rows[0], {
    actor: as('alice@contoso').id,
    target: risky.clientId,
    details: { publisherTenantId: 'fabrikam', scopes: ['openid', 'Files.Read'], rule: 'risky_app' },
  });
  // The page shown several times at the same moment (two tabs, a double reload): still once.
  const { consent } = server.accord.services;
  const bob = as('bob@contoso').id;
  const evaluation = await consent.evaluate(bob, risky.clientId, ['openid', 'Files.Read']);
  t.equal(evaluation?.decision.outcome, 'needs_admin_approval');
  await Promise.all(Array.from({ length: 6 }, () => consent.recordRiskyAppDetected(bob, evaluation!, 'shown-at-once')));
  const atOnce = await pool.query(
    `SELECT 1 FROM audit_events WHERE action = 'consent.risky_app_detected' AND details @> '{"interaction":"shown-at-once"}'`,
  );
  t.equal(atOnce.rowCount, 1, 'recorded once when shown six times at once');

  const signInOnly = await reachDecision(risky, 'bob@contoso', { scope: 'openid profile User.Read' });
  t.equal(pageName(signInOnly.page.body), 'consent', 'sign-in and profile only is no risk');

  const admin = await reachDecision(risky, 'admin@contoso', { scope: 'openid Files.Read' });
  t.equal(pageName(admin.page.body), 'consent', 'an admin may still consent');

  // Older than N days: no longer new.
  await pool.query(`UPDATE apps SET created_at = now() - interval '31 days' WHERE client_id = $1`, [risky.clientId]);
  const older = await reachDecision(risky, 'dave@contoso', { scope: 'openid Files.Read' });
  t.equal(pageName(older.page.body), 'consent');

  // --days moves the line.
  t.match(await cli(['tenant', 'set-risk-step-up', 'contoso', 'on', '--days', '60']), { risk_step_up_days: 60 });
  const longer = await reachDecision(risky, 'dave@contoso', { scope: 'openid Files.Read' });
  t.equal(pageName(longer.page.body), 'needs-admin-approval');
  t.match(longer.page.body, /registered less than 60 days ago/);

  t.match(await cli(['tenant', 'set-risk-step-up', 'contoso', 'off']), { risk_step_up: false });
  const off = await reachDecision(risky, 'dave@contoso', { scope: 'openid Files.Read' });
  t.equal(pageName(off.page.body), 'consent');
});
