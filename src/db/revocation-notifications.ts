// The notifications migration 0008's triggers send whenever a Grant row is deleted or its expiry
// changes, and whenever an app is deleted, whichever code path did it; and the LISTEN for them.
import type { DedicatedClient } from './pool.js';

/** A Grant's id when its row is deleted or its expiry changes. */
export const GRANT_CHANNEL = 'accord_grant_changed';
/** An app's client id when its row is deleted. */
export const APP_CHANNEL = 'accord_app_deleted';
/** The payload that stands for every row of a channel (sent when the table is truncated). */
export const EVERY_ROW = '*';

/**
 * Starts listening on both channels, and on the catalogue's (db/apis.ts), on a connection of its
 * own (a pooled one would be handed to others).
 */
export async function listenForRevocations(client: DedicatedClient): Promise<void> {
  await client.query('LISTEN accord_grant_changed; LISTEN accord_app_deleted; LISTEN accord_catalogue_changed');
}
