// The pg Pool, and the Queryable every query function takes first so that callers own transactions.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { DatabaseUnavailable } from '../core/errors.js';

export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;
export type Pool = pg.Pool;
/** A connection outside the pool (createDedicatedClient). */
export type DedicatedClient = pg.Client;

export function createPool(connectionString: string, onError: (error: Error) => void): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    idleTimeoutMillis: 30_000,
    // Fail fast when the database is away (503 to the caller) rather than hold requests open:
    // a new connection gets 2 s, a query on an open one 5 s, and TCP keep-alive notices a
    // silently dropped connection.
    connectionTimeoutMillis: 2_000,
    query_timeout: 5_000,
    keepAlive: true,
  });
  // An idle client can get 57P01 (admin shutdown) when the database stops; unhandled, it crashes node.
  pool.on('error', onError);
  // What fails because the database cannot be reached fails as DatabaseUnavailable: the pool's own
  // queries and connections, and the queries of each client it hands out (transactions).
  pool.query = raisingUnavailable(pool.query.bind(pool) as Method) as typeof pool.query;
  pool.connect = raisingUnavailable(pool.connect.bind(pool) as Method) as typeof pool.connect;
  pool.on('connect', (client) => {
    client.query = raisingUnavailable(client.query.bind(client) as Method) as typeof client.query;
    // A client that loses its connection while checked out (a transaction) fails its query, then
    // emits 'error', which the pool hears only while the client is idle: unheard, it would end the
    // process. The pool drops the broken client when it comes back.
    client.on('error', () => undefined);
  });
  return pool;
}

// Connection failures, and PostgreSQL's "shutting down / cannot connect now" and connection
// exception classes: the database is away for a moment. Seen here, on the pool's own calls, they
// are the database's; the same codes elsewhere (a client hanging up mid-upload) are not.
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);
// pg's and pg-pool's own words for a connection lost, not made in time, or a query not answered.
const UNREACHABLE_MESSAGE =
  /timeout exceeded when trying to connect|Connection terminated|Query read timeout|is not queryable/;

/** `error` as DatabaseUnavailable when it says the database could not be reached; else unchanged. */
function asUnavailable(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof DatabaseUnavailable) return error;
  const code = (error as { code?: unknown }).code;
  const unreachable =
    (typeof code === 'string' && UNREACHABLE_CODES.has(code)) || UNREACHABLE_MESSAGE.test(error.message);
  return unreachable ? new DatabaseUnavailable(error) : error;
}

type Method = (...args: unknown[]) => unknown;

/** `method` (pg's promise or callback form) with its failures to reach the database as DatabaseUnavailable. */
function raisingUnavailable(method: Method): Method {
  return (...args) => {
    const callback = args.at(-1);
    if (typeof callback === 'function') {
      args[args.length - 1] = (error: unknown, ...results: unknown[]) =>
        callback(error && asUnavailable(error), ...results);
      return method(...args);
    }
    const result = method(...args);
    return result instanceof Promise
      ? result.catch((error: unknown) => {
          throw asUnavailable(error);
        })
      : result;
  };
}

/**
 * A connection of its own, outside the pool (LISTEN needs one that stays open), with the pool's
 * settings: the same database, timeouts and keep-alive. `applicationName` names it in
 * pg_stat_activity.
 */
export function createDedicatedClient(pool: pg.Pool, applicationName: string): DedicatedClient {
  return new pg.Client({ ...pool.options, application_name: applicationName });
}

/** Resolves once the database answers a trivial query (a readiness probe, a connection's heartbeat). */
export async function ping(db: Queryable | DedicatedClient): Promise<void> {
  await db.query('SELECT 1');
}

export interface DatabaseWait {
  /** Give up once this long has passed since the first attempt. */
  timeoutMs: number;
  /** Stop waiting (a signal during start-up): the last failure is thrown at once. */
  signal?: AbortSignal;
  /** Told of each failed attempt, before waiting `delayMs`. */
  onRetry?: (error: DatabaseUnavailable, attempt: number, delayMs: number) => void;
}

/** The first wait between attempts; it doubles up to the longest, each jittered by up to a quarter. */
const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5_000;

/**
 * Runs `work` until it succeeds, again while it fails because the database cannot be reached yet
 * (a database started alongside Accord), with exponential backoff, for at most `timeoutMs`. Any
 * other failure, and the last one when time is up, is thrown.
 */
export async function retryWhileUnavailable<T>(work: () => Promise<T>, wait: DatabaseWait): Promise<T> {
  const deadline = Date.now() + wait.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const left = deadline - Date.now();
      if (!(error instanceof DatabaseUnavailable) || left <= 0 || wait.signal?.aborted) throw error;
      const backoff = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));
      const delayMs = Math.min(left, Math.round(backoff * (0.75 + Math.random() * 0.25)));
      wait.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, undefined, wait.signal ? { signal: wait.signal } : {}).catch(() => {
        throw error;
      });
    }
  }
}

/** Runs `work` in one transaction; rolls back on any error. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Makes the rest of the caller's transaction give up waiting for a lock after `ms` (55P03,
 * PgError.lockNotAvailable) rather than queue behind it, and so hold up whoever queues behind it.
 * On Citus the rows are locked on the workers, so the setting must reach the transaction's worker
 * connections too: Citus passes on SET LOCAL commands (not set_config calls) when
 * citus.propagate_set_commands is 'local'; plain PostgreSQL keeps it as a custom setting nobody reads.
 */
export async function limitLockWait(tx: pg.PoolClient, ms: number): Promise<void> {
  await tx.query("SET LOCAL citus.propagate_set_commands = 'local'");
  // A SET takes no parameters; `ms` is a number made whole here.
  await tx.query(`SET LOCAL lock_timeout = '${Math.max(1, Math.round(ms))}ms'`);
}

/** PostgreSQL error codes we act on (one place; mapped to domain errors by callers). */
export const PgError = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
} as const;

export function isPgError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
