// Headless Chromium for the browser tests: Debian's `chromium` driven by playwright-core (no
// downloaded browser), an accessibility check with axe-core, and the steps a user takes in our
// pages (sign in with the keyboard), and where the browser is sent at the app's redirect_uri.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as oidc from 'openid-client';
import { type Browser, type BrowserContext, chromium, type Page, type Request } from 'playwright-core';
import type { Test } from 'tap';
import { REDIRECT_URI, type TestApp } from './flows.js';
import { startTestServer, type TestServer } from './server.js';

/** Where CI (`.ci/run`) installs Debian's chromium package. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Tests never leave the machine: every host name but the server's loopback address fails at
  // once, without a DNS query. So the app's redirect_uri host (app.example.test) fails the same
  // way everywhere, after the browser has shown us the URL it was sent to.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

/**
 * Why the browser tests cannot run here, or undefined when they can. Without Chromium (a developer
 * machine) they are skipped; `ACCORD_BROWSER_TESTS=required` (set by `.ci/run`) makes a missing
 * Chromium a failure instead, so CI can never pass by skipping them.
 */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `browser tests need Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium)`;
  if (process.env.ACCORD_BROWSER_TESTS === 'required') throw new Error(`${reason}; ACCORD_BROWSER_TESTS=required`);
  return reason;
}

/**
 * Launches headless Chromium. playwright-core gives each launch a new, empty profile in a
 * temporary `--user-data-dir` and deletes it on close; it also kills the browser if this process
 * exits or is signalled, so no Chromium outlives a test file.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/**
 * Starts the real server and Chromium side by side, and closes both when the test file ends,
 * whichever of them started (and even when the tests fail).
 */
export async function startServerAndBrowser(
  t: Test,
  env: Record<string, string> = {},
): Promise<{ server: TestServer; browser: Browser }> {
  const [server, browser] = await Promise.allSettled([
    startTestServer({ SIGN_IN_RATE_LIMIT: '1000', ...env }),
    launchChromium(),
  ]);
  t.teardown(() =>
    closeAll(
      browser.status === 'fulfilled' ? () => browser.value.close() : undefined,
      server.status === 'fulfilled' ? () => server.value.close() : undefined,
    ),
  );
  if (server.status === 'rejected') throw server.reason;
  if (browser.status === 'rejected') throw browser.reason;
  return { server: server.value, browser: browser.value };
}

/**
 * A fresh browser context: its own cookies, an empty cache, a fixed viewport and locale; with
 * `javaScriptEnabled: false`, a browser whose pages run no script.
 */
export async function newUserContext(
  browser: Browser,
  options: { javaScriptEnabled?: boolean } = {},
): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: { width: 1024, height: 900 },
    locale: 'en-GB',
    reducedMotion: 'reduce',
    ...options,
  });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  return context;
}

const axeSource: string = (createRequire(import.meta.url)('axe-core') as { source: string }).source;

export interface AxeViolation {
  id: string;
  impact: string | null | undefined;
  help: string;
  nodes: string[];
}

export interface AxeReport {
  violations: AxeViolation[];
  /** How many rules applied to the page and passed: zero would mean axe checked nothing. */
  passed: number;
}

/**
 * Runs axe-core (all its rules: WCAG 2.x A/AA and best practices) on the page. axe is injected
 * through the DevTools protocol (page.evaluate), which our Content-Security-Policy
 * (`script-src 'self'`) does not govern: `page.addScriptTag({ content })` adds an inline <script>
 * that the CSP rightly blocks, and the tests keep the real CSP on.
 */
export async function runAxe(page: Page): Promise<AxeReport> {
  const loaded = await page.evaluate(() => 'axe' in globalThis);
  if (!loaded) await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: typeof import('axe-core') }).axe;
    const results = await axe.run(document, { resultTypes: ['violations'] });
    return {
      passed: results.passes.length,
      violations: results.violations.map((violation) => ({
        id: violation.id,
        impact: violation.impact,
        help: violation.help,
        nodes: violation.nodes.map((node) => node.target.join(' ')),
      })),
    };
  });
}

/** The violations a user of assistive technology would be blocked or badly hindered by. */
export function seriousViolations(violations: AxeViolation[]): AxeViolation[] {
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}

export function describeViolations(violations: AxeViolation[]): string {
  return violations
    .map((violation) => `${violation.impact ?? '?'} ${violation.id}: ${violation.help} (${violation.nodes.join(', ')})`)
    .join('\n');
}

