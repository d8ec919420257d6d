// Several of oidc-provider's hooks need the same rows within one request: a silent /auth looks
// the app up for the client, the resource server and the consent decision, and the user for the
// account and the session check. oidc-provider runs each request inside an AsyncLocalStorage that
// holds its Koa context (`Provider.ctx`); reads memoised here are done once per such request.
// Outside a provider request (Fastify's own routes, the CLI) the read is simply done.
import Provider from 'oidc-provider';
import { type Clock, systemClock } from '../core/clock.js';
import { type AppRecord, type AppWithSecrets, findApp, findAppWithSecrets } from '../db/apps.js';
import { type AccessRecord, loadAccessOfUser } from '../db/consents.js';
import type { Pool } from '../db/pool.js';
import { findUserById, type UserRecord } from '../db/users.js';
import type { ConsentReads } from '../services/consents.js';

// The memo lives on the request's Koa state and goes with it. In a WeakMap keyed by the context,
// each request's reads and context were promoted to V8's old generation: 8.8 KB per
// client-credentials request against 1.6 KB here (bench/README.md, "Session 11").
const MEMO = Symbol('reads once per request');
type RequestState = { [MEMO]?: Map<string, Promise<unknown>> };

/**
 * `read()` once per provider request and key; a failed read is forgotten, so a retry reads again.
 * The read also answers the `alsoAnswers` keys not asked for yet in this request.
 */
export function oncePerRequest<T>(
  key: string,
  read: () => Promise<T>,
  alsoAnswers: readonly string[] = [],
): Promise<T> {
  const ctx = Provider.ctx;
  if (!ctx) return read();
  const state = ctx.state as RequestState;
  state[MEMO] ??= new Map();
  const memo = state[MEMO];
  const cached = memo.get(key) as Promise<T> | undefined;
  if (cached) return cached;
  const pending = read();
  for (const answered of [key, ...alsoAnswers]) {
    if (answered !== key && memo.has(answered)) continue;
    memo.set(answered, pending);
    pending.catch(() => memo.get(answered) === pending && memo.delete(answered));
  }
  return pending;
}

/** The app's registration, read once per provider request (by the client lookup, when it came first). */
export function findAppOnce(pool: Pool, clientId: string): Promise<AppRecord | undefined> {
  return oncePerRequest(`app:${clientId}`, () => findApp(pool, clientId));
}

/**
 * The app with its secrets, for the provider's client lookup, once per provider request. The
 * lookup comes first in every request, so the request's other reads of the app use it.
 */
export function findClientOnce(pool: Pool, clientId: string): Promise<AppWithSecrets | undefined> {
  return oncePerRequest(`client:${clientId}`, () => findAppWithSecrets(pool, clientId), [`app:${clientId}`]);
}

/** The user's row, read once per provider request. */
export function findUserOnce(pool: Pool, userId: string): Promise<UserRecord | undefined> {
  return oncePerRequest(`user:${userId}`, () => findUserById(pool, userId));
}

/**
 * What the user and their admin granted the app, read once per provider request (the consent
 * decision and the grant it loads then agree). A check that must see commits made since — after
 * a write — calls `loadAccessOfUser` itself.
 */
export function loadAccessOnce(
  pool: Pool,
  userId: string,
  clientId: string,
  clock: Clock = systemClock,
): Promise<AccessRecord | undefined> {
  return oncePerRequest(`access:${userId}:${clientId}`, () => loadAccessOfUser(pool, userId, clientId, clock()));
}

/** The consent service's reads (services/consents.ts), each done once per provider request. */
export function consentReadsOncePerRequest(pool: Pool, clock: Clock = systemClock): ConsentReads {
  return {
    findApp: (clientId) => findAppOnce(pool, clientId),
    loadAccess: (userId, clientId) => loadAccessOnce(pool, userId, clientId, clock),
  };
}
