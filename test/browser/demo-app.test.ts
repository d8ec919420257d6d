// `accord demo-app` in headless Chromium against the real server: the seeded demo (`seedDemo`, as
// `npm start` runs it) and the demo app in its own process with the credentials the seed kept in
// DATA_DIR. A person signs in, consents, sees the ID token's and the access token's claims, calls
// the data API, refreshes, and signs out at Accord; then the app's page says so and Accord asks
// for a password again. UPDATE_SCREENSHOTS=1 writes docs/demo-app.png (README).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { seedDemo } from '../../src/services/demo-seed.js';
import { coveredChildEnv, sourceCommand } from '../support/child-env.js';
import {
  assertAccessible,
  checkPage,
  chromiumSkipReason,
  newUserContext,
  signInWithKeyboard,
  startServerAndBrowser,
  waitForPage,
} from '../support/chromium.js';
import { repoRoot } from '../support/database.js';
import { freePort } from '../support/server.js';

t.setTimeout(480_000);

const skip = chromiumSkipReason();
if (skip) t.test('the demo app in a real browser', { skip }, () => undefined);
else await main();

/** The demo app's process; resolves with what it announced on stdout (--json) once it listens. */
function startDemoApp(args: string[], env: Record<string, string>) {
  const { NODE_OPTIONS: _runnerHooks, ...inherited } = process.env;
  const child: ChildProcess = spawn(
    process.execPath,
    sourceCommand(path.join(repoRoot, 'test/fixtures/accord-cli.ts'), ['demo-app', ...args, '--json']),
    { cwd: repoRoot, env: coveredChildEnv({ ...inherited, ...env }), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const announced = new Promise<Record<string, string>>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.trimEnd().endsWith('}')) resolve(JSON.parse(stdout) as Record<string, string>);
    });
    void exited.then((code) => reject(new Error(`demo-app exited with ${code}: ${stderr}`)));
  });
  return { child, announced, exited, stderr: () => stderr };
}

