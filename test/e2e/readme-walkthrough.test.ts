// README's walkthrough, run as written: every `sh` block between `<!-- walkthrough -->` and
// `<!-- /walkthrough -->` in README.md, in order, in a shell, from the checkout, on a fresh
// embedded database (DATA_DIR in a temporary folder) — `npm start` and `npx accord demo-app` as
// the long-running processes a reader starts in their terminals — and in between, in Chromium,
// what the text asks the reader to do: sign in through the demo app as alice@contoso with the
// password `npm start` printed, and then as erin@adatum through the app the walkthrough registers.
// The environment adds only PORT (a free port, not 3000, which may be taken here),
// SHUTDOWN_GRACE_MS=0 (a quick stop) and DATA_DIR; `npm install` has already run in this checkout.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Page } from 'playwright-core';
import t from 'tap';
import { CHROMIUM_PATH, chromiumSkipReason, signInWithKeyboard, waitForPage } from '../support/chromium.js';
import { repoRoot } from '../support/database.js';
import { freePort } from '../support/server.js';

t.setTimeout(900_000);

/**
 * How many processes of a process group are alive. A zombie still answers kill(-group, 0) (a
 * container's PID 1 may never reap an orphan), so this reads /proc: `pid (comm) state ppid pgrp …`.
 */
function liveProcessesIn(group: number): number {
  let live = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group && state !== 'Z') live++;
  }
  return live;
}

