// My apps: the user's apps, withdrawing consent (test/e2e/my-apps.test.ts) on a Citus cluster.
import { onCitusCluster } from '../support/citus.js';

await onCitusCluster(() => import('../e2e/my-apps.test.js'));
