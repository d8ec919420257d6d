// Rules for identifiers and URLs that every entry point (CLI, admin API, seed) shares.

/** Top-level path names of the server; a tenant id may not shadow them (`/{tenant}/adminconsent`). */
export const RESERVED_TENANT_IDS = new Set([
  'api',
  'admin',
  'data',
  'my',
  'interaction',
  'oidc',
  'healthz',
  'readyz',
  'assets',
  'auth',
  'token',
  'jwks',
  'me',
  'session',
  'request',
  'reg',
  'device',
  'backchannel',
  'well-known',
  '.well-known',
  'static',
  'login',
  'logout',
  'consent',
  'adminconsent',
  'portal',
  'grants',
  'docs',
  'favicon.ico',
  'robots.txt',
]);

const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Returns a reason when the tenant id is not acceptable. */
export function tenantIdProblem(id: string): string | undefined {
  if (!TENANT_ID.test(id))
    return 'tenant id must be 1–40 lowercase letters, digits or hyphens, not starting or ending with a hyphen';
  if (RESERVED_TENANT_IDS.has(id)) return `tenant id "${id}" is reserved`;
  return undefined;
}

export function usernameProblem(username: string): string | undefined {
  if (!USERNAME.test(username))
    return 'username must be 1–64 lowercase letters, digits, dots, hyphens or underscores, starting with a letter or digit';
  return undefined;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * RFC 9700 §2.1 and §4.1: redirect URIs are absolute, compared exactly, carry no fragment and no
 * wildcard, and use https — plain http only on loopback (native apps, RFC 8252 §7.3). A private-use
 * scheme (`com.example.app:/cb`) is accepted for native apps.
 */
export function redirectUriProblem(value: string): UriProblem | undefined {
  if (value.length > 2000) return problem('redirect URI is too long', 'tooLong', value);
  if (value.includes('*')) return problem(`redirect URI must not contain a wildcard: ${value}`, 'wildcard', value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problem(`redirect URI must be an absolute URL: ${value}`, 'notAbsolute', value);
  }
  if (value.includes('#')) return problem(`redirect URI must not contain a fragment: ${value}`, 'fragment', value);
  const scheme = url.protocol.slice(0, -1);
  if (['javascript', 'data', 'vbscript', 'file', 'blob', 'about'].includes(scheme))
    return problem(`redirect URI scheme "${scheme}" is not allowed: ${value}`, 'scheme', value, scheme);
  if (url.username || url.password)
    return problem(`redirect URI must not contain credentials: ${value}`, 'credentials', value);
  if (scheme === 'https') return undefined;
  if (scheme === 'http')
    return LOOPBACK_HOSTS.has(url.hostname)
      ? undefined
      : problem(`redirect URI must use https unless the host is loopback: ${value}`, 'httpNotLoopback', value);
  // Private-use URI scheme of a native app: reverse-DNS with a dot (RFC 8252 §7.1).
  if (/^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+$/.test(scheme)) return undefined;
  return problem(
    `redirect URI must use https (or http on loopback, or a reverse-DNS private-use scheme): ${value}`,
    'notHttps',
    value,
  );
}

/**
 * Why a redirect URI is refused: the English description (CLI, admin API) and the admin centre's
 * message for it (`admin:error.redirectUri.<reason>`, with the URI as `uri`).
 */
export interface UriProblem {
  description: string;
  messageKey: { key: string; vars: Record<string, string> };
}

function problem(description: string, reason: string, uri: string, scheme?: string): UriProblem {
  const shown = uri.length > 200 ? `${uri.slice(0, 200)}…` : uri;
  return {
    description,
    messageKey: { key: `admin:error.redirectUri.${reason}`, vars: { uri: shown, ...(scheme ? { scheme } : {}) } },
  };
}

/** Optional informational URLs (homepage, privacy, terms, logo): https only (http on loopback). */
export function webUrlProblem(name: string, value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${name} must be an absolute URL`;
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return `${name} must be an https URL`;
}

/**
 * An API's identifier (issue 13): an absolute `https://` or `api://` URI without fragment, query,
 * credentials, spaces or a trailing slash (its scopes are named `<identifier>/<scope>`), and never
 * on the server's own origin (`issuer`), whose paths are Accord's own.
 */
export function apiIdentifierProblem(identifier: string, issuer: string): string | undefined {
  if (identifier.length > 500) return 'API identifier must be at most 500 characters';
  if (/\s/.test(identifier)) return 'API identifier must not contain spaces';
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    return 'API identifier must be an absolute https:// or api:// URI';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'api:')
    return 'API identifier must be an absolute https:// or api:// URI';
  if (!url.host) return 'API identifier must name a host';
  if (identifier.includes('#') || identifier.includes('?'))
    return 'API identifier must not contain a query or a fragment';
  if (url.username || url.password) return 'API identifier must not contain credentials';
  if (identifier.endsWith('/')) return 'API identifier must not end with a slash';
  // The same host under either scheme: the issuer's paths are Accord's own (its data and admin APIs).
  if (url.protocol === 'https:' && url.host === new URL(issuer).host)
    return "API identifier must not be on Accord's own origin";
  return undefined;
}
