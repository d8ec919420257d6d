// What the admin API is built from: the options its mount takes (index.ts) and the dependencies
// each route file receives. Kept apart from index.ts so route files never import their mount.
import type { Pool } from '../../db/pool.js';
import type { ResourceServerOptions } from '../../plugins/resource-server.js';
import type { ConsentRequests } from '../../services/consent-requests.js';
import type { Directory } from '../../services/directory.js';
import type { EnterpriseApps } from '../../services/enterprise-apps.js';
import type { MyAppsService } from '../../services/my-apps.js';

export interface AdminApiDeps {
  pool: Pool;
  directory: Directory;
  enterpriseApps: EnterpriseApps;
  consentRequests: ConsentRequests;
  myApps: MyAppsService;
  /** This API's public URL (its resource indicator), for `Location` headers. */
  apiUrl: string;
}

export interface AdminApiOptions extends Omit<AdminApiDeps, 'apiUrl'> {
  /** How this API verifies tokens; `audience` is the API's resource indicator. */
  resourceServer: ResourceServerOptions;
}
