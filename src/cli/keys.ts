// `accord keys rotate`: the next signing keys take over; the previous ones stay published for their grace period.
import { GONE_AFTER_SECONDS, HEARTBEAT_SECONDS } from '../core/server-liveness.js';
import { defineCommand, flag } from './command.js';

export const keysCommands = [
  defineCommand({
    name: 'keys rotate',
    usage: '[--force]',
    summary: 'Switch to new token signing keys; the previous keys stay published for 24 h.',
    help: `Activates the next RS256 and ES256 keys and retires the current ones: they stay in /jwks for
their grace period (24 h) so that tokens they signed still verify. Running servers sign with the
new keys once restarted (restart them one at a time). Every server started since the previous
rotation already publishes the new keys, so none signs with a key another does not serve; new
next keys are created for the rotation after this one.
Refused while a running server started before the previous rotation (it does not publish the
keys this one activates): restart every server before rotating again. Servers record themselves
in the database every ${HEARTBEAT_SECONDS} s; one silent for ${GONE_AFTER_SECONDS} s counts as stopped.
--force: rotate anyway.`,
    options: { force: { type: 'boolean' } },
    prepare: (parsed) => ({ force: flag(parsed, 'force') }),
    run: async (ctx, input) => {
      // Loaded here, not at the top: jose is slow to load and only this command needs it.
      const { RETIRED_KEY_GRACE_SECONDS, rotateSigningKeys, SIGNING_ALGORITHMS } = await import(
        '../services/signing-keys.js'
      );
      const rotated = await rotateSigningKeys(ctx.pool, input);
      const named = (kids: string[]) => kids.map((kid, index) => ({ kid, alg: SIGNING_ALGORITHMS[index]! }));
      const keys = named(rotated.active);
      const hours = RETIRED_KEY_GRACE_SECONDS / 3600;
      return {
        json: { keys, next_keys: named(rotated.next), previous_keys_published_for_seconds: RETIRED_KEY_GRACE_SECONDS },
        text:
          `new signing keys: ${keys.map((key) => `${key.alg} ${key.kid}`).join(', ')}\n` +
          `the previous keys stay published for ${hours} h; restart the servers one at a time to sign with the new keys,\n` +
          `and restart all of them before rotating again\n`,
      };
    },
  }),
];
