// What bench/run.ts and bench/soak.ts share: the cores, a fresh seeded database, a user's token
// through the real flow, reading a process's memory and CPU from /proc, stopping a server, and
// cleaning up (servers, database, PostgreSQL's affinity) on the way out, Ctrl-C included.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { PermissionCatalogue } from '../src/core/permission-catalogue.js';
import { upsertAdminConsent } from '../src/db/consents.js';
import { migrate } from '../src/db/migrate.js';
import { listPermissions } from '../src/db/permissions.js';
import type { Pool } from '../src/db/pool.js';
import { Directory } from '../src/services/directory.js';
import { Browser } from '../test/support/browser.js';
import { exchangeCode, fullFlow, relyingParty } from '../test/support/flows.js';
import type { TestServer } from '../test/support/server.js';
import { type PostgresPinning, pinPostgres } from './pin-postgres.js';

/** The server under test runs here… */
export const SERVER_CORE = '0';
/** …and the load generator and PostgreSQL here. */
export const LOAD_CORE = '1';

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * `rounds` rounds in which `count` participants (servers, processes, sessions) take turns, each
 * round started by the one after the one that started the round before: each takes each place in
 * the order equally often, so that whatever a place costs (the load generator's start, the
 * previous one's leftovers on the core, drift in the machine's speed) falls on all of them alike.
 */
export async function inTurns(count: number, rounds: number, turn: (index: number) => Promise<void>): Promise<void> {
  for (let round = 0; round < rounds; round++)
    for (let place = 0; place < count; place++) await turn((round + place) % count);
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Pins every thread of this process (the load generator) to LOAD_CORE. */
export function pinSelf(): void {
  execFileSync('taskset', ['-a', '-p', '-c', LOAD_CORE, String(process.pid)], { stdio: 'ignore' });
}

export { freePort } from '../test/support/server.js';

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** VmHWM (peak resident set) or VmRSS (resident now) of a process, in MB. */
export function rssMb(pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** CPU time (user + system) a process has used, in seconds (/proc/<pid>/stat, clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export const basicOf = (clientId: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export interface BenchApp {
  clientId: string;
  clientSecret: string;
  /** `Basic …` for client_secret_basic. */
  basic: string;
}

export interface BenchData {
  /** `Bench App` (openid User.Read User.Read.All): client_credentials, and alice's token. */
  app: BenchApp;
  /** `Bench Flows App` (openid offline_access User.Read), admin-consented by Contoso's admin. */
  flowsApp: BenchApp;
  alice: { signIn: string; password: string };
  /** user0…user<n-1>@contoso: the flows' users. */
  users: { signIn: string; password: string }[];
}

/**
 * Migrates a fresh database and seeds the bench's tenant (Contoso), users (alice, admin,
 * user0…user<n-1>) and two confidential apps, the flows' one admin-consented so that a signed-in
 * user gets a code with no consent page.
 */
export async function seedBenchDatabase(pool: Pool, flowUsers: number): Promise<BenchData> {
  await migrate(pool);
  const directory = new Directory(pool, new PermissionCatalogue(await listPermissions(pool)));
  await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'bench');
  const password = randomBytes(12).toString('base64url');
  await directory.createUser(
    { tenantId: 'contoso', username: 'alice', password, role: 'user', email: 'alice@contoso.test' },
    'bench',
  );
  const created = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Bench App',
      multiTenant: false,
      public: false,
      redirectUris: ['https://app.example.test/callback'],
      scopes: ['openid', 'User.Read', 'User.Read.All'],
    },
    'bench',
  );
  const flowScopes = ['openid', 'offline_access', 'User.Read'];
  const flows = await directory.createApp(
    {
      publisherTenantId: 'contoso',
      name: 'Bench Flows App',
      multiTenant: false,
      public: false,
      redirectUris: ['https://app.example.test/callback'],
      scopes: flowScopes,
    },
    'bench',
  );
  const admin = await directory.createUser(
    { tenantId: 'contoso', username: 'admin', password, role: 'admin' },
    'bench',
  );
  await upsertAdminConsent(pool, {
    tenantId: 'contoso',
    clientId: flows.app.clientId,
    scopes: flowScopes,
    grantedBy: admin.id,
  });
  const users = await Promise.all(
    Array.from({ length: flowUsers }, async (_, i) => {
      await directory.createUser({ tenantId: 'contoso', username: `user${i}`, password, role: 'user' }, 'bench');
      return { signIn: `user${i}@contoso`, password };
    }),
  );
  const app = (a: typeof created): BenchApp => ({
    clientId: a.app.clientId,
    clientSecret: a.clientSecret!,
    basic: basicOf(a.app.clientId, a.clientSecret!),
  });
  return { app: app(created), flowsApp: app(flows), alice: { signIn: 'alice@contoso', password }, users };
}

/** A user's access token through the real flow: sign-in, consent, code exchange (openid User.Read). */
export async function userAccessToken(
  url: string,
  app: BenchApp,
  user: { signIn: string; password: string },
): Promise<string> {
  const server = { url } as TestServer;
  const rp = await relyingParty(server, app.clientId, app.clientSecret);
  const flow = await fullFlow(server, rp, user, { scope: 'openid User.Read' }, new Browser(url));
  return (await exchangeCode(rp, flow.callback, flow.auth)).access_token;
}

/**
 * Steps to undo on the way out, run once, last added first, each whatever the others did: from
 * the `finally` of a run, and on SIGINT/SIGTERM (then the process exits 130/143).
 */
export class Cleanup {
  private readonly steps: { name: string; run: () => unknown }[] = [];
  private running: Promise<void> | undefined;

  add(name: string, run: () => unknown): void {
    this.steps.push({ name, run });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step.run();
        } catch (error) {
          process.stderr.write(
            `cleanup: ${step.name} failed: ${error instanceof Error ? error.message : String(error)}\n`,
          );
        }
      }
    })();
    return this.running;
  }

  /** On SIGINT/SIGTERM: cleans up, then exits; a second signal exits at once. */
  onSignals(): void {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.on(signal, () => {
        if (this.running) process.exit(code);
        process.stderr.write(
          `\n${signal}: stopping the servers, dropping the database, restoring PostgreSQL's affinity…\n`,
        );
        void this.run().finally(() => process.exit(code));
      });
    }
  }
}

