// docker-compose.yml passes dclint offline (no Docker engine here), with every rule on, and wires
// what Accord needs: the default deployment on PostgreSQL 17 (the first replica seeding the demo
// data), and the `citus` profile on a Citus coordinator and two workers.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const composeFile = path.join(root, 'docker-compose.yml');

interface Service {
  image?: string;
  profiles?: string[];
  command?: string[];
  ports?: string[];
  build?: unknown;
  environment?: Record<string, string>;
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition?: string }>;
}
const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
const inProfile = (service: Service, profile: string | undefined) =>
  profile === undefined ? service.profiles === undefined : (service.profiles ?? []).includes(profile);
const accords = services.filter(([, service]) => service.build !== undefined && inProfile(service, undefined));
const citusAccords = services.filter(([, service]) => service.build !== undefined && inProfile(service, 'citus'));

t.test('dclint finds no problem, no rule disabled, not even a warning', async (t) => {
  const lint = spawnSync('npx', ['dclint', 'docker-compose.yml'], { cwd: root, encoding: 'utf8' });
  t.equal(lint.status, 0, `dclint output:\n${lint.stdout}${lint.stderr}`);
  t.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'dclint prints nothing');
});

t.test('the database is PostgreSQL 17 with a pg_isready healthcheck', async (t) => {
  const db = compose.services.db;
  t.match(db?.image, /^postgres:17(\.|-|$)/);
  t.match(db?.healthcheck?.test?.join(' '), /pg_isready/);
});

t.test('every Accord replica is built here, reaches the database and is health-checked', async (t) => {
  t.ok(accords.length >= 2, 'at least two replicas');
  for (const [name, service] of accords) {
    t.equal(service.environment?.DATABASE_URL, 'postgres://accord:accord@db:5432/accord', `${name} DATABASE_URL`);
    t.equal(service.environment?.HOST, '0.0.0.0', `${name} HOST`);
    t.match(service.environment?.ISSUER, /^https?:\/\//, `${name} ISSUER`);
    t.equal(service.depends_on?.db?.condition, 'service_healthy', `${name} waits for a healthy database`);
    t.match(service.healthcheck?.test?.join(' '), /node .*127\.0\.0\.1:3000\/readyz/, `${name} healthcheck`);
  }
});

t.test('the replicas are published on loopback only, and the first one seeds the demo data', async (t) => {
  for (const [name, service] of [...accords, ...citusAccords])
    for (const port of service.ports ?? []) t.match(port, /^127\.0\.0\.1:/, `${name} ${port}`);
  t.same(
    [...accords, ...citusAccords]
      .filter(([, service]) => service.environment?.SEED_DEMO === 'true')
      .map(([name]) => name),
    ['accord-1', 'accord-citus-1'],
    'one seeding replica per deployment (two seeding an empty database at once would race)',
  );
});

t.test(
  'the citus profile: the official image as a coordinator and two workers, registered, under two Accords',
  async (t) => {
    const nodes = services.filter(([name]) => /^citus-(coordinator|worker-\d)$/.test(name));
    t.same(nodes.map(([name]) => name).sort(), ['citus-coordinator', 'citus-worker-1', 'citus-worker-2']);
    for (const [name, node] of nodes) {
      t.match(node.image, /^citusdata\/citus:13\./, `${name} runs the official Citus image`);
      t.ok(inProfile(node, 'citus'), `${name} is in the citus profile`);
      t.match(node.healthcheck?.test?.join(' '), /pg_isready/, `${name} is health-checked`);
    }
    const setup = compose.services['citus-setup'];
    const registered = setup?.command?.join(' ') ?? '';
    t.match(registered, /citus_set_coordinator_host\('citus-coordinator'/, 'the coordinator is registered');
    t.match(registered, /citus_add_node\('citus-worker-1'/);
    t.match(registered, /citus_add_node\('citus-worker-2'/);
    for (const node of ['citus-coordinator', 'citus-worker-1', 'citus-worker-2'])
      t.equal(setup?.depends_on?.[node]?.condition, 'service_healthy', `the setup waits for ${node}`);

    t.equal(citusAccords.length, 2, 'two Accord processes');
    for (const [name, service] of citusAccords) {
      t.equal(service.environment?.DATABASE_URL, 'postgres://accord:accord@citus-coordinator:5432/accord', name);
      t.equal(
        service.depends_on?.['citus-setup']?.condition,
        'service_completed_successfully',
        `${name} waits for the setup`,
      );
      t.match(service.healthcheck?.test?.join(' '), /readyz/, `${name} healthcheck`);
    }
    t.equal(
      accords.filter(([, service]) => service.environment?.DATABASE_URL?.includes('citus')).length,
      0,
      'the default deployment stays on PostgreSQL',
    );
  },
);
