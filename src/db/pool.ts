// The pg Pool, and the Queryable every query function takes first so that callers own transactions.
import pg from 'pg';

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
  return pool;
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

/** PostgreSQL error codes we act on (one place; mapped to domain errors by callers). */
export const PgError = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export function isPgError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
