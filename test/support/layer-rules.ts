// The layer check (docs/architecture.md "The layer rules"): reads every .ts file under a source
// root, finds its imports with the TypeScript parser, and reports each import a rule forbids, each
// SQL statement outside db/, and each import cycle. The rules are the table below; the docs print
// the same table (rulesAsMarkdown), and test/architecture/layer-rules.test.ts keeps them equal.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export type Layer =
  | 'core'
  | 'db'
  | 'services'
  | 'provider'
  | 'plugins'
  | 'routes'
  | 'cli'
  | 'config'
  | 'app'
  | 'server';

/** The packages of the HTTP and protocol shells, which the domain layers must not know. */
const SHELL_PACKAGES = ['fastify', 'fastify-plugin', '@fastify/*', 'oidc-provider'] as const;

export interface LayerRule {
  layer: Layer;
  /** The layer's files, relative to the source root: a folder (`core/`) or one file (`config.ts`). */
  files: string;
  /** The layers it may import from, with value or type imports. */
  imports: readonly Layer[];
  /** The layers it may import from only with `import type` / `export type`. */
  typeOnly: readonly Layer[];
  /** `node` — only `node:` built-ins; otherwise the packages it must not import (`@x/*` = a scope). */
  packages: 'node' | readonly string[];
}

/** The one table of layer rules. Read top to bottom it is the dependency direction. */
export const LAYER_RULES: readonly LayerRule[] = [
  {
    layer: 'server',
    files: 'server.ts',
    imports: ['app', 'config', 'core', 'db', 'services', 'provider', 'plugins'],
    typeOnly: [],
    packages: [],
  },
  {
    layer: 'app',
    files: 'app.ts',
    imports: ['config', 'core', 'db', 'services', 'provider', 'plugins', 'routes', 'cli'],
    typeOnly: [],
    packages: [],
  },
  {
    layer: 'routes',
    files: 'routes/',
    imports: ['config', 'core', 'services', 'plugins', 'routes'],
    typeOnly: ['db', 'provider'],
    packages: [],
  },
  {
    layer: 'cli',
    files: 'cli/',
    imports: ['config', 'core', 'services', 'plugins', 'cli'],
    typeOnly: ['db', 'provider'],
    packages: [],
  },
  {
    layer: 'provider',
    files: 'provider/',
    imports: ['config', 'core', 'db', 'services', 'plugins', 'provider'],
    typeOnly: [],
    packages: [],
  },
  {
    layer: 'plugins',
    files: 'plugins/',
    imports: ['config', 'core', 'plugins'],
    typeOnly: [],
    packages: [],
  },
  {
    layer: 'services',
    files: 'services/',
    imports: ['config', 'core', 'db', 'services'],
    typeOnly: [],
    packages: SHELL_PACKAGES,
  },
  {
    layer: 'db',
    files: 'db/',
    imports: ['config', 'core', 'db'],
    typeOnly: [],
    packages: SHELL_PACKAGES,
  },
  { layer: 'config', files: 'config.ts', imports: ['core'], typeOnly: [], packages: [] },
  { layer: 'core', files: 'core/', imports: ['core'], typeOnly: [], packages: 'node' },
];

/** The layer whose files hold every SQL statement. */
export const SQL_LAYER: Layer = 'db';

export type RuleName = 'layer' | 'package' | 'sql' | 'cycle' | 'unresolved' | 'no-layer';

export interface Violation {
  /** The file, relative to the source root's parent (`src/routes/my-apps.ts`). */
  file: string;
  line: number;
  /** What was found: the import specifier, the SQL's first words, or the cycle's path. */
  found: string;
  rule: RuleName;
  /** The rule in words. */
  message: string;
}

export interface ImportRef {
  specifier: string;
  line: number;
  typeOnly: boolean;
  /** Set when the specifier is computed (`import(\`x/${y}\`)`): then `specifier` is its static start. */
  computed?: boolean;
}

