// Helpers for the admin API tests: admin tokens through the real flow (sign-in, consent, code
// exchange with the API's resource indicator), calls to the API, and the list of its routes.
import * as oidc from 'openid-client';
import { type ApiCall, callJsonApi } from '../support/api.js';
import { Browser, pageName } from '../support/browser.js';
import {
  answerConsent,
  appRedirect,
  registerApp,
  signInOnPage,
  startAuthorization,
  type TestApp,
} from '../support/flows.js';
import type { TestServer } from '../support/server.js';

export type { ApiResponse } from '../support/api.js';

export const PASSWORD = 'correct horse battery';
export const ADMIN_SCOPE = 'Organization.ReadWrite.All';

/** Calls the admin API (`path` under /api/v1) as an app would. */
export const callApi = (server: TestServer, token: string | undefined, path: string, init?: ApiCall) =>
  callJsonApi(server, '/api/v1', token, path, init);

/** An app that may ask for the admin API (as the admin centre or an admin's script would be). */
export async function registerAdminClient(server: TestServer, tenant: string): Promise<TestApp> {
  return registerApp(server, { tenant, multiTenant: true, scopes: ['openid', ADMIN_SCOPE], name: 'Admin tool' });
}

/**
 * Signs `signIn` in through /auth in a fresh browser asking for the admin API, accepts the consent
 * page if shown (for the organisation when `onBehalfOfOrg`), and redeems the code for the admin
 * API's resource. Returns the access token and whether consent was asked.
 */
export async function adminApiToken(
  server: TestServer,
  app: TestApp,
  signIn: string,
  options: { onBehalfOfOrg?: boolean; password?: string } = {},
): Promise<{ accessToken: string; consentShown: boolean }> {
  const browser = new Browser(server.url);
  const resource = `${server.url}/api/v1`;
  const auth = await startAuthorization(browser, app, { scope: `openid ${ADMIN_SCOPE}`, resource });
  let page = auth.page;
  if (pageName(page.body) === 'login') page = await signInOnPage(browser, page, signIn, options.password ?? PASSWORD);
  const consentShown = pageName(page.body) === 'consent';
  if (consentShown)
    page = await answerConsent(browser, page, 'accept', options.onBehalfOfOrg ? { on_behalf_of_org: 'true' } : {});
  const callback = appRedirect(page);
  if (callback.searchParams.has('error')) {
    throw new Error(
      `authorization refused: ${callback.searchParams.get('error')} ${callback.searchParams.get('error_description') ?? ''}`,
    );
  }
  const tokens = await oidc.authorizationCodeGrant(
    app.config,
    callback,
    { pkceCodeVerifier: auth.verifier, expectedState: auth.state },
    { resource },
  );
  return { accessToken: tokens.access_token, consentShown };
}

export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
}

/** An API identifier as a path segment. */
const API = encodeURIComponent('https://api.example');

