// A bounded, deterministic fuzz run (seeded PRNG, fixed request counts): malformed and oversized
// input at /auth, /token (and its siblings), the interaction forms, the admin API and the data API.
// No answer may be a 5xx, no body may carry a stack trace or a server path, and the server must
// still be ready at the end. Set FUZZ_SEED to explore another sequence, TEST_LOG=1 to see errors.
import t from 'tap';
import { adminApiToken, PASSWORD, registerAdminClient } from '../admin-api/support.js';
import { userTokens } from '../data-api/support.js';
import { Browser } from '../support/browser.js';
import { registerApp, startAuthorization } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_ac0d);
/** Multiplies the request counts, to explore further by hand (the default run stays ~10 s). */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const server = await startTestServer({
  SIGN_IN_RATE_LIMIT: '1000000',
  LOG_LEVEL: process.env.TEST_LOG ? 'error' : 'silent',
});
t.teardown(() => server.close());
const { directory } = server;

await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
await directory.createTenant({ id: 'fabrikam', name: 'Fabrikam' }, 'operator');
await directory.createUser({ tenantId: 'contoso', username: 'carol', password: PASSWORD, role: 'admin' }, 'operator');
const alice = await directory.createUser(
  { tenantId: 'contoso', username: 'alice', password: PASSWORD, role: 'user' },
  'operator',
);
const bob = await directory.createUser(
  { tenantId: 'contoso', username: 'bob', password: PASSWORD, role: 'user' },
  'operator',
);
const fiona = await directory.createUser(
  { tenantId: 'fabrikam', username: 'fiona', password: PASSWORD, role: 'user' },
  'operator',
);
const adminClient = await registerAdminClient(server, 'contoso');
const dataApp = await registerApp(server, {
  tenant: 'contoso',
  scopes: [
    'openid',
    'offline_access',
    'User.Read',
    'Calendars.ReadWrite',
    'Files.ReadWrite',
    'Mail.Send',
    'User.Read.All',
  ],
});
const spareApp = await registerApp(server, { tenant: 'fabrikam', scopes: ['openid', 'User.Read'], name: 'Spare' });
const adminToken = (await adminApiToken(server, adminClient, 'carol@contoso')).accessToken;
const dataTokens = await userTokens(
  server,
  dataApp,
  { signIn: 'alice@contoso', password: PASSWORD },
  'openid offline_access User.Read Calendars.ReadWrite Files.ReadWrite Mail.Send',
  { prompt: 'consent' },
);

// ---- a seeded PRNG (mulberry32) and generators --------------------------------------------

function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
const rnd = prng(SEED);

const ALPHABETS = [
  'abcdefghijklmnopqrstuvwxyz',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~',
  ' !"#$%&\'()*+,/:;<=>?@[\\]^`{|}',
  '\u0000\u0001\u0007\b\t\n\r\u001b\u007f',
  'éüß漢字🙂\u202e\ufeff\ud800\udfff',
];
const BAD_PERCENT = [
  '%',
  '%z',
  '%zz',
  '%C3%28',
  '%ED%A0%80',
  '%F0%28%8C%BC',
  '%FF',
  '%00',
  '%C0%AF',
  '%E0%80%AF',
  '%%',
  '%2',
  '%u0041',
  '%25%32%66',
];
const INTERESTING = [
  '',
  ' ',
  '0',
  '-1',
  '1e309',
  'NaN',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  "' OR '1'='1",
  '"; DROP TABLE users; --',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent as it is
  '${7*7}',
  '{{7*7}}',
  '%s%s%s%n',
  'a'.repeat(70),
  'x'.repeat(5000),
];

function randomString(maxLength = 40): string {
  if (rnd.chance(0.15)) return rnd.pick(INTERESTING);
  const length = rnd.chance(0.05) ? rnd.int(1000, 20_000) : rnd.int(0, maxLength);
  let out = '';
  for (let i = 0; i < length; i++) {
    const alphabet = rnd.chance(0.8) ? ALPHABETS[0]! : rnd.pick(ALPHABETS);
    out += alphabet[rnd.int(0, alphabet.length - 1)];
  }
  return out;
}

