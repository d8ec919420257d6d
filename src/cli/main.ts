// The `accord` command (docs/interfaces.md, "The `accord` command"): finds the command,
// parses its arguments with util.parseArgs, opens the database the way the server does, runs the
// command and prints text or, with --json, exactly one JSON object on stdout. Errors go to stderr
// as `accord: <message>`, with the exit codes below.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { AccordError, DatabaseUnavailable } from '../core/errors.js';
import { apiCommands } from './api.js';
import { appCommands } from './app.js';
import { auditCommands } from './audit.js';
import { Cancelled, type Command, type Options, type Output, type Parsed, UsageError } from './command.js';
import { demoAppCommands } from './demo-app.js';
import { distributeCommands } from './distribute.js';
import { grantCommands } from './grants.js';
import { keysCommands } from './keys.js';
import { migrateCommands } from './migrate.js';
import { permissionCommands } from './permission.js';
import { policyCommands } from './policy.js';
import { seedCommands } from './seed.js';
import { tenantCommands } from './tenant.js';
import { userCommands } from './user.js';

export const EXIT = {
  ok: 0,
  /** Refused or failed: not found, already exists, an invalid value, the database unreachable. */
  failed: 1,
  /** The command line cannot be run as written: unknown command or option, missing argument. */
  usage: 2,
  /** EX_CONFIG, as the server: a bad environment variable. */
  config: 78,
  /** Stopped at a password prompt. */
  cancelled: 130,
} as const;

export const commands: readonly Command[] = [
  ...migrateCommands,
  ...distributeCommands,
  ...seedCommands,
  ...tenantCommands,
  ...userCommands,
  ...appCommands,
  ...apiCommands,
  ...permissionCommands,
  ...policyCommands,
  ...grantCommands,
  ...keysCommands,
  ...auditCommands,
  ...demoAppCommands,
];

const groups = [
  ...new Set(commands.filter((command) => command.name.includes(' ')).map((command) => command.name.split(' ')[0]!)),
];

const usageLine = (command: Command) => `accord ${command.name}${command.usage ? ` ${command.usage}` : ''} [--json]`;

function mainHelp(): string {
  return `accord — administer an Accord authorization server: tenants, users, apps, signing keys, audit trail.

usage: accord <command> [arguments] [--json]

commands:
${commands.map((command) => `  ${usageLine(command).replaceAll('\n', '\n  ')}\n      ${command.summary}`).join('\n')}

every command:
  --json       print exactly one JSON object on stdout (lists as {"value": [...]})
  -h, --help   show the command's help

The database is chosen as the server chooses it: DATABASE_URL, else the embedded PostgreSQL in DATA_DIR
(default ./.data). Every command applies pending migrations first. Changes are recorded in the tenant's
audit trail with the actor "operator".

Exit codes: 0 done; 1 refused or failed (not found, already exists, invalid value); 2 usage error;
78 configuration error; 130 cancelled at a prompt.
`;
}

function commandHelp(command: Command): string {
  return `usage: ${usageLine(command)}\n\n${command.summary}\n${command.help ? `\n${command.help}\n` : ''}`;
}

function groupHelp(group: string): string {
  const members = commands.filter((command) => command.name.startsWith(`${group} `));
  return `usage:\n${members.map((command) => `  ${usageLine(command).replaceAll('\n', '\n  ')}\n      ${command.summary}`).join('\n')}\n`;
}

function version(): string {
  const packageJson = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json');
  return `${(JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version}\n`;
}

type Dispatch =
  | { kind: 'text'; text: string; exitCode: number; toStderr?: boolean }
  | { kind: 'run'; command: Command; rest: string[] };

function dispatch(argv: string[]): Dispatch {
  const [first, second] = argv;
  const wantsHelp = (tokens: string[]) => {
    const end = tokens.indexOf('--');
    return (end === -1 ? tokens : tokens.slice(0, end)).some((token) => token === '--help' || token === '-h');
  };
  if (first === undefined) return { kind: 'text', text: mainHelp(), exitCode: EXIT.usage, toStderr: true };
  if (first === '--help' || first === '-h') return { kind: 'text', text: mainHelp(), exitCode: EXIT.ok };
  if (first === '--version') return { kind: 'text', text: version(), exitCode: EXIT.ok };
  if (first === 'help') {
    if (argv.length === 1) return { kind: 'text', text: mainHelp(), exitCode: EXIT.ok };
    const topic = dispatch([...argv.slice(1), '--help']);
    if (topic.kind === 'text') return topic;
    throw new UsageError(`unknown command "${argv.slice(1).join(' ')}"`);
  }

  const command =
    commands.find((candidate) => candidate.name === `${first} ${second}`) ??
    commands.find((candidate) => candidate.name === first);
  if (command) {
    const rest = argv.slice(command.name.split(' ').length);
    if (wantsHelp(rest)) return { kind: 'text', text: commandHelp(command), exitCode: EXIT.ok };
    return { kind: 'run', command, rest };
  }
  if (groups.includes(first)) {
    if (second === undefined || second.startsWith('-')) {
      if (wantsHelp(argv.slice(1))) return { kind: 'text', text: groupHelp(first), exitCode: EXIT.ok };
      throw new UsageError(`"${first}" needs a command`, groupHelp(first));
    }
    throw new UsageError(`unknown command "${first} ${second}"`, groupHelp(first));
  }
  throw new UsageError(`unknown command "${first}"; run "accord --help" for the list`);
}

