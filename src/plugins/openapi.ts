// An API's OpenAPI 3.1 document (@fastify/swagger) served at `<prefix>/openapi.json`, and a
// browsable page (@fastify/swagger-ui) at `<prefix>/docs`. Register it inside the API's own scope
// and before its routes: @fastify/swagger collects the routes of the scope it is registered in
// (it is a fastify-plugin), so pages and protocol endpoints never appear in the document.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface OpenapiOptions {
  /** The server's public origin; paths in the document include the API's prefix. */
  issuer: string;
  info: { title: string; version: string; description: string };
  /** What a bearer token for this API is (shown with the security scheme). */
  bearerDescription: string;
  tags?: { name: string; description: string }[];
}

export const openapiPlugin = fp(async (app: FastifyInstance, options: OpenapiOptions) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: options.info,
      servers: [{ url: options.issuer }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: options.bearerDescription },
        },
      },
      security: [{ bearerAuth: [] }],
      ...(options.tags ? { tags: options.tags } : {}),
    },
    // Shared schemas (`addSchema({ $id: 'App' })`) appear as #/components/schemas/App.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // The page's asset URLs are absolute: they need the API's prefix.
    indexPrefix: app.prefix,
    theme: { title: options.info.title },
    uiConfig: { deepLinking: true, defaultModelsExpandDepth: 0 },
    // No CSP relaxation: the page loads only its own scripts and styles from our origin (no
    // inline script, no eval), so the global policy of plugins/security.ts serves it as it is
    // (checked in Chromium: the page renders with no CSP violation).
  });
});
