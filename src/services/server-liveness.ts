// How Accord tells which servers are running (server_instances): each says it is alive every
// HEARTBEAT_SECONDS, and one silent for GONE_AFTER_SECONDS counts as stopped. A key rotation
// (signing-keys.ts) relies on it and `accord keys rotate` states it in its help, which every run
// of the CLI builds: so this module loads nothing but the table's own file (the rotation loads jose).
export { GONE_AFTER_SECONDS, HEARTBEAT_SECONDS } from '../db/server-instances.js';
