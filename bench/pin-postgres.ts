// Pins the PostgreSQL server that a bench talks to onto one core for the run, and puts back each
// process's own affinity afterwards, so that a figure reads per vCPU: the server under test on
// one core, the load generator and PostgreSQL on the other. Linux only (taskset, /proc).
//
// The server is found from the connection itself: `SHOW data_directory` and the first line of
// <data directory>/postmaster.pid give the postmaster; failing that (not a superuser, or the file
// is not readable), the parent of this connection's backend. Either way the backend must be a
// child of that postmaster on this machine, or the database is elsewhere and nothing is pinned.
// The postmaster is pinned before its children: every backend forked afterwards (the bench's pool
// connections among them) inherits its affinity. Two bench runs at once (other sessions share this
// machine) share what they found in a file in the temporary directory, so that the second does
// not take the first one's pinning for the original, and the last one out restores it.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface PostgresPinning {
  pinned: boolean;
  /** For the header: where PostgreSQL runs, or why it was not pinned. */
  summary: string;
  /** How to put it back by hand if the run is killed before it can (empty if not pinned). */
  restoreHint: string;
  /** Puts back the affinity each process had (idempotent, synchronous: safe in an exit handler). */
  restore(): void;
}

/** Parent pid of a process, or undefined if there is no such process here. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && parentOf(Number(entry)) === pid) children.push(Number(entry));
  }
  return children;
}

/** The CPUs a process may run on, as a list (`0-1`, `1`), or undefined if it is gone. */
function affinityOf(pid: number): string | undefined {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Sets the affinity of every thread of `pid`; throws with taskset's message if not permitted. */
function setAffinity(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function reason(error: unknown): string {
  const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
  return stderr || (error instanceof Error ? error.message : String(error));
}

async function findPostmaster(
  adminUrl: string,
): Promise<{ pid: number; how: string } | { pid?: undefined; why: string }> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const backendParent = parentOf(backend);
    let fromFile: number | undefined;
    let fileWhy = '';
    try {
      const dataDirectory = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!
        .data_directory;
      try {
        fromFile = Number(readFileSync(`${dataDirectory}/postmaster.pid`, 'utf8').split('\n')[0]);
      } catch (error) {
        fileWhy = `${dataDirectory}/postmaster.pid not readable here (${(error as NodeJS.ErrnoException).code ?? reason(error)})`;
      }
    } catch (error) {
      fileWhy = `SHOW data_directory refused (${reason(error)})`;
    }
    if (fromFile !== undefined) {
      if (backendParent !== fromFile) {
        return {
          why: `postmaster.pid names pid ${fromFile}, but this connection's backend (pid ${backend}) is not its child on this machine: another host or container`,
        };
      }
      return { pid: fromFile, how: 'postmaster.pid' };
    }
    if (backendParent === undefined)
      return {
        why: `${fileWhy}, and this connection's backend (pid ${backend}) is not a process of this machine: another host or container`,
      };
    const comm = readFileSync(`/proc/${backendParent}/comm`, 'utf8').trim();
    if (comm !== 'postgres' && comm !== 'postmaster')
      return { why: `${fileWhy}, and the parent of backend ${backend} here is \`${comm}\`, not a postmaster` };
    return { pid: backendParent, how: `parent of this connection's backend (${fileWhy})` };
  } finally {
    await client.end();
  }
}

/**
 * What was there before the first run pinned PostgreSQL, shared by the runs that pin it at the
 * same time (another session's bench on this machine, or one killed before it could restore):
 * each takes the original affinity from here rather than the pinned one it finds, and the last
 * run out restores it. Keyed by the postmaster's pid and start time.
 */
interface SharedState {
  started: string;
  original: string;
  children: Record<string, string>;
  holders: number[];
}

function stateFile(postmaster: number): string {
  return path.join(os.tmpdir(), `accord-bench-postgres-${postmaster}.json`);
}

