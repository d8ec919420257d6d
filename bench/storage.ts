// The storage bench (issue #17, "storage that stays flat"): writes the rows of BENCH_STORAGE_FLOWS
// sign-in flows with their real expiries (generate_series, no HTTP), then runs the expiry purge
// (src/services/expiry-purge.ts) cycle after cycle while silent /auth runs with 10 in flight, and
// prints the p99 of silent /auth during each purge against a quiet window just before it, and the
// size (table + indexes) of every expiring table after each purge.
//
//   node --import tsx bench/storage.ts          (or BENCH_CASES=storage npm run bench)
//
// Time is compressed: one cycle of BENCH_STORAGE_CYCLE_SECONDS (75 s) stands for
// BENCH_STORAGE_INTERVAL_MINUTES (60) of traffic; every stored expiry is the row's real TTL from
// its issue, on that compressed clock. The history pre-loaded is 14 days (the longest TTL but the
// grant's) of BENCH_STORAGE_FLOWS flows at an even rate, holding what a purge every interval would
// have left; each cycle then adds the next interval's flows at that rate and purges what expired.
// See bench/README.md, "Storage that stays flat".

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { DEFAULT_PURGE_OPTIONS, ExpiryPurge, type PurgeRound } from '../src/services/expiry-purge.js';
import { Browser, pageName } from '../test/support/browser.js';
import { appRedirect, REDIRECT_URI, relyingParty, signInOnPage, startAuthorization } from '../test/support/flows.js';
import type { TestServer } from '../test/support/server.js';
import { signedInBrowser, silentAuthorization, type Target, tokenRequest } from './flows.js';
import { pinPostgres } from './pin-postgres.js';
import { percentile } from './scale.js';
import {
  adminQuery,
  type BenchData,
  beginRun,
  freePort,
  LOAD_CORE,
  npmStartNodeFlags,
  SERVER_CORE,
  seedBenchDatabase,
  stopServer,
  withDatabase,
} from './support.js';

const FLOWS = Number(process.env.BENCH_STORAGE_FLOWS ?? 10_000_000);
const CYCLES = Number(process.env.BENCH_STORAGE_CYCLES ?? 6);
const CYCLE_SECONDS = Number(process.env.BENCH_STORAGE_CYCLE_SECONDS ?? 75);
const INTERVAL_MINUTES = Number(process.env.BENCH_STORAGE_INTERVAL_MINUTES ?? 60);
const BATCH = Number(process.env.BENCH_STORAGE_BATCH ?? DEFAULT_PURGE_OPTIONS.batchSize);
const PAUSE_MS = Number(process.env.BENCH_STORAGE_PAUSE_MS ?? DEFAULT_PURGE_OPTIONS.pauseMs);
const BUSY_SHARE = Number(process.env.BENCH_STORAGE_BUSY_SHARE ?? DEFAULT_PURGE_OPTIONS.busyShare);
// `tuned`: migration 0019's per-table autovacuum settings; `default`: reset to PostgreSQL's.
const AUTOVACUUM = process.env.BENCH_STORAGE_AUTOVACUUM ?? 'tuned';
const SHARED_BUFFERS = process.env.BENCH_STORAGE_SHARED_BUFFERS ?? '1GB';
const IN_FLIGHT = 10;
const HISTORY_SECONDS = 14 * 24 * 3600;
const SCOPE = 'openid User.Read';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The tables whose rows expire, oidc_model_keys included (it goes with oidc_models). */
const EXPIRING = [
  'oidc_models',
  'oidc_model_keys',
  'dpop_proofs',
  'rate_limit_windows',
  'sign_in_failures',
  'sign_in_address_failures',
] as const;

/**
 * The rows one flow writes (a sign-in, its code redeemed for tokens with offline_access), each
 * with its real lifetime (src/provider/create-provider.ts, the rate limit's window, DPoP's proof
 * age, the sign-in streak): the provider's rows are copied from a real flow's.
 */
