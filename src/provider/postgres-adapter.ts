// oidc-provider's storage adapter over one table, oidc_models (db/oidc-models.ts), with payloads
// as opaque jsonb (the library says its field list is not exhaustive). Clients are the exception:
// they are read from the `apps` table so that a registration change applies at once.
import Provider, { type Adapter, type AdapterPayload, errors } from 'oidc-provider';
import { DatabaseUnavailable } from '../core/errors.js';
import { clientMetadataOf } from '../db/apps.js';
import {
  consumeModel,
  deleteGrants,
  deleteModel,
  deleteModelsOfGrant,
  findModel,
  findModelGrantId,
  type ModelLookup,
  upsertModel,
} from '../db/oidc-models.js';
import type { Pool } from '../db/pool.js';
import { GRANT_MANAGEMENT_SCOPES } from './grant-management.js';
import { adapterReportingOutages, outageDuring } from './outage.js';
import { findClientOnce } from './request-memo.js';

/**
 * PostgreSQL cannot store U+0000 in text, nor a lone surrogate (or U+0000) escaped in jsonb: such a
 * value comes from a request (a parameter, a token or id), so it names no stored row, and a payload
 * holding one is refused as an invalid request rather than failing the query (a 500).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for
const UNSTORABLE_TEXT = /\u0000/;
const UNSTORABLE_JSON = /\\u0000|\\ud[89a-f][0-9a-f]{2}/i;

function assertStorable(payload: AdapterPayload): void {
  if (UNSTORABLE_JSON.test(JSON.stringify(payload)))
    throw new errors.InvalidRequest('request parameters must not contain NUL characters or unpaired surrogates');
}

/** The adapters oidc-provider asks for, one per model; a database outage reported its way (outage.ts). */
export function postgresAdapterFactory(pool: Pool): (model: string) => Adapter {
  const registrations = new RememberedRegistrations();
  return (model) =>
    adapterReportingOutages(
      model === 'Client' ? new AppClientAdapter(pool, registrations) : new PostgresAdapter(pool, model),
    );
}

export class PostgresAdapter implements Adapter {
  constructor(
    private readonly pool: Pool,
    private readonly model: string,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    assertStorable(payload);
    await upsertModel(this.pool, {
      model: this.model,
      id,
      payload,
      // A grant an app created with Grant Management is stored as issued under the user's grant
      // (grant-management.ts, keepParentGrant): revoking that one revokes it too.
      grantId: payload.grantId ?? (payload.parentGrantId as string | undefined) ?? null,
      userCode: payload.userCode ?? null,
      uid: payload.uid ?? null,
      expiresIn: expiresIn ?? 0,
    });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.findOne('id', id);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findOne('user_code', userCode);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findOne('uid', uid);
  }

  /**
   * Marks a code or refresh token used. Exactly one of two concurrent redemptions wins: the
   * loser finds the row already consumed, revokes the whole grant — the Grant itself with every
   * token issued under it, as oidc-provider does for a replay it sees itself (RFC 9700 §4.5 and
   * §4.14.2: the grant is compromised, and the winner may be the attacker) — and fails with
   * invalid_grant. Tokens the winner saves after this have no grant left, so they are refused.
   */
  async consume(id: string): Promise<void> {
    if (UNSTORABLE_TEXT.test(id)) throw new errors.InvalidGrant(`${this.model} not found`);
    if (await consumeModel(this.pool, this.model, id)) return;
    const grantId = await findModelGrantId(this.pool, this.model, id);
    if (grantId) await deleteGrants(this.pool, [grantId]);
    throw new errors.InvalidGrant(`${this.model} already consumed`);
  }

  async destroy(id: string): Promise<void> {
    if (UNSTORABLE_TEXT.test(id)) return;
    await deleteModel(this.pool, this.model, id);
  }

  /** Removes this model's entries issued under the grant (oidc-provider calls it for each model it revokes). */
  async revokeByGrantId(grantId: string): Promise<void> {
    await deleteModelsOfGrant(this.pool, this.model, grantId);
  }

  private async findOne(column: ModelLookup, value: string): Promise<AdapterPayload | undefined> {
    if (UNSTORABLE_TEXT.test(value)) return undefined;
    return findModel<AdapterPayload>(this.pool, this.model, column, value);
  }
}

/**
 * Each app's registration as this process last read it, for a few minutes. While the database is
 * out of reach, a request that has already failed on it answers temporarily_unavailable; to send
 * that answer to the app rather than show it to the user (RFC 6749 §4.1.2.1), oidc-provider needs
 * the app's registration to check the redirect_uri against, and it cannot be read now. Nothing
 * else is done with a remembered registration: the request has already failed.
 */
class RememberedRegistrations {
  static readonly FOR_MS = 10 * 60 * 1000;
  static readonly AT_MOST = 10_000;
  private readonly entries = new Map<string, { metadata: AdapterPayload; readAt: number }>();

  /** What was just read: a registration, or none (the app is gone). */
  remember(clientId: string, metadata: AdapterPayload | undefined): void {
    this.entries.delete(clientId);
    if (!metadata) return;
    this.entries.set(clientId, { metadata, readAt: Date.now() });
    // Oldest first (insertion order): drop the longest unread beyond the bound.
    if (this.entries.size > RememberedRegistrations.AT_MOST) this.entries.delete(this.entries.keys().next().value!);
  }

  recall(clientId: string): AdapterPayload | undefined {
    const entry = this.entries.get(clientId);
    return entry && Date.now() - entry.readAt < RememberedRegistrations.FOR_MS ? entry.metadata : undefined;
  }
}

/**
 * A confidential app may ask for a token for its own grants (Grant Management's scopes, by
 * client credentials); the provider allows only the OpenID scopes listed in `scope` once it is set.
 */
function withGrantManagementScopes(metadata: AdapterPayload): AdapterPayload {
  if (!metadata.client_secret || typeof metadata.scope !== 'string') return metadata;
  return { ...metadata, scope: [metadata.scope, ...GRANT_MANAGEMENT_SCOPES].join(' ') };
}

/** Read-only: apps are registered through Accord's own CLI and API, never by the provider. */
class AppClientAdapter implements Adapter {
  constructor(
    private readonly pool: Pool,
    private readonly registrations: RememberedRegistrations,
  ) {}
  async find(id: string): Promise<AdapterPayload | undefined> {
    if (UNSTORABLE_TEXT.test(id)) return undefined;
    let metadata: AdapterPayload | undefined;
    try {
      const app = await findClientOnce(this.pool, id);
      metadata = app && withGrantManagementScopes(clientMetadataOf(app) as AdapterPayload);
    } catch (error) {
      // Only for a request that has already failed on the database (its answer is decided):
      // the provider looks the app up to check where that answer may go.
      const remembered =
        error instanceof DatabaseUnavailable && outageDuring(Provider.ctx) && this.registrations.recall(id);
      if (remembered) return remembered;
      throw error;
    }
    this.registrations.remember(id, metadata);
    return metadata;
  }
  async upsert(): Promise<void> {
    throw new Error('clients are registered through Accord, not the provider');
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}
