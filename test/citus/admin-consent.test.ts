// Admin consent for the organisation and /adminconsent (test/e2e/admin-consent.test.ts) on a Citus cluster.
import { onCitusCluster } from '../support/citus.js';

await onCitusCluster(() => import('../e2e/admin-consent.test.js'));
