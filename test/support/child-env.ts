// How tests start child processes that run Accord's TypeScript sources (the real server, the CLI).
// Under the test runner a child runs as the test files do: with the runner's own node arguments
// (its TypeScript loader and its coverage hooks) and the variables they read, so the lines it runs
// count in the coverage report, mapped exactly as the in-process tests' lines are (a child on
// another transpiler, such as tsx, would map them differently and the merged report would be
// wrong). A child writes its coverage when it exits by itself — the end of a command, or a signal
// it handles such as the server's SIGTERM — and loses it to SIGKILL. Outside the runner (a test
// file run directly with tsx) the child runs through tsx.

const RUNNER_TYPESCRIPT_LOADER = /[\\/]@tapjs[\\/]typescript[\\/]/;
/** What the runner's loader (ts-node) and coverage hooks (@tapjs/processinfo) read from the environment. */
const RUNNER_VARIABLES = /^(TS_NODE_|TAP_TYPE_STRIP_ONLY$|_TAPJS_PROCESSINFO_)/;

/** The node arguments that run `script` (a .ts file) with `args`. */
export function sourceCommand(script: string, args: readonly string[] = []): string[] {
  const underRunner = process.execArgv.some((arg) => RUNNER_TYPESCRIPT_LOADER.test(arg));
  return [...(underRunner ? process.execArgv : ['--import', 'tsx']), script, ...args];
}

/** `env` plus the runner's variables, so that the child's coverage is counted. */
export function coveredChildEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const runner = Object.entries(process.env).filter(([key]) => RUNNER_VARIABLES.test(key));
  return { ...Object.fromEntries(runner), ...env };
}
