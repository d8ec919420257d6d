// Keeps an embedded PostgreSQL running for a whole test run (started by before.ts, stopped by
// after.ts with SIGTERM). Writes the server's URL to .data-test/url once it accepts connections.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { embeddedUrlFile } from './database.js';

const dir = path.dirname(embeddedUrlFile);
const database = await startEmbeddedPostgres({ dataDir: dir, log: (line) => process.stdout.write(`${line}\n`) });
writeFileSync(path.join(dir, 'daemon.pid'), String(process.pid));
writeFileSync(embeddedUrlFile, database.url);
const stop = async () => {
  rmSync(embeddedUrlFile, { force: true });
  await database.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
setInterval(() => undefined, 1 << 30);
