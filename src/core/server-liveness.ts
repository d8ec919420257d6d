// How Accord tells which servers are running: each records that it is alive every
// HEARTBEAT_SECONDS, and one silent for GONE_AFTER_SECONDS counts as stopped. A key rotation
// relies on it (services/signing-keys.ts), and `accord keys rotate` states it in its help.

export const HEARTBEAT_SECONDS = 30;
export const GONE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS;
