// An API of a tenant's own, outside Accord: a small Fastify service that Accord governs (issue 13).
// It verifies Accord's RFC 9068 access tokens with src/plugins/resource-server.ts — signature by
// the issuer's published keys, `aud` = this API's identifier — protects each route by scope, and
// asks Accord whether each token is still alive (RFC 7662 introspection, as the API's resource
// server), so a withdrawn consent or a removed scope stops its tokens at the next request.
import Fastify, { type FastifyInstance } from 'fastify';
import { createRemoteJWKSet } from 'jose';
import { resourceServerPlugin } from '../../src/plugins/resource-server.js';

export interface InvoicesApiOptions {
  /** Accord's issuer URL. */
  issuer: string;
  /** This API's identifier as registered with `accord api create` (tokens carry it in `aud`). */
  identifier: string;
  /** The app this service introspects as: registered by the tenant that owns the API. */
  client: { id: string; secret: string };
  /** Where this service is reached, for DPoP proofs' `htu`. */
  publicOrigin: string;
}

interface Invoice {
  id: string;
  amount: number;
  approved: boolean;
}

export async function buildInvoicesApi(options: InvoicesApiOptions): Promise<FastifyInstance> {
  const discovery = (await (await fetch(`${options.issuer}/.well-known/openid-configuration`)).json()) as {
    jwks_uri: string;
    introspection_endpoint: string;
  };
  const basic = Buffer.from(
    `${encodeURIComponent(options.client.id)}:${encodeURIComponent(options.client.secret)}`,
  ).toString('base64');

  /** RFC 7662: Accord answers `active: false` once the token's grant is gone. */
  async function isRevoked(_info: unknown, token: string): Promise<boolean> {
    const response = await fetch(discovery.introspection_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    if (!response.ok) throw new Error(`introspection failed: ${response.status}`);
    return (await response.json()).active !== true;
  }

  // Each user's invoices, by tenant and user (in memory: it is an example).
  const invoices = new Map<string, Invoice[]>();
  const invoicesOf = (tenant = '', user = '') => {
    const key = `${tenant}/${user}`;
    if (!invoices.has(key)) invoices.set(key, [{ id: 'inv-1', amount: 120, approved: false }]);
    return invoices.get(key)!;
  };

  const app = Fastify();
  await app.register(resourceServerPlugin, {
    issuer: options.issuer,
    audience: options.identifier,
    keys: createRemoteJWKSet(new URL(discovery.jwks_uri)),
    isRevoked,
    publicUrl: (request) => `${options.publicOrigin}${request.url}`,
  });
  app.setErrorHandler(
    (error: Error & { statusCode?: number; headers?: Record<string, string>; code?: string }, _request, reply) => {
      reply.status(error.statusCode ?? 500).headers(error.headers ?? {});
      return { error: error.code ?? 'server_error', error_description: error.message };
    },
  );

  app.get('/invoices', { preHandler: app.resourceServer.requireScope('Invoices.Read') }, async (request) => ({
    value: invoicesOf(request.accessToken!.tid, request.accessToken!.sub),
  }));

  app.post<{ Params: { id: string } }>(
    '/invoices/:id/approve',
    { preHandler: app.resourceServer.requireScope('Invoices.Approve') },
    async (request, reply) => {
      const invoice = invoicesOf(request.accessToken!.tid, request.accessToken!.sub).find(
        (candidate) => candidate.id === request.params.id,
      );
      if (!invoice) return reply.status(404).send({ error: 'not_found', error_description: 'no such invoice' });
      invoice.approved = true;
      return invoice;
    },
  );
  return app;
}
