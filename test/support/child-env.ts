// Environment for child processes that run Accord's sources through tsx (the real server, the
// CLI): tap would instrument them too, but tsx's transpilation maps lines differently from tap's
// loader and merging both misreports coverage. Their behaviour is asserted; their lines are
// counted by the in-process tests.
export function uncoveredChildEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return { ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0' };
}