/** Every operation of the API, with a body that would be valid (so only access decides). */
export function apiOperations(tenant: string, ids: { userId: string; clientId: string }) {
  const base = `/tenants/${tenant}`;
  return [
    { method: 'GET', path: `${base}/settings` },
    { method: 'PATCH', path: `${base}/settings`, body: { integratedAppsEnabled: false } },
    { method: 'GET', path: `${base}/users` },
    { method: 'POST', path: `${base}/users`, body: { username: 'intruder', password: PASSWORD, role: 'admin' } },
    { method: 'GET', path: `${base}/users/${ids.userId}` },
    {
      method: 'PATCH',
      path: `${base}/users/${ids.userId}`,
      body: { role: 'user', disabled: true, password: 'taken over by someone' },
    },
    { method: 'POST', path: `${base}/users/${ids.userId}/unlock` },
    { method: 'GET', path: `${base}/apps` },
    {
      method: 'POST',
      path: `${base}/apps`,
      body: { name: 'Intruder', redirectUris: ['https://evil.example/cb'], permissions: ['openid'] },
    },
    { method: 'GET', path: `${base}/apps/${ids.clientId}` },
    { method: 'PATCH', path: `${base}/apps/${ids.clientId}`, body: { redirectUris: ['https://evil.example/cb'] } },
    { method: 'DELETE', path: `${base}/apps/${ids.clientId}` },
    { method: 'POST', path: `${base}/apps/${ids.clientId}/secret` },
    { method: 'GET', path: `${base}/apps/${ids.clientId}/secrets` },
    { method: 'POST', path: `${base}/apps/${ids.clientId}/secrets`, body: { expiresInDays: 30 } },
    { method: 'DELETE', path: `${base}/apps/${ids.clientId}/secrets/someSecret` },
    { method: 'GET', path: `${base}/enterprise-apps` },
    { method: 'GET', path: `${base}/enterprise-apps/${ids.clientId}` },
    { method: 'POST', path: `${base}/enterprise-apps/${ids.clientId}/block` },
    { method: 'POST', path: `${base}/enterprise-apps/${ids.clientId}/unblock` },
    { method: 'POST', path: `${base}/enterprise-apps/${ids.clientId}/remove` },
    { method: 'DELETE', path: `${base}/enterprise-apps/${ids.clientId}/users/${ids.userId}` },
    { method: 'GET', path: `${base}/consent-requests` },
    { method: 'POST', path: `${base}/consent-requests/someRequest/approve`, body: {} },
    { method: 'POST', path: `${base}/consent-requests/someRequest/deny`, body: { reason: 'no' } },
    { method: 'GET', path: `${base}/audit-events` },
    { method: 'GET', path: `${base}/apis` },
    { method: 'POST', path: `${base}/apis`, body: { identifier: 'https://intruder.example', name: 'Intruder' } },
    { method: 'GET', path: `${base}/apis/${API}` },
    { method: 'DELETE', path: `${base}/apis/${API}` },
    { method: 'GET', path: `${base}/apis/${API}/impact` },
    { method: 'POST', path: `${base}/apis/${API}/scopes`, body: { name: 'steal', description: 'Steal' } },
    { method: 'PATCH', path: `${base}/apis/${API}/scopes/read`, body: { description: 'Changed' } },
    { method: 'DELETE', path: `${base}/apis/${API}/scopes/read` },
    { method: 'GET', path: `${base}/apis/${API}/scopes/read/impact` },
    { method: 'GET', path: `${base}/consent-settings` },
    { method: 'PATCH', path: `${base}/consent-settings`, body: { userConsent: 'verified-low-impact' } },
    { method: 'POST', path: `${base}/consent-settings/preview`, body: { riskStepUp: true } },
    { method: 'GET', path: `${base}/permission-classifications` },
    { method: 'PATCH', path: `${base}/permission-classifications/Mail.Send`, body: { classification: 'low' } },
    { method: 'GET', path: `${base}/consent-policies` },
    { method: 'POST', path: `${base}/consent-policies`, body: { id: 'intruder', name: 'Intruder', includes: [{}] } },
    { method: 'POST', path: `${base}/consent-policies/preview`, body: { remove: 'intruder' } },
    {
      method: 'POST',
      path: `${base}/consent-policies/evaluate`,
      body: { clientId: ids.clientId, user: ids.userId, scopes: ['openid'] },
    },
    { method: 'GET', path: `${base}/consent-policies/intruder` },
    { method: 'DELETE', path: `${base}/consent-policies/intruder` },
    { method: 'GET', path: `${base}/grant-lifetimes` },
    { method: 'PATCH', path: `${base}/grant-lifetimes`, body: { default: 1 } },
    { method: 'PATCH', path: `${base}/enterprise-apps/${ids.clientId}/grant-lifetime`, body: { lifetimeDays: 1 } },
    { method: 'DELETE', path: `${base}/enterprise-apps/${ids.clientId}/grant-lifetime` },
    { method: 'GET', path: `${base}/expiring-consents` },
    { method: 'POST', path: `${base}/expiring-consents/renew`, body: { clientId: ids.clientId } },
    { method: 'POST', path: `${base}/expiring-consents/let-lapse`, body: { clientId: ids.clientId } },
    { method: 'GET', path: `${base}/over-privileged-grants` },
    {
      method: 'POST',
      path: `${base}/over-privileged-grants/reduce`,
      body: { clientId: ids.clientId, userId: ids.userId },
    },
  ] as const;
}

