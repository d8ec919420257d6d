// `accord audit list`: a tenant's audit trail, newest first, a page at a time, filtered by actor,
// action and days; people and apps by name.
import { AuditLog, utcDayBounds } from '../services/audit-log.js';
import { DirectoryReads } from '../services/directory-reads.js';
import { arg, defineCommand, stringOption, UsageError } from './command.js';
import { auditEventJson, table } from './output.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

export const auditCommands = [
  defineCommand({
    name: 'audit list',
    usage: '<tenant> [--limit N] [--before <id>] [--actor <who>] [--action <action>] [--from <day>] [--to <day>]',
    summary: "List a tenant's audit events, newest first.",
    help: `--limit: how many events (1–${MAX_LIMIT}, default ${DEFAULT_LIMIT}).
--before: only events older than this event id; the next page starts before the last id shown
(with --json, "next_before" holds it, or null on the last page).
--actor: only events by this user (username or id), or "operator".
--action: only this action (user.created), or a family of actions ending in a dot (consent.).
--from, --to: only events on or after / on or before this day (UTC, YYYY-MM-DD).
ACTOR and TARGET show names (username@tenant, the app's or tenant's name), else the id;
with --json, "actor_name" and "target_name" sit beside "actor" and "target" (null when unknown).`,
    args: ['tenant'],
    options: {
      limit: { type: 'string' },
      before: { type: 'string' },
      actor: { type: 'string' },
      action: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
    },
    prepare: (parsed) => {
      const limitText = stringOption(parsed, 'limit') ?? String(DEFAULT_LIMIT);
      const limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : Number.NaN;
      if (!(limit >= 1 && limit <= MAX_LIMIT))
        throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}`);
      const before = stringOption(parsed, 'before');
      if (before !== undefined && !/^[1-9]\d{0,17}$/.test(before))
        throw new UsageError('--before must be an audit event id (a positive whole number)');
      const action = stringOption(parsed, 'action');
      if (action !== undefined && !/^[a-z_]+(?:\.[a-z_]+)*\.?$/.test(action))
        throw new UsageError('--action must be an action such as user.created, or a family such as consent.');
      const day = (name: 'from' | 'to') => {
        const value = stringOption(parsed, name);
        if (value === undefined) return undefined;
        const bounds = utcDayBounds(value);
        if (!bounds) throw new UsageError(`--${name} must be a day as YYYY-MM-DD`);
        return bounds;
      };
      return {
        tenant: arg(parsed, 0),
        limit,
        before,
        actor: stringOption(parsed, 'actor'),
        action,
        since: day('from')?.start,
        until: day('to')?.end,
      };
    },
    run: async (ctx, input) => {
      await new DirectoryReads(ctx.pool).requireTenant(input.tenant);
      const { events } = await new AuditLog(ctx.pool).page(input.tenant, input);
      // The command's cursor as scripts know it: the last id of any full page (the next may be empty).
      const nextBefore = events.length === input.limit ? events.at(-1)!.id : null;
      return {
        json: { value: events.map(auditEventJson), next_before: nextBefore },
        text: table(
          ['ID', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'DETAILS'],
          events.map((event) => [
            event.id,
            event.at.toISOString(),
            event.actorName ?? event.actor,
            event.action,
            event.targetName ?? event.target ?? '',
            JSON.stringify(event.details),
          ]),
          `no audit events for tenant ${input.tenant}`,
        ),
      };
    },
  }),
];
