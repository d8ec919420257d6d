// The resource servers' revocation check — is the token's grant still alive, does the app still
// exist? — answered from a per-process cache that the database invalidates. The statements that
// delete a Grant row (or save it again) and an app NOTIFY it, on the database every process is
// connected to — the coordinator on Citus (db/revocation-notifications.ts); one dedicated
// connection per process LISTENs. A cached entry is read again after maxAgeMs regardless.
//
// Safety rule: the cache answers "alive" only while the listener is connected, and only for
// entries read from the database after it started listening. When the listener is lost the cache
// is emptied and every check reads the database (as without a cache) until it listens again.
// Only "alive" is cached: a refusal always comes from the database.
//
// A grant narrowed in place ("reduce to what is used", issue 15) lives on, and a token of it
// carrying a scope the grant no longer holds for the token's API is refused: the check compares
// the token's scopes with the grant's as it is now, read with its lifetime and cached with it.

import { CATALOGUE_CHANNEL } from '../db/apis.js';
import { CONSENT_POLICY_CHANNEL } from '../db/app-consent-policies.js';
import { appExists } from '../db/apps.js';
import { findGrantLife } from '../db/oidc-models.js';
import { createDedicatedClient, type DedicatedClient, type Pool, ping } from '../db/pool.js';
import { APP_CHANNEL, EVERY_ROW, GRANT_CHANNEL, listenForRevocations } from '../db/revocation-notifications.js';

/** The listener's `application_name` in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'accord-revocation-listener';

export interface GrantLivenessLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface GrantLivenessOptions {
  /** Entries kept at most; beyond it the oldest go. */
  maxEntries?: number;
  /** An entry is read again after this long, notification or not (defence in depth). */
  maxAgeMs?: number;
  /** How often the listener's connection is probed: a silently dropped one still looks open. */
  heartbeatMs?: number;
  /** The first and the longest wait before reconnecting; the wait doubles in between. */
  reconnectDelayMs?: readonly [first: number, longest: number];
  log?: GrantLivenessLog;
  /**
   * Called when the permission catalogue changed (db/apis.ts announces it on the same connection),
   * and whenever the listener (re)connects, since a change may have been missed meanwhile.
   */
  onCatalogueChanged?: () => void;
  /**
   * Called with the tenant whose consent policies or classifications changed
   * (db/app-consent-policies.ts), and with undefined (every tenant) whenever the listener
   * (re)connects.
   */
  onConsentPoliciesChanged?: (tenantId: string | undefined) => void;
  /** A scope's name in an API's tokens, from its name in a grant (the catalogue's short name). */
  tokenScopeName?: (grantScope: string) => string;
}

export interface TokenGrant {
  grantId?: string;
  clientId: string;
  sub?: string;
  /** The API the token is for (`aud`) and the scopes it carries: checked against what its grant holds now. */
  audience?: string;
  scopes?: ReadonlySet<string>;
}

/** Until when a row counts as alive (performance.now()), and for a grant, the scopes it holds by API (as tokens name them). */
interface Alive {
  until: number;
  held?: ReadonlyMap<string, ReadonlySet<string>>;
}

export class GrantLiveness {
  /** `g:<grant id>` or `a:<client id>` → until when it counts as alive; oldest first. */
  private readonly alive = new Map<string, Alive>();
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly heartbeatMs: number;
  private readonly reconnectDelayMs: readonly [number, number];
  private readonly log: GrantLivenessLog | undefined;
  private readonly onCatalogueChanged: (() => void) | undefined;
  private readonly onConsentPoliciesChanged: ((tenantId: string | undefined) => void) | undefined;
  private readonly tokenScopeName: (grantScope: string) => string;

