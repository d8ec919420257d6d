// server_secrets: named random secrets shared by every process (cookie signing, client-secret hashing).
import { randomBytes } from 'node:crypto';
import type { Queryable } from './pool.js';

/** The named secret, created on first use; concurrent first uses agree on one value. */
export async function loadServerSecret(db: Queryable, name: string): Promise<string> {
  await db.query('INSERT INTO server_secrets (name, value) VALUES ($1::text, $2::text) ON CONFLICT (name) DO NOTHING', [
    name,
    randomBytes(32).toString('base64url'),
  ]);
  const { rows } = await db.query<{ value: string }>('SELECT value FROM server_secrets WHERE name = $1::text', [name]);
  return rows[0]!.value;
}
