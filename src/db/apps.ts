// apps: client registrations (publisher tenant, name, publisher, verification, tenancy, redirect
// URIs, requested permissions), read alone or with their client secrets (app-secrets.ts) where
// the client authenticates or an admin manages them.
import type { AppSecretRecord } from './app-secrets.js';
import type { Queryable } from './pool.js';
import { APP_CHANNEL, announce } from './revocation-notifications.js';

const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

export interface AppRecord {
  clientId: string;
  publisherTenantId: string;
  name: string;
  publisherName: string;
  publisherVerified: boolean;
  multiTenant: boolean;
  clientType: 'confidential' | 'public';
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  homepageUrl: string | null;
  privacyUrl: string | null;
  termsUrl: string | null;
  logoUrl: string | null;
  scopes: string[];
  /** The registered scopes a user may leave out when consenting (never `openid`); a subset of `scopes`. */
  optionalScopes: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** A registration with its client secrets: what client authentication and the secrets' pages need. */
export interface AppWithSecrets extends AppRecord {
  /** A confidential app's client secrets (at most two unexpired), oldest first; none for a public app. */
  secrets: AppSecretRecord[];
}

/** The app's own columns, without its secrets: what an INSERT or UPDATE may return on Citus too (no subquery there). */
const APP_COLUMNS = `client_id AS "clientId", publisher_tenant_id AS "publisherTenantId", name,
  publisher_name AS "publisherName", publisher_verified AS "publisherVerified",
  multi_tenant AS "multiTenant", client_type AS "clientType",
  redirect_uris AS "redirectUris", post_logout_redirect_uris AS "postLogoutRedirectUris",
  homepage_url AS "homepageUrl", privacy_url AS "privacyUrl", terms_url AS "termsUrl",
  logo_url AS "logoUrl", scopes, optional_scopes AS "optionalScopes", created_at AS "createdAt", updated_at AS "updatedAt"`;

const COLUMNS = `${APP_COLUMNS},
  COALESCE((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'secretHash', s.secret_hash, 'hint', s.hint,
                     'createdAt', s.created_at, 'expiresAt', s.expires_at) ORDER BY s.created_at, s.id)
              FROM app_secrets s WHERE s.client_id = apps.client_id), '[]'::jsonb) AS secrets`;

/** A row as read: the secrets come as JSON, their times as text. */
type AppRow = AppRecord & {
  secrets: Array<Omit<AppSecretRecord, 'createdAt' | 'expiresAt'> & { createdAt: string; expiresAt: string }>;
};

function appOf(row: AppRow): AppWithSecrets {
  return {
    ...row,
    secrets: row.secrets.map((secret) => ({
      ...secret,
      createdAt: new Date(secret.createdAt),
      expiresAt: new Date(secret.expiresAt),
    })),
  };
}

/**
 * The registration alone: the consent decision and the pages need no secrets, and reading them
 * costs the statement a quarter of its time (bench/README.md, session 8).
 */
export async function findApp(db: Queryable, clientId: string): Promise<AppRecord | undefined> {
  // Named, so each connection prepares it once.
  const { rows } = await db.query<AppRecord>({
    name: 'find-app',
    text: `SELECT ${APP_COLUMNS} FROM apps WHERE client_id = $1::text`,
    values: [clientId],
  });
  return rows[0];
}

/** The registration with its secrets: for client authentication and for managing the secrets. */
export async function findAppWithSecrets(db: Queryable, clientId: string): Promise<AppWithSecrets | undefined> {
  // Named, so each connection prepares it once: every protocol request looks its client up.
  const { rows } = await db.query<AppRow>({
    name: 'find-app-with-secrets',
    text: `SELECT ${COLUMNS} FROM apps WHERE client_id = $1::text`,
    values: [clientId],
  });
  return rows[0] && appOf(rows[0]);
}

/** Whether the app is registered (an app's own token is refused once its app is deleted). */
export async function appExists(db: Queryable, clientId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM apps WHERE client_id = $1::text', [clientId]);
  return rowCount === 1;
}

export async function listAppsPublishedBy(db: Queryable, tenantId: string): Promise<AppWithSecrets[]> {
  const { rows } = await db.query<AppRow>(
    `SELECT ${COLUMNS} FROM apps WHERE publisher_tenant_id = $1::text ORDER BY created_at, client_id`,
    [tenantId],
  );
  return rows.map(appOf);
}

export type NewApp = Omit<AppRecord, 'createdAt' | 'updatedAt'>;

export async function insertApp(db: Queryable, app: NewApp): Promise<AppWithSecrets> {
  const { rows } = await db.query<AppRow>(
    `INSERT INTO apps (client_id, publisher_tenant_id, name, publisher_name, publisher_verified, multi_tenant,
                       client_type, redirect_uris, post_logout_redirect_uris, homepage_url,
                       privacy_url, terms_url, logo_url, scopes, optional_scopes)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::boolean, $6::boolean, $7::text, $8::text[],
             $9::text[], $10::text, $11::text, $12::text, $13::text, $14::text[], $15::text[])
     RETURNING ${APP_COLUMNS}, '[]'::jsonb AS secrets`,
    [
      app.clientId,
      app.publisherTenantId,
      app.name,
      app.publisherName,
      app.publisherVerified,
      app.multiTenant,
      app.clientType,
      app.redirectUris,
      app.postLogoutRedirectUris,
      app.homepageUrl,
      app.privacyUrl,
      app.termsUrl,
      app.logoUrl,
      app.scopes,
      app.optionalScopes,
    ],
  );
  return appOf(rows[0]!);
}

export type AppChanges = Partial<
  Pick<
    AppRecord,
    | 'name'
    | 'publisherName'
    | 'multiTenant'
    | 'redirectUris'
    | 'postLogoutRedirectUris'
    | 'homepageUrl'
    | 'privacyUrl'
    | 'termsUrl'
    | 'logoUrl'
    | 'scopes'
    | 'optionalScopes'
  >
>;

export async function updateApp(
  db: Queryable,
  clientId: string,
  changes: AppChanges,
): Promise<AppWithSecrets | undefined> {
  const { rows } = await db.query(
    `UPDATE apps SET
        name = COALESCE($2::text, name),
        publisher_name = COALESCE($3::text, publisher_name),
        multi_tenant = COALESCE($4::boolean, multi_tenant),
        redirect_uris = COALESCE($5::text[], redirect_uris),
        post_logout_redirect_uris = COALESCE($6::text[], post_logout_redirect_uris),
        homepage_url = CASE WHEN $7::boolean THEN $8::text ELSE homepage_url END,
        privacy_url = CASE WHEN $9::boolean THEN $10::text ELSE privacy_url END,
        terms_url = CASE WHEN $11::boolean THEN $12::text ELSE terms_url END,
        logo_url = CASE WHEN $13::boolean THEN $14::text ELSE logo_url END,
        scopes = COALESCE($15::text[], scopes),
        optional_scopes = COALESCE($16::text[], optional_scopes),
        updated_at = now()
      WHERE client_id = $1::text
      RETURNING client_id`,
    [
      clientId,
      changes.name ?? null,
      changes.publisherName ?? null,
      changes.multiTenant ?? null,
      changes.redirectUris ?? null,
      changes.postLogoutRedirectUris ?? null,
      'homepageUrl' in changes,
      changes.homepageUrl ?? null,
      'privacyUrl' in changes,
      changes.privacyUrl ?? null,
      'termsUrl' in changes,
      changes.termsUrl ?? null,
      'logoUrl' in changes,
      changes.logoUrl ?? null,
      changes.scopes ?? null,
      changes.optionalScopes ?? null,
    ],
  );
  // Read whole (with its secrets) after the change: an UPDATE's RETURNING may hold no subquery on Citus.
  return rows[0] ? findAppWithSecrets(db, clientId) : undefined;
}

export async function setPublisherVerified(
  db: Queryable,
  clientId: string,
  verified: boolean,
): Promise<AppWithSecrets | undefined> {
  const { rows } = await db.query<AppRow>(
    `UPDATE apps SET publisher_verified = $2::boolean, updated_at = now() WHERE client_id = $1::text RETURNING client_id`,
    [clientId, verified],
  );
  // Read whole (with its secrets) after the change: an UPDATE's RETURNING may hold no subquery on Citus.
  return rows[0] ? findAppWithSecrets(db, clientId) : undefined;
}

/** Deletes the app and announces it, so that every process refuses its own tokens at once. */
export async function deleteApp(db: Queryable, clientId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM apps WHERE client_id = $1::text', [clientId]);
  if (rowCount === 1) await announce(db, APP_CHANNEL, [clientId]);
  return rowCount === 1;
}

/** What `client_secret` holds for a confidential app without a live secret: no hash can equal it. */
export const NO_LIVE_SECRET = '!none';

/**
 * The app as oidc-provider client metadata. `client_secret` holds the keyed hashes of the app's
 * unexpired secrets, separated by spaces (base64url has none); the provider's secret comparison
 * is replaced to hash the presented secret and compare it with each (provider/create-provider.ts).
 * The provider reads the registration afresh for every request, so a secret stops working the
 * moment it expires or is removed.
 */
export function clientMetadataOf(app: AppWithSecrets, now = Date.now()): Record<string, unknown> {
  const confidential = app.clientType === 'confidential';
  const liveHashes = app.secrets.filter((secret) => secret.expiresAt.getTime() > now).map((s) => s.secretHash);
  const oidcScopes = app.scopes.filter((scope) => OIDC_SCOPES.has(scope));
  return {
    client_id: app.clientId,
    ...(confidential ? { client_secret: liveHashes.length > 0 ? liveHashes.join(' ') : NO_LIVE_SECRET } : {}),
    client_name: app.name,
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris,
    grant_types: confidential
      ? ['authorization_code', 'refresh_token', 'client_credentials']
      : ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: confidential ? 'client_secret_basic' : 'none',
    // oidc-provider accepts only its own (OpenID) scopes here; resource scopes are limited to the
    // registration in getResourceServerInfo.
    ...(oidcScopes.length > 0 ? { scope: oidcScopes.join(' ') } : {}),
    ...(app.logoUrl ? { logo_uri: app.logoUrl } : {}),
    ...(app.homepageUrl ? { client_uri: app.homepageUrl } : {}),
    ...(app.privacyUrl ? { policy_uri: app.privacyUrl } : {}),
    ...(app.termsUrl ? { tos_uri: app.termsUrl } : {}),
  };
}

/** Every registration, grouped by publisher (the operator's view). */
export async function listApps(db: Queryable): Promise<AppWithSecrets[]> {
  const { rows } = await db.query<AppRow>(
    `SELECT ${COLUMNS} FROM apps ORDER BY publisher_tenant_id, created_at, client_id`,
  );
  return rows.map(appOf);
}