  private client: DedicatedClient | undefined;
  private listening = false;
  /**
   * Bumped by every notification and every change of `listening`: a database read is cached only
   * if nothing was bumped while it ran, so a revocation announced while the read was in flight
   * is never overwritten by the read's older answer.
   */
  private generation = 0;
  private failures = 0;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: Pool,
    options: GrantLivenessOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
    this.reconnectDelayMs = options.reconnectDelayMs ?? [100, 5_000];
    this.log = options.log;
    this.onCatalogueChanged = options.onCatalogueChanged;
    this.onConsentPoliciesChanged = options.onConsentPoliciesChanged;
    this.tokenScopeName = options.tokenScopeName ?? ((scope) => scope);
  }

  /** Whether the cache is in use: the listener is connected and listening. */
  get isListening(): boolean {
    return this.listening;
  }

  /** Entries cached now (expired ones included until they are next asked for or evicted). */
  get size(): number {
    return this.alive.size;
  }

  /**
   * Connects the listener. Resolves after the first attempt whether or not it succeeded (a
   * failure is retried in the background, and meanwhile every check reads the database).
   */
  async start(): Promise<void> {
    await this.connect();
  }

  /**
   * Whether a JWT access token must be refused although its signature and expiry are fine: its
   * grant (the `gid` claim) was revoked — consent withdrawn, app removed or blocked, user disabled
   * — or no longer holds a scope the token carries for its API; or, for an app's own token, the
   * app was deleted. From the cache when it may answer (never before start(), so an instance that
   * is not started always reads the database).
   */
  async isRevoked(token: TokenGrant): Promise<boolean> {
    if (token.grantId) {
      const grantId = token.grantId;
      const grant = await this.isAlive(`g:${grantId}`, () => findGrantLife(this.pool, grantId));
      return !grant || !this.holdsScopesOf(grant, token);
    }
    // A user token without a grant id was not issued by Accord's flows: refuse it.
    if (token.sub) return true;
    const clientId = token.clientId;
    return !(await this.isAlive(`a:${clientId}`, async () =>
      (await appExists(this.pool, clientId)) ? { lifetimeMs: Infinity } : undefined,
    ));
  }

  /** Whether the grant still holds, for the token's API, every scope the token carries. */
  private holdsScopesOf(grant: Alive, token: TokenGrant): boolean {
    if (token.audience === undefined || !token.scopes || token.scopes.size === 0) return true;
    const held = grant.held?.get(token.audience);
    if (!held) return false;
    for (const scope of token.scopes) if (!held.has(scope)) return false;
    return true;
  }

  /** A grant's `resources` (scopes as grants name them, by API) as the API's tokens name them. */
  private heldByApi(resources: Readonly<Record<string, string>>): Map<string, Set<string>> {
    return new Map(
      Object.entries(resources).map(([api, scope]) => [
        api,
        new Set(scope.split(' ').filter(Boolean).map(this.tokenScopeName)),
      ]),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.stopCaching();
    this.client = undefined;
    if (client) await endWithin(client, 2_000);
  }

  /**
   * The row while alive (from the cache, else read), or undefined when it is gone. `read`
   * resolves how long the row stays alive from now in ms, and a grant's scopes by API.
   */
  private async isAlive(
    key: string,
    read: () => Promise<{ lifetimeMs: number; resources?: Record<string, string> } | undefined>,
  ): Promise<Alive | undefined> {
    const cached = this.alive.get(key);
    if (cached !== undefined) {
      if (performance.now() < cached.until) return cached;
      this.alive.delete(key);
    }
    const generation = this.generation;
    const readAt = performance.now(); // monotonic: a wall-clock step cannot stretch an entry
    const found = await read();
    if (found === undefined) return undefined;
    const alive: Alive = {
      until: readAt + Math.min(found.lifetimeMs, this.maxAgeMs),
      // Built once per read, not per token checked.
      ...(found.resources ? { held: this.heldByApi(found.resources) } : {}),
    };
    if (this.listening && generation === this.generation) this.remember(key, alive);
    return alive;
  }

  private remember(key: string, alive: Alive): void {
    this.alive.delete(key); // re-inserted last: the Map's order is the eviction order
    this.alive.set(key, alive);
    if (this.alive.size > this.maxEntries) this.alive.delete(this.alive.keys().next().value!);
  }

  private forget(channel: string, payload: string | undefined): void {
    if (channel === CATALOGUE_CHANNEL) {
      this.onCatalogueChanged?.();
      return;
    }
    if (channel === CONSENT_POLICY_CHANNEL) {
      this.onConsentPoliciesChanged?.(payload || undefined);
      return;
    }
    this.generation++;
    const prefix = channel === GRANT_CHANNEL ? 'g:' : channel === APP_CHANNEL ? 'a:' : undefined;
    if (prefix === undefined) return;
    if (payload === undefined || payload === EVERY_ROW) {
      for (const key of this.alive.keys()) if (key.startsWith(prefix)) this.alive.delete(key);
    } else {
      this.alive.delete(prefix + payload);
    }
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = createDedicatedClient(this.pool, LISTENER_APPLICATION_NAME);
    this.client = client;
    // Without an 'error' listener a dropped connection would crash the process.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (message) => this.forget(message.channel, message.payload));
    try {
      await client.connect();
      await listenForRevocations(client);
    } catch (error) {
      this.lost(client, error as Error);
      return;
    }
    if (this.client !== client) return; // lost or closed meanwhile
    this.listening = true;
    this.generation++; // reads that began before LISTEN took effect are not cached
    this.onCatalogueChanged?.(); // a change announced while not listening was missed
    this.onConsentPoliciesChanged?.(undefined);
    if (this.failures > 0)
      this.log?.info({ attempts: this.failures }, 'revocation listener connected again; caching grant checks');
    this.failures = 0;
    this.scheduleHeartbeat(client);
  }

  private scheduleHeartbeat(client: DedicatedClient): void {
    this.heartbeatTimer = setTimeout(() => {
      // Times out after the pool's query_timeout, which counts as losing the connection.
      ping(client).then(
        () => this.client === client && this.scheduleHeartbeat(client),
        (error: Error) => this.lost(client, error),
      );
    }, this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /** The listener is gone: stop answering from the cache at once, then reconnect with backoff. */
  private lost(client: DedicatedClient, error: Error): void {
    if (this.client !== client) return; // a late event from a connection already given up
    this.client = undefined;
    this.stopCaching();
    void endWithin(client, 2_000);
    if (this.closed) return;
    if (this.failures === 0)
      this.log?.warn(
        { err: error },
        'revocation listener lost; checking every token against the database until it reconnects',
      );
    const [first, longest] = this.reconnectDelayMs;
    const delay = Math.min(longest, first * 2 ** this.failures);
    this.failures++;
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref();
  }

  private stopCaching(): void {
    this.listening = false;
    this.generation++;
    this.alive.clear();
    // Consent policies cached meanwhile are read again after their short maximum age.
    this.onConsentPoliciesChanged?.(undefined);
    clearTimeout(this.heartbeatTimer);
  }
}

/** Ends a client without waiting on a server that does not answer. */
async function endWithin(client: DedicatedClient, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
