// The layer check itself: each fixture tree under fixtures/ breaks one rule and must be caught,
// the clean one passes, and docs/architecture.md shows the very table the check enforces.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import ts from 'typescript';
import {
  checkLayers,
  findCycles,
  findImports,
  formatViolations,
  looksLikeSql,
  rulesAsMarkdown,
} from '../support/layer-rules.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name: string) => path.join(here, 'fixtures', name);

/** What a test compares: the rule, where, and what was found. */
const found = (name: string) =>
  checkLayers(fixture(name)).map((violation) => [
    violation.rule,
    `${violation.file}:${violation.line}`,
    violation.found,
  ]);

t.test('a tree that keeps every rule passes, with type-only imports of db/ and provider/ from routes/', async (t) => {
  t.same(checkLayers(fixture('clean')), []);
});

t.test('core/ importing db/ is refused', async (t) => {
  t.same(found('core-imports-db'), [['layer', 'core-imports-db/core/decide.ts:2', '../db/apps.js']]);
});

t.test('core/ importing a package (even for types) or config.ts is refused; node: built-ins are fine', async (t) => {
  t.same(found('core-imports-packages'), [
    ['package', 'core-imports-packages/core/clock.ts:3', 'pg'],
    ['layer', 'core-imports-packages/core/clock.ts:4', '../config.js'],
  ]);
});

t.test('services/ importing oidc-provider or an @fastify/* package is refused', async (t) => {
  t.same(found('services-imports-shell'), [
    ['package', 'services-imports-shell/services/consents.ts:2', '@fastify/cookie'],
    ['package', 'services-imports-shell/services/consents.ts:3', 'oidc-provider'],
  ]);
});

t.test('db/ importing fastify is refused', async (t) => {
  t.same(found('db-imports-fastify'), [['package', 'db-imports-fastify/db/pool.ts:2', 'fastify']]);
});

t.test('routes/ importing a value from db/ is refused; `import type` and `{ type X }` pass', async (t) => {
  const violations = checkLayers(fixture('routes-value-import-db'));
  t.same(
    violations.map((violation) => [violation.rule, `${violation.file}:${violation.line}`, violation.found]),
    [
      ['layer', 'routes-value-import-db/routes/apps.ts:3', '../db/apps.js'],
      ['layer', 'routes-value-import-db/routes/apps.ts:4', '../db/apps.js'],
    ],
    'the value import, and the mixed one; nothing from types-only.ts',
  );
  t.match(violations[0]?.message, /routes\/ may import db\/ only with `import type`/);
});

t.test('cli/ loading provider/ with a dynamic import is refused', async (t) => {
  t.same(found('cli-imports-provider'), [['layer', 'cli-imports-provider/cli/keys.ts:3', '../provider/keys.js']]);
});

t.test(
  'SQL in a service is refused: a .query( call and a literal that reads as SQL, not an English sentence',
  async (t) => {
    t.same(found('sql-in-service'), [
      [
        'sql',
        'sql-in-service/services/throttle.ts:4',
        'SELECT failures FROM sign_in_failures WHERE tenant_id = $1::text AND username = ',
      ],
      [
        'sql',
        'sql-in-service/services/throttle.ts:10',
        'DELETE FROM sign_in_failures WHERE tenant_id = $1::text AND username = $2::text',
      ],
      ['sql', 'sql-in-service/services/throttle.ts:14', 'pool.query(COUNT_FAILURES, [tenantId, username])'],
    ]);
  },
);

t.test('a cycle of two files is refused once, with its path, though one of its imports is type-only', async (t) => {
  t.same(found('cycle'), [
    [
      'cycle',
      'cycle/services/grants.ts:2',
      'cycle/services/grants.ts → cycle/services/revocation.ts → cycle/services/grants.ts',
    ],
  ]);
});

t.test('plugins/ importing db/ is refused', async (t) => {
  t.same(found('plugins-imports-db'), [
    ['layer', 'plugins-imports-db/plugins/rate-limit-store.ts:3', '../db/rate-limits.js'],
  ]);
});

t.test('imports against the direction are refused: provider → routes, services → provider, routes → app', async (t) => {
  const violations = checkLayers(fixture('upward-imports'));
  t.same(
    violations.map((violation) => [violation.rule, `${violation.file}:${violation.line}`, violation.found]),
    [
      ['layer', 'upward-imports/provider/create-provider.ts:2', '../routes/portal.js'],
      ['layer', 'upward-imports/routes/health.ts:2', '../app.js'],
      ['layer', 'upward-imports/services/consents.ts:2', '../provider/memo.js'],
    ],
  );
  t.match(violations[1]?.message, /not app\.ts$/);
});

t.test('a file in no layer, an import of a missing file and a computed specifier are refused', async (t) => {
  t.same(found('strays'), [
    ['no-layer', 'strays/helpers.ts:1', 'helpers.ts'],
    ['unresolved', 'strays/helpers.ts:2', './missing.js'],
    ['unresolved', 'strays/helpers.ts:7', './plugins-'],
  ]);
});

