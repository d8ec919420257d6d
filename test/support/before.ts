// Runs once before the test files: without DATABASE_URL, starts an embedded PostgreSQL in a
// detached helper process (it must outlive this script); then builds the migrated template.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { embeddedUrlFile, ensureTemplate, repoRoot } from './database.js';

if (!process.env.DATABASE_URL) {
  const dir = path.dirname(embeddedUrlFile);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  rmSync(embeddedUrlFile, { force: true });
  const log = openSync(path.join(dir, 'daemon.log'), 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/support/embedded-daemon.ts')], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  const deadline = Date.now() + 60_000;
  while (!existsSync(embeddedUrlFile)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`embedded test database did not start; see ${path.join(dir, 'daemon.log')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
await ensureTemplate();
