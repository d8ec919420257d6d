// A tenant's audit trail as its admins read it (admin API, admin centre, CLI): newest first, paged
// by a keyset cursor on the event id, so a page never shifts while new events arrive; filtered by
// actor, action and date; each event with the names of its actor and target beside their ids.
// Also the consent activity of the last days, counted from the same trail.
import { type AuditEvent, type AuditFilter, countConsentActivityByDay, listAuditEvents } from '../db/audit-events.js';
import type { Pool } from '../db/pool.js';

export type { AuditEvent, AuditFilter };

export interface AuditPage {
  events: AuditEvent[];
  /** The `before` value of the next (older) page; null on the last page. */
  next: string | null;
}

export interface ConsentActivityDay {
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  grants: number;
  withdrawals: number;
  requests: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** `YYYY-MM-DD` → the instants that open and close that UTC day; undefined for a date that does not exist. */
export function utcDayBounds(date: string): { start: Date; end: Date } | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) return undefined;
  const start = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  if (start.toISOString().slice(0, 10) !== date) return undefined; // 2026-02-30 rolls over: refuse it
  return { start, end: new Date(start.getTime() + DAY_MS) };
}

export class AuditLog {
  constructor(private readonly pool: Pool) {}

  /** Up to `limit` events matching `filter`, older than the event `before` (from the newest when absent). */
  async page(
    tenantId: string,
    { limit, before, ...filter }: { limit: number; before?: string | undefined } & AuditFilter,
  ): Promise<AuditPage> {
    // One more than asked tells whether an older page exists.
    const rows = await listAuditEvents(this.pool, tenantId, { limit: limit + 1, before, ...filter });
    const events = rows.slice(0, limit);
    return { events, next: rows.length > limit ? events[events.length - 1]!.id : null };
  }

  /** One entry per UTC day for the `days` days ending today (`now`'s day), oldest first; days without activity count zero. */
  async consentActivity(tenantId: string, days: number, now: Date = new Date()): Promise<ConsentActivityDay[]> {
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const first = new Date(today - (days - 1) * DAY_MS);
    const counted = new Map((await countConsentActivityByDay(this.pool, tenantId, first)).map((row) => [row.day, row]));
    return Array.from({ length: days }, (_, index) => {
      const day = new Date(first.getTime() + index * DAY_MS).toISOString().slice(0, 10);
      const row = counted.get(day);
      return { day, grants: row?.grants ?? 0, withdrawals: row?.withdrawals ?? 0, requests: row?.requests ?? 0 };
    });
  }
}
