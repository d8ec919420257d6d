// Last use, the over-privilege report and "reduce to what is used" narrowing a grant in place
// (test/e2e/grant-use.test.ts) on a Citus cluster.
import { onCitusCluster } from '../support/citus.js';

await onCitusCluster(() => import('../e2e/grant-use.test.js'));
