// Liveness and readiness for load balancers and orchestrators.
import type { FastifyInstance } from 'fastify';

export interface HealthRouteDeps {
  /** Resolves when the database answers; rejects when it does not. */
  checkDatabase: () => Promise<void>;
  /** True once a graceful shutdown has begun: still serving, but asking for no new requests. */
  isDraining: () => boolean;
}

export async function healthRoutes(app: FastifyInstance, deps: HealthRouteDeps): Promise<void> {
  // The process is up and serving.
  app.get('/healthz', async () => ({ status: 'ok' }));

  // Send requests here: the process is not shutting down and the database answers.
  app.get('/readyz', async (request, reply) => {
    if (deps.isDraining()) {
      return reply
        .status(503)
        .send({ error: 'temporarily_unavailable', error_description: 'The server is shutting down.' });
    }
    try {
      await deps.checkDatabase();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'database not reachable');
      return reply
        .status(503)
        .send({ error: 'temporarily_unavailable', error_description: 'The database is not reachable.' });
    }
  });
}
