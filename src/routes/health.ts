// Liveness and readiness for load balancers and orchestrators.
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool.js';

export async function healthRoutes(app: FastifyInstance, deps: { pool: Pool }): Promise<void> {
  // The process is up and serving.
  app.get('/healthz', async () => ({ status: 'ok' }));

  // The database answers: without it no request can be served.
  app.get('/readyz', async (request, reply) => {
    try {
      await deps.pool.query('SELECT 1');
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'database not reachable');
      return reply
        .status(503)
        .send({ error: 'temporarily_unavailable', error_description: 'The database is not reachable.' });
    }
  });
}