/** Every import, re-export and dynamic import of one module, with whether it is type-only. */
export function findImports(source: ts.SourceFile): ImportRef[] {
  const found: ImportRef[] = [];
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const add = (node: ts.Node, specifier: ts.Expression, typeOnly: boolean) => {
    if (ts.isStringLiteralLike(specifier)) found.push({ specifier: specifier.text, line: lineOf(node), typeOnly });
    else if (ts.isTemplateExpression(specifier))
      found.push({ specifier: specifier.head.text, line: lineOf(node), typeOnly, computed: true });
    else found.push({ specifier: '', line: lineOf(node), typeOnly, computed: true });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node, node.moduleSpecifier, isTypeOnlyImport(node.importClause));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node, node.moduleSpecifier, isTypeOnlyExport(node));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      if (node.arguments[0]) add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `import type …`, or named imports that are all `type X` (no default, no namespace). */
function isTypeOnlyImport(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false; // `import './x.js'` runs the module
  if (clause.isTypeOnly) return true;
  if (clause.name || !clause.namedBindings || !ts.isNamedImports(clause.namedBindings)) return false;
  const { elements } = clause.namedBindings;
  return elements.length > 0 && elements.every((element) => element.isTypeOnly);
}

function isTypeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  if (!clause || !ts.isNamedExports(clause)) return false;
  return clause.elements.length > 0 && clause.elements.every((element) => element.isTypeOnly);
}

const SQL_START =
  /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|TRUNCATE|LISTEN|UNLISTEN|NOTIFY|BEGIN|COMMIT|ROLLBACK)\b/;

/**
 * Whether a string looks like an SQL statement. The keyword must open the string in capitals (as
 * all of Accord's SQL is written) and be followed by what only SQL puts there, so that an English
 * sentence ("Delete the app from your organisation") never counts.
 */
export function looksLikeSql(text: string): boolean {
  const start = SQL_START.exec(text);
  if (!start) return false;
  const rest = text.slice(start[0].length);
  switch (start[1]) {
    case 'SELECT':
      return /^\s+(\*|\d|[\w.]+\s*\(|DISTINCT\b|[\w.]+(\s*,\s*[\w.]+)*\s+(FROM|AS)\b)|^\s+[\s\S]*\bFROM\s+[\w.]+/.test(
        rest,
      );
    case 'INSERT':
      return /^\s+INTO\s+\w/i.test(rest);
    case 'UPDATE':
      return /^\s+[\w.]+(\s+(AS\s+)?\w+)?\s+SET\s/i.test(rest);
    case 'DELETE':
      return /^\s+FROM\s+\w/i.test(rest);
    case 'WITH':
      return /^\s+(RECURSIVE\s+)?\w+(\s*\([^)]*\))?\s+AS\s*(NOT\s+)?(MATERIALIZED\s*)?\(/i.test(rest);
    case 'CREATE':
    case 'ALTER':
    case 'DROP':
      return /^\s+(OR\s+REPLACE\s+|UNIQUE\s+|TEMP(ORARY)?\s+)?(TABLE|INDEX|VIEW|TRIGGER|FUNCTION|SCHEMA|SEQUENCE|EXTENSION|TYPE|ROLE|DATABASE)\b/i.test(
        rest,
      );
    case 'TRUNCATE':
      return /^\s+(TABLE\s+)?\w/i.test(rest);
    case 'LISTEN':
    case 'UNLISTEN':
    case 'NOTIFY':
      return /^\s+("?[\w$]+"?|\*)\s*(;|,|$)/.test(rest) || /^\s+\$\{/.test(rest);
    default: // BEGIN, COMMIT, ROLLBACK: the whole string is the statement
      return /^(\s+(WORK|TRANSACTION|ISOLATION\s+LEVEL\s+[A-Z ]+|READ\s+(ONLY|WRITE)))*\s*;?\s*$/i.test(rest);
  }
}

/** SQL in one module: `.query(` calls, and string or template literals that read as SQL. */
export function findSql(source: ts.SourceFile): { line: number; found: string }[] {
  const found: { line: number; found: string }[] = [];
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const sqlText = (node: ts.Node): string | undefined => {
    if (ts.isStringLiteralLike(node)) return looksLikeSql(node.text) ? node.text : undefined;
    if (ts.isTemplateExpression(node)) {
      const text = [node.head.text, ...node.templateSpans.map((span) => `\${…}${span.literal.text}`)].join('');
      return looksLikeSql(text) ? text : undefined;
    }
    return undefined;
  };
  /** The first SQL literal inside `node`, to show what a `.query(` call runs. */
  const firstSql = (node: ts.Node): string | undefined => sqlText(node) ?? ts.forEachChild(node, firstSql);
  const add = (node: ts.Node, text: string) =>
    found.push({ line: lineOf(node), found: text.replace(/\s+/g, ' ').trim().slice(0, 80) });
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'query'
    ) {
      // One finding per call: the SQL it runs, or the call itself when the SQL is not a literal.
      add(node, node.arguments.map(firstSql).find(Boolean) ?? node.getText(source));
      visit(node.expression);
      return;
    }
    const text = sqlText(node);
    if (text !== undefined) add(node, text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every `.ts` file under `root`, sorted, as absolute paths. */
function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith('.ts')) files.push(full);
    }
  };
  walk(root);
  return files;
}

