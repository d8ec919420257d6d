// The storage adapter's contract (test/provider/postgres-adapter.test.ts) on a Citus cluster.
import { onCitusCluster } from '../support/citus.js';

await onCitusCluster(() => import('../provider/postgres-adapter.test.js'));
