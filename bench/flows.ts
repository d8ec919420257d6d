// The user-facing flows of `npm run bench` (bench/run.ts calls these against the Accord server):
// authorization-code exchange, refresh with rotation, silent re-authorization and the full
// sign-in flow. None of them can be replayed by autocannon with a fixed request (codes and refresh
// tokens are single-use, every flow needs its own cookie jar), so each runs as a loop of
// `concurrency` workers in this process, each with one request (or one flow) in flight, timing
// every request with performance.now(); p50/p99 are computed from all the samples.
import { createHash, randomBytes } from 'node:crypto';
import { Agent, get as httpGet } from 'node:http';
import * as oidc from 'openid-client';
import { Browser, pageName } from '../test/support/browser.js';
import { appRedirect, REDIRECT_URI, signInOnPage, startAuthorization, type TestApp } from '../test/support/flows.js';
import { percentile } from './scale.js';
import { inTurns } from './support.js';

export interface Row {
  server: string;
  name: string;
  rps: number;
  p50: number;
  p99: number;
  peakRssMb: number;
  failed: number;
  /** Server CPU per request (per sample of a flow), ms. */
  cpuMs?: number;
}

export interface FlowContext {
  url: string;
  app: TestApp;
  /** `Basic …` for the app's client_secret_basic. */
  basic: string;
  /** Signs in as these (round robin in the full flow; one refresh chain each). */
  users: { signIn: string; password: string }[];
  concurrency: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Turns Accord and the bare provider take in the code exchange and the refresh (BENCH_ROUNDS). */
  rounds: number;
  /** Codes exchanged in the measured part of the code-exchange case. */
  codes: number;
  /** Resets the server's peak RSS; reads it (MB) after a case. */
  resetPeak(): void;
  peakMb(): number;
  /** SQL statements the server has sent so far (bench/server.ts counts them). */
  statements(): Promise<StatementCount>;
  /** CPU seconds the server process has used so far (user + system). */
  serverCpuSeconds(): number;
  /** CPU seconds all PostgreSQL processes on this machine have used so far (other users' included). */
  postgresCpuSeconds(): number;
  log(line: string): void;
  /**
   * The servers the code exchange and the refresh redeem at, taking turns: Accord's processes and
   * the bare provider's (bench/server.ts bare: the same configuration, keys, adapter and database,
   * served by node:http), all under Accord's issuer, so that each redeems what Accord minted and
   * the provider's own ceiling stands beside Accord's figure. Unset: Accord alone.
   */
  redeemers?: Redeemer[];
}

/** The server a token request is timed on. */
export interface Redeemer {
  server: 'accord' | 'bare';
  url: string;
  serverCpuSeconds(): number;
  statements(): Promise<StatementCount>;
  resetPeak(): void;
  peakMb(): number;
}

/** Accord itself, as the server a case times. */
function accordItself(ctx: FlowContext): Redeemer {
  return { ...ctx, server: 'accord' };
}

export interface StatementCount {
  statements: number;
  /** By statement text (its first 90 characters). */
  byText: Record<string, number>;
  /** The server's garbage-collection pauses so far (the longest: since the previous read). */
  gc: GcPauses;
  /** With BENCH_SERVER_TIMING=1: the requests' time inside the server since the previous read. */
  timing?: ServerTiming;
}

export interface ServerTiming {
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Statements of which some took 10 ms or more (their first 60 characters). */
  slowStatements: Record<string, { over10Ms: number; maxMs: number; count: number }>;
}

export interface GcPauses {
  pauses: number;
  totalMs: number;
  longestMs: number;
  atLeast10Ms: number;
}

interface LoopResult {
  latencies: number[];
  seconds: number;
  failed: number;
  firstError?: string;
  /** CPU seconds used by this (load-generating) process and by the server during the loop. */
  clientCpu: number;
  serverCpu: number;
  postgresCpu: number;
  /** SQL statements the server sent during the loop. */
  statements: number;
  byText: Record<string, number>;
  /** The server's garbage-collection pauses during the loop. */
  gc: GcPauses;
  timing?: ServerTiming;
}

/** One line per case: CPU and SQL statements per sample, how busy each side was. */
export const details: string[] = [];

let serverCpu: () => number = () => 0;
let postgresCpu: () => number = () => 0;
const NO_GC: GcPauses = { pauses: 0, totalMs: 0, longestMs: 0, atLeast10Ms: 0 };
let serverStatements: () => Promise<StatementCount> = async () => ({ statements: 0, byText: {}, gc: NO_GC });

