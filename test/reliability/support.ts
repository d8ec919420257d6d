// Helpers for the reliability tests: a private embedded PostgreSQL that a test may stop and start,
// a steady request loop, and a snapshot of the consent state to compare before and after.
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { createPool, type Pool, type Queryable } from '../../src/db/pool.js';

/**
 * An embedded PostgreSQL of this test alone, on a fixed port so that `restart()` brings it back
 * where the app's pool expects it. Under os.tmpdir() with mode 755: running as root, PostgreSQL
 * runs as the `postgres` OS user, who must be able to enter the folder.
 */
export class PrivateDatabase {
  private server: EmbeddedDatabase | undefined;
  readonly pool: Pool;

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    readonly url: string,
    server: EmbeddedDatabase,
  ) {
    this.server = server;
    this.pool = createPool(url, () => undefined);
  }

  static async start(): Promise<PrivateDatabase> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'accord-reliability-'));
    await chmod(dataDir, 0o755);
    const server = await startEmbeddedPostgres({ dataDir });
    return new PrivateDatabase(dataDir, Number(new URL(server.url).port), server.url, server);
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  /** Starts PostgreSQL again on the same port and data folder. */
  async restart(): Promise<void> {
    if (this.server) return;
    this.server = await startEmbeddedPostgres({ dataDir: this.dataDir, port: this.port });
  }

  /**
   * Freezes every PostgreSQL process of this server (SIGSTOP): connections stay open and accepted,
   * nothing answers — a hung server or a network that drops packets. `resume()` undoes it.
   */
  pause(): void {
    const postmaster = Number(readFileSync(path.join(this.dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    this.paused = [postmaster, ...childrenOf(postmaster)];
    for (const pid of this.paused) process.kill(pid, 'SIGSTOP');
  }

  resume(): void {
    for (const pid of this.paused) process.kill(pid, 'SIGCONT');
    this.paused = [];
  }

  private paused: number[] = [];

  /** The TestDatabase shape startTestServer takes; dropping is ours, in `destroy()`. */
  asTestDatabase() {
    return { url: this.url, pool: this.pool, drop: async () => undefined };
  }

  async destroy(): Promise<void> {
    this.resume();
    await this.pool.end().catch(() => undefined);
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);
}

export interface ConsentSnapshot {
  userConsents: Array<{
    tenant_id: string;
    user_id: string;
    client_id: string;
    scopes: string[];
    grant_id: string | null;
  }>;
  adminConsents: Array<{ tenant_id: string; client_id: string; scopes: string[] }>;
  grants: Array<{ id: string; account_id: string; client_id: string }>;
  auditEvents: number;
}

/** Every consent row, every oidc-provider Grant and the audit count, in a stable order. */
export async function consentSnapshot(db: Queryable): Promise<ConsentSnapshot> {
  const [userConsents, adminConsents, grants, audit] = await Promise.all([
    db.query(
      `SELECT tenant_id, user_id, client_id, scopes, grant_id FROM user_consents ORDER BY tenant_id, user_id, client_id`,
    ),
    db.query(`SELECT tenant_id, client_id, scopes FROM admin_consents ORDER BY tenant_id, client_id`),
    db.query(
      `SELECT id, payload->>'accountId' AS account_id, payload->>'clientId' AS client_id FROM oidc_models WHERE model = 'Grant' ORDER BY id`,
    ),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events`),
  ]);
  return {
    userConsents: userConsents.rows,
    adminConsents: adminConsents.rows,
    grants: grants.rows,
    auditEvents: audit.rows[0]!.n,
  };
}

export interface Sample {
  kind: string;
  startedAt: number;
  ms: number;
  /** The HTTP status, or the error's code when no response came. */
  status: number | string;
  body: string;
}

/** Runs one request with a hard deadline, recording what happened. */
export async function sample(
  kind: string,
  request: (signal: AbortSignal) => Promise<Response>,
  deadlineMs = 10_000,
): Promise<Sample> {
  const startedAt = Date.now();
  try {
    const response = await request(AbortSignal.timeout(deadlineMs));
    const body = await response.text();
    return { kind, startedAt, ms: Date.now() - startedAt, status: response.status, body };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    const code = cause?.code ?? (error as Error).name;
    return { kind, startedAt, ms: Date.now() - startedAt, status: code, body: String(error) };
  }
}
