// What an `accord` command is: its usage line and options (for util.parseArgs), a `prepare` step
// that checks the command line before any database is opened, and the work itself.
import type { ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';
import type { Context } from './context.js';

/** A command line that cannot be run as written: exit code 2, with the command's usage line. */
export class UsageError extends Error {
  override name = 'UsageError';

  constructor(
    message: string,
    /** The usage to print after the message, when it is not the command's own usage line. */
    readonly usage?: string,
  ) {
    super(message);
  }
}

/** The operator stopped a prompt (Ctrl-C, Ctrl-D): exit code 130, like a shell. */
export class Cancelled extends Error {
  override name = 'Cancelled';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** The positional arguments, one per name in `Command.args` (the count is checked before `prepare`). */
  args: string[];
}

/** What a command prints: `json` with --json (exactly one object), else `text`. */
export interface Output {
  json: Record<string, unknown>;
  text: string;
}

interface CommandLine<Input> {
  /** The words that name it: `tenant create`, `migrate`. */
  name: string;
  /** What follows the name in the usage line (without `[--json]`, which every command takes). */
  usage: string;
  summary: string;
  /** Further help: what it does, each option, examples. */
  help?: string;
  options?: Options;
  /** Names of the positional arguments, all required. */
  args?: string[];
  /** Checks the command line (throwing UsageError) and reads what it needs from the operator. */
  prepare(parsed: Parsed): Input | Promise<Input>;
}

/** A command on the database: it runs, and what it returns is printed. */
export interface DatabaseCommand<Input> extends CommandLine<Input> {
  run(ctx: Context, input: Input): Promise<Output>;
}

/**
 * A command that opens no database and keeps running (the demo app): `announce` prints its output
 * (text, or the JSON object with --json) once it is up; it resolves when it has stopped.
 */
export interface ServingCommand<Input> extends CommandLine<Input> {
  serve(config: Config, input: Input, announce: (output: Output) => Promise<void>): Promise<void>;
}

export type Command<Input = unknown> = DatabaseCommand<Input> | ServingCommand<Input>;

export function defineCommand<Input>(command: Command<Input>): Command {
  return command as Command;
}

export function stringOption(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function requiredOption(parsed: Parsed, name: string): string {
  const value = stringOption(parsed, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

export function listOption(parsed: Parsed, name: string): string[] | undefined {
  const value = parsed.values[name];
  return Array.isArray(value) ? value.map(String) : undefined;
}

export function flag(parsed: Parsed, name: string): boolean {
  return parsed.values[name] === true;
}

export function arg(parsed: Parsed, index: number): string {
  return parsed.args[index]!;
}

/** `on` / `off` as a boolean. */
export function onOff(value: string, what: string): boolean {
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new UsageError(`${what} must be "on" or "off", not "${value}"`);
}

/** `--permissions "openid profile" --permissions User.Read` → the scopes, in order, once each. */
export function scopesOf(values: string[]): string[] {
  return [...new Set(values.flatMap((value) => value.split(/\s+/)).filter(Boolean))];
}
