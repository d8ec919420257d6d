import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';
import { coveredChildEnv, sourceCommand } from './support/child-env.js';
import { repoRoot } from './support/database.js';

t.test('an empty environment gives the documented defaults', async (t) => {
  const config = loadConfig({});
  t.equal(config.port, 3000);
  t.equal(config.host, '127.0.0.1');
  t.equal(config.issuer, 'http://localhost:3000');
  t.equal(config.databaseUrl, undefined);
  t.ok(path.isAbsolute(config.dataDir), 'DATA_DIR is resolved to an absolute path');
  t.equal(config.logLevel, 'info');
  t.equal(config.trustProxy, false);
  t.equal(config.seedDemo, false);
  t.equal(config.shutdownGraceMs, 5000, 'SIGTERM: 5 s of 503 at /readyz before the listener closes');
  t.equal(config.databaseStartupTimeoutMs, 60000, 'a database not up yet is tried for a minute');
  t.ok(Object.isFrozen(config), 'the config is frozen');
});

t.test('loadConfig reads only the environment it is given', async (t) => {
  // process.env of a test run has DATABASE_URL and more; none of it may leak into an explicit env.
  const saved = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = 'loud';
  t.teardown(() => {
    if (saved === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = saved;
  });
  const config = loadConfig({ PORT: '4000' });
  t.equal(config.logLevel, 'info');
  t.equal(config.databaseUrl, undefined);
  t.equal(config.issuer, 'http://localhost:4000', 'the default issuer follows PORT');
});

t.test('empty values mean unset', async (t) => {
  const config = loadConfig({ PORT: '', ISSUER: '', LOG_LEVEL: '', DATABASE_URL: '' });
  t.equal(config.port, 3000);
  t.equal(config.issuer, 'http://localhost:3000');
  t.equal(config.databaseUrl, undefined);
});

t.test('good values are parsed', async (t) => {
  const config = loadConfig({
    PORT: '8443',
    HOST: '0.0.0.0',
    ISSUER: 'https://login.example.com/',
    DATABASE_URL: 'postgresql://accord@db:5432/accord',
    DATA_DIR: 'relative/dir',
    LOG_LEVEL: 'warn',
    TRUST_PROXY: 'true',
    SEED_DEMO: '1',
    SHUTDOWN_GRACE_MS: '0',
  });
  t.equal(config.port, 8443);
  t.equal(config.host, '0.0.0.0');
  t.equal(config.issuer, 'https://login.example.com', 'trailing slash dropped');
  t.equal(config.databaseUrl, 'postgresql://accord@db:5432/accord');
  t.equal(config.dataDir, path.resolve('relative/dir'));
  t.equal(config.logLevel, 'warn');
  t.equal(config.trustProxy, true);
  t.equal(config.seedDemo, true);
  t.equal(config.shutdownGraceMs, 0, 'no grace');
  t.equal(loadConfig({ SHUTDOWN_GRACE_MS: '30000' }).shutdownGraceMs, 30000);
  t.equal(loadConfig({ DATABASE_STARTUP_TIMEOUT_MS: '0' }).databaseStartupTimeoutMs, 0, 'no waiting');
  t.equal(loadConfig({ ISSUER: 'http://127.0.0.1:3000' }).issuer, 'http://127.0.0.1:3000', 'http is fine on loopback');
});

const badValues: [variable: string, value: string, reason: RegExp][] = [
  ['PORT', 'abc', /integer/],
  ['PORT', '70000', /65535/],
  ['DATABASE_STARTUP_TIMEOUT_MS', '-1', /DATABASE_STARTUP_TIMEOUT_MS must be >= 0/],
  ['DATABASE_STARTUP_TIMEOUT_MS', '3600001', /DATABASE_STARTUP_TIMEOUT_MS must be <= 3600000/],
  ['PORT', '-1', />= 0/],
  ['ISSUER', 'not-a-url', /absolute http\(s\) URL/],
  ['ISSUER', 'ftp://x', /absolute http\(s\) URL/],
  ['ISSUER', 'http://example.com', /https/],
  ['ISSUER', 'https://example.com/tenant', /path/],
  ['ISSUER', 'https://example.com/?tenant=x', /query/],
  ['ISSUER', 'https://example.com/#x', /fragment/],
  ['DATABASE_URL', 'mysql://x', /postgres/],
  ['DATABASE_URL', 'not a url', /postgres/],
  ['LOG_LEVEL', 'loud', /allowed values/],
  ['TRUST_PROXY', 'maybe', /allowed values/],
  ['SEED_DEMO', 'yes', /allowed values/],
  ['CONSENT_REQUEST_TTL_DAYS', '0', />= 1/],
  ['SHUTDOWN_GRACE_MS', '5s', /must be integer/],
  ['SHUTDOWN_GRACE_MS', '-1', /must be >= 0/],
  ['SHUTDOWN_GRACE_MS', '600000', /must be <= 300000/],
];

for (const [variable, value, reason] of badValues) {
  t.test(`${variable}=${value} is refused with a message naming ${variable}`, async (t) => {
    let caught: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (error) {
      caught = error;
    }
    t.ok(caught instanceof ConfigError, 'throws ConfigError');
    const message = (caught as Error).message;
    t.match(message, new RegExp(`^${variable}\\b`), 'the message starts with the variable');
    t.match(message, reason);
    t.notMatch(message, /env\//, 'no schema-internal path in the message');
  });
}

t.test('the server exits 78 on a bad variable, naming it, without a stack trace', async (t) => {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', PORT: 'abc' };
  const child = spawn(process.execPath, sourceCommand('src/server.ts'), {
    cwd: repoRoot,
    env: coveredChildEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  t.equal(code, 78, 'EX_CONFIG');
  t.match(stderr, /configuration error: PORT must be integer/);
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
  t.equal(stdout, '', 'nothing on stdout');
});
