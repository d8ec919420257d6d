// Runs the `accord` CLI in its own process under the test runner's loader (so its coverage
// counts), with stdin a pipe (never a terminal), against the given database.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { coveredChildEnv, sourceCommand } from './child-env.js';
import { repoRoot } from './database.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runAccord(databaseUrl: string, args: string[], stdin = ''): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _runnerHooks, ...inherited } = process.env;
    const child = spawn(process.execPath, sourceCommand(path.join(repoRoot, 'test/fixtures/accord-cli.ts'), args), {
      cwd: repoRoot,
      env: coveredChildEnv({ ...inherited, DATABASE_URL: databaseUrl }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // the CLI may exit before reading stdin
    child.stdin.end(stdin);
  });
}