/** The OpenAPI paths of the operations above. */
export const DOCUMENTED_OPERATIONS = [
  'GET /api/v1/tenants/{tenant}/settings',
  'PATCH /api/v1/tenants/{tenant}/settings',
  'GET /api/v1/tenants/{tenant}/users',
  'POST /api/v1/tenants/{tenant}/users',
  'GET /api/v1/tenants/{tenant}/users/{id}',
  'PATCH /api/v1/tenants/{tenant}/users/{id}',
  'POST /api/v1/tenants/{tenant}/users/{id}/unlock',
  'GET /api/v1/tenants/{tenant}/apps',
  'POST /api/v1/tenants/{tenant}/apps',
  'GET /api/v1/tenants/{tenant}/apps/{clientId}',
  'PATCH /api/v1/tenants/{tenant}/apps/{clientId}',
  'DELETE /api/v1/tenants/{tenant}/apps/{clientId}',
  'POST /api/v1/tenants/{tenant}/apps/{clientId}/secret',
  'GET /api/v1/tenants/{tenant}/apps/{clientId}/secrets',
  'POST /api/v1/tenants/{tenant}/apps/{clientId}/secrets',
  'DELETE /api/v1/tenants/{tenant}/apps/{clientId}/secrets/{secretId}',
  'GET /api/v1/tenants/{tenant}/enterprise-apps',
  'GET /api/v1/tenants/{tenant}/enterprise-apps/{clientId}',
  'POST /api/v1/tenants/{tenant}/enterprise-apps/{clientId}/block',
  'POST /api/v1/tenants/{tenant}/enterprise-apps/{clientId}/unblock',
  'POST /api/v1/tenants/{tenant}/enterprise-apps/{clientId}/remove',
  'DELETE /api/v1/tenants/{tenant}/enterprise-apps/{clientId}/users/{userId}',
  'GET /api/v1/tenants/{tenant}/consent-requests',
  'POST /api/v1/tenants/{tenant}/consent-requests/{requestId}/approve',
  'POST /api/v1/tenants/{tenant}/consent-requests/{requestId}/deny',
  'GET /api/v1/tenants/{tenant}/audit-events',
  'GET /api/v1/tenants/{tenant}/apis',
  'POST /api/v1/tenants/{tenant}/apis',
  'GET /api/v1/tenants/{tenant}/apis/{api}',
  'DELETE /api/v1/tenants/{tenant}/apis/{api}',
  'GET /api/v1/tenants/{tenant}/apis/{api}/impact',
  'POST /api/v1/tenants/{tenant}/apis/{api}/scopes',
  'PATCH /api/v1/tenants/{tenant}/apis/{api}/scopes/{scope}',
  'DELETE /api/v1/tenants/{tenant}/apis/{api}/scopes/{scope}',
  'GET /api/v1/tenants/{tenant}/apis/{api}/scopes/{scope}/impact',
  'GET /api/v1/tenants/{tenant}/consent-settings',
  'PATCH /api/v1/tenants/{tenant}/consent-settings',
  'POST /api/v1/tenants/{tenant}/consent-settings/preview',
  'GET /api/v1/tenants/{tenant}/permission-classifications',
  'PATCH /api/v1/tenants/{tenant}/permission-classifications/{scope}',
  'GET /api/v1/tenants/{tenant}/consent-policies',
  'POST /api/v1/tenants/{tenant}/consent-policies',
  'POST /api/v1/tenants/{tenant}/consent-policies/preview',
  'POST /api/v1/tenants/{tenant}/consent-policies/evaluate',
  'GET /api/v1/tenants/{tenant}/consent-policies/{id}',
  'DELETE /api/v1/tenants/{tenant}/consent-policies/{id}',
  'GET /api/v1/tenants/{tenant}/grant-lifetimes',
  'PATCH /api/v1/tenants/{tenant}/grant-lifetimes',
  'PATCH /api/v1/tenants/{tenant}/enterprise-apps/{clientId}/grant-lifetime',
  'DELETE /api/v1/tenants/{tenant}/enterprise-apps/{clientId}/grant-lifetime',
  'GET /api/v1/tenants/{tenant}/expiring-consents',
  'POST /api/v1/tenants/{tenant}/expiring-consents/renew',
  'POST /api/v1/tenants/{tenant}/expiring-consents/let-lapse',
  'GET /api/v1/tenants/{tenant}/over-privileged-grants',
  'POST /api/v1/tenants/{tenant}/over-privileged-grants/reduce',
];

/** The user's own operations (`/me`), outside any tenant's admin scope. */
export const ME_OPERATIONS = ['GET /api/v1/me/apps', 'DELETE /api/v1/me/apps/{clientId}'];
