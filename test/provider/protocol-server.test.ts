// The server that dispatches: protocol paths go to oidc-provider ahead of Fastify, everything
// else to Fastify; protocol responses carry the framing and referrer headers and are logged by
// path only.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import Provider from 'oidc-provider';
import t from 'tap';
import { isProtocolPath, protocolServerFactory } from '../../src/provider/protocol-server.js';

t.test('which request targets are the provider’s', async (t) => {
  const theirs = [
    '/token',
    '/token?x=1',
    '/auth',
    '/auth?client_id=a&scope=openid',
    '/auth/abc123',
    '/auth/abc123?x',
    '/jwks',
    '/me',
    '/.well-known/openid-configuration',
    '/token/introspection',
    '/token/revocation',
    '/session/end',
    '/session/end/confirm',
    '/session/end/success',
    '/request',
  ];
  const ours = [
    '/',
    '/token/',
    '/tokens',
    '/Token',
    '/%74oken',
    '//token',
    '/auth/',
    '/auth/abc/def',
    '/interaction/abc',
    '/data/v1/me',
    '/api/v1/openapi.json',
    '/healthz',
    '/.well-known/other',
    '/jwks/x',
    '/session/end/other',
    'token',
  ];
  for (const target of theirs) t.equal(isProtocolPath(target), true, target);
  for (const target of ours) t.equal(isProtocolPath(target), false, target);
});

t.test('a real provider and Fastify behind one server', async (t) => {
  const lines: { details: Record<string, any>; message: string }[] = [];
  const logger = {
    level: 'info',
    info: (details: Record<string, any>, message: string) => lines.push({ details, message }),
  } as unknown as FastifyBaseLogger;
  // The provider needs its issuer before the port is known: a fixed one will do, nothing here
  // compares it with the address the requests go to.
  const provider = new Provider('http://accord.test', { clients: [] });
  const app = Fastify({ logger: false, serverFactory: protocolServerFactory(provider, () => logger) });
  app.get('/hello', async () => ({ from: 'fastify' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const discovery = await fetch(`${origin}/.well-known/openid-configuration?login_hint=alice@contoso`);
  t.equal(discovery.status, 200);
  t.equal(((await discovery.json()) as { issuer: string }).issuer, 'http://accord.test', 'answered by the provider');
  t.equal(discovery.headers.get('x-content-type-options'), 'nosniff');
  for (const name of ['x-frame-options', 'content-security-policy', 'referrer-policy'])
    t.equal(discovery.headers.get(name), null, `JSON for programs: no ${name}`);

  // What a browser is sent to (here the provider's error page) cannot be framed or leak its URL.
  const page = await fetch(`${origin}/auth?response_type=code`);
  t.match(page.headers.get('content-type'), /^text\/html/, "the provider's error page");
  t.equal(page.headers.get('x-frame-options'), 'DENY');
  t.equal(page.headers.get('content-security-policy'), "frame-ancestors 'none'");
  t.equal(page.headers.get('referrer-policy'), 'no-referrer');
  t.equal(page.headers.get('x-content-type-options'), 'nosniff');

  const token = await fetch(`${origin}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  t.equal(token.status, 400, "the provider's own error for a bad token request");
  t.match(await token.json(), { error: 'invalid_request' });

  const hello = await fetch(`${origin}/hello`);
  t.same(await hello.json(), { from: 'fastify' }, 'other paths reach Fastify');
  t.equal(hello.headers.get('x-frame-options'), null, "and get none of the provider's headers from the dispatcher");
  t.equal((await fetch(`${origin}/token/`)).status, 404, "a near miss is Fastify's 404");

  await t.resolveMatch(
    waitFor(() => lines.length >= 3),
    true,
  );
  t.same(
    lines.map(({ details, message }) => [message, details.req, details.res.statusCode]),
    [
      ['request completed', { method: 'GET', url: '/.well-known/openid-configuration' }, 200],
      ['request completed', { method: 'GET', url: '/auth' }, 400],
      ['request completed', { method: 'POST', url: '/token' }, 400],
    ],
    'one line per protocol request, with the path but never the query',
  );
  t.ok(lines.every(({ details }) => typeof details.responseTime === 'number'));

  (logger as { level: string }).level = 'warn';
  await fetch(`${origin}/jwks`);
  t.equal(lines.length, 3, 'nothing is logged when info is off');
});

t.test('while the server closes, a protocol response tells the client to go', async (t) => {
  const provider = new Provider('http://accord.test', { clients: [] });
  const app = Fastify({
    logger: false,
    serverFactory: protocolServerFactory(provider, () => ({ level: 'silent' }) as FastifyBaseLogger),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const server = app.server as Server;
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const open = await fetch(`${origin}/jwks`);
  t.equal(open.headers.get('connection'), 'keep-alive', 'keep-alive while listening');
  await open.arrayBuffer();

  // The server starts closing as this request arrives, before it is dispatched: it is still
  // answered, and the client is told not to reuse the connection.
  server.prependOnceListener('request', () => server.close());
  const during = await fetch(`${origin}/jwks`);
  t.equal(during.status, 200, 'the request that came as the server closed is answered');
  t.equal(during.headers.get('connection'), 'close');
  await during.arrayBuffer();
});

t.test(
  "errors that reach the provider's Koa application are logged through the app's logger, never printed",
  async (t) => {
    const lines: [string, string, Record<string, any>][] = [];
    const logger = {
      level: 'warn',
      info: (details: Record<string, any>, message: string) => lines.push(['info', message, details]),
      error: (details: Record<string, any>, message: string) => lines.push(['error', message, details]),
    } as unknown as FastifyBaseLogger;
    const provider = new Provider('http://accord.test', { clients: [] });
    const app = Fastify({ logger: false, serverFactory: protocolServerFactory(provider, () => logger) });
    // Added after the server exists, as app.ts adds its own: still served.
    provider.use(async (ctx, next) => {
      if (ctx.query.fail === 'server') throw new Error('a bug in a middleware');
      if (ctx.query.fail === 'client') ctx.throw(400, 'a refusal');
      await next();
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.teardown(() => app.close());
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    // Koa's own printer writes with console.error: nothing may reach it.
    const printed: unknown[][] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => printed.push(args);
    t.teardown(() => {
      console.error = consoleError;
    });

    t.equal((await fetch(`${origin}/jwks?fail=server`)).status, 500);
    t.equal((await fetch(`${origin}/jwks?fail=client`)).status, 400);
    t.equal((await fetch(`${origin}/jwks`)).status, 200, 'control: the middleware passes other requests on');
    console.error = consoleError;
    t.same(printed, [], 'nothing printed');
    t.same(
      lines.map(([level, message, details]) => [level, message, details.req]),
      [
        ['error', 'protocol request failed', { method: 'GET', url: '/jwks' }],
        ['info', 'protocol request refused', { method: 'GET', url: '/jwks' }],
      ],
      'one line each, through the logger',
    );
    t.equal(lines[0]![2].err.message, 'a bug in a middleware');
  },
);

async function waitFor(condition: () => boolean, ms = 2_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}