/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD, as a browser would send it). */
function enc(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

/** A raw (already-encoded) query component: encoded text, bad escapes, raw characters. */
function rawComponent(): string {
  const parts: string[] = [];
  for (let i = rnd.int(1, 4); i > 0; i--) {
    const kind = rnd.int(0, 3);
    if (kind === 0) parts.push(enc(randomString()).replace(/%2F/g, '/'));
    else if (kind === 1) parts.push(rnd.pick(BAD_PERCENT));
    else if (kind === 2) parts.push(rnd.pick(['&', '=', '+', '#', ';', '?', '[', ']', '[]', '=='] as const));
    else parts.push(randomString(8).replace(/[^A-Za-z0-9._~-]/g, ''));
  }
  return parts.join('');
}

function randomJson(depth = 0): unknown {
  const kind = rnd.int(0, depth > 2 ? 5 : 7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rnd.chance(0.5);
    case 2:
      return rnd.pick([0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 31, 2 ** 63]);
    case 3:
    case 4:
    case 5:
      return randomString();
    case 6:
      return Array.from({ length: rnd.int(0, 5) }, () => randomJson(depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = rnd.int(0, 6); i > 0; i--)
        object[rnd.chance(0.5) ? randomString(12) : rnd.pick(FIELD_NAMES)] = randomJson(depth + 1);
      return object;
    }
  }
}

/** Field names of the real request bodies, so random bodies often reach validation and handlers. */
const FIELD_NAMES = [
  'username',
  'password',
  'role',
  'disabled',
  'displayName',
  'email',
  'name',
  'redirectUris',
  'permissions',
  'multiTenant',
  'public',
  'integratedAppsEnabled',
  'reason',
  'subject',
  'body',
  'location',
  'start',
  'end',
  'content',
  'title',
  'to',
  'cc',
  'mimeType',
  'size',
  '__proto__',
  'constructor',
  'prototype',
];

/** A body built from real field names with values of random types and lengths. */
function plausibleBody(): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (let i = rnd.int(1, 5); i > 0; i--) {
    const field = rnd.pick(FIELD_NAMES);
    body[field] = rnd.chance(0.5)
      ? randomJson(1)
      : rnd.pick([
          randomString(),
          [randomString()],
          ['https://app.example.test/cb', randomString()],
          ['openid', 'User.Read', randomString(10)],
          rnd.pick(['admin', 'user', 'owner', '']),
          new Date(rnd.int(-1e13, 1e13)).toString(),
          '2030-01-01T00:00:00Z',
          rnd.int(-5, 5),
        ]);
  }
  return body;
}

/** Valid bodies of the APIs' write operations, to mutate one field at a time (deeper than random bodies). */
const VALID_BODIES: Record<string, Record<string, unknown>> = {
  user: { username: 'fuzzuser', password: PASSWORD, role: 'user', displayName: 'Fuzz', email: 'fuzz@contoso.example' },
  userPatch: { role: 'user', disabled: false, displayName: 'Bob B' },
  app: { name: 'Fuzz app', redirectUris: ['https://fuzz.example/cb'], permissions: ['openid', 'User.Read'] },
  appPatch: { name: 'Renamed', redirectUris: ['https://fuzz.example/cb2'] },
  settings: { integratedAppsEnabled: true },
  deny: { reason: 'no' },
  event: { subject: 'Fuzz', body: 'b', location: 'here', start: '2030-01-01T00:00:00Z', end: '2030-01-01T01:00:00Z' },
  file: { name: 'fuzz.txt', content: 'hello' },
  mail: { to: ['someone@example.test'], subject: 'Hi', body: 'Hello' },
};
const MUTANTS: (() => unknown)[] = [
  () => undefined,
  () => null,
  () => '',
  () => '\u0000',
  () => 'a\u0000b',
  () => '\ud800',
  () => 'x'.repeat(rnd.pick([65, 201, 1001, 10_001, 60_000])),
  () => rnd.int(-1e9, 1e9),
  () => rnd.chance(0.5),
  () => [],
  () => ({}),
  () => [randomString()],
  () => randomString(),
  () => randomJson(),
  () => '1970-01-01T00:00:00Z',
  () => '9999-12-31T23:59:59Z',
  () => '2030-02-30T25:61:61Z',
  () => 'javascript:alert(1)',
  () => ['http://insecure.example/cb'],
  () => Array.from({ length: rnd.pick([50, 1000]) }, () => 'https://a.example/cb'),
  () => ['openid', 'Organization.ReadWrite.All'],
  () => 'admin',
];
function mutatedBody(kind: keyof typeof VALID_BODIES): Record<string, unknown> {
  const body: Record<string, unknown> = { ...VALID_BODIES[kind] };
  for (let i = rnd.int(1, 2); i > 0; i--) {
    const field = rnd.chance(0.85)
      ? rnd.pick(Object.keys(body).length ? Object.keys(body) : FIELD_NAMES)
      : rnd.pick(FIELD_NAMES);
    const value = rnd.pick(MUTANTS)();
    if (value === undefined) delete body[field];
    else body[field] = value;
  }
  return body;
}

