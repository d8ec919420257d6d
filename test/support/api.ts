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
export async function callJsonApi(server: TestServer, base: string, token: string | undefined, path: string, init: ApiCall = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${server.url}${base}${path}`, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await response.text();
  let parsed: unknown = text || undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}