/**
 * Runs `concurrency` workers until `seconds` have passed (or `task` returns false); each call of
 * `task(worker)` is one timed sample: its latency is the call's duration, or the number it returns
 * when it times its request itself.
 */
async function loop(
  concurrency: number,
  seconds: number,
  task: (worker: number) => Promise<unknown>,
): Promise<LoopResult> {
  const latencies: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const server0 = serverCpu();
  const postgres0 = postgresCpu();
  const statements0 = await serverStatements();
  const deadline = started + seconds * 1000;
  let done = false;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (!done && performance.now() < deadline) {
        const t0 = performance.now();
        try {
          const outcome = await task(worker);
          if (outcome === false) {
            done = true;
            break;
          }
          latencies.push(typeof outcome === 'number' ? outcome : performance.now() - t0);
        } catch (error) {
          failed++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const serverCpuUsed = serverCpu() - server0;
  const postgresCpuUsed = postgresCpu() - postgres0;
  const statements1 = await serverStatements();
  const statements = statements1.statements - statements0.statements;
  const byText = Object.fromEntries(
    Object.entries(statements1.byText)
      .map(([text, n]) => [text, n - (statements0.byText[text] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
  return {
    latencies,
    seconds: (performance.now() - started) / 1000,
    failed,
    ...(firstError ? { firstError } : {}),
    clientCpu: (cpu.user + cpu.system) / 1e6,
    serverCpu: serverCpuUsed,
    postgresCpu: postgresCpuUsed,
    statements,
    byText,
    gc: {
      pauses: statements1.gc.pauses - statements0.gc.pauses,
      totalMs: statements1.gc.totalMs - statements0.gc.totalMs,
      longestMs: statements1.gc.longestMs,
      atLeast10Ms: statements1.gc.atLeast10Ms - statements0.gc.atLeast10Ms,
    },
    ...(statements1.timing ? { timing: statements1.timing } : {}),
  };
}

function row(
  name: string,
  result: LoopResult,
  peakMb: number,
  log: (line: string) => void,
  server: Redeemer['server'] = 'accord',
): Row {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  const out: Row = {
    server,
    name,
    rps: sorted.length / result.seconds,
    p50: Number(percentile(sorted, 50).toFixed(1)),
    p99: Number(percentile(sorted, 99).toFixed(1)),
    peakRssMb: peakMb,
    failed: result.failed,
  };
  const samples = Math.max(1, sorted.length + out.failed);
  out.cpuMs = (1000 * result.serverCpu) / samples;
  details.push(
    `${name}: ${sorted.length} samples in ${result.seconds.toFixed(1)} s; latency p90 ${percentile(sorted, 90).toFixed(1)}, ` +
      `p99.9 ${percentile(sorted, 99.9).toFixed(1)}, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms; server CPU ${((1000 * result.serverCpu) / samples).toFixed(2)} ms ` +
      `and ${(result.statements / samples).toFixed(1)} SQL statements per sample, PostgreSQL CPU ${((1000 * result.postgresCpu) / samples).toFixed(2)} ms per sample; ` +
      `server core busy ${Math.round((100 * result.serverCpu) / result.seconds)} %, PostgreSQL ${Math.round((100 * result.postgresCpu) / result.seconds)} % of a core, ` +
      `load generator ${Math.round((100 * result.clientCpu) / result.seconds)} %; ` +
      `server GC: ${result.gc.pauses} pauses, ${(result.gc.totalMs / samples).toFixed(2)} ms per sample, the longest ` +
      `${result.gc.longestMs.toFixed(1)} ms, ${result.gc.atLeast10Ms} of 10 ms or more; ` +
      (result.timing
        ? `inside the server (${result.timing.requests} requests): p50 ${result.timing.p50Ms.toFixed(1)}, p99 ` +
          `${result.timing.p99Ms.toFixed(1)}, max ${result.timing.maxMs.toFixed(1)} ms; event-loop delay p99 ` +
          `${result.timing.loopDelayP99Ms.toFixed(1)}, max ${result.timing.loopDelayMaxMs.toFixed(1)} ms; statements of 10 ms or more: ` +
          (Object.entries(result.timing.slowStatements)
            .map(
              ([text, { over10Ms, maxMs, count }]) =>
                `\`${text}\` ${over10Ms} of ${count} (the slowest ${maxMs.toFixed(1)} ms)`,
            )
            .join(', ') || 'none') +
          '; '
        : '') +
      `statements per sample: ` +
      Object.entries(result.byText)
        .sort((a, b) => b[1] - a[1])
        .map(([text, n]) => `${(n / samples).toFixed(1)}× \`${text}\``)
        .join(', '),
  );
  const busy = (cpuSeconds: number) => `${Math.round((100 * cpuSeconds) / result.seconds)} %`;
  log(
    `  ${server.padEnd(6)}  ${name}: ${Math.round(out.rps)}/s over ${sorted.length} samples in ${result.seconds.toFixed(1)} s; ` +
      `CPU busy: server ${busy(result.serverCpu)} of its core, load generator ${busy(result.clientCpu)}; ` +
      `server CPU ${((1000 * result.serverCpu) / Math.max(1, sorted.length + out.failed)).toFixed(2)} ms and ` +
      `${(result.statements / Math.max(1, sorted.length + out.failed)).toFixed(1)} SQL statements per sample` +
      `${out.failed ? ` (${out.failed} failed: ${result.firstError})` : ''}\n`,
  );
  return out;
}

/** The parts of a FlowContext one request needs (bench/soak.ts calls these directly). */
export type Target = Pick<FlowContext, 'url' | 'app' | 'basic'>;

export async function tokenRequest(ctx: Target, form: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await fetch(`${ctx.url}/token`, {
    method: 'POST',
    headers: { authorization: ctx.basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200 || typeof body.access_token !== 'string')
    throw new Error(`/token ${form.grant_type}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

interface MintedCode {
  code: string;
  verifier: string;
}

/**
 * One silent authorization in a signed-in browser: /auth without prompt, consent already given
 * (admin consent), so the provider answers with a redirect to the app carrying a code. Follows
 * any redirect that stays on our origin (a resume), and fails if a page is shown instead.
 */
export async function silentAuthorization(ctx: Target, browser: Browser, scope: string): Promise<MintedCode> {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(ctx.app.config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('base64url'),
  });
  let response = await browser.request(url.href);
  const location = response.headers.get('location');
  if (location && !location.startsWith(REDIRECT_URI)) {
    // A redirect on our own origin (a resume) before the one to the app: followed.
    response = await browser.visit(new URL(location, url).href);
  }
  const code = appRedirect(response).searchParams.get('code');
  if (!code) throw new Error(`no code in ${response.headers.get('location')}`);
  return { code, verifier };
}

/**
 * Silent authorizations in one signed-in session at a load generator's cost: node:http on kept-alive
 * connections, the session's cookies as its browser holds them (updated from any Set-Cookie), PKCE
 * by node:crypto. The Browser (fetch and a tough-cookie jar, openid-client's WebCrypto PKCE) took
 * 0.6 ms of the load generator's CPU per request on the core it shares with PostgreSQL, 38 % of
 * that core at 10 in flight, and its latency counted the client's own work (bench/README.md,
 * "Session 12"). Each authorization is timed from sending the request to the redirect's last byte.
 */
export class SilentSession {
  private readonly agent: Agent;
  private constructor(
    private readonly target: Target,
    private readonly cookies: Map<string, string>,
    connections: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
  }

  static async of(target: Target, browser: Browser, connections: number): Promise<SilentSession> {
    const held = (await browser.jar.getCookieString(`${target.url}/auth`)).split('; ').filter(Boolean);
    return new SilentSession(target, new Map(held.map(nameAndValue)), connections);
  }

  /** One silent authorization: resolves to its latency (ms) once /auth answered 303 to the app with a code. */
  authorize(scope: string): Promise<number> {
    const verifier = randomBytes(32).toString('base64url');
    const url = oidc.buildAuthorizationUrl(this.target.app.config, {
      redirect_uri: REDIRECT_URI,
      scope,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: randomBytes(8).toString('base64url'),
    });
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    return new Promise((resolve, reject) => {
      const sent = performance.now();
      const request = httpGet(url, { agent: this.agent, headers: { accept: 'text/html', cookie } }, (response) => {
        response.resume();
        response.once('end', () => {
          const latency = performance.now() - sent;
          this.keepCookies(response.headers['set-cookie']);
          const location = response.headers.location ?? '';
          if (response.statusCode === 303 && location.startsWith(REDIRECT_URI) && /[?&]code=/.test(location))
            resolve(latency);
          else reject(new Error(`silent /auth answered ${response.statusCode} ${location || '(no location)'}`));
        });
      });
      request.once('error', reject);
    });
  }

  /** The new values of the session's cookies (the provider sets the same session cookie again each time). */
  private keepCookies(setCookies: string[] | undefined): void {
    for (const setCookie of setCookies ?? []) {
      const [name, value] = nameAndValue(setCookie.split(';', 1)[0]!);
      if (this.cookies.has(name)) this.cookies.set(name, value);
    }
  }

  /** Closes its kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

/** `name=value` as its two parts. */
function nameAndValue(pair: string): [string, string] {
  const at = pair.indexOf('=');
  return [pair.slice(0, at), pair.slice(at + 1)];
}

/** A browser with a signed-in session (one full flow through the login page). */
export async function signedInBrowser(
  ctx: Target,
  user: { signIn: string; password: string },
  scope: string,
): Promise<Browser> {
  const browser = new Browser(ctx.url);
  const auth = await startAuthorization(browser, ctx.app, { scope });
  appRedirect(await signInOnPage(browser, auth.page, user.signIn, user.password));
  return browser;
}

const SCOPE = 'openid User.Read';

/** Lets the loops read the CPU time and statements of the server the case times (Accord unless told). */
function track(ctx: FlowContext, on: Redeemer = accordItself(ctx)): void {
  serverCpu = on.serverCpuSeconds;
  postgresCpu = ctx.postgresCpuSeconds;
  serverStatements = on.statements;
}

/**
 * 3. Silent re-authorization of an admin-consented app in a signed-in session, with
 * `concurrency` in flight (the table's other rows) — and, when `concurrency` is 1, the latency of
 * one request with nothing queued behind it.
 */
export async function silentReauthorization(
  ctx: FlowContext,
  concurrency = ctx.concurrency,
  sessions = 1,
): Promise<Row> {
  ctx = { ...ctx, concurrency };
  track(ctx);
  // `sessions` signed-in browsers, one user each; worker i uses session i mod sessions. Anything
  // but a 303 to the app with a code (a page, or a resume on our own origin) counts as failed.
  const silentSessions: SilentSession[] = [];
  for (let i = 0; i < sessions; i++) {
    const browser = await signedInBrowser(ctx, ctx.users[i % ctx.users.length]!, SCOPE);
    silentSessions.push(await SilentSession.of(ctx, browser, concurrency));
  }
  const task = (worker: number) => silentSessions[worker % sessions]!.authorize(SCOPE);
  await loop(ctx.concurrency, ctx.warmupSeconds, task);
  ctx.resetPeak();
  const result = await loop(ctx.concurrency, ctx.durationSeconds, task);
  for (const session of silentSessions) session.close();
  const label =
    concurrency === 1 ? '1 in flight' : `${concurrency} in flight, ${sessions} session${sessions > 1 ? 's' : ''}`;
  return row(`GET /auth silent, admin consent → 303 code (${label})`, result, ctx.peakMb(), ctx.log);
}

/** A loop's figures with nothing in them yet, to add rounds to. */
function noLoop(): LoopResult {
  return {
    latencies: [],
    seconds: 0,
    failed: 0,
    clientCpu: 0,
    serverCpu: 0,
    postgresCpu: 0,
    statements: 0,
    byText: {},
    gc: { ...NO_GC },
  };
}

/** Adds one round's figures to a server's total. */
function addRound(total: LoopResult, round: LoopResult): void {
  total.latencies.push(...round.latencies);
  total.seconds += round.seconds;
  total.failed += round.failed;
  total.clientCpu += round.clientCpu;
  total.serverCpu += round.serverCpu;
  total.postgresCpu += round.postgresCpu;
  total.statements += round.statements;
  for (const [text, n] of Object.entries(round.byText)) total.byText[text] = (total.byText[text] ?? 0) + n;
  total.gc.pauses += round.gc.pauses;
  total.gc.totalMs += round.gc.totalMs;
  total.gc.longestMs = Math.max(total.gc.longestMs, round.gc.longestMs);
  total.gc.atLeast10Ms += round.gc.atLeast10Ms;
  if (round.firstError) total.firstError ??= round.firstError;
}

/**
 * The context's redeemers (Accord's processes and the bare provider's) taking turns: `ctx.rounds`
 * rounds, each started by the process after the one that started the round before, so that drift
 * in the machine's speed (and the load generator's own) hits them alike; one row per server over
 * all its processes, as for the endpoints (bench/run.ts). Until session 13 Accord and bare ran
 * the case once each, one process each, one after the other: the refresh came out at 79–137 % of
 * bare in runs of the same code. `warm` runs once per process before the first round; `round`
 * runs one process's part of a round and is the timed part.
 */
async function takingTurns(
  ctx: FlowContext,
  name: string,
  warm: (redeemer: Redeemer) => Promise<void>,
  round: (redeemer: Redeemer) => Promise<LoopResult>,
): Promise<Row[]> {
  const redeemers = ctx.redeemers ?? [accordItself(ctx)];
  for (const redeemer of redeemers) {
    track(ctx, redeemer);
    await warm(redeemer);
    redeemer.resetPeak();
  }
  const totals = redeemers.map(noLoop);
  await inTurns(redeemers.length, ctx.rounds, async (index) => {
    track(ctx, redeemers[index]);
    addRound(totals[index]!, await round(redeemers[index]!));
  });
  const servers = [...new Set(redeemers.map((redeemer) => redeemer.server))];
  return servers.map((server) => {
    const mine = redeemers.flatMap((redeemer, index) => (redeemer.server === server ? [index] : []));
    const total = noLoop();
    for (const index of mine) addRound(total, totals[index]!);
    // Seconds add up over the processes (they ran one after the other): req/s is per process.
    ctx.log(
      `  ${server.padEnd(6)}  ${name} per process: ` +
        `${mine.map((index) => `${Math.round(totals[index]!.latencies.length / totals[index]!.seconds)}/s`).join(', ')}\n`,
    );
    return row(name, total, Math.max(...mine.map((index) => redeemers[index]!.peakMb())), ctx.log, server);
  });
}

/**
 * Silent /auth with 1 in flight at several Accord servers taking turns (`rounds` rounds of
 * `seconds / rounds` each, after `warmupSeconds` at each), each in a session of its own user:
 * the consent decision at scale through a request (bench/scale.ts). Each server's latencies, ms.
 */
export async function silentTakingTurns(
  servers: { target: Target; user: { signIn: string; password: string } }[],
  rounds: number,
  seconds: number,
  warmupSeconds: number,
): Promise<number[][]> {
  const sessions: SilentSession[] = [];
  for (const { target, user } of servers)
    sessions.push(await SilentSession.of(target, await signedInBrowser(target, user, SCOPE), 1));
  const run = async (session: SilentSession, forSeconds: number, into: number[]) => {
    const deadline = performance.now() + forSeconds * 1000;
    while (performance.now() < deadline) into.push(await session.authorize(SCOPE));
  };
  try {
    for (const session of sessions) await run(session, warmupSeconds, []);
    const latencies = sessions.map((): number[] => []);
    await inTurns(sessions.length, rounds, (index) => run(sessions[index]!, seconds / rounds, latencies[index]!));
    return latencies;
  } finally {
    for (const session of sessions) session.close();
  }
}

/**
 * 1. Authorization-code exchange. Codes are single-use and live 60 s: they are minted by silent
 * re-authorization at Accord in one signed-in session (10 in flight), in batches, each batch
 * exchanged right after it was minted, at Accord and at the bare provider taking turns (a batch
 * of `ctx.codes / ctx.rounds` each per round); only the exchanges are timed.
 */
export async function codeExchange(ctx: FlowContext): Promise<Row[]> {
  const browser = await signedInBrowser(ctx, ctx.users[0]!, SCOPE);
  const exchangeBatch = async (redeemer: Redeemer, size: number): Promise<LoopResult> => {
    const codes: MintedCode[] = [];
    const mintStarted = performance.now();
    const minted = await loop(ctx.concurrency, 55, async () => {
      if (codes.length >= size) return false;
      codes.push(await silentAuthorization(ctx, browser, SCOPE));
    });
    if (minted.failed) throw new Error(`minting codes: ${minted.failed} failed: ${minted.firstError}`);
    const mintSeconds = (performance.now() - mintStarted) / 1000;
    if (mintSeconds > 40)
      ctx.log(
        `  (minting ${size} codes took ${mintSeconds.toFixed(0)} s: the first ones are close to their 60 s expiry)\n`,
      );
    let next = 0;
    const target = { ...ctx, url: redeemer.url };
    return loop(ctx.concurrency, 60, async () => {
      const minted = codes[next++];
      if (!minted) return false;
      await tokenRequest(target, {
        grant_type: 'authorization_code',
        code: minted.code,
        redirect_uri: REDIRECT_URI,
        code_verifier: minted.verifier,
      });
    });
  };
  const perRound = Math.ceil(ctx.codes / ctx.rounds);
  return takingTurns(
    ctx,
    'POST /token authorization_code',
    async (redeemer) => {
      const warm = await exchangeBatch(redeemer, Math.min(300, perRound));
      if (warm.failed) throw new Error(`code exchange warm-up: ${warm.failed} failed: ${warm.firstError}`);
    },
    (redeemer) => exchangeBatch(redeemer, perRound),
  );
}

/**
 * 2. Refresh with rotation: each worker carries its own chain (its own user's grant, signed in
 * with offline_access and prompt=consent, which oidc-provider requires to issue a refresh token),
 * started at Accord and rotated at Accord and at the bare provider taking turns
 * (`ctx.durationSeconds / ctx.rounds` each per round); every refresh returns the next refresh
 * token and invalidates the one sent, whichever server answered.
 */
export async function refreshRotation(ctx: FlowContext): Promise<Row[]> {
  const scope = 'openid offline_access User.Read';
  const chains: string[] = [];
  for (let i = 0; i < ctx.concurrency; i++) {
    const user = ctx.users[i % ctx.users.length]!;
    const browser = new Browser(ctx.url);
    const auth = await startAuthorization(browser, ctx.app, { scope, prompt: 'consent' });
    let page = await signInOnPage(browser, auth.page, user.signIn, user.password);
    if (pageName(page.body) === 'consent') page = await browser.submit(page, /\/consent$/, { decision: 'accept' });
    const code = appRedirect(page).searchParams.get('code')!;
    const tokens = await tokenRequest(ctx, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: auth.verifier,
    });
    if (typeof tokens.refresh_token !== 'string')
      throw new Error(`no refresh token for ${user.signIn}: ${JSON.stringify(tokens)}`);
    chains.push(tokens.refresh_token);
  }
  const refreshAt = (redeemer: Redeemer) => {
    const target = { ...ctx, url: redeemer.url };
    return async (worker: number) => {
      const tokens = await tokenRequest(target, { grant_type: 'refresh_token', refresh_token: chains[worker]! });
      if (typeof tokens.refresh_token !== 'string' || tokens.refresh_token === chains[worker])
        throw new Error('refresh did not rotate');
      chains[worker] = tokens.refresh_token;
    };
  };
  return takingTurns(
    ctx,
    'POST /token refresh_token (rotation)',
    async (redeemer) => {
      const warm = await loop(ctx.concurrency, ctx.warmupSeconds, refreshAt(redeemer));
      if (warm.failed) throw new Error(`refresh warm-up: ${warm.failed} failed: ${warm.firstError}`);
    },
    (redeemer) => loop(ctx.concurrency, ctx.durationSeconds / ctx.rounds, refreshAt(redeemer)),
  );
}

/** One full flow in a fresh browser: /auth, login page, sign-in, code, /token; returns the tokens. */
export async function signInAndRedeem(
  ctx: Target,
  user: { signIn: string; password: string },
): Promise<Record<string, unknown>> {
  const browser = new Browser(ctx.url);
  const auth = await startAuthorization(browser, ctx.app, { scope: SCOPE });
  const page = await signInOnPage(browser, auth.page, user.signIn, user.password);
  const code = appRedirect(page).searchParams.get('code');
  if (!code) throw new Error('no code');
  return tokenRequest(ctx, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: auth.verifier,
  });
}

/**
 * 4. The full flow in a fresh browser (cookie jar) each time: /auth → login page → sign-in
 * (argon2id) → consent already granted (admin consent) → redirect with the code → /token.
 * One sample per flow; users taken round robin.
 */
export async function fullSignInFlow(ctx: FlowContext): Promise<Row> {
  track(ctx);
  let n = 0;
  const flow = async () => void (await signInAndRedeem(ctx, ctx.users[n++ % ctx.users.length]!));
  const warm = await loop(ctx.concurrency, ctx.warmupSeconds, flow);
  if (warm.failed) throw new Error(`full flow warm-up: ${warm.failed} failed: ${warm.firstError}`);
  ctx.resetPeak();
  const result = await loop(ctx.concurrency, Math.max(ctx.durationSeconds, 10), flow);
  return row('full flow: /auth, login, code, /token', result, ctx.peakMb(), ctx.log);
}
