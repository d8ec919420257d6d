// Liveness and readiness for load balancers and orchestrators.
import type { FastifyInstance } from 'fastify';

export interface HealthRouteDeps {
  /** Resolves when the database answers; rejects when it does not. */
  checkDatabase: () => Promise<void>;
}

export async function healthRoutes(app: FastifyInstance, deps: HealthRouteDeps): Promise<void> {
  // The process is up and serving.
  app.get('/healthz', async () => ({ status: 'ok' }));

  // The database answers: without it no request can be served.
  app.get('/readyz', async (request, reply) => {
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