/**
 * Asserts that axe found no serious or critical violation on the page (and did check it); lesser
 * findings are printed as comments.
 */
export async function assertAccessible(t: Test, page: Page, what: string): Promise<void> {
  const { violations, passed } = await runAxe(page);
  const serious = seriousViolations(violations);
  const minor = violations.filter((violation) => !serious.includes(violation));
  if (minor.length > 0) t.comment(`axe, moderate/minor on ${what}:\n${describeViolations(minor)}`);
  t.ok(passed > 0, `axe checked the ${what} page`);
  t.same(
    serious,
    [],
    `axe finds nothing serious or critical on the ${what} page${serious.length > 0 ? `:\n${describeViolations(serious)}` : ''}`,
  );
}

/**
 * Checks a page as a person would meet it: it carries its `data-page` marker, shows no template
 * leftovers (an object or an undefined value printed into the page), and axe finds nothing serious.
 */
export async function checkPage(t: Test, page: Page, marker: string, what: string): Promise<void> {
  t.equal(await pageMarker(page), marker, `the ${what} page is marked data-page="${marker}"`);
  const text = await page.locator('body').textContent();
  t.notMatch(text, /\[object \w+\]|\bundefined\b|\bNaN\b/, `the ${what} page shows no template leftovers`);
  await assertAccessible(t, page, what);
}

/** The `data-page` marker of the page the browser shows (docs/interfaces.md, "Pages"). */
export async function pageMarker(page: Page): Promise<string | null> {
  return page.locator('body').getAttribute('data-page');
}

export async function waitForPage(page: Page, marker: string): Promise<void> {
  await page.locator(`body[data-page="${marker}"]`).waitFor({ state: 'attached' });
}

export interface BrowserAuthorization {
  url: URL;
  verifier: string;
  state: string;
}

/** The /auth URL an app would send the user to (PKCE S256, state), as openid-client builds it. */
export async function authorizationUrl(app: TestApp, params: Record<string, string>): Promise<BrowserAuthorization> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(app.config, {
    redirect_uri: REDIRECT_URI,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  return { url, verifier, state };
}

/**
 * Signs in on the login page the way a person does: the username field has the focus on arrival
 * (autofocus), they type it, Tab to the password, type it and press Enter.
 */
export async function signInWithKeyboard(page: Page, username: string, password: string): Promise<void> {
  await waitForPage(page, 'login');
  const field = page.getByLabel('Username');
  await field.waitFor();
  if ((await page.evaluate(() => document.activeElement?.id)) !== 'username') await field.focus();
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}

/**
 * Resolves with the URL the browser was sent to at the app: the main frame's navigation to the
 * redirect_uri, which then fails (its host does not resolve, see CHROMIUM_ARGS). It is not answered
 * with `page.route(…).fulfill`: every way to the app here is a 303 from us, and Playwright continues
 * the target of a redirect it has seen without calling any route (microsoft/playwright#33882), so
 * whether a route fires would depend on the redirect chain.
 */
export async function appCallback(page: Page): Promise<URL> {
  // Chromium then commits its error page; a page.goto started before that is interrupted by it,
  // so wait for it (briefly: it may have come and gone already).
  const errorPage = page
    .waitForEvent('framenavigated', {
      predicate: (frame) => frame === page.mainFrame() && frame.url().startsWith('chrome-error:'),
      timeout: 30_000,
    })
    .catch(() => undefined);
  const request = await page.waitForEvent(
    'requestfailed',
    (candidate: Request) =>
      candidate.url().startsWith(REDIRECT_URI) &&
      candidate.isNavigationRequest() &&
      candidate.frame() === page.mainFrame(),
  );
  await Promise.race([errorPage, new Promise((resolve) => setTimeout(resolve, 2_000))]);
  return new URL(request.url());
}

/**
 * page.goto for a URL that may end at the app (e.g. /auth with nothing left to ask): that
 * navigation fails by design (see appCallback); any other failure is thrown.
 */
export async function gotoMayReachApp(page: Page, url: string): Promise<void> {
  try {
    await page.goto(url);
  } catch (error) {
    if (!(error instanceof Error && error.message.includes('net::ERR_NAME_NOT_RESOLVED'))) throw error;
  }
}

/** Closes everything a test file opened, in order, even when one of them fails to close. */
export async function closeAll(...closers: Array<(() => Promise<unknown>) | undefined>): Promise<void> {
  const errors: unknown[] = [];
  for (const close of closers) {
    if (!close) continue;
    try {
      await close();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}
