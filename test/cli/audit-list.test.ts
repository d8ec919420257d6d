// `accord audit list` filters by actor, action and days, and shows people, apps and tenants by
// name beside their ids (issue #12 item 8), against a database of its own.
import t from 'tap';
import { runAccord } from '../support/accord-cli.js';
import { registerApp } from '../support/flows.js';
import { startTestServer } from '../support/server.js';

t.setTimeout(300_000);
const server = await startTestServer();
t.teardown(() => server.close());
const { directory } = server;
await directory.createTenant({ id: 'contoso', name: 'Contoso' }, 'operator');
const carol = await directory.createUser(
  { tenantId: 'contoso', username: 'carol', password: 'correct horse battery', role: 'admin' },
  'operator',
);
const dave = await directory.createUser(
  { tenantId: 'contoso', username: 'dave', password: 'correct horse battery', role: 'user' },
  'operator',
);
await directory.setUserRole('contoso', dave.id, 'admin', carol.id);
const notes = await registerApp(server, { tenant: 'contoso', name: 'Contoso Notes', scopes: ['openid'] });
await directory.rotateAppSecret('contoso', notes.clientId, carol.id);

const run = (args: string[]) => runAccord(server.database.url, ['audit', 'list', 'contoso', ...args]);
const json = async (args: string[]): Promise<any> => {
  const result = await run([...args, '--json']);
  if (result.code !== 0) throw new Error(`accord exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
};

t.test('names beside ids; filters by actor (username, id or operator), action (or a family) and days', async (t) => {
  const [byCarol, byCarolId, created, family, today, longAgo] = await Promise.all([
    json(['--actor', 'carol']),
    json(['--actor', carol.id]),
    json(['--actor', 'operator', '--action', 'user.created']),
    json(['--action', 'user.']),
    json(['--from', new Date().toISOString().slice(0, 10), '--to', new Date().toISOString().slice(0, 10)]),
    json(['--to', '2000-01-01']),
  ]);
  t.same(
    byCarol.value.map((event: { action: string }) => event.action),
    ['app.secret.rotated', 'user.role.changed'],
    "carol's two changes, newest first",
  );
  t.same(byCarolId.value, byCarol.value, 'by username or by id alike');
  t.match(byCarol.value[0], {
    actor: carol.id,
    actor_name: 'carol@contoso',
    target: notes.clientId,
    target_name: 'Contoso Notes',
  });
  t.match(byCarol.value[1], { target: dave.id, target_name: 'dave@contoso' });
  t.same(
    created.value.map((event: { actor_name: unknown; target_name: string }) => [event.actor_name, event.target_name]),
    [
      [null, 'dave@contoso'],
      [null, 'carol@contoso'],
    ],
    'the operator has no name; the users it created do',
  );
  t.ok(family.value.every((event: { action: string }) => event.action.startsWith('user.')));
  t.equal(family.value.length, 3);
  t.ok(today.value.length >= 5, 'everything happened today');
  t.same(longAgo.value, []);
});

t.test('the table shows names where the ids are known; bad filters are usage errors', async (t) => {
  const text = await run(['--action', 'tenant.created']);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /operator\s+tenant\.created\s+Contoso\s/);
  const rotated = await run(['--action', 'app.secret.rotated']);
  t.match(rotated.stdout, /carol@contoso\s+app\.secret\.rotated\s+Contoso Notes\s/);
  t.notMatch(rotated.stdout, carol.id, 'no id where the name is known');
  for (const bad of [
    ['--from', '2026-02-30'],
    ['--to', 'yesterday'],
    ['--action', 'User.Created'],
  ]) {
    const refused = await run(bad);
    t.equal(refused.code, 2, `${bad.join(' ')}: a usage error`);
    t.equal(refused.stdout, '');
  }
});
