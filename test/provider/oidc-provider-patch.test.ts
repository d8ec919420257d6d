// Accord installs oidc-provider with one patch (patches/README.md): each request's `ctx.oidc` is
// a data property set when the route matches, not a per-request accessor. These checks fail if an
// upgrade or a fresh install drops the patch. (Provider.ctx, which the same function sets, is
// covered by test/provider/request-reads.test.ts.)

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import t from 'tap';

t.test('ctx.oidc is a data property of each protocol request', async (t) => {
  const provider = new Provider('http://127.0.0.1', {});
  const seen: { route?: string; ownDescriptor?: PropertyDescriptor }[] = [];
  provider.use(async (ctx, next) => {
    await next();
    if (!Object.hasOwn(ctx, 'oidc')) return;
    seen.push({
      route: (ctx as KoaContextWithOIDC).oidc.route,
      ownDescriptor: Object.getOwnPropertyDescriptor(ctx, 'oidc'),
    });
  });
  const server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  for (const path of ['/.well-known/openid-configuration', '/jwks', '/.well-known/openid-configuration']) {
    const response = await fetch(`${base}${path}`);
    t.equal(response.status, 200, path);
  }
  t.same(
    seen.map((one) => one.route),
    ['discovery', 'jwks', 'discovery'],
    'each request has its own OIDC context, for its own route',
  );
  for (const { ownDescriptor } of seen) {
    t.ok(ownDescriptor && 'value' in ownDescriptor, 'a data property, not an accessor');
    t.equal(ownDescriptor?.writable, false, 'that cannot be replaced');
    t.equal(ownDescriptor?.value?.ctx !== undefined, true, 'holding the request’s OIDC context');
  }
});
