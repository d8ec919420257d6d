// Each tenant's permission classifications and custom app consent policies, kept in this process
// so that the consent decision on every silent /auth reads them from memory. A tenant is read on
// its first use (one statement), forgotten when any process announces a change of it
// (accord_consent_policy_changed, heard on the revocation listener's connection) and read again
// after maxAgeMs regardless, which bounds how stale an entry can be while the listener is away.
import type { AppConsentPolicy } from '../core/app-consent-policies.js';
import type { Impact } from '../core/types.js';
import { loadTenantConsentPolicies } from '../db/app-consent-policies.js';
import type { Queryable } from '../db/pool.js';

export interface TenantConsentPolicies {
  /** The tenant's own classes, by scope request name (defaults are not in here). */
  classifications: ReadonlyMap<string, Impact>;
  /** The tenant's custom policies, by id. */
  policies: readonly AppConsentPolicy[];
}

interface Entry {
  value: Promise<TenantConsentPolicies>;
  loadedAt: number;
}

export class ConsentPolicyCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation: a read that was in flight meanwhile is not kept. */
  private generation = 0;

  constructor(
    private readonly db: Queryable,
    private readonly options: { maxEntries?: number; maxAgeMs?: number } = {},
  ) {}

  forTenant(tenantId: string): Promise<TenantConsentPolicies> {
    const entry = this.entries.get(tenantId);
    const maxAgeMs = this.options.maxAgeMs ?? 30_000;
    if (entry && performance.now() - entry.loadedAt < maxAgeMs) return entry.value;
    const generation = this.generation;
    const value = readTenantConsentPolicies(this.db, tenantId);
    const fresh = { value, loadedAt: performance.now() };
    this.entries.delete(tenantId);
    this.entries.set(tenantId, fresh);
    if (this.entries.size > (this.options.maxEntries ?? 10_000)) this.entries.delete(this.entries.keys().next().value!);
    value.then(
      () => {
        if (generation !== this.generation && this.entries.get(tenantId) === fresh) this.entries.delete(tenantId);
      },
      () => {
        if (this.entries.get(tenantId) === fresh) this.entries.delete(tenantId);
      },
    );
    return value;
  }

  /** Forgets one tenant's entry, or every entry. */
  forget(tenantId: string | undefined): void {
    this.generation++;
    if (tenantId === undefined) this.entries.clear();
    else this.entries.delete(tenantId);
  }
}

/** The tenant's classifications and policies straight from the database. */
export async function readTenantConsentPolicies(db: Queryable, tenantId: string): Promise<TenantConsentPolicies> {
  const loaded = await loadTenantConsentPolicies(db, tenantId);
  return {
    classifications: new Map(loaded.classifications.map((record) => [record.scope, record.classification])),
    policies: loaded.policies.map((record) => ({
      id: record.id,
      name: record.name,
      builtIn: false,
      includes: record.includes,
      excludes: record.excludes,
    })),
  };
}