const MODEL_TTLS: Record<string, number> = {
  Interaction: 3600,
  Session: 14 * 24 * 3600,
  Grant: 365 * 24 * 3600,
  AuthorizationCode: 60,
  RefreshToken: 14 * 24 * 3600,
};
const WINDOW_SECONDS = 60; // the sign-in rate limit's window, per client address
const DPOP_PROOF_SECONDS = 60; // one DPoP-bound data API call in ten flows
const STREAK_SECONDS = 15 * 60; // one failed password in ten flows

export interface StorageContext {
  url: string;
  databaseUrl: string;
  seeded: BenchData;
  log(line: string): void;
}

interface Template {
  model: string;
  payload: object;
  hasGrant: boolean;
  hasUid: boolean;
  consumed: boolean;
}

/** One real flow through the server; its rows in oidc_models are the templates of the generated ones. */
async function captureTemplates(ctx: StorageContext, pool: Pool, target: Target): Promise<Template[]> {
  const browser = new Browser(ctx.url);
  const user = ctx.seeded.users[0]!;
  const auth = await startAuthorization(browser, target.app, {
    scope: 'openid offline_access User.Read',
    prompt: 'consent',
  });
  // The interaction is gone once the flow resumes: read while the login page is shown.
  const query = `SELECT DISTINCT ON (model) model, payload, grant_id IS NOT NULL AS "hasGrant", uid IS NOT NULL AS "hasUid",
            consumed_at IS NOT NULL AS consumed
       FROM oidc_models WHERE model = ANY ($1::text[]) ORDER BY model, expires_at DESC NULLS LAST`;
  const { rows: interactions } = await pool.query<Template>(query, [['Interaction']]);
  let page = await signInOnPage(browser, auth.page, user.signIn, user.password);
  if (pageName(page.body) === 'consent') page = await browser.submit(page, /\/consent$/, { decision: 'accept' });
  const code = appRedirect(page).searchParams.get('code')!;
  await tokenRequest(target, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: auth.verifier,
  });
  const { rows: others } = await pool.query<Template>(query, [
    Object.keys(MODEL_TTLS).filter((model) => model !== 'Interaction'),
  ]);
  const rows = [...interactions, ...others];
  const missing = Object.keys(MODEL_TTLS).filter((model) => !rows.some((row) => row.model === model));
  if (missing.length > 0) throw new Error(`the captured flow wrote no ${missing.join(', ')}`);
  return rows;
}

/**
 * Writes the rows of `count` flows issued at virtual times first, first + step, … (seconds from
 * the moment of the first purge, t0); a row is stored with expiry t0 + (issue + TTL) / compression
 * and only when it would still be there (its expiry after `minExpiry`, virtual seconds). `label`
 * keeps ids apart between calls; ids are md5 hashes, scattered through the indexes as real ids are.
 */
