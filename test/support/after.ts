// Runs once after the test files: stops the embedded PostgreSQL that before.ts started, if any.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { embeddedUrlFile } from './database.js';

const pidFile = path.join(path.dirname(embeddedUrlFile), 'daemon.pid');
if (!process.env.DATABASE_URL && existsSync(pidFile)) {
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch {
    // already gone
  }
}
