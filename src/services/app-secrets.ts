// A confidential app's client secrets. An app holds at most two live secrets, each with an expiry,
// so that a secret is rotated without an outage: add a new one, switch the app over to it, remove
// the old one (Entra's "Certificates & secrets"). Both work at /token until the old one is removed
// or expires. "Replace" (rotate) is the emergency path: one new secret, every other one stops at once.
// Secrets are shown once, when made; only their keyed hash is stored (client-secrets.ts).
import { randomBytes } from 'node:crypto';
import { Conflict, InvalidRequest, NotFound } from '../core/errors.js';
import * as secrets from '../db/app-secrets.js';
import { recordAuditEvent } from '../db/audit-events.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import { loadServerSecret } from '../db/server-secrets.js';
import { hashClientSecret, newClientSecret } from './client-secrets.js';
import { findOwnedApp } from './published-apps.js';

/** At most this many unexpired secrets per app: the one in use and its successor. */
export const MAX_LIVE_SECRETS = 2;
/** A new secret's lifetime unless one is chosen (Entra recommends 180 days). */
export const DEFAULT_SECRET_LIFETIME_DAYS = 180;
/** The longest lifetime a secret may be given (Entra's limit: 24 months). */
export const MAX_SECRET_LIFETIME_DAYS = 730;
const DAY_MS = 24 * 60 * 60 * 1000;
/** How many of a secret's first characters are kept as its hint. */
const HINT_LENGTH = 3;

/** Who made a change: a user's id, or `operator` for the CLI (as Directory's Actor). */
type Actor = string;

/** A secret just made: the only moment its value is known. */
export interface NewSecret {
  id: string;
  /** The secret itself: shown once, never stored. */
  value: string;
  hint: string;
  createdAt: Date;
  expiresAt: Date;
}

/** A lifetime in whole days, 1 to 730, or the default; anything else is a 400 naming the field. */
export function secretLifetimeDays(value: number | undefined): number {
  if (value === undefined) return DEFAULT_SECRET_LIFETIME_DAYS;
  if (!Number.isInteger(value) || value < 1 || value > MAX_SECRET_LIFETIME_DAYS)
    throw InvalidRequest(`expires_in_days must be a whole number of days from 1 to ${MAX_SECRET_LIFETIME_DAYS}`, {
      field: 'expires_in_days',
    }).withMessage('admin:secrets.badLifetime', { max: MAX_SECRET_LIFETIME_DAYS });
  return value;
}

export class AppSecrets {
  constructor(private readonly pool: Pool) {}

  /**
   * Makes a secret and stores its hash inside `tx` (the caller's transaction: registration, or
   * one of the changes below). Its value is returned, once.
   */
  async issue(tx: Queryable, clientId: string, lifetimeDays: number, now = new Date()): Promise<NewSecret> {
    const value = newClientSecret();
    const key = await loadServerSecret(tx, 'client_secret_key');
    const secret = {
      id: randomBytes(6).toString('base64url'),
      hint: value.slice(0, HINT_LENGTH),
      createdAt: now,
      expiresAt: new Date(now.getTime() + lifetimeDays * DAY_MS),
    };
    await secrets.insertAppSecret(tx, { clientId, ...secret, secretHash: hashClientSecret(value, key) });
    return { ...secret, value };
  }

  /**
   * Adds a secret beside the current one (the first step of a rotation without an outage). Refused
   * (409) while the app already has two live secrets; expired ones are cleared away first.
   */
  async add(publisherTenantId: string, clientId: string, actor: Actor, lifetimeDays?: number): Promise<NewSecret> {
    const days = secretLifetimeDays(lifetimeDays);
    return inTransaction(this.pool, async (tx) => {
      await this.lockConfidential(tx, publisherTenantId, clientId);
      const now = new Date();
      await secrets.deleteExpiredAppSecrets(tx, clientId, now);
      if ((await secrets.countLiveAppSecrets(tx, clientId, now)) >= MAX_LIVE_SECRETS)
        throw Conflict(
          `the app already has ${MAX_LIVE_SECRETS} client secrets: remove one before adding another`,
        ).withMessage('admin:secrets.tooMany', { max: MAX_LIVE_SECRETS });
      const secret = await this.issue(tx, clientId, days, now);
      await recordAuditEvent(tx, {
        tenantId: publisherTenantId,
        actor,
        action: 'app.secret.added',
        target: clientId,
        details: { secretId: secret.id, expiresAt: secret.expiresAt.toISOString() },
      });
      return secret;
    });
  }

  /** Removes one secret: it stops working at once (the last step of a rotation). */
  async remove(publisherTenantId: string, clientId: string, secretId: string, actor: Actor): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      await this.lockConfidential(tx, publisherTenantId, clientId);
      if (!(await secrets.deleteAppSecret(tx, clientId, secretId)))
        throw NotFound('the app has no client secret with this id').withMessage('admin:secrets.notFound');
      await recordAuditEvent(tx, {
        tenantId: publisherTenantId,
        actor,
        action: 'app.secret.removed',
        target: clientId,
        details: { secretId },
      });
    });
  }

  /** Replaces every secret with one new one: the others stop working at once (a leaked secret). */
  async replace(publisherTenantId: string, clientId: string, actor: Actor, lifetimeDays?: number): Promise<NewSecret> {
    const days = secretLifetimeDays(lifetimeDays);
    return inTransaction(this.pool, async (tx) => {
      await this.lockConfidential(tx, publisherTenantId, clientId);
      const removed = await secrets.deleteAllAppSecrets(tx, clientId);
      const secret = await this.issue(tx, clientId, days);
      await recordAuditEvent(tx, {
        tenantId: publisherTenantId,
        actor,
        action: 'app.secret.rotated',
        target: clientId,
        details: { secretId: secret.id, expiresAt: secret.expiresAt.toISOString(), removed },
      });
      return secret;
    });
  }

  /** The publisher's own confidential app, locked for this transaction; 404 / 400 otherwise. */
  private async lockConfidential(tx: Queryable, publisherTenantId: string, clientId: string): Promise<void> {
    const app = await findOwnedApp(tx, publisherTenantId, clientId);
    if (app.clientType !== 'confidential')
      throw InvalidRequest('a public app has no secret').withMessage('admin:secrets.publicApp');
    await secrets.lockAppSecrets(tx, clientId);
  }
}
