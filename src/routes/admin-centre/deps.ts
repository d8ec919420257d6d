// What the admin centre is built from: the options its mount takes (index.ts) and the context
// (services and navigation) each page file receives. Kept apart from index.ts so page files never
// import their mount.
import type { PermissionCatalogue } from '../../core/permission-catalogue.js';
import type { Pool } from '../../db/pool.js';
import type { Apis } from '../../services/apis.js';
import type { AuditLog } from '../../services/audit-log.js';
import type { ConsentPolicies } from '../../services/consent-policies.js';
import type { ConsentRequests } from '../../services/consent-requests.js';
import type { Directory } from '../../services/directory.js';
import type { EnterpriseApps } from '../../services/enterprise-apps.js';
import type { GrantLifecycle } from '../../services/grant-lifecycle.js';
import type { IntegratedAppsPreview } from '../../services/integrated-apps-preview.js';
import type { PublishedApps } from '../../services/published-apps.js';
import type { TenantUsers } from '../../services/tenant-users.js';
import type { Tenants } from '../../services/tenants.js';
import type { PortalSession } from '../portal-session.js';
import type { AdminNavItem } from './guard.js';
import type { SecretReveal } from './secret-reveal.js';

export interface AdminCentreDeps {
  /** For the read services the mount builds (tenants, users, apps, audit log). */
  pool: Pool;
  portal: PortalSession;
  directory: Directory;
  consentRequests: ConsentRequests;
  catalogue: PermissionCatalogue;
  preview: IntegratedAppsPreview;
  enterpriseApps: EnterpriseApps;
  /** Carries a new client secret to the one GET page that shows it (post/redirect/get). */
  secretReveal: SecretReveal;
  apis: Apis;
  consentPolicies: ConsentPolicies;
  grantLifecycle: GrantLifecycle;
}

export interface AdminCentreContext extends Omit<AdminCentreDeps, 'pool'> {
  tenants: Tenants;
  users: TenantUsers;
  apps: PublishedApps;
  auditLog: AuditLog;
  navItems: readonly AdminNavItem[];
}
