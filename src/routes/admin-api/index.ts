// The admin API, `/api/v1` (JSON): a tenant's settings (Integrated Apps), users, the apps it
// registered, the apps in use (enterprise apps), users' consent requests, and its audit events,
// under `/tenants/{tenant}/...`. Every call needs an access token from this issuer for this API
// (resource `<issuer>/api/v1`) holding Organization.ReadWrite.All, whose user is an admin of
// `{tenant}` at the time of the call. Described by the OpenAPI document at
// `/api/v1/openapi.json`, browsable at `/api/v1/docs`.
import type { FastifyInstance } from 'fastify';
import { openapiPlugin } from '../../plugins/openapi.js';
import { resourceServerPlugin } from '../../plugins/resource-server.js';
import { useStrictValidation } from '../../plugins/strict-validation.js';
import { AuditLog } from '../../services/audit-log.js';
import { PublishedApps } from '../../services/published-apps.js';
import { TenantUsers } from '../../services/tenant-users.js';
import { Tenants } from '../../services/tenants.js';
import { apiSchemas, apisRoutes } from './apis.js';
import { appsRoutes } from './apps.js';
import { auditEventsRoutes } from './audit-events.js';
import { consentPoliciesRoutes, consentPolicySchemas } from './consent-policies.js';
import { consentRequestsRoutes } from './consent-requests.js';
import type { AdminApiDeps, AdminApiOptions } from './deps.js';
import { enterpriseAppsRoutes } from './enterprise-apps.js';
import { grantSchemas, grantsRoutes } from './grants.js';
import { meRoutes } from './me.js';
import { ADMIN_SCOPE, requireTenantAdmin } from './require-tenant-admin.js';
import { sharedSchemas } from './schemas.js';
import { settingsRoutes } from './settings.js';
import { usersRoutes } from './users.js';

const DESCRIPTION = `Manage one tenant (organisation) of Accord: its Integrated Apps setting, its users, the apps it
registers, and its audit trail.

**Authentication.** Send an access token issued by this server for the resource \`<issuer>/api/v1\` with the
permission \`${ADMIN_SCOPE}\`, as \`Authorization: Bearer <token>\` (or \`DPoP <token>\` with a DPoP proof for a
DPoP-bound token). The token's user must be an admin of \`{tenant}\` when each call is made: a demoted or disabled
admin is refused at once. No token or a bad one: 401. A token without the permission, a user who is not an admin of
\`{tenant}\`, or another or unknown tenant: 403. An unknown user or app in your own tenant: 404.

**Conventions.** JSON field names are camelCase (an app's OAuth \`client_id\` and \`client_secret\` are \`clientId\`
and \`clientSecret\` here). Collections are \`{"value": [...]}\`. Errors are \`{"error": "...", "error_description": "..."}\`;
the description names the offending field. Request bodies may hold only the documented fields (unknown fields: 400).
A client secret appears only in the answer that created it (registration and rotation).`;

export async function adminApiRoutes(app: FastifyInstance, options: AdminApiOptions): Promise<void> {
  const { pool, directory } = options;
  const deps: AdminApiDeps = {
    directory,
    enterpriseApps: options.enterpriseApps,
    consentRequests: options.consentRequests,
    myApps: options.myApps,
    tenants: new Tenants(pool),
    users: new TenantUsers(pool, directory),
    apps: new PublishedApps(pool),
    auditLog: new AuditLog(pool),
    apis: options.apis,
    consentPolicies: options.consentPolicies,
    consentPreview: options.consentPreview,
    grantLifecycle: options.grantLifecycle,
    apiUrl: options.resourceServer.audience,
  };
  useStrictValidation(app);
  // JSON only: the global form and text parsers serve the pages, not this API (415 here).
  app.removeContentTypeParser(['application/x-www-form-urlencoded', 'text/plain']);
  for (const schema of [...sharedSchemas, ...apiSchemas, ...consentPolicySchemas, ...grantSchemas])
    app.addSchema(schema);
  await app.register(openapiPlugin, {
    issuer: options.resourceServer.issuer,
    info: { title: 'Accord admin API', version: '1.0.0', description: DESCRIPTION },
    bearerDescription: `An access token from this issuer for \`${options.resourceServer.audience}\` with \`${ADMIN_SCOPE}\`, whose user is an admin of {tenant}.`,
    tags: [
      { name: 'Settings', description: 'The tenant and its Integrated Apps setting.' },
      { name: 'Users', description: 'The tenant’s people and their roles.' },
      { name: 'Apps', description: 'Apps (OAuth clients) registered by the tenant.' },
      {
        name: 'Enterprise apps',
        description: 'Apps in use in the tenant, whoever published them: grants, block, remove.',
      },
      { name: 'Consent requests', description: 'Users’ requests for admin approval of an app.' },
      { name: 'Audit events', description: 'Who changed what, newest first.' },
      { name: 'APIs', description: 'The tenant’s own APIs (resource servers) and their scopes.' },
      {
        name: 'Consent policies',
        description:
          'Graduated consent: the user consent setting, risk-based step-up, permission classifications, app consent policies, previews and the what-if.',
      },
      {
        name: 'Grants',
        description: 'How long grants live, consents expiring soon, and grants holding more than is used.',
      },
      {
        name: 'My apps',
        description: 'The signed-in user’s own apps and consents (permission AppConsents.ReadWrite).',
      },
    ],
  });
  await app.register(resourceServerPlugin, options.resourceServer);

  await app.register(
    async (tenant) => {
      tenant.addHook('onRequest', requireTenantAdmin(tenant, deps.users));
      // Answers may hold secrets and always reflect the current state: never cache them.
      tenant.addHook('onSend', async (_request, reply) => {
        reply.header('cache-control', 'no-store');
      });
      await tenant.register(settingsRoutes, deps);
      await tenant.register(usersRoutes, deps);
      await tenant.register(appsRoutes, deps);
      await tenant.register(enterpriseAppsRoutes, deps);
      await tenant.register(consentRequestsRoutes, deps);
      await tenant.register(auditEventsRoutes, deps);
      await tenant.register(apisRoutes, deps);
      await tenant.register(consentPoliciesRoutes, deps);
      await tenant.register(grantsRoutes, deps);
    },
    { prefix: '/tenants/:tenant' },
  );
  await app.register(meRoutes, { ...deps, prefix: '/me' });
}
