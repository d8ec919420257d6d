// How each table is laid out on a Citus cluster, and the step that lays them out. On plain
// PostgreSQL nothing here runs; on a database with the `citus` extension, `migrate` ends by
// distributing every table that is not distributed yet (a new one from a migration, or all of them
// on a converted single-node database), so one set of migrations serves both deployments.
import type pg from 'pg';
import type { Queryable } from './pool.js';

/**
 * - `tenant`: owned by one tenant, sharded by `tenant_id`, every such table colocated with the
 *   others, so a tenant's statements (and their joins) run on one shard. Keys lead with tenant_id.
 * - `reference`: small and shared by every tenant, copied to every node (joins with it stay local).
 * - `keyed`: sharded by its own key (`column`), in its own colocation group (`group`): rows found
 *   by that key alone, never by tenant.
 * - `coordinator`: stays a plain table on the coordinator (the migration runner's bookkeeping).
 */
export type TableKind =
  | { kind: 'tenant' }
  | { kind: 'reference' }
  | { kind: 'keyed'; column: string; group: string }
  | { kind: 'coordinator' };

/**
 * Every table of the schema and its kind. A migration that adds a table adds it here: on Citus,
 * `migrate` refuses to finish while a table has no kind (test/db/distribution.test.ts checks the
 * list against the migrations).
 */
export const TABLE_KINDS: Readonly<Record<string, TableKind>> = {
  schema_migrations: { kind: 'coordinator' },
  // Shared, small, read on every request.
  tenants: { kind: 'reference' },
  apps: { kind: 'reference' },
  permissions: { kind: 'reference' },
  app_secrets: { kind: 'reference' },
  apis: { kind: 'reference' },
  api_scopes: { kind: 'reference' },
  signing_keys: { kind: 'reference' },
  server_secrets: { kind: 'reference' },
  server_instances: { kind: 'reference' },
  // A tenant's own rows.
  users: { kind: 'tenant' },
  audit_events: { kind: 'tenant' },
  tenant_apps: { kind: 'tenant' },
  admin_consents: { kind: 'tenant' },
  user_consents: { kind: 'tenant' },
  consent_requests: { kind: 'tenant' },
  sign_in_failures: { kind: 'tenant' },
  sign_in_address_failures: { kind: 'tenant' },
  calendar_events: { kind: 'tenant' },
  drive_files: { kind: 'tenant' },
  sent_mail: { kind: 'tenant' },
  sites: { kind: 'tenant' },
  site_items: { kind: 'tenant' },
  permission_classifications: { kind: 'tenant' },
  app_consent_policies: { kind: 'tenant' },
  tenant_grant_lifetimes: { kind: 'tenant' },
  app_grant_lifetimes: { kind: 'tenant' },
  grant_scope_use: { kind: 'tenant' },
  // Found by their own key. oidc-provider looks up every session, interaction, code, token and
  // grant by its id, so that is the shard key of its rows; uids and user codes lead to the id
  // through oidc_model_keys. A sub leads to its tenant through user_ids.
  oidc_models: { kind: 'keyed', column: 'id', group: 'oidc_models' },
  oidc_model_keys: { kind: 'keyed', column: 'key', group: 'oidc_models' },
  user_ids: { kind: 'keyed', column: 'id', group: 'user_ids' },
  dpop_proofs: { kind: 'keyed', column: 'key', group: 'dpop_proofs' },
  rate_limit_windows: { kind: 'keyed', column: 'key', group: 'rate_limit_windows' },
};

/**
 * The statements that deliberately ask every shard on Citus, by their prepared-statement name, and
 * why. Every other statement Accord runs reaches one shard (or none): the Citus suite EXPLAINs each
 * statement it sees run and fails on any other multi-shard plan (test/support/citus.ts).
 */
export const CROSS_SHARD_STATEMENTS: Readonly<Record<string, string>> = {
  'oidc-delete-of-grant':
    "oidc-provider's revokeByGrantId (sign-out, token revocation, a replayed code): a grant's codes and tokens are sharded by their own ids, the key of every token request, so finding them by grant asks each shard once, on its grant_id index",
  'oidc-delete-grants':
    "Accord's revocation (consent withdrawn, app blocked or removed, user disabled, a replayed code): the grants' rows by grant_id, as above",
  'oidc-delete-sessions-of-account': "an admin disables a user: the user's sessions, found by account in their payload",
  'oidc-purge-expired': 'the periodic purge of expired rows (every 10 minutes, in batches)',
  'oidc-purge-keys': "the same purge: the lookup keys of a batch's deleted rows, on the shards of those keys",
  'oidc-waiting-consent-interactions':
    "the admin centre's Integrated Apps preview: sign-ins waiting at consent right now, an admin's page",
  'purge-dpop-proofs': 'the periodic purge of expired DPoP proofs',
  'purge-rate-limit-windows': 'the periodic purge of ended rate-limit windows',
  'purge-sign-in-failures': "the periodic purge of accounts' ended sign-in failure streaks (every tenant's)",
  'purge-sign-in-address-failures': "the periodic purge of ended sign-in failure streaks per address (every tenant's)",
  'list-grant-ids-of-app': 'an app is deleted: its grants in every tenant that used it',
  'oidc-set-grant-expiries':
    'an admin renews a consent (issue 15): the Grants resting on it, sharded by their own ids, get the new expiry',
};

/**
 * For a transaction that asks every shard and then changes a reference table: on Citus it makes
 * the transaction use one connection per node (Citus refuses to change a reference table after a
 * parallel multi-shard statement in the same transaction). Harmless on plain PostgreSQL, which
 * keeps a custom setting it does not know until the transaction ends, and nothing reads it.
 */
