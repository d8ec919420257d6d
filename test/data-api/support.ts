// Helpers for the data API tests: a user's tokens through the real flow, and calls to the API.

import { type ApiCall, callJsonApi } from '../support/api.js';
import { Browser } from '../support/browser.js';
import { exchangeCode, fullFlow, type TestApp } from '../support/flows.js';
import type { TestServer } from '../support/server.js';

export type { ApiResponse } from '../support/api.js';

/** Calls the data API (`path` under /data/v1) with a Bearer token, as an app would. */
export const callApi = (server: TestServer, token: string | undefined, path: string, init?: ApiCall) =>
  callJsonApi(server, '/data/v1', token, path, init);

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
