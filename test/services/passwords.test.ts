// Password hashing: argon2id verifies what it hashed, refuses what it should, and runs at most one
// hash per core at a time (each holds 19 MiB while it runs).

import { availableParallelism } from 'node:os';
import t from 'tap';
import { hashPassword, passwordHashingLoad, verifyPassword } from '../../src/services/passwords.js';

t.test('a hash verifies its password and no other; an unknown user never verifies', async (t) => {
  const stored = await hashPassword('correct horse battery');
  t.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'argon2id at the OWASP parameters');
  t.equal(await verifyPassword(stored, 'correct horse battery'), true);
  t.equal(await verifyPassword(stored, 'wrong horse battery'), false);
  t.equal(
    await verifyPassword(undefined, 'correct horse battery'),
    false,
    'no hash: the decoy is checked, and it is a no',
  );
  t.equal(await verifyPassword('not a hash', 'correct horse battery'), false, 'a malformed hash is a no, not an error');
  t.equal(await verifyPassword(stored, 'x'.repeat(1025)), false, 'over 1 KiB: refused before hashing');
  await t.rejects(hashPassword('short'), /at least 8/);
});

t.test('at most one hash per core runs at once; the rest wait their turn and all complete', async (t) => {
  const stored = await hashPassword('correct horse battery');
  await verifyPassword(undefined, 'correct horse battery'); // the decoy hash is made on first use: not now
  const cores = availableParallelism();
  t.equal(passwordHashingLoad().limit, cores);
  const verifications = Array.from({ length: 3 * cores }, () => verifyPassword(stored, 'correct horse battery'));
  const load = passwordHashingLoad();
  t.equal(load.running, cores, `${cores} running`);
  t.equal(load.waiting, 2 * cores, 'the others waiting');
  t.same(
    await Promise.all(verifications),
    verifications.map(() => true),
    'every one verified',
  );
  t.same(passwordHashingLoad(), { running: 0, waiting: 0, limit: cores });
});