async function writeFlows(
  pool: pg.Pool,
  templates: Template[],
  clock: { t0: Date; compression: number },
  label: string,
  first: number,
  step: number,
  count: number,
  minExpiry: number,
): Promise<number> {
  const flows = `SELECT i, md5($1::text || i) AS h, $2::float8 + i * $3::float8 AS v
                   FROM generate_series(0, $4::integer - 1) AS i`;
  const at = (ttl: string) => `$5::timestamptz + make_interval(secs => (f.v + ${ttl}) / $6::float8)`;
  const common = [label, first, step, count, clock.t0, clock.compression];
  let rows = 0;
  for (const template of templates) {
    // A grant's id is 'g' || h, the grant_id its flow's other rows carry.
    const { rowCount } = await pool.query(
      `INSERT INTO oidc_models (model, id, payload, grant_id, uid, expires_at, consumed_at)
       SELECT $7::text, f.id,
              $8::jsonb || jsonb_strip_nulls(jsonb_build_object('jti', f.id,
                'uid', CASE WHEN $9::boolean THEN 'u' || f.h END, 'grantId', CASE WHEN $10::boolean THEN 'g' || f.h END)),
              CASE WHEN $10::boolean THEN 'g' || f.h END, CASE WHEN $9::boolean THEN 'u' || f.h END,
              ${at('$11::float8')}, CASE WHEN $12::boolean THEN now() END
         FROM (SELECT *, CASE WHEN $7::text = 'Grant' THEN 'g' || h ELSE md5($7::text || h) END AS id FROM (${flows}) g) f
        WHERE f.v + $11::float8 > $13::float8`,
      [
        ...common,
        template.model,
        template.payload,
        template.hasUid,
        template.model !== 'Grant' && template.hasGrant,
        MODEL_TTLS[template.model]!,
        template.consumed,
        minExpiry,
      ],
    );
    rows += rowCount ?? 0;
  }
  // The sessions' uids, as upsertModel writes them.
  const keys = await pool.query(
    `INSERT INTO oidc_model_keys (key, kind, model, id)
     SELECT 'u' || f.h, 'uid', 'Session', md5('Session' || f.h) FROM (${flows}) f WHERE f.v + $5::float8 > $6::float8`,
    [...common.slice(0, 4), MODEL_TTLS.Session, minExpiry],
  );
  rows += keys.rowCount ?? 0;
  const windows = await pool.query(
    `INSERT INTO rate_limit_windows (key, hits, ends_at)
     SELECT 'POST /login ' || f.h, 1, ${at('$7::float8')} FROM (${flows}) f WHERE f.v + $7::float8 > $8::float8`,
    [...common, WINDOW_SECONDS, minExpiry],
  );
  rows += windows.rowCount ?? 0;
  const proofs = await pool.query(
    `INSERT INTO dpop_proofs (key, expires_at)
     SELECT 'dpop ' || f.h, ${at('$7::float8')} FROM (${flows}) f WHERE f.i % 10 = 0 AND f.v + $7::float8 > $8::float8`,
    [...common, DPOP_PROOF_SECONDS, minExpiry],
  );
  rows += proofs.rowCount ?? 0;
  // The purge removes a streak STREAK_SECONDS after its last failure: the failure is stored that
  // long before the row's (compressed) end.
  for (const table of ['sign_in_failures', 'sign_in_address_failures']) {
    const address = table === 'sign_in_address_failures';
    const failures = await pool.query(
      `INSERT INTO ${table} (tenant_id, username, ${address ? 'client_address, ' : ''}failures, last_failure_at)
       SELECT 'contoso', 'u' || f.h, ${address ? `'192.0.2.1'::inet, ` : ''}1,
              ${at('$7::float8')} - make_interval(secs => $7::float8)
         FROM (${flows}) f WHERE f.i % 10 = 5 AND f.v + $7::float8 > $8::float8`,
      [...common, STREAK_SECONDS, minExpiry],
    );
    rows += failures.rowCount ?? 0;
  }
  return rows;
}

type Phase = 'insert' | 'quiet' | 'purge' | 'between';

/**
 * Notices when this process was stopped (SIGSTOP, a suspended VM or container: on a shared
 * machine a bench can be paused for minutes): a 100 ms timer that fires more than a second late.
 * Samples that overlap a pause are left out, and the cycles' clock moves on by the pause.
 */
class PauseWatch {
  readonly pauses: Array<{ from: number; to: number }> = [];
  private last = performance.now();
  private readonly timer = setInterval(() => {
    const now = performance.now();
    if (now - this.last > 1000) this.pauses.push({ from: this.last, to: now });
    this.last = now;
  }, 100);

  overlaps(from: number, to: number): boolean {
    return this.pauses.some((pause) => pause.from < to && pause.to > from);
  }

