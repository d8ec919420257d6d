// Last use of grants (issue 15): which scopes of a user's grant for an app tokens carried, and when.
// Recorded without a write on the token path: each issuance is noted in memory, and the notes are
// written in batches, one multi-row upsert per tenant every few seconds and once more at shutdown.
import type { Clock } from '../core/clock.js';
import { recordScopeUses, type ScopeUse } from '../db/grant-scope-use.js';
import { isPgError, PgError, type Pool } from '../db/pool.js';

/** How often the notes are written. */
export const GRANT_USE_FLUSH_MS = 5_000;
/** Distinct notes kept at most between two writes: beyond it, uses of further keys are not noted until the next write. */
const MAX_PENDING = 100_000;

export interface GrantUseLog {
  warn(details: object, message: string): void;
}

export interface TokenIssued {
  tenantId: string;
  userId: string;
  clientId: string;
  scopes: Iterable<string>;
}

export class GrantUseRecorder {
  /** `tenant\0user\0client\0scope` → the latest use noted. */
  private pending = new Map<string, { tenantId: string; use: ScopeUse }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly clock: Clock,
    private readonly log?: GrantUseLog,
    private readonly flushMs = GRANT_USE_FLUSH_MS,
  ) {}

  /** Starts the periodic flush. */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Notes that a token carrying `scopes` was issued now; nothing is written here. */
  record(issued: TokenIssued): void {
    if (this.closed) return;
    const at = this.clock();
    for (const scope of new Set(issued.scopes)) {
      const key = `${issued.tenantId}\0${issued.userId}\0${issued.clientId}\0${scope}`;
      const noted = this.pending.get(key);
      if (noted) {
        if (noted.use.lastUsedAt < at) noted.use.lastUsedAt = at;
      } else if (this.pending.size < MAX_PENDING) {
        this.pending.set(key, {
          tenantId: issued.tenantId,
          use: { userId: issued.userId, clientId: issued.clientId, scope, lastUsedAt: at },
        });
      }
    }
  }

  /** Notes not yet written. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Writes every note taken so far: one statement per tenant (each reaches one shard on Citus).
   * Flushes run one at a time; a failed tenant's notes are kept for the next flush.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  /** Stops the timer and writes what is left (the server's close path). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const byTenant = new Map<string, ScopeUse[]>();
    for (const { tenantId, use } of batch.values()) byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), use]);
    for (const [tenantId, uses] of byTenant) {
      try {
        await this.write(tenantId, uses);
      } catch (error) {
        this.log?.warn({ err: error, tenantId, uses: uses.length }, 'could not record the last use of grants');
        // Kept for the next flush, unless newer notes of the same keys arrived meanwhile.
        for (const use of uses) {
          const key = `${tenantId}\0${use.userId}\0${use.clientId}\0${use.scope}`;
          if (!this.pending.has(key) && !this.closed) this.pending.set(key, { tenantId, use });
        }
      }
    }
  }

  /** One statement; if a user or app was deleted meanwhile (foreign key), the uses one by one, dropping theirs. */
  private async write(tenantId: string, uses: ScopeUse[]): Promise<void> {
    try {
      await recordScopeUses(this.pool, tenantId, uses);
    } catch (error) {
      if (!isPgError(error, PgError.foreignKeyViolation)) throw error;
      for (const use of uses) {
        await recordScopeUses(this.pool, tenantId, [use]).catch((single: unknown) => {
          if (!isPgError(single, PgError.foreignKeyViolation)) throw single;
        });
      }
    }
  }
}
