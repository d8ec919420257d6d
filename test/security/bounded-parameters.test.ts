// Bounded parameters: an authorization request's URL and PAR form are limited to 8 KB, refused
// beyond that with a small answer that repeats none of it and stores nothing; below it, an error
// sent back to the app names a few of the bad scopes at most, so the redirect stays small whatever
// the client sent. (A 12 KB invalid scope used to come back twice: a 24 KB Location header,
// which Node's own HTTP client refuses to read.)
import { request } from 'node:http';
import t, { type Test } from 'tap';
import { PASSWORD } from '../admin-api/support.js';
import { REDIRECT_URI, registerApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const server = await startTestServer({ SIGN_IN_RATE_LIMIT: '1000' });
t.teardown(() => server.close());
await server.directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await server.directory.createUser(
  { tenantId: 'contoso', username: 'alice', password: PASSWORD, role: 'user' },
  'operator',
);
const app = await registerApp(server, { tenant: 'contoso', scopes: ['openid', 'User.Read'] });
const basic = `Basic ${Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret!)}`).toString('base64')}`;

/** `bytes` of scope values no app may ask for (valid characters, unknown names). */
function junkScope(bytes: number): string {
  const values: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i++) {
    const value = `Not.A.Scope.${i}`;
    values.push(value);
    length += value.length + 1;
  }
  return values.join(' ');
}

function authorizationParams(scope: string, extra: Record<string, string> = {}) {
  return new URLSearchParams({
    client_id: app.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 'st4te',
    scope,
    ...extra,
  });
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The size of the response's header section, as the client received it. */
  headerBytes: number;
}

/**
 * One request with Node's HTTP client, allowed headers of any size, so that an oversized answer
 * is measured rather than refused by the client.
 */
function send(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; chunked?: boolean } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      { method: init.method ?? 'GET', headers: init.headers ?? {}, maxHeaderSize: 1024 * 1024 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body,
            headerBytes: res.rawHeaders.reduce((sum, part) => sum + Buffer.byteLength(part) + 2, 0),
          }),
        );
      },
    );
    req.on('error', reject);
    if (init.chunked) req.setHeader('transfer-encoding', 'chunked');
    req.end(init.body);
  });
}

async function storedModels(): Promise<number> {
  return (await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM oidc_models')).rows[0]!.n;
}

/** Refused as it stands: a small answer that repeats nothing of the request, no redirect. */
function expectRefusedSmall(t: Test, response: RawResponse, status: number, what: string) {
  t.equal(response.status, status, `${what}: ${status}`);
  t.equal(response.headers.location, undefined, `${what}: no redirect`);
  t.ok(response.body.length < 2_000, `${what}: a small body (${response.body.length} bytes)`);
  t.notMatch(response.body, /Not\.A\.Scope/, `${what}: nothing of the input repeated`);
}

/** An error redirect to the app: small, with the error, the state and iss, and a bounded description. */
function expectSmallErrorRedirect(t: Test, response: RawResponse, what: string) {
  t.equal(response.status, 303, `${what}: redirected to the app`);
  const location = String(response.headers.location ?? '');
  t.ok(location.length < 1_000, `${what}: a small Location (${location.length} bytes)`);
  t.ok(response.headerBytes < 2_000, `${what}: small headers (${response.headerBytes} bytes)`);
  const callback = new URL(location);
  t.equal(callback.origin + callback.pathname, REDIRECT_URI, `${what}: at the app's redirect_uri`);
  t.equal(callback.searchParams.get('error'), 'invalid_scope', `${what}: invalid_scope`);
  t.equal(callback.searchParams.get('state'), 'st4te', `${what}: with the state`);
  t.equal(callback.searchParams.get('iss'), server.url, `${what}: with iss`);
  t.equal(callback.searchParams.get('scope'), null, `${what}: no scope echoed`);
  t.match(
    callback.searchParams.get('error_description'),
    /^scope not registered for this app: Not\.A\.Scope\.0 Not\.A\.Scope\.1 Not\.A\.Scope\.2 and \d+ more$/,
    `${what}: names three of them`,
  );
}

