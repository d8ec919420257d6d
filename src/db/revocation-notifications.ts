// The notifications sent whenever a Grant row is deleted or re-saved, and whenever an app is
// deleted, by the statements that do it (oidc-models.ts, apps.ts); and the LISTEN for them. They are
// raised by a statement of their own, which names no table, so that on a Citus cluster it runs on
// the coordinator the processes listen on (a trigger, or a pg_notify beside the DELETE, would run
// on the worker holding the row). Sent at commit: a rolled-back revocation announces nothing.
import type { DedicatedClient, Queryable } from './pool.js';

/** A Grant's id when its row is deleted or re-saved (its expiry may have moved). */
export const GRANT_CHANNEL = 'accord_grant_changed';
/** An app's client id when its row is deleted. */
export const APP_CHANNEL = 'accord_app_deleted';
/** The payload that stands for every row of a channel. */
export const EVERY_ROW = '*';

/**
 * Starts listening on both channels, and on the catalogue's (db/apis.ts), on a connection of its
 * own (a pooled one would be handed to others).
 */
export async function listenForRevocations(client: DedicatedClient): Promise<void> {
  await client.query(
    'LISTEN accord_grant_changed; LISTEN accord_app_deleted; LISTEN accord_catalogue_changed; LISTEN accord_consent_policy_changed',
  );
}

/** Tells every listening process that these grants or apps changed (nothing when `ids` is empty). */
export async function announce(
  db: Queryable,
  channel: typeof GRANT_CHANNEL | typeof APP_CHANNEL,
  ids: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  await db.query({
    name: 'announce-revocation',
    text: 'SELECT pg_notify($1::text, id) FROM unnest($2::text[]) AS id',
    values: [channel, ids],
  });
}