const JSON_BREAKERS = [
  '{',
  '{"a":',
  '[1,2',
  '{"a":1}}',
  '\u0000',
  'nul',
  '{"__proto__":{"admin":true}}',
  '{"constructor":{"prototype":{"x":1}}}',
  '"\\ud800"',
  '1e99999',
  '['.repeat(5000),
  '{"a":"\\u00"}',
];

// ---- sending and checking -----------------------------------------------------------------

interface Fuzzed {
  what: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Oversized request lines or headers: the server may drop the connection instead of answering. */
  mayDropConnection?: boolean;
}

const STACK_TRACE = [
  /\bat [^\n]{0,200}?[\w.-]+\.(?:[cm]?[jt]sx?):\d+:\d+/, // "at fn (file.ts:1:2)"
  /\b(?:[A-Z][a-z]+)?Error:[^\n]{0,300}?(?:\/[\w.-]+){2,}\.(?:[cm]?[jt]s)\b/, // "Error: … /path/to/file.js"
  /\/work\/main\b|\/node_modules\/|file:\/\/\//, // server paths
];

const failures: string[] = [];
const counts = new Map<string, number>();
let sent = 0;

async function send(request: Fuzzed): Promise<void> {
  sent++;
  const label = `${request.what}: ${request.method} ${request.url.slice(0, 160)}${request.url.length > 160 ? '…' : ''}`;
  let status: number;
  let text: string;
  try {
    // Header values a client can send at all: no CR, LF, NUL or characters beyond Latin-1.
    const headers = Object.fromEntries(
      Object.entries(request.headers ?? {}).map(([name, value]) => [
        name,
        value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '').trim(),
      ]),
    );
    const response = await fetch(request.url, {
      method: request.method,
      headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    if (!request.mayDropConnection)
      failures.push(
        `${label} → no response (${(error as Error).message}; ${String((error as { cause?: unknown }).cause ?? '')})`,
      );
    return;
  }
  const bucket = `${request.what} ${Math.floor(status / 100)}xx`;
  counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  if (status >= 500) failures.push(`${label} → ${status} ${text.slice(0, 200)}`);
  for (const pattern of STACK_TRACE)
    if (pattern.test(text)) failures.push(`${label} → body matches ${pattern}: ${text.slice(0, 300)}`);
}

/** Runs the requests a few at a time, in a fixed order of creation (they are built before sending). */
async function run(requests: Fuzzed[], concurrency = 6): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) await send(requests[next++]!);
    }),
  );
}

function randomQuery(keys: readonly string[], known: Record<string, string>): string {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(known)) if (rnd.chance(0.7)) pairs.push(`${key}=${enc(value)}`);
  for (let i = rnd.int(0, 8); i > 0; i--) {
    const key = rnd.chance(0.7) ? rnd.pick(keys) : rawComponent();
    const value = rnd.chance(0.5) ? enc(randomString()) : rawComponent();
    pairs.push(rnd.chance(0.1) ? key : `${key}=${value}`);
    if (rnd.chance(0.15)) pairs.push(`${key}=${value}`); // duplicated parameter
  }
  for (let i = 0, n = rnd.int(0, pairs.length); i < n; i++) {
    const a = rnd.int(0, pairs.length - 1);
    const b = rnd.int(0, pairs.length - 1);
    [pairs[a], pairs[b]] = [pairs[b]!, pairs[a]!];
  }
  return pairs.join('&');
}