export async function oneConnectionPerNode(db: Queryable): Promise<void> {
  await db.query(`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`);
}

/** The column each tenant-owned table is sharded by. */
export const TENANT_COLUMN = 'tenant_id';

/** Whether the database is a Citus coordinator (the `citus` extension is installed). */
export async function isCitus(db: Queryable): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
  return rowCount === 1;
}

/** The number of active worker nodes of the cluster. */
export async function countWorkers(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM citus_get_active_worker_nodes()',
  );
  return rows[0]!.count;
}

export interface DistributedTable {
  table: string;
  kind: TableKind['kind'];
}

interface ForeignKey {
  table: string;
  name: string;
  definition: string;
}

/**
 * Distributes every table of the public schema that is not distributed yet, by its kind, in the
 * caller's transaction; returns what it distributed (nothing when all are). Foreign keys touching
 * those tables are dropped first and created again after: Citus refuses to distribute a table
 * that a local or reference table refers to, and validates the keys again when they come back.
 */
export async function distributeTables(db: pg.PoolClient): Promise<DistributedTable[]> {
  const { rows: pending } = await db.query<{ table: string }>(
    `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p
                         WHERE p.logicalrelid = c.oid AND (p.partmethod = 'h' OR p.repmodel = 't'))
      ORDER BY c.relname`,
  );
  const unknown = pending.map((row) => row.table).filter((table) => !(table in TABLE_KINDS));
  if (unknown.length > 0)
    throw new Error(
      `table${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ha${unknown.length > 1 ? 've' : 's'} no distribution kind: add ${unknown.length > 1 ? 'them' : 'it'} to TABLE_KINDS in src/db/distribution.ts`,
    );
  const toDistribute = pending.map((row) => row.table).filter((table) => TABLE_KINDS[table]!.kind !== 'coordinator');
  if (toDistribute.length === 0) return [];
  await oneConnectionPerNode(db);

  const { rows: foreignKeys } = await db.query<ForeignKey>(
    `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS definition
       FROM pg_constraint
      WHERE contype = 'f' AND (conrelid::regclass::text = ANY ($1::text[]) OR confrelid::regclass::text = ANY ($1::text[]))
      ORDER BY conrelid::regclass::text, conname`,
    [toDistribute],
  );
  for (const key of foreignKeys) await db.query(`ALTER TABLE ${ident(key.table)} DROP CONSTRAINT ${ident(key.name)}`);

  // Reference tables first (distributed tables refer to them), then each colocation group from its
  // first table.
  const order = (table: string) => ({ reference: 0, tenant: 1, keyed: 2, coordinator: 3 })[TABLE_KINDS[table]!.kind];
  const done: DistributedTable[] = [];
  for (const table of [...toDistribute].sort((a, b) => order(a) - order(b) || a.localeCompare(b))) {
    const kind = TABLE_KINDS[table]!;
    if (kind.kind === 'reference') {
      await db.query('SELECT create_reference_table($1::regclass)', [table]);
    } else if (kind.kind === 'tenant') {
      await db.query('SELECT create_distributed_table($1::regclass, $2::text, colocate_with => $3::text)', [
        table,
        TENANT_COLUMN,
        await colocationAnchor(db, (other) => TABLE_KINDS[other]!.kind === 'tenant'),
      ]);
    } else if (kind.kind === 'keyed') {
      await db.query('SELECT create_distributed_table($1::regclass, $2::text, colocate_with => $3::text)', [
        table,
        kind.column,
        await colocationAnchor(db, (other) => {
          const otherKind = TABLE_KINDS[other]!;
          return otherKind.kind === 'keyed' && otherKind.group === kind.group;
        }),
      ]);
    }
    // The rows were copied to the shards; the coordinator's own copy is no longer read.
    await db.query('SELECT truncate_local_data_after_distributing_table($1::regclass)', [table]);
    done.push({ table, kind: kind.kind });
  }

  for (const key of foreignKeys)
    await db.query(`ALTER TABLE ${ident(key.table)} ADD CONSTRAINT ${ident(key.name)} ${key.definition}`);
  return done;
}

/** A hash-distributed table of the group to colocate with, or 'none' when the group has none yet. */
async function colocationAnchor(db: Queryable, inGroup: (table: string) => boolean): Promise<string> {
  const { rows } = await db.query<{ table: string }>(
    `SELECT logicalrelid::regclass::text AS table FROM pg_dist_partition WHERE partmethod = 'h' ORDER BY logicalrelid::regclass::text`,
  );
  return rows.map((row) => row.table).find((table) => table in TABLE_KINDS && inGroup(table)) ?? 'none';
}

/** A table or constraint name from the catalogue, quoted (never input). */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** How each table is laid out now: its kind on the cluster, or 'local' when it is not distributed. */
export async function listTableLayout(
  db: Queryable,
): Promise<Array<{ table: string; layout: 'tenant' | 'reference' | 'keyed' | 'local'; column: string | null }>> {
  const { rows } = await db.query<{
    table: string;
    partmethod: string | null;
    repmodel: string | null;
    column: string | null;
  }>(
    `SELECT c.relname AS table, p.partmethod, p.repmodel,
            CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END AS column
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
      ORDER BY c.relname`,
  );
  return rows.map((row) => ({
    table: row.table,
    layout:
      row.partmethod === 'h'
        ? row.column === TENANT_COLUMN && TABLE_KINDS[row.table]?.kind === 'tenant'
          ? 'tenant'
          : 'keyed'
        : row.repmodel === 't'
          ? 'reference'
          : 'local',
    column: row.column,
  }));
}
