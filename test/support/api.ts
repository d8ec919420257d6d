// Calls one of Accord's JSON APIs (the admin API, the data API) as an app would.
import type { TestServer } from './server.js';

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

export interface ApiCall {
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is (malformed input). */
  rawBody?: string;
  headers?: Record<string, string>;
}

/** `path` under `base` (e.g. /api/v1) with a Bearer token; the answer's body parsed as JSON, else its text. */
export async function callJsonApi(
  server: TestServer,
  base: string,
  token: string | undefined,
  path: string,
  init: ApiCall = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${server.url}${base}${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
  });
  const text = await response.text();
  let parsed: unknown = text || undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/**
 * Repeats `call` until it answers 401 or `ms` have passed, and returns the last answer with how
 * long the refusal took. A revocation reaches each instance's token cache when PostgreSQL delivers
 * its notification (a few milliseconds after the commit, on every instance alike), so a test that
 * asserts a refusal right after revoking must allow for that delivery rather than race it.
 */
export async function refusedWithin(
  call: () => Promise<ApiResponse>,
  ms = 2_000,
): Promise<ApiResponse & { afterMs?: number }> {
  const from = Date.now();
  for (;;) {
    const response = await call();
    if (response.status === 401) return { ...response, afterMs: Date.now() - from };
    if (Date.now() - from > ms) return response;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
