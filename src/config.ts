// Environment → one frozen, typed Config. A bad value stops the process at boot with a message
// naming the variable and what is wrong (docs/architecture.md, "The layout").

import path from 'node:path';
import { envSchema } from 'env-schema';

export interface Config {
  readonly port: number;
  readonly host: string;
  /** The one issuer for all tenants; also the public origin of every page and API. */
  readonly issuer: string;
  /** Unset → an embedded PostgreSQL in `dataDir`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Trust X-Forwarded-* (only behind a TLS-offloading proxy that sets them). */
  readonly trustProxy: boolean;
  /** Seed the demo tenants when the database is empty (default for `npm start`). */
  readonly seedDemo: boolean;
  readonly consentRequestTtlDays: number;
  /** Sign-in attempts allowed per client IP per minute (failures are also limited per account). */
  readonly signInRateLimit: number;
  /**
   * After SIGTERM, how long /readyz answers 503 while requests are still served, so that a load
   * balancer stops sending new ones before the listener closes.
   */
  readonly shutdownGraceMs: number;
  /**
   * At start, how long to keep trying a database that does not answer yet (a database started
   * alongside Accord) before giving up; meanwhile every request is answered 503.
   */
  readonly databaseStartupTimeoutMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const schema = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    ISSUER: { type: 'string' },
    DATABASE_URL: { type: 'string' },
    DATA_DIR: { type: 'string', minLength: 1, default: './.data' },
    LOG_LEVEL: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    },
    TRUST_PROXY: { type: 'string', enum: ['true', 'false', '1', '0', ''], default: 'false' },
    SEED_DEMO: { type: 'string', enum: ['true', 'false', '1', '0', ''], default: 'false' },
    CONSENT_REQUEST_TTL_DAYS: { type: 'integer', minimum: 1, maximum: 365, default: 30 },
    SIGN_IN_RATE_LIMIT: { type: 'integer', minimum: 1, maximum: 1000000, default: 30 },
    SHUTDOWN_GRACE_MS: { type: 'integer', minimum: 0, maximum: 300000, default: 5000 },
    DATABASE_STARTUP_TIMEOUT_MS: { type: 'integer', minimum: 0, maximum: 3600000, default: 60000 },
  },
} as const;

interface RawEnv {
  PORT: number;
  HOST: string;
  ISSUER?: string;
  DATABASE_URL?: string;
  DATA_DIR: string;
  LOG_LEVEL: Config['logLevel'];
  TRUST_PROXY: string;
  SEED_DEMO: string;
  CONSENT_REQUEST_TTL_DAYS: number;
  SIGN_IN_RATE_LIMIT: number;
  SHUTDOWN_GRACE_MS: number;
  DATABASE_STARTUP_TIMEOUT_MS: number;
}

/** Reads `env` (default: process.env) into a Config, or throws a ConfigError naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as in most deployment tools.
  const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  let raw: RawEnv;
  try {
    // env: false — env-schema otherwise merges process.env underneath `data`, which would bring
    // back the empty strings filtered out above and ignore the `env` passed in.
    raw = envSchema<RawEnv>({ schema, data, dotenv: false, env: false });
  } catch (error) {
    throw new ConfigError(describeSchemaError(error));
  }

  const issuer = raw.ISSUER ?? `http://localhost:${raw.PORT}`;
  checkIssuer(issuer);
  if (raw.DATABASE_URL !== undefined) checkDatabaseUrl(raw.DATABASE_URL);

  return Object.freeze({
    port: raw.PORT,
    host: raw.HOST,
    issuer: issuer.replace(/\/+$/, ''),
    databaseUrl: raw.DATABASE_URL,
    dataDir: path.resolve(raw.DATA_DIR),
    logLevel: raw.LOG_LEVEL,
    trustProxy: isTrue(raw.TRUST_PROXY),
    seedDemo: isTrue(raw.SEED_DEMO),
    consentRequestTtlDays: raw.CONSENT_REQUEST_TTL_DAYS,
    signInRateLimit: raw.SIGN_IN_RATE_LIMIT,
    shutdownGraceMs: raw.SHUTDOWN_GRACE_MS,
    databaseStartupTimeoutMs: raw.DATABASE_STARTUP_TIMEOUT_MS,
  });
}

function isTrue(value: string): boolean {
  return value === 'true' || value === '1';
}

// env-schema reports "env/PORT must be <= 65535"; say it the way an operator reads it.
function describeSchemaError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .split(', ')
    .map((part) => part.replace(/^env\/?/, '').replace(/^ must have required property '(\w+)'/, '$1 is required'))
    .join('; ');
}

function checkIssuer(issuer: string): void {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError('ISSUER must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError('ISSUER must be an absolute http(s) URL');
  if (url.search || url.hash) throw new ConfigError('ISSUER must not have a query or fragment');
  if (url.pathname !== '/' && url.pathname !== '') throw new ConfigError('ISSUER must be an origin without a path');
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  // RFC 9700 §2.6 / OIDC: a public issuer must use TLS; plain http is for local runs only.
  if (url.protocol === 'http:' && !loopback) throw new ConfigError('ISSUER must use https unless the host is loopback');
}

function checkDatabaseUrl(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('DATABASE_URL must be a postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL must be a postgres:// URL');
  }
}