const AUTH_KEYS = [
  'client_id',
  'response_type',
  'scope',
  'redirect_uri',
  'state',
  'nonce',
  'prompt',
  'code_challenge',
  'code_challenge_method',
  'request',
  'request_uri',
  'claims',
  'max_age',
  'ui_locales',
  'login_hint',
  'id_token_hint',
  'acr_values',
  'resource',
  'response_mode',
  'dpop_jkt',
  'registration',
  'display',
  'claims_locales',
  'authorization_details',
] as const;
const TOKEN_KEYS = [
  'grant_type',
  'code',
  'redirect_uri',
  'code_verifier',
  'refresh_token',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'scope',
  'resource',
  'token',
  'token_type_hint',
  'audience',
  'username',
  'password',
  'device_code',
  'auth_req_id',
] as const;
const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset=latin1',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
  'multipart/form-data',
  'application/xml',
  '',
  'application/x-www-form-urlencoded;;;',
  'application/json; charset=utf-16',
  'text/html',
  '*/*',
  'application/jwt',
];
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
const randomAuthorization = () =>
  rnd.pick([
    basic(dataApp.clientId, dataApp.clientSecret!),
    basic(dataApp.clientId, randomString()),
    basic(randomString(), randomString()),
    `Basic ${randomString()}`,
    `Basic ${Buffer.from(randomString()).toString('base64')}`,
    `Basic ${Buffer.from(':').toString('base64')}`,
    `Bearer ${randomString()}`,
    'Basic',
    '',
  ]);

function bigBody(bytes: number): string {
  return rnd.chance(0.5)
    ? `grant_type=authorization_code&code=${'A'.repeat(bytes)}`
    : `${'a=b&'.repeat(Math.ceil(bytes / 4))}`;
}

// ---- the targets --------------------------------------------------------------------------

const known = {
  client_id: dataApp.clientId,
  response_type: 'code',
  scope: 'openid User.Read',
  redirect_uri: 'https://app.example.test/callback',
  code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  code_challenge_method: 'S256',
  state: 'fuzz',
};

function authRequests(n: number): Fuzzed[] {
  return Array.from({ length: n }, (_, i) => {
    const query = randomQuery(AUTH_KEYS, known);
    const huge = i % 25 === 0;
    const url = `${server.url}/auth?${huge ? `${query}&state=${'s'.repeat(rnd.pick([5_000, 20_000, 100_000]))}` : query}`;
    if (rnd.chance(0.2)) {
      return {
        what: '/auth POST',
        method: 'POST',
        url: `${server.url}/auth`,
        headers: { 'content-type': rnd.pick(CONTENT_TYPES), accept: 'text/html' },
        body: huge ? bigBody(rnd.pick([10_000, 2_000_000])) : query,
      };
    }
    const headers: Record<string, string> = { accept: rnd.pick(['text/html', 'application/json', '*/*']) };
    return { what: '/auth', method: 'GET', url, headers, mayDropConnection: huge };
  });
}

function tokenRequests(n: number): Fuzzed[] {
  const endpoints = [
    '/token',
    '/token',
    '/token',
    '/token/introspection',
    '/token/revocation',
    '/request',
    '/me',
    '/session/end',
    '/jwks',
    '/.well-known/openid-configuration',
  ];
  return Array.from({ length: n }, (_, i) => {
    const path = rnd.pick(endpoints);
    const contentType = rnd.chance(0.6) ? 'application/x-www-form-urlencoded' : rnd.pick(CONTENT_TYPES);
    let body: string;
    const shape = i % 10 === 0 ? 'huge' : rnd.int(0, 3);
    if (shape === 'huge') body = bigBody(rnd.pick([60_000, 500_000, 3_000_000]));
    else if (shape === 0) body = JSON.stringify(rnd.chance(0.5) ? randomJson() : plausibleBody());
    else if (shape === 1) body = rnd.pick(JSON_BREAKERS);
    else
      body = randomQuery(TOKEN_KEYS, {
        grant_type: rnd.pick(['authorization_code', 'refresh_token', 'client_credentials', 'password', randomString()]),
        refresh_token: rnd.chance(0.3) ? dataTokens.refresh_token! : randomString(),
      });
    const headers: Record<string, string> = { accept: 'application/json' };
    if (contentType) headers['content-type'] = contentType;
    const authorization = randomAuthorization();
    if (authorization) headers.authorization = authorization;
    if (rnd.chance(0.1))
      headers.dpop = rnd.chance(0.5)
        ? randomString()
        : `${Buffer.from('{"alg":"ES256","typ":"dpop+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify(randomJson())).toString('base64url')}.x`;
    const method = rnd.chance(0.9) ? 'POST' : rnd.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
    return {
      what: path,
      method,
      url: `${server.url}${path}${rnd.chance(0.2) ? `?${randomQuery(TOKEN_KEYS, {})}` : ''}`,
      headers,
      ...(method === 'GET' || method === 'OPTIONS' ? {} : { body }),
    };
  });
}