function ruleOf(relative: string): LayerRule | undefined {
  const posix = relative.split(path.sep).join('/');
  return LAYER_RULES.find((rule) => (rule.files.endsWith('/') ? posix.startsWith(rule.files) : posix === rule.files));
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function packageForbidden(rule: LayerRule, specifier: string): boolean {
  if (rule.packages === 'node') return !specifier.startsWith('node:');
  if (specifier.startsWith('node:')) return false;
  const name = packageName(specifier);
  return rule.packages.some((pattern) =>
    pattern.endsWith('/*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern,
  );
}

/** `./x.js` from `dir` → the `.ts` file it names, when that file exists. */
function resolveRelative(dir: string, specifier: string): string | undefined {
  const target = path.resolve(dir, specifier);
  const candidates = target.endsWith('.js') ? [`${target.slice(0, -3)}.ts`, target] : [target, `${target}.ts`];
  return candidates.find((candidate) => {
    try {
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}

const describeLayer = (layer: Layer) => {
  const rule = LAYER_RULES.find((candidate) => candidate.layer === layer)!;
  return rule.files;
};

/** Checks every `.ts` file under `root` (a source root laid out as src/ is) against the rules. */
export function checkLayers(root: string): Violation[] {
  const absoluteRoot = path.resolve(root);
  const display = (file: string) => path.relative(path.dirname(absoluteRoot), file).split(path.sep).join('/');
  const violations: Violation[] = [];
  const graph = new Map<string, Set<string>>();
  const files = sourceFiles(absoluteRoot);

  for (const file of files) {
    const relative = path.relative(absoluteRoot, file);
    const rule = ruleOf(relative);
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const edges = new Set<string>();
    graph.set(file, edges);
    const report = (line: number, found: string, ruleName: RuleName, message: string) =>
      violations.push({ file: display(file), line, found, rule: ruleName, message });

    if (!rule) {
      report(1, relative, 'no-layer', `every file belongs to a layer (${LAYER_RULES.map((r) => r.files).join(', ')})`);
    }

    for (const ref of findImports(source)) {
      const relativeImport = ref.specifier.startsWith('.') || ref.specifier.startsWith('/');
      if (!relativeImport && !(ref.computed && ref.specifier === '')) {
        if (rule && packageForbidden(rule, ref.specifier)) {
          report(
            ref.line,
            ref.specifier,
            'package',
            rule.packages === 'node'
              ? `${rule.files} imports no packages, only node: built-ins`
              : `${rule.files} never imports ${rule.packages.join(', ')}`,
          );
        }
        continue;
      }
      const target = ref.computed ? undefined : resolveRelative(path.dirname(file), ref.specifier);
      if (!target) {
        report(
          ref.line,
          ref.specifier || '(computed)',
          'unresolved',
          'every import of a module resolves to a file (no computed specifiers)',
        );
        continue;
      }
      if (target.startsWith(absoluteRoot + path.sep) && target.endsWith('.ts')) edges.add(target);
      if (!rule) continue;
      const targetRule = target.startsWith(absoluteRoot + path.sep)
        ? ruleOf(path.relative(absoluteRoot, target))
        : undefined;
      if (!targetRule) {
        report(ref.line, ref.specifier, 'layer', `${rule.files} imports only files of the layers under src/`);
        continue;
      }
      if (rule.imports.includes(targetRule.layer)) continue;
      if (rule.typeOnly.includes(targetRule.layer)) {
        if (!ref.typeOnly) {
          report(
            ref.line,
            ref.specifier,
            'layer',
            `${rule.files} may import ${targetRule.files} only with \`import type\` (or \`{ type X }\` names only)`,
          );
        }
        continue;
      }
      const allowed = [
        ...rule.imports.map(describeLayer),
        ...rule.typeOnly.map((layer) => `${describeLayer(layer)} (types only)`),
      ].join(', ');
      report(ref.line, ref.specifier, 'layer', `${rule.files} may import only ${allowed}; not ${targetRule.files}`);
    }

    if (rule?.layer !== SQL_LAYER) {
      for (const sql of findSql(source)) {
        report(sql.line, sql.found, 'sql', `SQL lives in ${describeLayer(SQL_LAYER)} only`);
      }
    }
  }

  for (const cycle of findCycles(graph)) {
    const first = cycle[0]!;
    const source = ts.createSourceFile(first, readFileSync(first, 'utf8'), ts.ScriptTarget.Latest, true);
    const next = cycle[1]!;
    const line =
      findImports(source).find((ref) => resolveRelative(path.dirname(first), ref.specifier) === next)?.line ?? 1;
    violations.push({
      file: display(first),
      line,
      found: [...cycle, first].map(display).join(' → '),
      rule: 'cycle',
      message: 'no import cycles (type imports count too)',
    });
  }
  return violations;
}

/** Most cycles reported; past it the graph is tangled enough that the first ones say what to fix. */
const MAX_CYCLES = 200;

/**
 * The elementary cycles of the import graph, each once. Each cycle is found from its smallest file,
 * walking only through larger files of the same strongly connected component, so no rotation of it
 * is found again and no walk leaves the tangle it started in.
 */
export function findCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const component = stronglyConnectedComponents(graph);
  const cycles: string[][] = [];
  for (const start of [...graph.keys()].sort()) {
    const trail: string[] = [start];
    const onTrail = new Set(trail);
    const walk = (node: string): void => {
      for (const next of [...(graph.get(node) ?? [])].sort()) {
        if (cycles.length >= MAX_CYCLES) return;
        if (next === start) cycles.push([...trail]);
        else if (next > start && !onTrail.has(next) && component.get(next) === component.get(start)) {
          trail.push(next);
          onTrail.add(next);
          walk(next);
          onTrail.delete(next);
          trail.pop();
        }
      }
    };
    walk(start);
  }
  return cycles;
}

/** Tarjan's algorithm: each node → the number of its strongly connected component. */
function stronglyConnectedComponents(graph: ReadonlyMap<string, ReadonlySet<string>>): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const component = new Map<string, number>();
  let counter = 0;
  let components = 0;
  const connect = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const id = components;
      components += 1;
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.set(member, id);
      } while (member !== node);
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) connect(node);
  return component;
}

/** The violations as lines a reader can act on, one per violation. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.file}:${v.line}  [${v.rule}] ${v.found}\n    ${v.message}`).join('\n');
}

/** The rules as the Markdown table docs/architecture.md shows. */
export function rulesAsMarkdown(): string {
  const code = (text: string) => `\`${text}\``;
  const layers = (list: readonly Layer[]) => list.map((layer) => code(describeLayer(layer))).join(', ') || '—';
  const rows = LAYER_RULES.map((rule) => {
    const packages =
      rule.packages === 'node'
        ? 'only `node:` built-ins'
        : rule.packages.length === 0
          ? 'any'
          : `any but ${rule.packages.map(code).join(', ')}`;
    return `| ${code(rule.files)} | ${layers(rule.imports)} | ${layers(rule.typeOnly)} | ${packages} |`;
  });
  return ['| files | may import | may import with `import type` only | packages |', '|---|---|---|---|', ...rows].join(
    '\n',
  );
}
