// /tenants/{tenant}/settings: the tenant's name and its Integrated Apps setting.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AdminApiDeps } from './deps.js';
import { settingsOf } from './presenters.js';
import { actorOf } from './require-tenant-admin.js';
import { answer, errorResponses, SettingsBody, SettingsSchema, TenantParams } from './schemas.js';

const tags = ['Settings'];

export const settingsRoutes: FastifyPluginAsyncTypebox<AdminApiDeps> = async (app, { tenants, directory }) => {
  app.get(
    '/settings',
    {
      schema: {
        tags,
        operationId: 'getSettings',
        summary: 'Read the tenant’s settings',
        params: TenantParams,
        response: { 200: answer(SettingsSchema, 'The tenant’s settings.'), ...errorResponses() },
      },
    },
    async (request) => settingsOf(await tenants.find(request.params.tenant)),
  );

  app.patch(
    '/settings',
    {
      schema: {
        tags,
        operationId: 'updateSettings',
        summary: 'Turn Integrated Apps on or off',
        description:
          'Off: users can no longer consent to apps themselves; grants already made keep working and admins can still consent for the organisation. The change is recorded in the audit events.',
        params: TenantParams,
        body: SettingsBody,
        response: { 200: answer(SettingsSchema, 'The settings as changed.'), ...errorResponses() },
      },
    },
    async (request) =>
      settingsOf(
        await directory.setIntegratedApps(request.params.tenant, request.body.integratedAppsEnabled, actorOf(request)),
      ),
  );
};