async function interactionRequests(n: number): Promise<Fuzzed[]> {
  // Real interactions (cookies, CSRF tokens, uids) at the login and at the consent step, to mix in.
  const sessions: { uid: string; cookie: string; csrf: string }[] = [];
  for (const signIn of [undefined, 'alice@contoso', 'bob@contoso']) {
    const browser = new Browser(server.url);
    const auth = await startAuthorization(browser, dataApp, {
      scope: signIn === 'bob@contoso' ? 'openid User.Read.All' : 'openid User.Read Files.ReadWrite',
    });
    let page = auth.page;
    if (signIn) page = await browser.submit(page, /\/login$/, { username: signIn, password: PASSWORD });
    const uid =
      /\/interaction\/([A-Za-z0-9_-]+)/.exec(page.url)?.[1] ??
      /\/interaction\/([A-Za-z0-9_-]+)/.exec(page.body)?.[1] ??
      'none';
    sessions.push({
      uid,
      cookie: await browser.jar.getCookieString(page.url),
      csrf: /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '',
    });
  }
  const steps = ['login', 'consent', 'abort', 'request-approval', '', '(random)'];
  return Array.from({ length: n }, () => {
    const session = rnd.pick(sessions);
    const uid = rnd.pick([
      session.uid,
      session.uid,
      randomString(20).replace(/[^A-Za-z0-9_-]/g, ''),
      rawComponent(),
      'a'.repeat(65),
      '..%2f..%2fadmin',
    ]);
    const picked = rnd.pick(steps);
    const step = picked === '(random)' ? rawComponent() : picked;
    let cookie = '';
    const cookieKind = rnd.int(0, 3);
    if (cookieKind === 1) cookie = session.cookie;
    else if (cookieKind === 2)
      cookie = session.cookie.replace(/=([^;]*)/g, (_match, value: string) =>
        rnd.chance(0.4) ? `=${enc(randomString())}` : `=${value}`,
      );
    else if (cookieKind === 3)
      cookie = `_interaction=${randomString(30).replace(/[;\s]/g, '')}; _interaction.sig=${randomString(20).replace(/[;\s]/g, '')}; _csrf=${randomString(10).replace(/[;\s]/g, '')}`;
    const fields: Record<string, string> = {};
    if (rnd.chance(0.7)) fields._csrf = rnd.chance(0.7) ? session.csrf : randomString();
    for (const field of ['username', 'password', 'decision', 'on_behalf_of_org', 'reason', 'scope']) {
      if (rnd.chance(0.4))
        fields[field] = rnd.pick([
          randomString(),
          'accept',
          'deny',
          'true',
          'alice@contoso',
          PASSWORD,
          'x'.repeat(rnd.pick([201, 4097, 100_000])),
        ]);
    }
    const contentType = rnd.chance(0.75) ? 'application/x-www-form-urlencoded' : rnd.pick(CONTENT_TYPES);
    let body = contentType.startsWith('application/json')
      ? JSON.stringify(rnd.chance(0.5) ? fields : randomJson())
      : new URLSearchParams(fields).toString();
    if (rnd.chance(0.1)) body = `${body}&${rawComponent()}=${rawComponent()}`;
    if (rnd.chance(0.05)) body = bigBody(2_000_000);
    const method = rnd.chance(0.85) ? 'POST' : 'GET';
    const headers: Record<string, string> = {
      accept: rnd.pick(['text/html', 'application/json']),
      'content-type': contentType,
    };
    if (cookie) headers.cookie = cookie;
    if (rnd.chance(0.3)) headers.origin = rnd.pick([server.url, 'https://evil.example', 'null']);
    return {
      what: `/interaction/${picked || '(page)'}`,
      method,
      url: `${server.url}/interaction/${uid}${step ? `/${step}` : ''}`,
      headers,
      ...(method === 'POST' ? { body } : {}),
    };
  });
}

