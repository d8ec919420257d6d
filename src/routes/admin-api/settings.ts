// /tenants/{tenant}/settings: the tenant's name and its Integrated Apps setting.
import type { FastifyInstance } from 'fastify';
import type { AdminApiDeps } from './deps.js';
import { actorOf } from './require-tenant-admin.js';
import { answer, errorResponses, settingsOf, type TenantParams, tenantParams } from './schemas.js';

const tags = ['Settings'];

export async function settingsRoutes(app: FastifyInstance, { tenants, directory }: AdminApiDeps): Promise<void> {
  app.get<{ Params: TenantParams }>(
    '/settings',
    {
      schema: {
        tags,
        operationId: 'getSettings',
        summary: 'Read the tenant’s settings',
        params: tenantParams,
        response: { 200: answer('Settings', 'The tenant’s settings.'), ...errorResponses() },
      },
    },
    async (request) => settingsOf(await tenants.find(request.params.tenant)),
  );

  app.patch<{ Params: TenantParams; Body: { integratedAppsEnabled: boolean } }>(
    '/settings',
    {
      schema: {
        tags,
        operationId: 'updateSettings',
        summary: 'Turn Integrated Apps on or off',
        description:
          'Off: users can no longer consent to apps themselves; grants already made keep working and admins can still consent for the organisation. The change is recorded in the audit events.',
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['integratedAppsEnabled'],
          properties: { integratedAppsEnabled: { type: 'boolean' } },
        },
        response: { 200: answer('Settings', 'The settings as changed.'), ...errorResponses() },
      },
    },
    async (request) =>
      settingsOf(
        await directory.setIntegratedApps(request.params.tenant, request.body.integratedAppsEnabled, actorOf(request)),
      ),
  );
}
