// The expiry purge (test/db/expiry-purge.test.ts) on a Citus cluster: the same rows go, and its
// statements are the listed cross-shard ones.
import { onCitusCluster } from '../support/citus.js';

await onCitusCluster(() => import('../db/expiry-purge.test.js'));