/** The postmaster's start time (field 22 of /proc/<pid>/stat): tells a restarted server that reuses the pid. */
function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readState(postmaster: number): SharedState | undefined {
  try {
    const state = JSON.parse(readFileSync(stateFile(postmaster), 'utf8')) as SharedState;
    if (state.started !== startTime(postmaster)) return undefined;
    return { ...state, holders: state.holders.filter((pid) => pid !== process.pid && alive(pid)) };
  } catch {
    return undefined;
  }
}

/**
 * Moves every process of the PostgreSQL server behind `adminUrl` to `core` (taskset -a -p -c),
 * remembering each one's affinity. Never throws for a server it cannot pin: the result says why.
 */
export async function pinPostgres(adminUrl: string, core: string): Promise<PostgresPinning> {
  const notPinned = (why: string): PostgresPinning => ({
    pinned: false,
    summary: `PostgreSQL not pinned: ${why}`,
    restoreHint: '',
    restore: () => undefined,
  });
  let found: Awaited<ReturnType<typeof findPostmaster>>;
  try {
    found = await findPostmaster(adminUrl);
  } catch (error) {
    return notPinned(`could not find its postmaster (${reason(error)})`);
  }
  if (found.pid === undefined) return notPinned(found.why);
  const postmaster = found.pid;
  const current = affinityOf(postmaster);
  if (!current) return notPinned(`postmaster pid ${postmaster} has no /proc entry here`);

  // Children first (their own affinity), then the postmaster, then the children again: one forked
  // in between inherited the postmaster's original affinity. If another run pinned it already
  // (or was killed before restoring), the original comes from the state it left.
  const shared = readState(postmaster);
  const state: SharedState = shared ?? { started: startTime(postmaster), original: current, children: {}, holders: [] };
  const { original } = state;
  if (!shared) {
    for (const child of childrenOf(postmaster)) {
      const affinity = affinityOf(child);
      if (affinity) state.children[child] = affinity;
    }
  }
  try {
    setAffinity(postmaster, core);
  } catch (error) {
    const user = process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`;
    return notPinned(`taskset on postmaster pid ${postmaster} failed as ${user} (${reason(error)})`);
  }
  let pinned = 0;
  const failures: string[] = [];
  for (const child of childrenOf(postmaster)) {
    state.children[child] ??= original;
    try {
      setAffinity(child, core);
      pinned++;
    } catch (error) {
      if (affinityOf(child)) failures.push(`${child}: ${reason(error)}`);
    }
  }
  const others = state.holders;
  state.holders = [...others, process.pid];
  writeFileSync(stateFile(postmaster), JSON.stringify(state));

  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    // Another run still pinning it: leave it to that one (the last out restores).
    const now = readState(postmaster);
    if (now && now.holders.length > 0) {
      writeFileSync(stateFile(postmaster), JSON.stringify(now));
      process.stderr.write(
        `PostgreSQL left on core ${core}: another bench run (pid ${now.holders.join(', ')}) still uses it pinned and will restore ${original}\n`,
      );
      return;
    }
    const children = { ...state.children, ...now?.children };
    // Backends forked during the run inherited `core`: they get what they would have inherited.
    for (const child of childrenOf(postmaster)) {
      try {
        setAffinity(child, children[child] ?? original);
      } catch {
        // Exited meanwhile.
      }
    }
    try {
      setAffinity(postmaster, original);
      rmSync(stateFile(postmaster), { force: true });
    } catch (error) {
      process.stderr.write(
        `could not restore PostgreSQL's affinity (postmaster ${postmaster} → ${original}): ${reason(error)}\n`,
      );
    }
  };
  return {
    pinned: true,
    summary:
      `PostgreSQL on core ${core} (postmaster ${postmaster}, found by ${found.how}, and its ${pinned} processes; was on ${original}` +
      `${shared ? `, as recorded in ${stateFile(postmaster)}${others.length ? ` by the bench run(s) pinning it now, pid ${others.join(', ')}` : ''}` : ''})` +
      (failures.length ? `; these could not be moved: ${failures.join(', ')}` : ''),
    restoreHint: `if the run is killed before it can restore it: for p in ${postmaster} $(ps --ppid ${postmaster} -o pid=); do taskset -a -p -c ${original} $p; done`,
    restore,
  };
}
