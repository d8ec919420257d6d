// Accord on a Citus cluster: checks that every table is laid out as its kind says (db/distribution.ts)
// after `migrate` has distributed what was not. What `accord distribute` reports when converting a
// single-node database restored onto a coordinator (docs/scaling-out.md).
import { Conflict } from '../core/errors.js';
import { countWorkers, distributeTables, isCitus, listTableLayout, TABLE_KINDS } from '../db/distribution.js';
import { inTransaction, type Pool } from '../db/pool.js';

export interface TableLayout {
  table: string;
  layout: 'tenant' | 'reference' | 'keyed' | 'local';
  column: string | null;
}

/**
 * Distributes any table not distributed yet and returns the cluster's layout; refuses a database
 * without Citus or without workers, and a table laid out otherwise than its kind.
 */
export async function distributeOnCitus(
  pool: Pool,
): Promise<{ workers: number; distributed: string[]; tables: TableLayout[] }> {
  if (!(await isCitus(pool)))
    throw Conflict(
      'the database has no citus extension: restore it onto a Citus coordinator (CREATE EXTENSION citus, workers added), then run this again',
    );
  const workers = await countWorkers(pool);
  if (workers === 0) throw Conflict('the Citus coordinator has no worker node: add workers (citus_add_node) first');
  const distributed = await inTransaction(pool, (tx) => distributeTables(tx));
  const tables = await listTableLayout(pool);
  const wrong = tables.filter((table) => {
    const kind = TABLE_KINDS[table.table]?.kind;
    return kind !== (table.layout === 'local' ? 'coordinator' : table.layout);
  });
  if (wrong.length > 0)
    throw Conflict(
      `tables not laid out as their kind says: ${wrong.map((table) => `${table.table} (${table.layout})`).join(', ')}`,
    );
  return { workers, distributed: distributed.map((table) => table.table), tables };
}
