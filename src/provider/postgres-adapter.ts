// oidc-provider's storage adapter over one table, oidc_models, with payloads as opaque jsonb
// (the library says its field list is not exhaustive). Clients are the exception: they are read
// from the `apps` table so that a registration change applies at once.
import { type Adapter, type AdapterPayload, errors } from 'oidc-provider';
import { clientMetadataOf } from '../db/apps.js';
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
    await this.pool.query({
      name: 'oidc-upsert',
      text: `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at)
       VALUES ($1::text, $2::text, $3::jsonb, $4::text, $5::text, $6::text,
               CASE WHEN $7::integer > 0 THEN now() + make_interval(secs => $7::integer) END)
       ON CONFLICT (model, id) DO UPDATE
          SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, user_code = EXCLUDED.user_code,
              uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
      values: [
        this.model,
        id,
        payload,
        payload.grantId ?? null,
        payload.userCode ?? null,
        payload.uid ?? null,
        expiresIn ?? 0,
      ],
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
   * loser finds the row already consumed, revokes the grant's tokens (RFC 9700 §4.5: a replayed
   * code means the grant is compromised) and fails with invalid_grant.
   */
  async consume(id: string): Promise<void> {
    if (UNSTORABLE_TEXT.test(id)) throw new errors.InvalidGrant(`${this.model} not found`);
    // Under READ COMMITTED the second UPDATE waits for the first, re-checks the WHERE and matches nothing.
    const { rowCount } = await this.pool.query({
      name: 'oidc-consume',
      text: `UPDATE oidc_models
          SET consumed_at = now(),
              payload = payload || jsonb_build_object('consumed', floor(extract(epoch FROM now()))::bigint)
        WHERE model = $1::text AND id = $2::text AND consumed_at IS NULL`,
      values: [this.model, id],
    });
    if (rowCount === 1) return;
    const { rows: existing } = await this.pool.query<{ grant_id: string | null }>(
      'SELECT grant_id FROM oidc_models WHERE model = $1::text AND id = $2::text',
      [this.model, id],
    );
    const grantId = existing[0]?.grant_id;
    if (grantId) await this.revokeByGrantId(grantId);
    throw new errors.InvalidGrant(`${this.model} already consumed`);
  }

  async destroy(id: string): Promise<void> {
    if (UNSTORABLE_TEXT.test(id)) return;
    await this.pool.query('DELETE FROM oidc_models WHERE model = $1::text AND id = $2::text', [this.model, id]);
  }

  /** Removes every artefact of the grant — all models, not only this one. */
  async revokeByGrantId(grantId: string): Promise<void> {
    await this.pool.query('DELETE FROM oidc_models WHERE grant_id = $1::text', [grantId]);
  }

  // Named statements (one per column), so each connection prepares them once: these run on every request.
  private async findOne(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    if (UNSTORABLE_TEXT.test(value)) return undefined;
    const { rows } = await this.pool.query<{ payload: AdapterPayload }>({
      name: `oidc-find-by-${column}`,
      text: `SELECT payload FROM oidc_models
        WHERE model = $1::text AND ${column} = $2::text AND (expires_at IS NULL OR expires_at > now())`,
      values: [this.model, value],
    });
    return rows[0]?.payload;
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

/** Deletes expired rows; run periodically so the table does not grow without bound. */
export async function purgeExpiredModels(pool: Pool, batch = 5000): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM oidc_models WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM oidc_models WHERE expires_at < now() LIMIT $1::integer))`,
    [batch],
  );
  return rowCount ?? 0;
}
