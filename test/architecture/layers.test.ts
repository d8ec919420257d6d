// The layer rules of docs/architecture.md hold for src/: every import goes the allowed way, SQL
// lives in db/ only, and no import cycle exists. The check is test/support/layer-rules.ts.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { checkLayers, formatViolations } from '../support/layer-rules.js';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

t.test('src/ keeps the layer rules (docs/architecture.md)', async (t) => {
  const violations = checkLayers(src);
  if (violations.length > 0) t.comment(`${violations.length} violations:\n${formatViolations(violations)}`);
  t.equal(violations.length, 0, 'no import against the rules, no SQL outside db/, no import cycle');
});
