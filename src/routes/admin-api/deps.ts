// What the admin API is built from: the options its mount takes (index.ts) and the services each
// route file receives. Kept apart from index.ts so route files never import their mount.
import type { Pool } from '../../db/pool.js';
import type { ResourceServerOptions } from '../../plugins/resource-server.js';
import type { Apis } from '../../services/apis.js';
import type { AuditLog } from '../../services/audit-log.js';
import type { ConsentPolicies } from '../../services/consent-policies.js';
import type { ConsentRequests } from '../../services/consent-requests.js';
import type { Directory } from '../../services/directory.js';
import type { EnterpriseApps } from '../../services/enterprise-apps.js';
import type { GrantLifecycle } from '../../services/grant-lifecycle.js';
import type { IntegratedAppsPreview } from '../../services/integrated-apps-preview.js';
import type { MyApps } from '../../services/my-apps.js';
import type { PublishedApps } from '../../services/published-apps.js';
import type { TenantUsers } from '../../services/tenant-users.js';
import type { Tenants } from '../../services/tenants.js';

export interface AdminApiOptions {
  /** For the read services the mount builds (tenants, users, apps, audit log). */
  pool: Pool;
  directory: Directory;
  enterpriseApps: EnterpriseApps;
  consentRequests: ConsentRequests;
  myApps: MyApps;
  apis: Apis;
  consentPolicies: ConsentPolicies;
  consentPreview: IntegratedAppsPreview;
  grantLifecycle: GrantLifecycle;
  /** How this API verifies tokens; `audience` is the API's resource indicator. */
  resourceServer: ResourceServerOptions;
}

export interface AdminApiDeps {
  directory: Directory;
  enterpriseApps: EnterpriseApps;
  consentRequests: ConsentRequests;
  myApps: MyApps;
  tenants: Tenants;
  users: TenantUsers;
  apps: PublishedApps;
  auditLog: AuditLog;
  apis: Apis;
  consentPolicies: ConsentPolicies;
  consentPreview: IntegratedAppsPreview;
  grantLifecycle: GrantLifecycle;
  /** This API's public URL (its resource indicator), for `Location` headers. */
  apiUrl: string;
}
