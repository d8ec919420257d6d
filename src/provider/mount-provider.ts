// Serves oidc-provider's endpoints from inside Fastify. Each protocol path is a Fastify route
// whose onRequest hook hands the raw request to the provider before Fastify parses any body
// (the provider reads the POST /token body itself). Unknown paths stay Fastify's 404.
import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';

/** oidc-provider's default routes (configuration `routes`), plus discovery and the resume path. */
export const PROVIDER_PATHS = [
  '/.well-known/openid-configuration',
  '/auth',
  '/auth/:uid',
  '/token',
  '/jwks',
  '/me',
  '/token/introspection',
  '/token/revocation',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/request',
] as const;

const PROTOCOL_HEADERS = [
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
  ['x-content-type-options', 'nosniff'],
] as const;

export async function mountProvider(app: FastifyInstance, provider: Provider): Promise<void> {
  const callback = provider.callback();
  for (const url of PROVIDER_PATHS) {
    app.route({
      method: ['GET', 'POST', 'OPTIONS', 'HEAD', 'PUT', 'DELETE', 'PATCH'],
      url,
      exposeHeadRoute: false,
      onRequest: (request, reply, done) => {
        reply.hijack();
        // The provider's own pages (errors, logout) must not be framed or leak the URL either
        // (RFC 9700 §4.16, §4.2.4); set on the raw response, since the reply is hijacked.
        for (const [name, value] of PROTOCOL_HEADERS) reply.raw.setHeader(name, value);
        callback(request.raw, reply.raw);
        done();
      },
      handler: async () => undefined,
    });
  }
}
