// The admin centre (/admin): server-rendered pages where a tenant's admins, signed in with their
// Accord account through the portal session, govern their organisation — the Integrated Apps
// setting (with a preview of its effect), its users, the apps the tenant registers, the apps in use in the
// tenant (Enterprise apps), users' consent requests and the audit log. Every page is no-store,
// every form is CSRF-protected, and the tenant is always the signed-in admin's own.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { viewsDir } from '../../plugins/views.js';
import { AuditLog } from '../../services/audit-log.js';
import { PublishedApps } from '../../services/published-apps.js';
import { TenantUsers } from '../../services/tenant-users.js';
import { Tenants } from '../../services/tenants.js';
import { apisPages } from './apis.js';
import { appsPages } from './apps.js';
import { auditPages } from './audit.js';
import { consentChart } from './consent-chart.js';
import { consentRequestsPages } from './consent-requests.js';
import { consentSettingsPages } from './consent-settings.js';
import type { AdminCentreContext, AdminCentreDeps } from './deps.js';
import { enterpriseAppsPages } from './enterprise-apps.js';
import { grantsPages } from './grants.js';
import { type AdminNavItem, pageData, requireAdmin } from './guard.js';
import { integratedAppsPages } from './integrated-apps.js';
import { usersPages } from './users.js';

/** The overview's consent activity chart covers this many days, ending today. */
const CHART_DAYS = 30;

const NAV: readonly AdminNavItem[] = [
  { section: 'home', href: '/admin', labelKey: 'admin:nav.home' },
  { section: 'users', href: '/admin/users', labelKey: 'admin:nav.users' },
  { section: 'integrated-apps', href: '/admin/settings/integrated-apps', labelKey: 'admin:nav.integratedApps' },
  { section: 'consent-settings', href: '/admin/settings/consent', labelKey: 'admin:nav.consentSettings' },
  { section: 'apps', href: '/admin/apps', labelKey: 'admin:nav.apps' },
  { section: 'apis', href: '/admin/apis', labelKey: 'admin:nav.apis' },
  { section: 'enterprise-apps', href: '/admin/enterprise-apps', labelKey: 'admin:nav.enterpriseApps' },
  { section: 'consent-requests', href: '/admin/consent-requests', labelKey: 'admin:nav.consentRequests' },
  { section: 'grants', href: '/admin/grants', labelKey: 'admin:nav.grants' },
  { section: 'audit', href: '/admin/audit', labelKey: 'admin:nav.audit' },
];

export async function adminCentreRoutes(app: FastifyInstance, deps: AdminCentreDeps): Promise<void> {
  const { pool, ...services } = deps;
  const context: AdminCentreContext = {
    ...services,
    tenants: new Tenants(pool),
    users: new TenantUsers(pool, services.directory),
    apps: new PublishedApps(pool),
    auditLog: new AuditLog(pool),
    navItems: NAV,
  };
  const { portal, tenants } = context;

  const stylesheet = await readFile(path.join(viewsDir, 'admin/admin.css'), 'utf8');
  app.get('/assets/admin.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(stylesheet),
  );

  // Admin pages show secrets and personal data: never cached, by the browser or anyone between.
  app.addHook('onSend', async (request, reply) => {
    if (!request.url.startsWith('/assets/')) reply.header('cache-control', 'no-store');
  });

  app.get('/admin', async (request, reply) => {
    const user = await requireAdmin(portal, request, reply, '/admin');
    if (!user) return reply;
    const [tenant, pending, activity] = await Promise.all([
      tenants.find(user.tenantId),
      services.consentRequests.list(user.tenantId, { status: 'pending' }).then((rows) => rows.length),
      context.auditLog.consentActivity(user.tenantId, CHART_DAYS),
    ]);
    return reply.view('admin/home', {
      ...pageData(reply, user, 'home', NAV),
      tenant,
      pendingRequests: pending,
      chart: consentChart(activity),
    });
  });

  await app.register(integratedAppsPages, context);
  await app.register(consentSettingsPages, context);
  await app.register(appsPages, context);
  await app.register(apisPages, context);
  await app.register(enterpriseAppsPages, context);
  await app.register(consentRequestsPages, context);
  await app.register(grantsPages, context);
  await app.register(auditPages, context);
  await app.register(usersPages, context);
}