/** The shell blocks of the walkthrough, in order. */
export function walkthroughBlocks(readme: string): string[] {
  const start = readme.indexOf('<!-- walkthrough -->');
  const end = readme.indexOf('<!-- /walkthrough -->');
  if (start === -1 || end < start)
    throw new Error('README.md has no <!-- walkthrough --> … <!-- /walkthrough --> section');
  return [...readme.slice(start, end).matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

const skip = chromiumSkipReason();
if (skip) t.test("README's walkthrough", { skip }, () => undefined);
else await main();

interface Service {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

async function main() {
  const blocks = walkthroughBlocks(readFileSync(path.join(repoRoot, 'README.md'), 'utf8'));
  const [startAccord, startDemoApp, createPeople, createAppAndDemo, operate] = blocks;
  t.equal(blocks.length, 5, 'the walkthrough has the five steps this test follows');
  t.equal(startAccord, 'npm install && npm start\n');
  t.equal(startDemoApp, 'npx accord demo-app\n');

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'accord-walkthrough-'));
  // Running as root, the embedded PostgreSQL runs as the postgres OS user, who must enter it.
  await chmod(dataDir, 0o755);
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? os.homedir(),
    PORT: String(port),
    DATA_DIR: dataDir,
    SHUTDOWN_GRACE_MS: '0',
  };

  const services: Service[] = [];
  t.teardown(async () => {
    for (const service of services.reverse()) await stop(service);
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  /** A block as a reader runs it in a terminal of its own, still running. */
  function startService(script: string): Service {
    // Its own process group, so that the stop reaches npm's and npx's children.
    const child = spawn('sh', ['-ec', script], {
      cwd: repoRoot,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const service = { child, output: () => output, exited };
    services.push(service);
    return service;
  }

  /**
   * Stops a service's whole process group and waits until no process in it is alive: the shell dies
   * at the SIGTERM at once, while npm's node and its embedded PostgreSQL are still shutting down and
   * writing into DATA_DIR, which the teardown removes next.
   */
  async function stop(service: Service): Promise<void> {
    const group = service.child.pid!;
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-group, name);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // ESRCH: the group is empty
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + 20_000;
    while (liveProcessesIn(group) > 0) {
      if (Date.now() > deadline) signal('SIGKILL');
      await sleep(100);
    }
    await service.exited;
  }

  async function until(service: Service, what: string, done: () => Promise<boolean>, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await done().catch(() => false))) {
      if (service.child.exitCode !== null)
        throw new Error(`${what}: exited with ${service.child.exitCode}:\n${service.output()}`);
      if (Date.now() > deadline) throw new Error(`${what}: not ready after ${ms} ms:\n${service.output()}`);
      await sleep(250);
    }
  }

  /** A block run to its end, as a reader pastes it into a shell: it must succeed. */
  function run(script: string): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn('sh', ['-ec', script], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('close', (code) => resolve({ code, output }));
    });
  }

  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Nothing leaves the machine; localhost is what the walkthrough opens.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  });
  t.teardown(() => browser.close());

  async function signInThroughDemoApp(page: Page, demoOrigin: string, username: string, password: string) {
    await page.goto(`${demoOrigin}/`);
    await page.locator('[data-action="sign-in"]').click();
    await signInWithKeyboard(page, username, password);
    await waitForPage(page, 'consent');
    await page.locator('button[name="decision"][value="accept"]').click();
    await page.locator('body[data-page="demo-app"][data-signed-in="true"]').waitFor();
  }

  const claim = (page: Page, token: string, name: string) =>
    page
      .locator(`[data-claims="${token}"] tr`, { has: page.locator('th code', { hasText: new RegExp(`^${name}$`) }) })
      .locator('td code')
      .textContent();

  t.test('npm start, then npx accord demo-app: alice signs in on :8080 and the app calls the data API', async (t) => {
    // `npm install` has run in this checkout already: the rest of the line runs as written.
    const accord = startService(startAccord!.replace(/^npm install && /, ''));
    await until(accord, 'npm start', async () => (await fetch(`${issuer}/readyz`)).status === 200, 300_000);
    const password = /alice@contoso\s+user\s+password: (\S+)/.exec(accord.output())?.[1];
    t.ok(password, "npm start printed alice's password");

    const demo = startService(startDemoApp!);
    await until(demo, 'npx accord demo-app', async () => demo.output().includes('Accord demo app on'), 120_000);
    t.match(demo.output(), `Accord demo app on http://localhost:8080 (issuer ${issuer}`);

    const context = await browser.newContext({ locale: 'en-GB' });
    t.teardown(() => context.close());
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    await signInThroughDemoApp(page, 'http://localhost:8080', 'alice@contoso', password!);
    t.equal(await claim(page, 'id_token', 'preferred_username'), 'alice@contoso');
    t.equal(await claim(page, 'id_token', 'iss'), issuer);
    await page.locator('[data-action="me"]').click();
    t.equal(await page.locator('[data-result="me"]').getAttribute('data-status'), '200');
    await page.locator('[data-action="refresh"]').click();
    t.equal(await page.locator('[data-notice]').getAttribute('data-notice'), 'refreshed');
  });

  t.test('the CLI steps with fresh tenant names: a tenant, users, an app, and the demo app as that app', async (t) => {
    const people = await run(createPeople!);
    t.equal(people.code, 0, `the tenant and users are created:\n${people.output}`);

    const demo = startService(createAppAndDemo!);
    await until(demo, 'app create + demo-app', async () => demo.output().includes('Accord demo app on'), 120_000);
    t.match(demo.output(), 'Accord demo app on http://localhost:8081');

    const context = await browser.newContext({ locale: 'en-GB' });
    t.teardown(() => context.close());
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    await signInThroughDemoApp(page, 'http://localhost:8081', 'erin@adatum', 'erin long password');
    t.equal(await claim(page, 'id_token', 'preferred_username'), 'erin@adatum');
    t.equal(await claim(page, 'id_token', 'name'), 'Erin Example');

    const operated = await run(operate!);
    t.equal(operated.code, 0, `Integrated Apps off and the audit trail:\n${operated.output}`);
    t.match(operated.output, /tenant\.integrated_apps\.changed/);
    t.match(operated.output, /consent\.user\.granted/, "erin's consent is in the trail");
  });
}
