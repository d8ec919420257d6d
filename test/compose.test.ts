// docker-compose.yml passes dclint offline (no Docker engine here) and wires what Accord needs.
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
  build?: unknown;
  environment?: Record<string, string>;
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition?: string }>;
}
const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
const accords = services.filter(([, service]) => service.build !== undefined);

t.test('dclint finds no problem', async (t) => {
  // The file must come before the flags.
  const lint = spawnSync(
    'npx',
    ['dclint', 'docker-compose.yml', '-q', '--disable-rule', 'no-unbound-port-interfaces'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  t.equal(lint.status, 0, `dclint output:\n${lint.stdout}${lint.stderr}`);
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
