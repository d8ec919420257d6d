// server_instances: the running Accord processes, which signing keys each publishes, and when
// each was last seen (a heartbeat), so that a key rotation can tell whether it is safe.
import { GONE_AFTER_SECONDS } from '../core/server-liveness.js';
import type { Queryable } from './pool.js';

export interface ServerInstance {
  id: string;
  description: string;
}

/** Records (or re-records) the process and the keys it publishes; forgets processes gone for a day. */
export async function registerInstance(
  db: Queryable,
  instance: ServerInstance,
  publishedKids: string[],
): Promise<void> {
  await db.query(`DELETE FROM server_instances WHERE seen_at < now() - interval '1 day'`);
  await db.query(
    // seen_at from VALUES (its default): Citus allows no non-immutable function in DO UPDATE SET.
    `INSERT INTO server_instances (id, description, published_kids) VALUES ($1::text, $2::text, $3::text[])
     ON CONFLICT (id) DO UPDATE SET published_kids = EXCLUDED.published_kids, seen_at = EXCLUDED.seen_at`,
    [instance.id, instance.description, publishedKids],
  );
}

export async function touchInstance(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE server_instances SET seen_at = now() WHERE id = $1::text', [id]);
}

export async function removeInstance(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM server_instances WHERE id = $1::text', [id]);
}

/** The live processes that do not publish every one of `kids`, oldest first. */
export async function instancesMissingKeys(
  db: Queryable,
  kids: string[],
): Promise<Array<{ description: string; startedAt: Date }>> {
  const { rows } = await db.query<{ description: string; startedAt: Date }>(
    `SELECT description, started_at AS "startedAt" FROM server_instances
      WHERE seen_at > now() - make_interval(secs => $2::integer) AND NOT ($1::text[] <@ published_kids)
      ORDER BY started_at, id`,
    [kids, GONE_AFTER_SECONDS],
  );
  return rows;
}
