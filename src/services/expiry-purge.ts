// The expiry purge: deletes the rows that every /auth, /token and sign-in leaves behind once they
// have expired (oidc-provider's models and their lookup keys, DPoP proofs, rate-limit windows,
// sign-in failure streaks), so that storage stays flat however long the server runs. Each table
// is purged in small batches, the longest expired first, each batch its own short transaction
// that waits for no lock: a request never queues behind the purge, autovacuum (tuned per table by
// migration 0019) turns each batch's dead rows into space for the next inserts, and the pause
// between batches leaves the database to the requests. bench/storage.ts measures it (bench/README.md).
import { setTimeout as sleep } from 'node:timers/promises';
import { purgeExpiredDpopProofs } from '../db/dpop-proofs.js';
import { purgeExpiredModels } from '../db/oidc-models.js';
import { inTransaction, isPgError, limitLockWait, PgError, type Pool, type Queryable } from '../db/pool.js';
import { purgeEndedRateLimitWindows } from '../db/rate-limits.js';
import { purgeEndedAccountStreaks, purgeEndedAddressStreaks } from '../db/sign-in-failures.js';
import { STREAK_SECONDS } from './sign-in.js';

/** The tables the purge keeps flat (oidc_model_keys goes with oidc_models, in the same batch). */
export const EXPIRING_TABLES = [
  'oidc_models',
  'dpop_proofs',
  'rate_limit_windows',
  'sign_in_failures',
  'sign_in_address_failures',
] as const;
export type ExpiringTable = (typeof EXPIRING_TABLES)[number];

const PURGES: Readonly<Record<ExpiringTable, (db: Queryable, batch: number) => Promise<number>>> = {
  oidc_models: purgeExpiredModels,
  dpop_proofs: purgeExpiredDpopProofs,
  rate_limit_windows: purgeEndedRateLimitWindows,
  sign_in_failures: (db, batch) => purgeEndedAccountStreaks(db, STREAK_SECONDS, batch),
  sign_in_address_failures: (db, batch) => purgeEndedAddressStreaks(db, STREAK_SECONDS, batch),
};

export interface ExpiryPurgeOptions {
  /** Rows deleted per batch (per transaction). */
  batchSize?: number;
  /** The shortest pause after each full batch. */
  pauseMs?: number;
  /**
   * The share of the time the purge may keep the database busy: after a batch that took t ms it
   * pauses t × (1 / busyShare − 1) ms (at least pauseMs), so on a loaded database it slows down.
   */
  busyShare?: number;
  /** A batch that would wait longer than this for a lock gives up, and so does its table for this round. */
  lockTimeoutMs?: number;
}

export interface PurgeRound {
  /** Rows deleted per table (oidc_models' lookup keys not counted). */
  deleted: Record<ExpiringTable, number>;
  batches: number;
  /** Tables left for the next round because a batch found a row locked. */
  lockedOut: ExpiringTable[];
  /** The round was stopped (shutdown) before it was done. */
  stopped: boolean;
}

/**
 * Batches of 500, busy a quarter of the time at most: bench/storage.ts measured back-to-back
 * batches of 1,000 doubling silent /auth's p99 on a 2-core machine (bench/README.md). Even so a
 * round deletes thousands of rows a second, far above what expires (~40 rows/s at 10M flows in 14 days).
 */
export const DEFAULT_PURGE_OPTIONS: Required<ExpiryPurgeOptions> = {
  batchSize: 500,
  pauseMs: 10,
  busyShare: 0.25,
  lockTimeoutMs: 100,
};

export class ExpiryPurge {
  private readonly options: Required<ExpiryPurgeOptions>;

  constructor(
    private readonly pool: Pool,
    options: ExpiryPurgeOptions = {},
  ) {
    this.options = { ...DEFAULT_PURGE_OPTIONS, ...options };
  }

  /**
   * One round: every table, batch after batch until a batch finds fewer rows than it may delete.
   * `signal` stops the round between batches (a shutdown); a batch in flight finishes.
   */
  async run(signal?: AbortSignal): Promise<PurgeRound> {
    const { batchSize, pauseMs, busyShare, lockTimeoutMs } = this.options;
    const round: PurgeRound = {
      deleted: Object.fromEntries(EXPIRING_TABLES.map((table) => [table, 0])) as Record<ExpiringTable, number>,
      batches: 0,
      lockedOut: [],
      stopped: false,
    };
    for (const table of EXPIRING_TABLES) {
      for (;;) {
        if (signal?.aborted) {
          round.stopped = true;
          return round;
        }
        let deleted: number;
        const started = performance.now();
        try {
          deleted = await inTransaction(this.pool, async (tx) => {
            await limitLockWait(tx, lockTimeoutMs);
            return PURGES[table](tx, batchSize);
          });
        } catch (error) {
          if (!isPgError(error, PgError.lockNotAvailable)) throw error;
          round.lockedOut.push(table);
          break;
        }
        round.batches++;
        round.deleted[table] += deleted;
        if (deleted < batchSize) break;
        const busyMs = performance.now() - started;
        await sleep(Math.max(pauseMs, busyMs * (1 / busyShare - 1)));
      }
    }
    return round;
  }
}
