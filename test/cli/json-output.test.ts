// The `accord` CLI's JSON as scripts read it: with --json a failure is one JSON object on stderr
// (`{"error", "message"}`, and `usage` or `field` when known) with the usual exit code, stdout
// stays empty; and every key of every JSON answer is snake_case (OAuth's own names are already).
import { spawn } from 'node:child_process';
import path from 'node:path';
import t, { type Test } from 'tap';
import { coveredChildEnv, sourceCommand } from '../support/child-env.js';
import { createTestDatabase, repoRoot } from '../support/database.js';
import { freePort } from '../support/server.js';

t.setTimeout(480_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const db = await createTestDatabase();
t.teardown(() => db.drop());

function accord(args: string[], stdin = '', env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _runnerHooks, ...inherited } = process.env;
    const child = spawn(process.execPath, sourceCommand(path.join(repoRoot, 'test/fixtures/accord-cli.ts'), args), {
      cwd: repoRoot,
      env: coveredChildEnv({ ...inherited, DATABASE_URL: db.url, ...env }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

/** The one JSON object on stderr, checked to be alone there and nothing on stdout. */
function errorObject(t: Test, run: Run): Record<string, string> {
  t.equal(run.stdout, '', 'nothing on stdout');
  t.equal(run.stderr.trimEnd().split('\n').length, 1, 'one line on stderr');
  return JSON.parse(run.stderr) as Record<string, string>;
}

t.test('--json failures are one JSON object on stderr, with the exit codes of the text form', async (t) => {
  const unreachable = `postgres://postgres@127.0.0.1:${await freePort()}/accord`;
  const [
    unknownOption,
    missingArgument,
    groupOnly,
    unknownInGroup,
    notFound,
    badConfig,
    noDatabase,
    passwordOnCommandLine,
  ] = await Promise.all([
    accord(['tenant', 'list', '--nope', '--json']),
    accord(['tenant', 'show', '--json']),
    accord(['tenant', '--json']),
    accord(['tenant', 'explode', '--json']),
    accord(['tenant', 'show', 'nosuchtenant', '--json']),
    accord(['tenant', 'list', '--json'], '', { DATABASE_URL: 'mysql://localhost/accord' }),
    accord(['tenant', 'list', '--json'], '', { DATABASE_URL: unreachable }),
    accord(['user', 'set-password', 'contoso', 'alice', '--password', 'x', '--json']),
  ]);

  t.equal(unknownOption.code, 2);
  t.same(errorObject(t, unknownOption), {
    error: 'usage_error',
    message: 'unknown option --nope',
    usage: 'usage: accord tenant list [--json]\n',
  });
  t.equal(missingArgument.code, 2);
  t.match(errorObject(t, missingArgument), {
    error: 'usage_error',
    message: 'missing <id>',
    usage: /accord tenant show <id>/,
  });
  t.equal(groupOnly.code, 2);
  t.match(errorObject(t, groupOnly), {
    error: 'usage_error',
    message: '"tenant" needs a command',
    usage: /tenant create/,
  });
  t.equal(unknownInGroup.code, 2);
  t.match(errorObject(t, unknownInGroup), { error: 'usage_error', message: 'unknown command "tenant explode"' });
  t.equal(notFound.code, 1);
  t.same(errorObject(t, notFound), { error: 'not_found', message: 'tenant "nosuchtenant" not found' });
  t.equal(badConfig.code, 78);
  t.match(errorObject(t, badConfig), {
    error: 'configuration_error',
    message: /DATABASE_URL must be a postgres:\/\/ URL/,
  });
  t.equal(noDatabase.code, 1);
  t.match(errorObject(t, noDatabase), {
    error: 'temporarily_unavailable',
    message: /^cannot use the database at DATABASE_URL: .*ECONNREFUSED/,
  });
  t.equal(passwordOnCommandLine.code, 2);
  t.match(errorObject(t, passwordOnCommandLine), { error: 'usage_error', message: /never taken on the command line/ });
});

t.test('a refused change names its field; without --json the same failure is text', async (t) => {
  const bad = await accord(['tenant', 'create', 'Not A Valid Id', '--name', 'X', '--json']);
  t.equal(bad.code, 1);
  t.match(errorObject(t, bad), { error: 'invalid_request', field: 'id' });
  const text = await accord(['tenant', 'create', 'Not A Valid Id', '--name', 'X']);
  t.equal(text.code, 1);
  t.match(text.stderr, /^accord: .+\n$/);
  t.equal(text.stdout, '');
});

/** Every object key anywhere in `value`, with where it is. */
function keysOf(value: unknown, at = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((inner, index) => keysOf(inner, `${at}[${index}]`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [`${at}.${key}`, ...keysOf(inner, `${at}.${key}`)]);
}

t.test('every key of every JSON answer is snake_case, audit details included', async (t) => {
  const outputs: unknown[] = [];
  const json = async (args: string[], stdin = '') => {
    const run = await accord([...args, '--json'], stdin);
    t.equal(run.code, 0, `accord ${args.join(' ')}: ${run.stderr}`);
    const parsed = JSON.parse(run.stdout) as Record<string, unknown>;
    outputs.push(parsed);
    return parsed;
  };
  await json(['tenant', 'create', 'northwind', '--name', 'Northwind']);
  await json(['tenant', 'set-integrated-apps', 'northwind', 'off']);
  await json(['user', 'create', 'northwind', 'nina', '--admin', '--password-stdin'], 'a long password here');
  await json(['user', 'list', 'northwind']);
  await json([
    'app',
    'create',
    '--tenant',
    'northwind',
    '--name',
    'Nina Notes',
    '--redirect-uri',
    'https://notes.example/cb',
    '--permissions',
    'openid User.Read',
  ]);
  const audit = (await json(['audit', 'list', 'northwind'])) as { value: { action: string }[] };
  t.ok(
    audit.value.some((event) => event.action === 'tenant.created'),
    'the audit list holds events whose details the services wrote in camelCase',
  );

  const offending = outputs.flatMap((output) => keysOf(output)).filter((key) => !/\.[a-z][a-z0-9_]*$/.test(key));
  t.same(offending, [], 'no key outside snake_case');
});