t.test('violations print one per line with the rule in words', async (t) => {
  const text = formatViolations(checkLayers(fixture('plugins-imports-db')));
  t.equal(
    text,
    'plugins-imports-db/plugins/rate-limit-store.ts:3  [layer] ../db/rate-limits.js\n' +
      '    plugins/ may import only config.ts, core/, plugins/; not db/',
  );
});

t.test('imports are found in every form, each marked type-only or not', async (t) => {
  const source = ts.createSourceFile(
    'x.ts',
    [
      "import './side-effect.js';",
      "import a from './default.js';",
      "import * as b from './namespace.js';",
      "import type { C } from './type.js';",
      "import { type D, type E } from './all-type-names.js';",
      "import { type F, g } from './mixed.js';",
      "import {} from './empty.js';",
      "export * from './star.js';",
      "export type * from './type-star.js';",
      "export { type H } from './type-name.js';",
      "export { i } from './named.js';",
      "import j = require('./required.js');",
      "type K = import('./type-query.js').K;",
      `const l = await import(\`@scope/\${a}\`);`,
      'const m = await import(b.name);',
      'export const n = [a, b, g, j, l, m] as unknown as [C, D, E, F, K];',
    ].join('\n'),
    ts.ScriptTarget.Latest,
    true,
  );
  t.same(
    findImports(source).map((ref) => [ref.specifier, ref.typeOnly, ref.computed ?? false]),
    [
      ['./side-effect.js', false, false],
      ['./default.js', false, false],
      ['./namespace.js', false, false],
      ['./type.js', true, false],
      ['./all-type-names.js', true, false],
      ['./mixed.js', false, false],
      ['./empty.js', false, false],
      ['./star.js', false, false],
      ['./type-star.js', true, false],
      ['./type-name.js', true, false],
      ['./named.js', false, false],
      ['./required.js', false, false],
      ['./type-query.js', true, false],
      ['@scope/', false, true],
      ['', false, true],
    ],
  );
});

t.test('SQL is told from English and from HTTP method names', async (t) => {
  const sql = [
    'SELECT 1',
    'SELECT pg_advisory_xact_lock($1::bigint)',
    'SELECT DISTINCT alg FROM signing_keys',
    'SELECT scopes, granted_by FROM admin_consents WHERE tenant_id = $1::text',
    'SELECT u.role, COALESCE(x, y) AS scope\n  FROM users u',
    '  INSERT INTO apps (client_id) VALUES ($1::text)',
    'UPDATE user_consents uc SET grant_id = NULL',
    'DELETE FROM oidc_models WHERE grant_id = $1::text',
    'WITH used AS (SELECT 1) SELECT * FROM used',
    'CREATE TABLE IF NOT EXISTS schema_migrations (version integer)',
    'CREATE UNIQUE INDEX x ON y (z)',
    'DROP TABLE x',
    'ALTER TABLE apps ADD COLUMN x text',
    'TRUNCATE oidc_models',
    'LISTEN accord_grant_deleted',
    `LISTEN \${…}; LISTEN \${…}`,
    'NOTIFY accord_app_deleted',
    'UNLISTEN *',
    'BEGIN',
    'COMMIT;',
    'ROLLBACK',
    'BEGIN ISOLATION LEVEL SERIALIZABLE',
  ];
  const notSql = [
    'DELETE',
    'DELETE /api/v1/me/apps/{clientId}',
    'Delete from your apps the ones you no longer use.',
    'Select an app from the list',
    'Create a user',
    'Update your password, then select an account from the list.',
    'with a code',
    'SELECT',
    'SELECTED apps',
    'UPDATE available',
    'INSERT coin',
    'CREATE something new',
    'LISTEN to this: it matters',
    'BEGIN the sign-in again',
    'WITH care',
    'TRUNCATE',
    'select * from users',
  ];
  t.same(
    sql.filter((text) => !looksLikeSql(text)),
    [],
    'every statement is SQL',
  );
  t.same(
    notSql.filter((text) => looksLikeSql(text)),
    [],
    'no sentence, method name or lower-case text is (a .query( call catches lower-case SQL)',
  );
});

t.test('cycles are found once each, from their smallest file, within their tangle only', async (t) => {
  const graph = new Map<string, Set<string>>([
    ['a', new Set(['b', 'd'])],
    ['b', new Set(['a', 'c'])],
    ['c', new Set(['a', 'c'])],
    ['d', new Set(['e'])],
    ['e', new Set()],
  ]);
  t.same(findCycles(graph), [['a', 'b'], ['a', 'b', 'c'], ['c']]);
});

t.test('docs/architecture.md shows the rules table the check enforces', async (t) => {
  const docs = readFileSync(path.join(here, '../../docs/architecture.md'), 'utf8');
  t.ok(docs.includes(rulesAsMarkdown()), `docs/architecture.md must contain, verbatim:\n${rulesAsMarkdown()}`);
});