async function main() {
  const { server, browser } = await startServerAndBrowser(t);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'accord-demo-app-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const seed = await seedDemo(server.pool, dataDir);
  const alice = seed.users.find((user) => user.signIn === 'alice@contoso')!;

  // The seeded app points at :8080; this test's demo app listens on a port of its own.
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  await server.directory.updateApp(
    'fabrikam',
    seed.app.client_id,
    { redirectUris: [`${origin}/callback`], postLogoutRedirectUris: [`${origin}/`] },
    'operator',
  );
  const demo = startDemoApp(['--issuer', server.url, '--port', String(port)], { DATA_DIR: dataDir });
  t.teardown(async () => {
    if (demo.child.exitCode === null) demo.child.kill('SIGKILL');
    await demo.exited;
  });

  t.test('the demo app announces where it listens, with the seeded app as its default client', async (t) => {
    t.same(await demo.announced, {
      url: `http://localhost:${port}`,
      issuer: server.url,
      client_id: seed.app.client_id,
    });
  });

  /** A person's browser; generous waits, as a sign-in (argon2) on a busy machine takes a while. */
  async function userContext() {
    const context = await newUserContext(browser);
    context.setDefaultTimeout(30_000);
    context.setDefaultNavigationTimeout(30_000);
    return context;
  }

  const claim = (page: Page, token: 'id_token' | 'access_token', name: string) =>
    page
      .locator(`[data-claims="${token}"] tr`, { has: page.locator(`th code`, { hasText: new RegExp(`^${name}$`) }) })
      .locator('td code');

  async function click(page: Page, action: string) {
    await Promise.all([page.waitForLoadState('load'), page.locator(`[data-action="${action}"]`).click()]);
  }

  t.test('sign in, consent, claims, data calls, refresh, sign out', async (t: Test) => {
    const context = await userContext();
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await checkPage(t, page, 'demo-app', 'demo app (signed out)');
    t.equal(await page.locator('body').getAttribute('data-signed-in'), 'false');

    await page.locator('[data-action="sign-in"]').click();
    await signInWithKeyboard(page, alice.signIn, alice.password);
    await waitForPage(page, 'consent');
    t.ok(
      await page.locator('[data-list="requested"] [data-scope="Calendars.Read"]').count(),
      'consent lists the calendar',
    );
    await page.locator('button[name="decision"][value="accept"]').click();

    await page.locator('body[data-page="demo-app"][data-signed-in="true"]').waitFor();
    await checkPage(t, page, 'demo-app', 'demo app (signed in)');
    t.equal(await page.locator('[data-notice]').getAttribute('data-notice'), 'signed-in');
    t.equal(await claim(page, 'id_token', 'sub').textContent(), alice.id, "the ID token's sub is alice's id");
    t.equal(await claim(page, 'id_token', 'aud').textContent(), seed.app.client_id, 'for this app');
    t.equal(await claim(page, 'id_token', 'preferred_username').textContent(), 'alice@contoso');
    t.equal(
      await claim(page, 'access_token', 'aud').textContent(),
      `${server.url}/data/v1`,
      'the access token is for the data API',
    );
    t.same((await claim(page, 'access_token', 'scope').textContent())!.split(' ').sort(), [
      'Calendars.Read',
      'User.Read',
    ]);
    t.equal(await page.locator('[data-refresh-token]').getAttribute('data-refresh-token'), 'present');

    await click(page, 'me');
    const me = page.locator('[data-result="me"]');
    t.equal(await me.getAttribute('data-status'), '200', '/data/v1/me answers');
    t.match(await me.locator('pre').textContent(), /"username": "alice"/);

    await click(page, 'calendar');
    const calendar = page.locator('[data-result="calendar"]');
    t.equal(await calendar.getAttribute('data-status'), '200', 'the calendar answers');
    t.match(await calendar.locator('pre').textContent(), /"subject": "Planning"/, "alice's seeded events");

    if (process.env.UPDATE_SCREENSHOTS) {
      const file = path.join(repoRoot, 'docs/demo-app.png');
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
      t.comment(`screenshot written to ${file}`);
    }

    const firstJti = await claim(page, 'access_token', 'jti').textContent();
    await click(page, 'refresh');
    t.equal(await page.locator('[data-notice]').getAttribute('data-notice'), 'refreshed');
    t.not(await claim(page, 'access_token', 'jti').textContent(), firstJti, 'a new access token');
    t.equal(await claim(page, 'id_token', 'sub').textContent(), alice.id, 'still alice');
    await click(page, 'me');
    t.equal(await page.locator('[data-result="me"]').getAttribute('data-status'), '200', 'the new token works');
    await assertAccessible(t, page, 'demo app with results');

    await page.locator('[data-action="logout"]').click();
    await waitForPage(page, 'logout');
    await page.locator('button[name="logout"][value="yes"]').click();
    await page.locator('body[data-page="demo-app"][data-signed-in="false"]').waitFor();
    t.equal(
      await page.locator('[data-notice]').getAttribute('data-notice'),
      'signed-out',
      'back at the app, signed out',
    );

    await page.locator('[data-action="sign-in"]').click();
    await waitForPage(page, 'login');
    t.pass('signing in again asks for the password: the session at Accord has ended');
  });

  t.test('a form without its CSRF token is refused; pages are no-store and cannot be framed', async (t) => {
    const refused = await fetch(`${origin}/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '_csrf=forged',
    });
    t.equal(refused.status, 403);
    const page = await fetch(`${origin}/`);
    t.match(page.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    t.equal(page.headers.get('cache-control'), 'no-store');
  });

  t.test('a denied consent comes back as an error on the page', async (t) => {
    const context = await userContext();
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.locator('[data-action="sign-in"]').click();
    await signInWithKeyboard(page, alice.signIn, alice.password);
    await waitForPage(page, 'consent');
    await page.locator('button[name="decision"][value="deny"]').click();
    await page.locator('body[data-page="demo-app"] [data-error]').waitFor();
    t.match(await page.locator('[data-error]').textContent(), /access_denied/);
    t.equal(await page.locator('body').getAttribute('data-signed-in'), 'false');
  });

  t.test(
    'once alice is disabled, the data API refuses the token and the refresh fails: the page shows both',
    async (t) => {
      const context = await userContext();
      t.teardown(() => context.close());
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      await page.locator('[data-action="sign-in"]').click();
      await signInWithKeyboard(page, alice.signIn, alice.password);
      await waitForPage(page, 'consent');
      await page.locator('button[name="decision"][value="accept"]').click();
      await page.locator('body[data-page="demo-app"][data-signed-in="true"]').waitFor();

      await server.directory.setUserDisabled('contoso', alice.id, true, 'operator');
      await click(page, 'me');
      const me = page.locator('[data-result="me"]');
      t.equal(await me.getAttribute('data-status'), '401', 'the answer as the API gave it');
      t.match(await me.locator('pre').textContent(), /"error": "invalid_token"/);
      await click(page, 'refresh');
      t.match(await page.locator('[data-error]').textContent(), /The refresh was refused: invalid_grant/);
    },
  );

  t.test('SIGTERM stops the demo app cleanly', async (t) => {
    demo.child.kill('SIGTERM');
    t.equal(await demo.exited, 0);
    t.equal(demo.stderr(), '');
  });
}