function adminRequests(n: number): Fuzzed[] {
  const ids = () =>
    rnd.pick([
      bob.id,
      fiona.id,
      spareApp.clientId,
      'someRequest',
      randomString(20),
      rawComponent(),
      'x'.repeat(rnd.pick([64, 65, 199, 201, 5000])),
      '%00',
      '..',
      '.',
      '%2e%2e%2f',
    ]);
  const paths = () =>
    rnd.pick([
      '/settings',
      '/users',
      `/users/${ids()}`,
      '/apps',
      `/apps/${ids()}`,
      `/apps/${ids()}/secret`,
      '/enterprise-apps',
      `/enterprise-apps/${ids()}`,
      `/enterprise-apps/${ids()}/${rnd.pick(['block', 'unblock', 'users'])}`,
      `/enterprise-apps/${ids()}/users/${ids()}`,
      '/consent-requests',
      `/consent-requests/${ids()}/${rnd.pick(['approve', 'deny'])}`,
      '/audit-events',
      `/${rawComponent()}`,
    ]);
  return Array.from({ length: n }, (_, i) => {
    const tenant = rnd.chance(0.85) ? 'contoso' : rnd.pick(['fabrikam', 'CONTOSO', rawComponent(), 'x'.repeat(300)]);
    const path = rnd.chance(0.1)
      ? rnd.pick(['/me/apps', `/me/apps/${rnd.pick([spareApp.clientId, randomString(10)])}`])
      : `/tenants/${tenant}${paths()}`;
    const query = rnd.chance(0.3)
      ? `?${randomQuery(['$top', '$skip', 'status', 'cursor', 'limit', 'action', 'actor', 'search', 'filter'], {})}`
      : '';
    if (rnd.chance(0.4)) {
      // A real write operation with a valid body, one or two fields mutated.
      const [method, opPath, kind] = rnd.pick([
        ['POST', '/users', 'user'],
        ['PATCH', `/users/${bob.id}`, 'userPatch'],
        ['POST', '/apps', 'app'],
        ['PATCH', `/apps/${spareApp.clientId}`, 'appPatch'],
        ['PATCH', '/settings', 'settings'],
        ['POST', `/consent-requests/${randomString(10).replace(/[^A-Za-z0-9]/g, '') || 'r'}/deny`, 'deny'],
      ] as const);
      return {
        what: `/api/v1 ${method} (mutated)`,
        method,
        url: `${server.url}/api/v1/tenants/contoso${opPath}`,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${adminToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(mutatedBody(kind)),
      };
    }
    const method = rnd.pick(['GET', 'POST', 'PATCH', 'PATCH', 'POST', 'DELETE', 'PUT']);
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: rnd.chance(0.95) ? `Bearer ${adminToken}` : randomAuthorization(),
    };
    let body: string | undefined;
    if (method !== 'GET' && method !== 'DELETE' && rnd.chance(0.9)) {
      const shape = i % 20 === 0 ? 'huge' : rnd.int(0, 3);
      if (shape === 'huge') body = JSON.stringify({ name: 'x'.repeat(rnd.pick([100_000, 2_000_000])) });
      else if (shape === 0)
        body = JSON.stringify(
          mutatedBody(rnd.pick(['user', 'userPatch', 'app', 'appPatch', 'settings', 'deny'] as const)),
        );
      else if (shape === 1) body = JSON.stringify(plausibleBody());
      else if (shape === 2) body = JSON.stringify(randomJson());
      else body = rnd.pick(JSON_BREAKERS);
      headers['content-type'] = rnd.chance(0.85) ? 'application/json' : rnd.pick(CONTENT_TYPES);
    }
    return {
      what: `/api/v1 ${method}`,
      method,
      url: `${server.url}/api/v1${path}${query}`,
      headers,
      ...(body !== undefined ? { body } : {}),
    };
  });
}

