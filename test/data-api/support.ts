// Helpers for the data API tests: a user's tokens through the real flow, and calls to the API.
import { Browser } from '../support/browser.js';
import { exchangeCode, fullFlow, type TestApp } from '../support/flows.js';
import type { TestServer } from '../support/server.js';

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** Calls the data API (`path` under /data/v1) with a Bearer token, as an app would. */
export async function callApi(
  server: TestServer,
  token: string | undefined,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server.url}/data/v1${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** The user signs in (and consents when asked) in a fresh browser; the app redeems the code. */
export async function userTokens(
  server: TestServer,
  app: TestApp,
  user: { signIn: string; password: string },
  scope: string,
  params: Record<string, string> = {},
) {
  const { auth, callback } = await fullFlow(server, app, user, { scope, ...params }, new Browser(server.url));
  return exchangeCode(app, callback, auth);
}

export function scopesOf(accessToken: string): string[] {
  const payload = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as { scope?: string };
  return (payload.scope ?? '').split(' ').filter(Boolean).sort();
}
