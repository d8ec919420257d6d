// `accord distribute`: converts the database to Accord's layout on a Citus cluster and shows it.
import { defineCommand } from './command.js';

export const distributeCommands = [
  defineCommand({
    name: 'distribute',
    usage: '',
    summary: 'On a Citus coordinator: distribute every table by its kind and show the layout.',
    help: `For a database with the citus extension and its workers registered — a single-node Accord
database restored onto a Citus coordinator, or a new one. Like every command it first applies the
pending migrations, which on Citus distribute every table not distributed yet (tenant-owned tables
sharded by tenant_id and colocated, shared tables as reference tables, the provider's rows by id);
it then checks each table's layout and prints it. Exits 1 on a database without Citus or workers.
Copying the rows into the shards blocks writes to each table while it runs: stop the servers first.`,
    prepare: () => undefined,
    run: async (ctx) => {
      const { distributeOnCitus } = await import('../services/distribution.js');
      const result = await distributeOnCitus(ctx.pool);
      return {
        json: { workers: result.workers, tables: result.tables },
        text:
          `Citus cluster with ${result.workers} worker${result.workers === 1 ? '' : 's'}; every table laid out by its kind:\n` +
          result.tables
            .map((table) => `  ${table.table.padEnd(20)} ${table.layout}${table.column ? ` by ${table.column}` : ''}\n`)
            .join(''),
      };
    },
  }),
];