  /** Milliseconds paused since `from` (performance.now()). */
  pausedSince(from: number): number {
    return this.pauses.filter((pause) => pause.to > from).reduce((total, pause) => total + pause.to - pause.from, 0);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Silent /auth with IN_FLIGHT in flight (a signed-in session per worker), each sample tagged with the phase it ran in. */
class SilentAuthLoad {
  private phase: Phase = 'between';
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  readonly samples: Array<{ cycle: number; phase: Phase; from: number; to: number }> = [];
  failed = 0;
  firstError: string | undefined;
  cycle = 0;

  constructor(
    private readonly target: Target,
    private readonly pauses: PauseWatch,
  ) {}

  async start(users: BenchData['users']): Promise<void> {
    const browsers: Browser[] = [];
    for (let i = 0; i < IN_FLIGHT; i++)
      browsers.push(await signedInBrowser(this.target, users[i % users.length]!, SCOPE));
    this.done = Promise.all(
      browsers.map(async (browser) => {
        while (!this.stopped) {
          // A sample counts for a phase only if the phase held from its start to its end.
          const phase = this.phase;
          const cycle = this.cycle;
          const t0 = performance.now();
          try {
            await silentAuthorization(this.target, browser, SCOPE);
            if (this.phase === phase && this.cycle === cycle)
              this.samples.push({ cycle, phase, from: t0, to: performance.now() });
          } catch (error) {
            this.failed++;
            this.firstError ??= error instanceof Error ? error.message : String(error);
          }
        }
      }),
    ).then(() => undefined);
  }

  enter(phase: Phase): void {
    this.phase = phase;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  latencies(filter: (sample: { cycle: number; phase: Phase }) => boolean): number[] {
    return this.samples
      .filter((sample) => filter(sample) && !this.pauses.overlaps(sample.from, sample.to))
      .map((sample) => sample.to - sample.from)
      .sort((a, b) => a - b);
  }
}

interface Sizes {
  bytes: Record<string, number>;
  total: number;
  live: number;
  dead: number;
  autovacuums: number;
  /** Tuple versions written so far (inserts and updates): what the tables must find room for. */
  versions: number;
}

async function measureSizes(pool: Pool): Promise<Sizes> {
  const { rows } = await pool.query<{
    table: string;
    bytes: string;
    live: string;
    dead: string;
    autovacuums: string;
    versions: string;
  }>(
    `SELECT relname AS table, pg_total_relation_size(relid)::text AS bytes, n_live_tup::text AS live,
            n_dead_tup::text AS dead, autovacuum_count::text AS autovacuums, (n_tup_ins + n_tup_upd)::text AS versions
       FROM pg_stat_user_tables WHERE relname = ANY ($1::text[])`,
    [EXPIRING],
  );
  const bytes = Object.fromEntries(rows.map((row) => [row.table, Number(row.bytes)]));
  const sum = (field: 'live' | 'dead' | 'autovacuums' | 'versions') =>
    rows.reduce((total, row) => total + Number(row[field]), 0);
  return {
    bytes,
    total: Object.values(bytes).reduce((a, b) => a + b, 0),
    live: sum('live'),
    dead: sum('dead'),
    autovacuums: sum('autovacuums'),
    versions: sum('versions'),
  };
}

interface Cycle {
  cycle: number;
  inserted: number;
  insertSeconds: number;
  round: PurgeRound;
  purgeSeconds: number;
  quietSeconds: number;
  sizes: Sizes;
  p99Quiet: number;
  p99Purge: number;
  quietSamples: number;
  purgeSamples: number;
  /** This process was stopped for this long during the cycle (its samples then left out). */
  pausedSeconds: number;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)}`;
const p99 = (sorted: number[]) => (sorted.length > 0 ? percentile(sorted, 99) : Number.NaN);

/**
 * The storage case on a migrated, seeded database served at ctx.url: pre-load, then CYCLES
 * purge cycles under silent /auth. Returns the report (markdown lines) and whether both targets were met.
 */
async function measureStorage(ctx: StorageContext): Promise<{ report: string; met: boolean }> {
  // The purge's pool is the server's (5 s query timeout); the bulk writes get their own, without one.
  const pool = createPool(ctx.databaseUrl, () => undefined);
  const writer = new pg.Pool({ connectionString: ctx.databaseUrl, max: 1 });
  try {
    const target: Target = {
      url: ctx.url,
      app: await relyingParty(
        { url: ctx.url } as TestServer,
        ctx.seeded.flowsApp.clientId,
        ctx.seeded.flowsApp.clientSecret,
      ),
      basic: ctx.seeded.flowsApp.basic,
    };
    if (AUTOVACUUM === 'default')
      for (const table of EXPIRING)
        await pool.query(
          `ALTER TABLE ${table} RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor)`,
        );
    const templates = await captureTemplates(ctx, pool, target);
    const interval = INTERVAL_MINUTES * 60;
    const compression = interval / CYCLE_SECONDS;
    const perSecond = FLOWS / HISTORY_SECONDS;
    const perCycle = Math.round(perSecond * interval);

    // The pre-load: 14 days of flows up to t0, what the purges until then have left (rows that
    // expire after the interval before t0). t0 is set far enough ahead for the writing to finish.
    const estimate = Math.max(15, FLOWS / 4_000);
    const t0 = new Date(Date.now() + estimate * 1000);
    const clock = { t0, compression };
    const watch = new PauseWatch();
    const started = performance.now();
    // t0 moved on by the time this process was stopped, for the rows written and the purges due after it.
    const shifted = () => new Date(t0.getTime() + watch.pausedSince(started));
    ctx.log(
      `storage: writing the rows of ${FLOWS} flows (14 days at ${perSecond.toFixed(2)}/s), allowed ${estimate.toFixed(0)} s\n`,
    );
    const preloadStarted = performance.now();
    const chunk = 250_000;
    let preloaded = 0;
    for (let first = 0; first < FLOWS; first += chunk) {
      const count = Math.min(chunk, FLOWS - first);
      preloaded += await writeFlows(
        writer,
        templates,
        clock,
        `p${first}-`,
        -HISTORY_SECONDS + (first + 0.5) * (HISTORY_SECONDS / FLOWS),
        HISTORY_SECONDS / FLOWS,
        count,
        -interval,
      );
    }
    await writer.query('ANALYZE');
    const preloadSeconds = (performance.now() - preloadStarted) / 1000;
    const late = Date.now() > t0.getTime();
    ctx.log(
      `storage: ${preloaded} rows in ${preloadSeconds.toFixed(0)} s${late ? ' (past t0: the first purge has more to do)' : ''}\n`,
    );
    const initial = await measureSizes(pool);

    const load = new SilentAuthLoad(target, watch);
    await load.start(ctx.seeded.users);
    const purge = new ExpiryPurge(pool, { batchSize: BATCH, pauseMs: PAUSE_MS, busyShare: BUSY_SHARE });
    const cycles: Cycle[] = [];
    let quietSeconds = 10;
    const loadBefore = os.loadavg();
    for (let cycle = 0; cycle <= CYCLES; cycle++) {
      load.cycle = cycle;
      const cycleStarted = performance.now();
      let inserted = 0;
      let insertSeconds = 0;
      if (cycle > 0) {
        load.enter('insert');
        const started = performance.now();
        inserted = await writeFlows(
          writer,
          templates,
          { t0: shifted(), compression },
          `c${cycle}-`,
          (cycle - 1) * interval + 0.5 * (interval / perCycle),
          interval / perCycle,
          perCycle,
          -Infinity,
        );
        insertSeconds = (performance.now() - started) / 1000;
      }
      load.enter('between');
      // The quiet window ends when the purge is due (t0 + cycle × CYCLE_SECONDS), or at once when late.
      const due = shifted().getTime() + cycle * CYCLE_SECONDS * 1000;
      const quietStart = Math.max(Date.now() + 1000, due - quietSeconds * 1000);
      await sleep(quietStart - Date.now());
      load.enter('quiet');
      const quietStarted = performance.now();
      await sleep(Math.max(quietSeconds * 1000, due - Date.now()));
      const measuredQuiet = (performance.now() - quietStarted) / 1000;
      load.enter('purge');
      const purgeStarted = performance.now();
      const round = await purge.run();
      const purgeSeconds = (performance.now() - purgeStarted) / 1000;
      load.enter('between');
      const sizes = await measureSizes(pool);
      const quiet = load.latencies((s) => s.cycle === cycle && s.phase === 'quiet');
      const during = load.latencies((s) => s.cycle === cycle && s.phase === 'purge');
      cycles.push({
        cycle,
        inserted,
        insertSeconds,
        round,
        purgeSeconds,
        quietSeconds: measuredQuiet,
        pausedSeconds: watch.pausedSince(cycleStarted) / 1000,
        sizes,
        p99Quiet: p99(quiet),
        p99Purge: p99(during),
        quietSamples: quiet.length,
        purgeSamples: during.length,
      });
      const deleted = Object.values(round.deleted).reduce((a, b) => a + b, 0);
      ctx.log(
        `storage: cycle ${cycle}: +${inserted} rows in ${insertSeconds.toFixed(1)} s, purged ${deleted} in ${purgeSeconds.toFixed(1)} s ` +
          `(${round.batches} batches); silent /auth p99 ${p99(quiet).toFixed(1)} ms quiet (${quiet.length}) vs ${p99(during).toFixed(1)} ms during the purge (${during.length}); ` +
          `expiring tables ${mb(sizes.total)} MB\n`,
      );
      // The next quiet window as long as this purge (at least 5 s), so both hold alike many samples.
      quietSeconds = Math.max(5, Math.min(purgeSeconds, CYCLE_SECONDS / 3));
    }
    // After the last cycle: the load between purges (autovacuum's time) as a third figure.
    await sleep(Math.min(CYCLE_SECONDS, 60) * 1000);
    await load.stop();
    watch.stop();
    const loadAfter = os.loadavg();
    const settled = await measureSizes(pool);

    const measured = cycles.filter((cycle) => cycle.cycle > 0);
    const quietAll = load.latencies((s) => s.cycle > 0 && s.phase === 'quiet');
    const purgeAll = load.latencies((s) => s.cycle > 0 && s.phase === 'purge');
    const betweenAll = load.latencies((s) => s.cycle > 0 && s.phase === 'between');
    const ratio = p99(purgeAll) / p99(quietAll);
    const latencyMet = ratio <= 1.2;
    // Flat: the size's trend over cycles 1..C (least squares, bytes per cycle) against what each
    // cycle wrote (tuple versions, inserts and updates, at the tables' average bytes per tuple).
    // Without reuse of the purged space the tables grow by about all of it; flat is ≤ 10 %.
    // Judged on the second half of the cycles: the first ones move from the densely written
    // history (no free space in it) to the steady state, where each purge's space is reused.
    const steady = measured.slice(Math.floor(measured.length / 2));
    const xs = steady.map((cycle) => cycle.cycle);
    const ys = steady.map((cycle) => cycle.sizes.total);
    const meanX = xs.reduce((a, b) => a + b, 0) / xs.length;
    const meanY = ys.reduce((a, b) => a + b, 0) / ys.length;
    const slope =
      xs.reduce((total, x, i) => total + (x - meanX) * (ys[i]! - meanY), 0) /
      Math.max(
        1e-9,
        xs.reduce((total, x) => total + (x - meanX) ** 2, 0),
      );
    const first = cycles[cycles.length - steady.length - 1]!.sizes;
    const last = measured.at(-1)!.sizes;
    const bytesPerTuple = last.total / Math.max(1, last.live + last.dead);
    const writtenPerCycle = ((last.versions - first.versions) / steady.length) * bytesPerTuple;
    const kept = slope / writtenPerCycle;
    const sizeMet = kept <= 0.1;
    const lines: string[] = [];
    lines.push(
      `Storage: ${FLOWS.toLocaleString('en')} flows pre-loaded (14 days at ${perSecond.toFixed(2)} flows/s: ${preloaded.toLocaleString('en')} rows still there, written in ${preloadSeconds.toFixed(0)} s, ` +
        `expiring tables ${mb(initial.total)} MB); ${CYCLES} cycles of ${CYCLE_SECONDS} s, each ${INTERVAL_MINUTES} min of traffic (${perCycle.toLocaleString('en')} flows) then a purge ` +
        `(batches of ${BATCH}, ≥ ${PAUSE_MS} ms apart, busy ≤ ${Math.round(100 * BUSY_SHARE)} % of the time, lock_timeout ${DEFAULT_PURGE_OPTIONS.lockTimeoutMs} ms; autovacuum ${AUTOVACUUM === 'default' ? "PostgreSQL's defaults" : 'per migration 0019'}); ` +
        `silent /auth with ${IN_FLIGHT} in flight throughout; this process stopped by the machine's scheduler for ${(watch.pausedSince(started) / 1000).toFixed(0)} s in all (samples overlapping a stop left out, the cycles' clock moved on by it); load average ${loadBefore.map((n) => n.toFixed(1)).join(' ')} before the cycles, ${loadAfter.map((n) => n.toFixed(1)).join(' ')} after`,
    );
    lines.push('');
    lines.push(
      '| cycle | rows written | rows purged | batches | purge s | p99 quiet ms (n) | p99 purge ms (n) | expiring tables MB | oidc_models | oidc_model_keys | others | dead tuples | autovacuums | paused s |',
    );
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const cycle of cycles) {
      const deleted = Object.values(cycle.round.deleted).reduce((a, b) => a + b, 0);
      const others =
        cycle.sizes.total - (cycle.sizes.bytes.oidc_models ?? 0) - (cycle.sizes.bytes.oidc_model_keys ?? 0);
      lines.push(
        `| ${cycle.cycle}${cycle.cycle === 0 ? ' (backlog)' : ''} | ${cycle.inserted} | ${deleted} | ${cycle.round.batches} | ${cycle.purgeSeconds.toFixed(1)} | ` +
          `${cycle.p99Quiet.toFixed(1)} (${cycle.quietSamples}) | ${cycle.p99Purge.toFixed(1)} (${cycle.purgeSamples}) | ${mb(cycle.sizes.total)} | ` +
          `${mb(cycle.sizes.bytes.oidc_models ?? 0)} | ${mb(cycle.sizes.bytes.oidc_model_keys ?? 0)} | ${mb(others)} | ${cycle.sizes.dead} | ${cycle.sizes.autovacuums} | ${cycle.pausedSeconds.toFixed(0)} |`,
      );
    }
    lines.push('');
    lines.push(
      `- silent /auth p99 during a purge ${p99(purgeAll).toFixed(1)} ms (${purgeAll.length} samples) vs ${p99(quietAll).toFixed(1)} ms in the quiet window before it (${quietAll.length}), cycles 1–${CYCLES}: ` +
        `${ratio.toFixed(2)}× (target ≤ 1.2×: ${latencyMet ? 'met' : '**missed**'}); between purges (autovacuum's time) ${p99(betweenAll).toFixed(1)} ms (${betweenAll.length}); ` +
        `p50 quiet/purge ${percentile(quietAll, 50).toFixed(1)}/${percentile(purgeAll, 50).toFixed(1)} ms; ${load.failed} failed${load.firstError ? ` (${load.firstError})` : ''}`,
    );
    lines.push(
      `- expiring tables after each purge, cycles 1–${CYCLES}: ${measured.map((cycle) => mb(cycle.sizes.total)).join(', ')} MB; over cycles ${steady[0]!.cycle}–${CYCLES} trend ${(slope / 2 ** 20).toFixed(1)} MB per cycle, ` +
        `${(100 * kept).toFixed(0)} % of the ${(writtenPerCycle / 2 ** 20).toFixed(1)} MB each cycle wrote (${Math.round((last.versions - first.versions) / steady.length).toLocaleString('en')} tuple versions at ${bytesPerTuple.toFixed(0)} B) ` +
        `(target: back to the same level, growth ≤ 10 % of what a cycle writes: ${sizeMet ? 'met' : '**missed**'}); ${Math.min(CYCLE_SECONDS, 60)} s after the last: ${mb(settled.total)} MB, ${settled.dead} dead tuples`,
    );
    lines.push(
      `- per table after cycle 1 → after cycle ${CYCLES} (MB): ${EXPIRING.map((table) => `${table} ${mb(measured[0]!.sizes.bytes[table] ?? 0)} → ${mb(measured.at(-1)!.sizes.bytes[table] ?? 0)}`).join(', ')}`,
    );
    return { report: lines.join('\n'), met: latencyMet && sizeMet };
  } finally {
    await writer.end();
    await pool.end();
  }
}

