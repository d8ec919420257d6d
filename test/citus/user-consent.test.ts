// User consent, Integrated Apps off, refresh and the consent races (test/e2e/consent.test.ts) on a Citus cluster.
import { onCitusCluster } from '../support/citus.js';

await onCitusCluster(() => import('../e2e/consent.test.js'));
