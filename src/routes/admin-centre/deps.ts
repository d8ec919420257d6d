// What the admin centre is built from: the options its mount takes (index.ts) and the context
// each page file receives. Kept apart from index.ts so page files never import their mount.
import type { PermissionCatalogue } from '../../core/permission-catalogue.js';
import type { Pool } from '../../db/pool.js';
import type { ConsentRequests } from '../../services/consent-requests.js';
import type { Directory } from '../../services/directory.js';
import type { EnterpriseApps } from '../../services/enterprise-apps.js';
import type { IntegratedAppsPreview } from '../../services/integrated-apps-preview.js';
import type { PortalSession } from '../portal-session.js';
import type { AdminNavItem } from './guard.js';

export interface AdminCentreDeps {
  pool: Pool;
  portal: PortalSession;
  directory: Directory;
  consentRequests: ConsentRequests;
  catalogue: PermissionCatalogue;
  preview: IntegratedAppsPreview;
  enterpriseApps: EnterpriseApps;
}

export interface AdminCentreContext extends AdminCentreDeps {
  navItems: readonly AdminNavItem[];
}
