// Passwords for `user create` and `user set-password`: the first line of stdin with
// --password-stdin, else a prompt without echo when stdin is a terminal. Never a command-line
// argument: it would stay in shell history and show in every process listing.
import { InvalidRequest } from '../core/errors.js';
import { checkPasswordAcceptable, MAX_PASSWORD_BYTES } from '../services/passwords.js';
import { Cancelled, UsageError } from './command.js';

export const NO_PASSWORD_SOURCE =
  'no password given: pass --password-stdin and write the password on stdin, or run in a terminal to be prompted';

export async function readPassword(options: { fromStdin: boolean }): Promise<string> {
  let password: string;
  if (options.fromStdin) {
    password = await readFirstLine(process.stdin);
    if (password === '') throw InvalidRequest('--password-stdin: the first line of stdin is empty');
  } else if (process.stdin.isTTY) {
    password = await promptHidden('Password: ');
    checkPasswordAcceptable(password);
    if ((await promptHidden('Repeat the password: ')) !== password) throw InvalidRequest('the passwords do not match');
  } else {
    throw new UsageError(NO_PASSWORD_SOURCE);
  }
  checkPasswordAcceptable(password);
  return password;
}

async function readFirstLine(stream: NodeJS.ReadStream): Promise<string> {
  stream.setEncoding('utf8');
  let text = '';
  for await (const chunk of stream as AsyncIterable<string>) {
    text += chunk;
    // Stop at the first line (the rest of stdin is not ours) or once it is surely too long.
    if (text.includes('\n') || text.length > 4 * MAX_PASSWORD_BYTES) break;
  }
  return text.split('\n')[0]!.replace(/\r$/, '');
}

function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || (char === '\u0004' && value === '')) return finish(new Cancelled('cancelled'));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char >= ' ') value += char;
      }
    };
    output.write(question);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.resume();
  });
}