t.test('a 12 KB invalid scope at /auth is refused small, without a redirect, and nothing is stored', async (t) => {
  const before = await storedModels();
  const query = authorizationParams(`openid ${junkScope(12 * 1024)}`).toString();
  for (const accept of ['text/html', 'application/json']) {
    const response = await send(`/auth?${query}`, { headers: { accept } });
    expectRefusedSmall(t, response, 414, `GET /auth (${accept})`);
    t.ok(response.headerBytes < 2_000, `small headers (${response.headerBytes} bytes)`);
    if (accept === 'text/html') t.match(response.body, /data-page="error"/, 'the error page');
    else
      t.same(JSON.parse(response.body), {
        error: 'invalid_request',
        error_description: 'The request URL is longer than 8192 bytes.',
      });
  }
  t.equal(await storedModels(), before, 'nothing stored');
});

t.test('the bound is 8 KB of request target: one byte less reaches the provider', async (t) => {
  const base = `/auth?${authorizationParams('openid User.Read').toString()}&nonce=`;
  const at = (bytes: number) => `${base}${'n'.repeat(bytes - base.length)}`;
  const under = await send(at(8 * 1024), { headers: { accept: 'text/html' } });
  t.equal(under.status, 303, 'exactly 8 KB: the provider answers');
  t.match(String(under.headers.location), /\/interaction\//, 'with the sign-in');
  const over = await send(at(8 * 1024 + 1), { headers: { accept: 'text/html' } });
  t.equal(over.status, 414, 'one byte more: refused');
});

t.test('an invalid scope under the bound comes back to the app small and unrepeated', async (t) => {
  const scope = `openid ${junkScope(6 * 1024)}`;
  const query = authorizationParams(scope).toString();
  t.ok(query.length > 6 * 1024 && query.length < 8 * 1024, 'a 6 KB scope, under the bound');
  expectSmallErrorRedirect(t, await send(`/auth?${query}`, { headers: { accept: 'text/html' } }), 'GET /auth');
  // One huge unknown value is cut short too.
  const one = await send(`/auth?${authorizationParams(`openid X${'x'.repeat(5000)}`).toString()}`);
  t.equal(one.status, 303);
  t.ok(String(one.headers.location).length < 1_000, `one 5 KB value: a small Location`);
});

t.test('the form of a pushed authorization request (PAR) is bounded as the URL is', async (t) => {
  const before = await storedModels();
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    authorization: basic,
  };
  const body = authorizationParams(`openid ${junkScope(12 * 1024)}`).toString();
  expectRefusedSmall(t, await send('/request', { method: 'POST', headers, body }), 413, 'a 12 KB PAR form');
  const small = authorizationParams('openid User.Read').toString();
  expectRefusedSmall(
    t,
    await send('/request', { method: 'POST', headers, body: small, chunked: true }),
    411,
    'a PAR form without a Content-Length',
  );
  t.equal(await storedModels(), before, 'nothing stored');
  // Control: a PAR request of ordinary size is accepted.
  const pushed = await send('/request', { method: 'POST', headers, body: small });
  t.equal(pushed.status, 201, 'an ordinary PAR request is accepted');
  t.ok((await storedModels()) > before, 'and stored');
});

t.test('an app asking /token for a 12 KB invalid scope gets a small error', async (t) => {
  const response = await send('/token', {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: junkScope(12 * 1024) }).toString(),
  });
  t.equal(response.status, 400);
  t.ok(response.body.length < 500, `a small body (${response.body.length} bytes)`);
  const error = JSON.parse(response.body) as Record<string, string>;
  t.equal(error.error, 'invalid_scope');
  t.equal(error.scope, undefined, 'no scope echoed');
  t.match(error.error_description, /and \d+ more$/);
});
