// `accord migrate`: applies pending migrations (every command does so first; this one only reports).
import { defineCommand } from './command.js';

export const migrateCommands = [
  defineCommand({
    name: 'migrate',
    usage: '',
    summary: 'Apply pending database migrations (harmless to run again).',
    prepare: () => undefined,
    run: async (ctx) => {
      const version = await ctx.schemaVersion();
      const applied = ctx.appliedMigrations;
      return {
        json: { applied, schema_version: version },
        text:
          applied.length > 0
            ? `applied migrations ${applied.map((v) => String(v).padStart(4, '0')).join(', ')}; schema version ${version}\n`
            : `the database is up to date (schema version ${version})\n`,
      };
    },
  }),
];
