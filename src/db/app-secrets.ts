// app_secrets: a confidential app's client secrets — each a keyed hash, a short hint, when it was
// made and when it expires. At most two live at a time (the rule is services/app-secrets.ts).
import type { Queryable } from './pool.js';

export interface AppSecretRecord {
  /** A short public name for the secret: how people and scripts remove it. */
  id: string;
  secretHash: string;
  /** The secret's first characters, to tell secrets apart; null for secrets made before hints. */
  hint: string | null;
  createdAt: Date;
  expiresAt: Date;
}

export interface NewAppSecret {
  clientId: string;
  id: string;
  secretHash: string;
  hint: string;
  createdAt: Date;
  expiresAt: Date;
}

/** Holds the app's row until the transaction ends, so that two additions cannot both pass the limit. */
export async function lockAppSecrets(db: Queryable, clientId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM apps WHERE client_id = $1::text FOR UPDATE', [clientId]);
  return rowCount === 1;
}

export async function insertAppSecret(db: Queryable, secret: NewAppSecret): Promise<void> {
  await db.query(
    `INSERT INTO app_secrets (client_id, id, secret_hash, hint, created_at, expires_at)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::timestamptz, $6::timestamptz)`,
    [secret.clientId, secret.id, secret.secretHash, secret.hint, secret.createdAt, secret.expiresAt],
  );
}

/** Removes one secret; false when the app has no secret of that id. */
export async function deleteAppSecret(db: Queryable, clientId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM app_secrets WHERE client_id = $1::text AND id = $2::text', [
    clientId,
    id,
  ]);
  return rowCount === 1;
}

/** Removes the app's secrets that expired before `now`; returns their ids. */
export async function deleteExpiredAppSecrets(db: Queryable, clientId: string, now: Date): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    'DELETE FROM app_secrets WHERE client_id = $1::text AND expires_at <= $2::timestamptz RETURNING id',
    [clientId, now],
  );
  return rows.map((row) => row.id);
}

/** Removes every secret of the app (a replacement); returns their ids. */
export async function deleteAllAppSecrets(db: Queryable, clientId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('DELETE FROM app_secrets WHERE client_id = $1::text RETURNING id', [
    clientId,
  ]);
  return rows.map((row) => row.id);
}

/** How many of the app's secrets are still unexpired at `now`. */
export async function countLiveAppSecrets(db: Queryable, clientId: string, now: Date): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM app_secrets WHERE client_id = $1::text AND expires_at > $2::timestamptz',
    [clientId, now],
  );
  return rows[0]!.count;
}
