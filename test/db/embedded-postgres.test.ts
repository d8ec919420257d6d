// The embedded database keeps its data across restarts and recovers from a node process killed with SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import t from 'tap';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { coveredChildEnv, sourceCommand } from '../support/child-env.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = path.join(root, 'test/fixtures/embedded-postgres-child.ts');

// Under os.tmpdir() with mode 755: when tests run as root, PostgreSQL runs as the `postgres` user, who must enter it.
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'accord-embedded-'));
await chmod(dataDir, 0o755);
const started = new Set<EmbeddedDatabase>();
t.teardown(async () => {
  for (const db of started) await db.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(settings?: Record<string, string>): Promise<EmbeddedDatabase> {
  const db = await startEmbeddedPostgres({ dataDir, ...(settings ? { settings } : {}) });
  started.add(db);
  return db;
}

async function query(url: string, sql: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited orphan can linger as a zombie until its new parent reaps it; that counts as gone.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Resolves with the child's first line of output, or rejects with its stderr if it exits first. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`fixture exited (${code}) before printing a url:\n${err}`)));
  });
}

t.test('data written before stop() is there after the next start', async (t) => {
  const first = await start();
  t.match(first.url, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/accord$/);
  await query(first.url, 'CREATE TABLE note (body text NOT NULL)');
  await query(first.url, `INSERT INTO note (body) VALUES ('before restart')`);
  await first.stop();
  await first.stop(); // stop() is idempotent

  // Settings apply to that start only: the bench's scale comparison asks for a larger shared_buffers.
  const second = await start({ shared_buffers: '48MB', work_mem: '5MB' });
  t.same(await query(second.url, 'SELECT body FROM note'), [{ body: 'before restart' }]);
  t.same(
    await query(
      second.url,
      "SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem') ORDER BY name",
    ),
    [
      { name: 'shared_buffers', setting: '6144', unit: '8kB' },
      { name: 'work_mem', setting: '5120', unit: 'kB' },
    ],
  );
  await second.stop();
  const third = await start();
  t.same(
    await query(third.url, "SELECT setting FROM pg_settings WHERE name = 'work_mem'"),
    [{ setting: '4096' }],
    'the next start without them has the default',
  );
  await third.stop();
});

t.test('a PostgreSQL orphaned by a SIGKILLed node process is stopped and its data kept', async (t) => {
  // SIGKILLed below, so it writes no coverage; the module is covered by the starts above.
  const child = spawn(process.execPath, sourceCommand(fixture, [dataDir]), {
    cwd: root,
    env: coveredChildEnv(process.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let orphanPid: number | undefined;
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (orphanPid !== undefined && isAlive(orphanPid)) process.kill(orphanPid, 'SIGINT');
  });

  const url = await firstLine(child);
  await query(url, `INSERT INTO note (body) VALUES ('from the killed process')`);
  orphanPid = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  child.kill('SIGKILL');
  await once(child, 'exit');
  t.ok(isAlive(orphanPid), 'PostgreSQL outlives its SIGKILLed node process');

  const db = await start();
  t.notOk(isAlive(orphanPid), 'the orphan was stopped');
  t.same(await query(db.url, 'SELECT body FROM note ORDER BY body'), [
    { body: 'before restart' },
    { body: 'from the killed process' },
  ]);
  await db.stop();
});