function dataRequests(n: number): Fuzzed[] {
  const ids = () =>
    rnd.pick([
      alice.id,
      bob.id,
      fiona.id,
      randomString(20),
      rawComponent(),
      'x'.repeat(rnd.pick([100, 101, 199, 201])),
      '%00',
    ]);
  return Array.from({ length: n }, (_, i) => {
    const path = rnd.pick([
      '/me',
      `/users/${ids()}`,
      `/users/${ids()}/calendar/events`,
      '/me/calendar/events',
      `/me/calendar/events/${ids()}`,
      '/me/drive/files',
      `/me/drive/files/${ids()}`,
      '/me/sendMail',
      `/sites/${ids()}/items`,
      `/${rawComponent()}`,
    ]);
    const query = rnd.chance(0.4)
      ? `?${randomQuery(['$top', '$skip', '$filter', '$select'], rnd.chance(0.5) ? { $top: String(rnd.int(-5, 200)), $skip: String(rnd.int(-5, 200_000)) } : {})}`
      : '';
    if (rnd.chance(0.4)) {
      const [opPath, kind] = rnd.pick([
        ['/me/calendar/events', 'event'],
        ['/me/drive/files', 'file'],
        ['/me/sendMail', 'mail'],
      ] as const);
      return {
        what: `/data/v1 POST (mutated)`,
        method: 'POST',
        url: `${server.url}/data/v1${opPath}`,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${dataTokens.access_token}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(mutatedBody(kind)),
      };
    }
    const method = rnd.pick(['GET', 'GET', 'POST', 'POST', 'DELETE', 'PATCH', 'PUT']);
    const authorization = rnd.chance(0.9)
      ? `Bearer ${dataTokens.access_token}`
      : rnd.pick([
          randomAuthorization(),
          `DPoP ${dataTokens.access_token}`,
          `Bearer ${dataTokens.id_token}`,
          `Bearer ${adminToken}`,
          `Bearer ${randomString()}.${randomString()}.${randomString()}`,
        ]);
    const headers: Record<string, string> = { accept: 'application/json', authorization };
    if (rnd.chance(0.05)) headers.dpop = randomString();
    let body: string | undefined;
    if (method !== 'GET' && method !== 'DELETE' && rnd.chance(0.9)) {
      const shape = i % 20 === 0 ? 'huge' : rnd.int(0, 3);
      if (shape === 'huge')
        body = JSON.stringify({
          subject: 's',
          body: 'x'.repeat(rnd.pick([100_000, 2_000_000])),
          start: '2030-01-01T00:00:00Z',
          end: '2030-01-01T01:00:00Z',
        });
      else if (shape === 0) body = JSON.stringify(mutatedBody(rnd.pick(['event', 'file', 'mail'] as const)));
      else if (shape === 1) body = JSON.stringify(plausibleBody());
      else if (shape === 2) body = JSON.stringify(randomJson());
      else body = rnd.pick(JSON_BREAKERS);
      headers['content-type'] = rnd.chance(0.85) ? 'application/json' : rnd.pick(CONTENT_TYPES);
    }
    return {
      what: `/data/v1 ${method}`,
      method,
      url: `${server.url}/data/v1${path}${query}`,
      headers,
      ...(body !== undefined ? { body } : {}),
    };
  });
}

// ---- the run ------------------------------------------------------------------------------

const started = Date.now();

t.test(`fuzz (seed ${SEED}): no 5xx, no stack trace, across every entry point`, async (t) => {
  for (const [name, requests] of [
    ['/auth', authRequests(250 * SCALE)],
    ['/token and siblings', tokenRequests(250 * SCALE)],
    ['interaction forms', await interactionRequests(250 * SCALE)],
    ['admin API', adminRequests(350 * SCALE)],
    ['data API', dataRequests(350 * SCALE)],
  ] as const) {
    const before = failures.length;
    await run(requests);
    t.same(failures.slice(before), [], `${name}: ${requests.length} requests, no 5xx and no stack trace`);
  }
  t.comment(
    `${sent} requests in ${Date.now() - started} ms; answers: ${[...counts]
      .sort()
      .map(([bucket, count]) => `${bucket}=${count}`)
      .join(', ')}`,
  );
  t.ok(Date.now() - started < 60_000 * SCALE, 'bounded in time');
});

t.test('the server still answers after the run', async (t) => {
  const ready = await fetch(`${server.url}/readyz`);
  t.equal(ready.status, 200, '/readyz');
  const discovery = await fetch(`${server.url}/.well-known/openid-configuration`);
  t.equal(discovery.status, 200, 'discovery');
  const admin = await fetch(`${server.url}/api/v1/tenants/contoso/settings`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  // Nothing the fuzz sends touches carol, her admin tool or alice's grant: both tokens still work.
  t.equal(admin.status, 200, 'the admin API answers the admin');
  t.match(await admin.json(), { id: 'contoso' });
  const me = await fetch(`${server.url}/data/v1/me`, {
    headers: { authorization: `Bearer ${dataTokens.access_token}` },
  });
  t.equal(me.status, 200, 'the data API answers alice');
  t.match(await me.json(), { id: alice.id });
});
