// Revocation seen by a second process within a second (test/data-api/revocation.test.ts) on a Citus cluster: the notifications are raised on the coordinator both instances listen on.
import { onCitusCluster } from '../support/citus.js';

await onCitusCluster(() => import('../data-api/revocation.test.js'));