/**
 * The V8 flags `npm start` gives node (its heap limits), read from package.json: the bench and the
 * soak start their servers with them, so that memory and GC behave as in production.
 */
export function npmStartNodeFlags(): string[] {
  const root = path.resolve(import.meta.dirname, '..');
  const start = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } })
    .scripts.start;
  const [command, ...args] = start.trim().split(/\s+/);
  if (command !== 'node' || args.at(-1) !== 'dist/server.js')
    throw new Error(`npm start is \`${start}\`, not \`node [flags] dist/server.js\``);
  return args.slice(0, -1);
}

/**
 * What every bench run starts with: this process (the load generator) and PostgreSQL pinned to
 * LOAD_CORE — PostgreSQL before the run opens any connection, since backends forked from the
 * postmaster inherit its affinity — and a cleanup that puts PostgreSQL back, also on Ctrl-C.
 */
export async function beginRun(): Promise<{ cleanup: Cleanup; adminUrl: string; postgres: PostgresPinning }> {
  pinSelf();
  const cleanup = new Cleanup();
  cleanup.onSignals();
  const adminUrl = process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const postgres = await pinPostgres(adminUrl, LOAD_CORE);
  process.stderr.write(
    `${postgres.summary}${postgres.pinned ? `; restored at the end (${postgres.restoreHint})` : ''}\n`,
  );
  process.on('exit', postgres.restore);
  cleanup.add('restore PostgreSQL affinity', postgres.restore);
  return { cleanup, adminUrl, postgres };
}