/**
 * Ids are base64url and may start with "-" (`accord app show -x1Yz…`). The CLI has no short option
 * besides -h, so such a word is an argument, and the word after an option that takes a value is
 * that value (unless it is a long option itself: then the value is missing).
 */
function separateArguments(tokens: string[], options: Options): string[] {
  const flags: string[] = [];
  const words: string[] = [];
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index]!;
    if (token === '--') {
      words.push(...tokens.slice(index + 1));
      break;
    }
    const next = tokens[index + 1];
    const name = /^--([^=]+)$/.exec(token)?.[1];
    if (name && options[name]?.type === 'string') {
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${token} needs a value`);
      flags.push(`${token}=${next}`);
      index++;
    } else if (token.startsWith('--')) flags.push(token);
    else words.push(token);
  }
  return [...flags, '--', ...words];
}

/** util.parseArgs with its messages said the CLI's way. */
function parseCommandLine(command: Command, rest: string[]): { parsed: Parsed; json: boolean } {
  const options: Options = { ...command.options, json: { type: 'boolean' } };
  let result: ReturnType<typeof parseArgs>;
  try {
    result = parseArgs({ args: separateArguments(rest, options), options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /^Unknown option '([^']+)'/.exec(message)?.[1];
    if (unknown && /^--password(=|$)/.test(unknown)) {
      throw new UsageError(
        'a password is never taken on the command line: use --password-stdin, or run in a terminal to be prompted',
      );
    }
    if (unknown) throw new UsageError(`unknown option ${unknown}`);
    const flagWithValue = /^Option '(--[\w-]+)' does not take an argument/.exec(message)?.[1];
    if (flagWithValue) throw new UsageError(`${flagWithValue} takes no value`);
    throw new UsageError(message);
  }
  const names = command.args ?? [];
  const { positionals, values } = result;
  if (positionals.length < names.length) throw new UsageError(`missing <${names[positionals.length]}>`);
  if (positionals.length > names.length) throw new UsageError(`unexpected argument "${positionals[names.length]}"`);
  const { json, ...own } = values;
  return { parsed: { values: own, args: positionals }, json: json === true };
}

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
}

const print = (output: Output, asJson: boolean) =>
  write(process.stdout, asJson ? `${JSON.stringify(output.json, null, 2)}\n` : output.text);

async function execute(command: Command, rest: string[]): Promise<void> {
  const { parsed, json } = parseCommandLine(command, rest);
  const input = await command.prepare(parsed);
  if ('serve' in command) {
    await command.serve(loadConfig(), input, (output) => print(output, json));
    return;
  }
  // Loaded only for a command that runs: --help and usage errors need no database.
  const { openContext } = await import('./context.js');
  const ctx = await openContext();
  let output: Output;
  try {
    output = await command.run(ctx, input);
  } finally {
    await ctx.close();
  }
  await print(output, json);
}

/** Runs one command line; resolves to the exit code once everything is written. */
export async function runCli(argv: string[]): Promise<number> {
  // `accord tenant list | head -1` closes stdout early: that is not an error of ours.
  process.stdout.on('error', () => undefined);
  let command: Command | undefined;
  // Known before the command line is parsed, so that even a usage error is reported as JSON.
  const end = argv.indexOf('--');
  const asJson = (end === -1 ? argv : argv.slice(0, end)).includes('--json');
  try {
    const step = dispatch(argv);
    if (step.kind === 'text') {
      await write(step.toStderr ? process.stderr : process.stdout, step.text);
      return step.exitCode;
    }
    command = step.command;
    await execute(step.command, step.rest);
    return EXIT.ok;
  } catch (error) {
    const failure = describeFailure(error, command);
    await write(process.stderr, asJson ? `${JSON.stringify(failure.json)}\n` : failure.text);
    return failure.exitCode;
  }
}

/**
 * What a failed run prints on stderr: `accord: <message>` (and the usage for a usage error), or
 * with --json one object `{"error": "<code>", "message": "…"}` (with "usage" or "field" when known).
 */
function describeFailure(
  error: unknown,
  command: Command | undefined,
): { exitCode: number; text: string; json: Record<string, string> } {
  const failure = (exitCode: number, code: string, message: string, extra: Record<string, string> = {}) => ({
    exitCode,
    text: `accord: ${message}\n${extra.usage ?? ''}`,
    json: { error: code, message, ...extra },
  });
  if (error instanceof UsageError) {
    const usage = error.usage ?? (command ? `usage: ${usageLine(command)}\n` : undefined);
    return failure(EXIT.usage, 'usage_error', error.message, usage ? { usage } : {});
  }
  if (error instanceof Cancelled) return failure(EXIT.cancelled, 'cancelled', 'cancelled');
  if (error instanceof ConfigError)
    return failure(EXIT.config, 'configuration_error', `configuration error: ${error.message}`);
  if (error instanceof AccordError) {
    const field = error.details.field;
    return failure(EXIT.failed, error.code, error.description, typeof field === 'string' ? { field } : {});
  }
  const message = error instanceof Error ? error.message : String(error);
  // The database could not be opened (services/database.ts names which, with pg's reason).
  if (error instanceof Error && error.cause instanceof DatabaseUnavailable)
    return failure(EXIT.failed, error.cause.code, message);
  return failure(EXIT.failed, 'failed', message);
}