/** bench/server.ts accord, pinned to SERVER_CORE, as bench/run.ts starts it. */
async function startAccord(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(
    'taskset',
    [
      '-c',
      SERVER_CORE,
      process.execPath,
      ...npmStartNodeFlags(),
      '--import',
      'tsx',
      path.join(root, 'bench/server.ts'),
      'accord',
      databaseUrl,
      String(port),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (data: Buffer) => {
      output += data.toString();
      if (output.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code} before it was ready`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/**
 * The storage case, whole: its own PostgreSQL (embedded, autovacuum on as on any production
 * server; the machine's CI server runs with it off), or the server BENCH_STORAGE_ADMIN_URL names;
 * a fresh seeded database on it; Accord served from it on SERVER_CORE; then measureStorage.
 */
export async function storageCase(log: (line: string) => void): Promise<{ report: string; met: boolean }> {
  const undo: Array<() => unknown> = [];
  try {
    let adminUrl = process.env.BENCH_STORAGE_ADMIN_URL;
    let server = `the PostgreSQL of BENCH_STORAGE_ADMIN_URL`;
    if (!adminUrl) {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'accord-bench-storage-'));
      await chmod(dataDir, 0o755); // as root, PostgreSQL runs as `postgres`, who must enter it
      undo.push(() => rm(dataDir, { recursive: true, force: true }));
      const embedded = await startEmbeddedPostgres({ dataDir, settings: { shared_buffers: SHARED_BUFFERS } });
      undo.push(() => embedded.stop());
      adminUrl = embedded.url;
      server = `its own PostgreSQL (embedded), shared_buffers ${SHARED_BUFFERS}, autovacuum on`;
    }
    const pinning = await pinPostgres(adminUrl, LOAD_CORE);
    undo.push(() => pinning.restore());
    const settings = await new pg.Pool({ connectionString: adminUrl, max: 1 });
    const { rows } = await settings.query<{ version: string; autovacuum: string; naptime: string }>(
      `SELECT current_setting('server_version') AS version, current_setting('autovacuum') AS autovacuum,
              current_setting('autovacuum_naptime') AS naptime`,
    );
    await settings.end();
    server += ` (PostgreSQL ${rows[0]!.version}, autovacuum ${rows[0]!.autovacuum}, naptime ${rows[0]!.naptime}; ${pinning.summary})`;
    log(`storage: on ${server}\n`);
    const database = `accord_bench_${randomBytes(4).toString('hex')}`;
    await adminQuery(adminUrl, `CREATE DATABASE ${database}`);
    undo.push(() => adminQuery(adminUrl!, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    const databaseUrl = withDatabase(adminUrl, database);
    const pool = createPool(databaseUrl, () => undefined);
    const seeded = await seedBenchDatabase(pool, IN_FLIGHT).finally(() => pool.end());
    const accord = await startAccord(databaseUrl);
    undo.push(() => stopServer(accord.child));
    const { report, met } = await measureStorage({ url: accord.url, databaseUrl, seeded, log });
    return { report: `Storage bench on ${server}.\n${report}`, met };
  } finally {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (error) {
        log(`storage: cleanup failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
}

async function main(): Promise<void> {
  const { cleanup } = await beginRun();
  try {
    const { report, met } = await storageCase((line) => process.stderr.write(line));
    process.stdout.write(
      `\nAccord storage bench: Node ${process.version}; server on core ${SERVER_CORE}, load generator, purge and PostgreSQL on core ${LOAD_CORE}\n\n${report}\n`,
    );
    if (!met) process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
