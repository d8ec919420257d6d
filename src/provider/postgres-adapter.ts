// oidc-provider's storage adapter over one table, oidc_models (db/oidc-models.ts), with payloads
// as opaque jsonb (the library says its field list is not exhaustive). Clients are the exception:
// they are read from the `apps` table so that a registration change applies at once.
import { type Adapter, type AdapterPayload, errors } from 'oidc-provider';
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
import { findAppOnce } from './request-memo.js';

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

export function postgresAdapterFactory(pool: Pool): (model: string) => Adapter {
  return (model) => (model === 'Client' ? new AppClientAdapter(pool) : new PostgresAdapter(pool, model));
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
      grantId: payload.grantId ?? null,
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

  /** Removes every artefact of the grant — all models, not only this one. */
  async revokeByGrantId(grantId: string): Promise<void> {
    await deleteModelsOfGrant(this.pool, grantId);
  }

  private async findOne(column: ModelLookup, value: string): Promise<AdapterPayload | undefined> {
    if (UNSTORABLE_TEXT.test(value)) return undefined;
    return findModel<AdapterPayload>(this.pool, this.model, column, value);
  }
}

/** Read-only: apps are registered through Accord's own CLI and API, never by the provider. */
class AppClientAdapter implements Adapter {
  constructor(private readonly pool: Pool) {}
  async find(id: string): Promise<AdapterPayload | undefined> {
    if (UNSTORABLE_TEXT.test(id)) return undefined;
    const app = await findAppOnce(this.pool, id);
    return app && (clientMetadataOf(app) as AdapterPayload);
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
