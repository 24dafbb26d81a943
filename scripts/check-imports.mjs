#!/usr/bin/env node
/**
 * Checks the direction of imports between the folders ("layers") of src/.
 *
 *   node scripts/check-imports.mjs            check the repo; exit 1 if any import points the wrong way
 *   node scripts/check-imports.mjs --graph    print the import graph (counts per layer pair), markdown
 *   node scripts/check-imports.mjs DIR        check another tree (DIR/src, DIR/shaders), e.g. a test fixture
 *
 * Layering (style guide): ui → store → (worker protocol types), and
 * worker → (engine, data, model) → gpu → shaders, with spec a leaf under all of them.
 *
 * Layer of a file = first folder under src/ (src/engine/ops/rope.ts → engine). Files directly
 * in src/ (main.tsx, env.d.ts) are 'app'. <root>/shaders/ is the 'shaders' layer. Any other
 * place a reference lands (another src/ folder, public/, e2e/, ...) is an unknown layer: an error.
 *
 * What counts as an import (found with the TypeScript parser, so comments and strings are not
 * mistaken for imports): import / import type / side-effect import, export ... from, import x =
 * require(), require(), dynamic import(), type-level import('...'), import.meta.resolve(), and
 * `new URL('...', import.meta.url)` (how workers and assets are referenced). Only relative
 * (./, ../, or bare file names in new URL) and root-absolute (/...) specifiers are checked;
 * npm packages are ignored. Vite queries (?raw, ?url, ?worker) are stripped. Type-only imports
 * are checked like any other. Only direct imports are checked, not what they pull in.
 *
 * Plain Node ≥ 20 ESM; the only dependency is the `typescript` package already in devDependencies.
 */
import ts from 'typescript';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------
// The layer table: layer → the layers it may import. Imports within one layer are always fine.
//   'x'                        any file of layer x
//   { layer, only: [...] }     only the files of that layer that pass one of the `only` tests
//   why: { x: '...' }          the reason printed for a forbidden import of x (default: the list)
// ---------------------------------------------------------------------------------------------

/** src/worker files whose name matches /protocol/i: the message types and constants shared with the main thread. */
const WORKER_PROTOCOL = {
  label: 'the protocol modules (src/worker/*protocol*)',
  test: (ref) => /protocol/i.test(basename(ref.targetPath)),
};
/** `new URL('../worker/x.worker.ts', import.meta.url)`: how the store starts a worker (no code is imported). */
const WORKER_ENTRY_URL = {
  label: "worker entry URLs (new URL('../worker/x.worker.ts', import.meta.url))",
  test: (ref) => ref.kind === 'new URL' && /\.worker\.[cm]?[jt]sx?$/.test(basename(ref.targetPath)),
};

const ENGINE_VS_REFERENCE =
  'engine and reference must not import each other (the Float64 CPU reference is the independent oracle the engine is tested against; only tests may use both)';
const STORE_NO_GPU = 'store must not import gpu, engine or reference at all (GPU work and the models run in the worker; the store talks to it through src/worker/*protocol*)';

export const LAYERS = {
  app: { may: '*' }, // src/main.tsx, src/env.d.ts, ...: may import anything (but not unknown layers)
  spec: { may: [] }, // the leaf: shared plain settings/types
  shaders: { may: [] }, // <root>/shaders/*.wgsl, imported with ?raw; not scanned (WGSL)
  gpu: { may: ['spec', 'shaders'] },
  reference: { may: ['spec'], why: { engine: ENGINE_VS_REFERENCE } },
  engine: { may: ['gpu', 'spec', 'shaders'], why: { reference: ENGINE_VS_REFERENCE } },
  data: { may: ['spec'] },
  model: { may: ['engine', 'gpu', 'spec'] },
  worker: { may: ['engine', 'data', 'model', 'gpu', 'spec'] },
  store: {
    may: ['spec', 'data', 'model', { layer: 'worker', only: [WORKER_PROTOCOL, WORKER_ENTRY_URL] }],
    why: { gpu: STORE_NO_GPU, engine: STORE_NO_GPU, reference: STORE_NO_GPU },
  },
  ui: {
    may: ['store', 'spec', 'data', { layer: 'worker', only: [WORKER_PROTOCOL] }],
    why: { gpu: 'ui must not import gpu, engine or reference (it reaches the worker only through the store)' },
  },
};
LAYERS.ui.why.engine = LAYERS.ui.why.gpu;
LAYERS.ui.why.reference = LAYERS.ui.why.gpu;

// ---------------------------------------------------------------------------------------------
// Exemptions: files that may import anything (path relative to the root, '/' separators).
// Tests compare the engine against the reference, so they and their helpers cross layers.
// ---------------------------------------------------------------------------------------------
export const EXEMPT = [
  { why: 'unit test', test: (p) => /\.test\.[cm]?[jt]sx?$/.test(p) }, // *.test.ts, *.test.tsx
  { why: 'test helpers', test: (p) => basename(p) === 'testkit.ts' },
  { why: 'test fixtures', test: (p) => p.startsWith('src/') && p.split('/').slice(1, -1).includes('fixtures') }, // src/**/fixtures/
  { why: 'gradient check against the reference', test: (p) => p === 'src/reference/gradcheck.ts' },
  { why: 'reference fixture for the engine tests', test: (p) => p === 'src/reference/fixture.ts' },
];

// ---------------------------------------------------------------------------------------------

const SOURCE_EXT = /\.(?:[cm]?tsx?|[cm]?jsx?)$/;
const RESOLVE_EXT = ['.ts', '.tsx', '.mts', '.cts', '.d.ts', '.js', '.jsx', '.mjs', '.cjs', '.json'];

const posix = (p) => p.split(sep).join('/');

/** All source files under dir (skips node_modules and dot folders). */
function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile() && SOURCE_EXT.test(e.name)) out.push(p);
  }
  return out;
}

const isFile = (p) => existsSync(p) && statSync(p).isFile();
const isDir = (p) => existsSync(p) && statSync(p).isDirectory();

/** The file a path refers to, the way Vite/TS (moduleResolution Bundler) would find it, or null. */
function resolveFile(p) {
  if (isFile(p)) return p;
  const js = p.match(/^(.*)\.([cm]?)js(x?)$/); // './x.js' written for './x.ts'
  if (js) for (const ext of [`.${js[2]}ts${js[3]}`, '.tsx']) if (isFile(js[1] + ext)) return js[1] + ext;
  for (const ext of RESOLVE_EXT) if (isFile(p + ext)) return p + ext;
  if (isDir(p)) for (const ext of RESOLVE_EXT) if (isFile(join(p, 'index' + ext))) return join(p, 'index' + ext);
  return null;
}

/** The layer a path (absolute) belongs to. */
export function layerOf(abs, root) {
  const rel = posix(relative(root, abs));
  if (rel === '..' || rel.startsWith('../')) return '(outside the repo)';
  const segs = rel.split('/');
  if (segs[0] === 'src') {
    if (segs.length <= 1) return 'app';
    if (segs.length === 2 && !isDir(abs)) return 'app'; // a file directly in src/
    return segs[1];
  }
  if (segs[0] === 'shaders') return 'shaders';
  return `${segs[0]}/ (outside src)`;
}

const isImportMetaUrl = (n) =>
  ts.isPropertyAccessExpression(n) &&
  n.name.text === 'url' &&
  ts.isMetaProperty(n.expression) &&
  n.expression.keywordToken === ts.SyntaxKind.ImportKeyword;

/** The static text of a string / template literal; for `a/${x}.json`, its head 'a/' (the folder is what matters). */
function literalText(n) {
  if (!n) return null;
  if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
  if (ts.isTemplateExpression(n)) {
    const head = n.head.text;
    return head.includes('/') ? head.slice(0, head.lastIndexOf('/') + 1) : null;
  }
  return null;
}

/** Every module reference in one file: { specifier, kind, typeOnly, line }. */
export function findReferences(text, fileName) {
  const kind = /\.tsx$/.test(fileName) ? ts.ScriptKind.TSX : /\.jsx$/.test(fileName) ? ts.ScriptKind.JSX : /\.[cm]?js$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const refs = [];
  const add = (lit, k, typeOnly) => {
    const specifier = literalText(lit);
    if (specifier == null) return;
    refs.push({ specifier, kind: k, typeOnly, line: sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1 });
  };
  const visit = (n) => {
    if (ts.isImportDeclaration(n)) {
      const c = n.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : null;
      const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(n.moduleSpecifier, typeOnly ? 'import type' : 'import', typeOnly);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier) {
      const named = n.exportClause && ts.isNamedExports(n.exportClause) ? n.exportClause.elements : null;
      const typeOnly = n.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly));
      add(n.moduleSpecifier, typeOnly ? 'export type' : 'export from', typeOnly);
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      add(n.moduleReference.expression, 'import = require', n.isTypeOnly);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) {
      add(n.argument.literal, 'import type', true); // typeof import('../x') / import('../x').T
    } else if (ts.isCallExpression(n)) {
      const e = n.expression;
      if (e.kind === ts.SyntaxKind.ImportKeyword) add(n.arguments[0], 'import()', false);
      else if (ts.isIdentifier(e) && e.text === 'require' && n.arguments.length === 1) add(n.arguments[0], 'require()', false);
      else if (ts.isPropertyAccessExpression(e) && e.name.text === 'resolve' && ts.isMetaProperty(e.expression)) add(n.arguments[0], 'import.meta.resolve', false);
    } else if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'URL' && n.arguments?.length === 2 && isImportMetaUrl(n.arguments[1])) {
      add(n.arguments[0], 'new URL', false);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return refs;
}

/** Relative/root-absolute specifiers are ours; anything else is a package (or a URL) and ignored. */
function localPath(ref, fromFile, root) {
  const s = ref.specifier.replace(/[?#].*$/, '');
  if (ref.kind === 'new URL') {
    if (/^[a-z][a-z0-9+.-]*:/i.test(s) || s.startsWith('//')) return null; // https:, data:, blob:, ...
    return s.startsWith('/') ? join(root, s) : resolve(dirname(fromFile), s || '.');
  }
  if (s.startsWith('./') || s.startsWith('../') || s === '.' || s === '..') return resolve(dirname(fromFile), s);
  if (s.startsWith('/')) return join(root, s); // Vite: root-absolute
  return null;
}

const listOf = (may) => (may.length ? may.map((m) => (typeof m === 'string' ? m : `${m.layer} (${m.only.map((o) => o.label).join(' or ')} only)`)).join(', ') : 'nothing');

/** null if the reference is allowed, else the reason it is not. */
function verdict(from, to, ref) {
  if (!(from in LAYERS)) return `'${from}' is not a layer in the table (add src/${from}/ to LAYERS in scripts/check-imports.mjs, or move the file)`;
  if (!(to in LAYERS)) return `unknown layer '${to}' (not in the layer table in scripts/check-imports.mjs)`;
  if (from === to) return null;
  const rule = LAYERS[from];
  if (rule.may === '*') return null;
  const entry = rule.may.find((m) => (typeof m === 'string' ? m : m.layer) === to);
  if (typeof entry === 'string') return null;
  if (entry && entry.only.some((o) => o.test(ref))) return null;
  if (entry) return `${from} may import from ${to} only ${entry.only.map((o) => o.label).join(' or ')}`;
  if (rule.why?.[to]) return rule.why[to];
  if (to === 'shaders') return `only ${Object.keys(LAYERS).filter((l) => Array.isArray(LAYERS[l].may) && LAYERS[l].may.includes('shaders')).join(' and ')} may import shaders/`;
  return `${from} may import only ${listOf(rule.may)}`;
}

/**
 * Scans rootDir/src and returns everything: the violations, the per-pair graph and counts.
 * @param {string} rootDir  the repo (or a test tree) holding src/ and shaders/
 */
export function analyzeImports(rootDir) {
  const root = resolve(rootDir);
  const files = walk(join(root, 'src'));
  const violations = [];
  const graph = new Map(); // 'from\0to' → { from, to, imports, typeOnly, notAllowed, exempt }
  let checked = 0;
  let exemptFiles = 0;
  let packages = 0;
  for (const abs of files) {
    const file = posix(relative(root, abs));
    const exempt = EXEMPT.find((e) => e.test(file));
    if (exempt) exemptFiles++;
    const from = layerOf(abs, root);
    for (const r of findReferences(readFileSync(abs, 'utf8'), abs)) {
      const target = localPath(r, abs, root);
      if (target == null) {
        packages++;
        continue;
      }
      const targetFile = resolveFile(target);
      const ref = { ...r, targetPath: targetFile ?? target, resolved: targetFile != null };
      const to = layerOf(ref.targetPath, root);
      const key = `${from}\0${to}`;
      const g = graph.get(key) ?? { from, to, imports: 0, typeOnly: 0, notAllowed: 0, exempt: 0 };
      graph.set(key, g);
      if (exempt) {
        g.exempt++;
        continue;
      }
      checked++;
      g.imports++;
      if (r.typeOnly) g.typeOnly++;
      const reason = verdict(from, to, ref);
      if (reason) {
        g.notAllowed++;
        violations.push({ file, line: r.line, from, to, specifier: r.specifier, kind: r.kind, typeOnly: r.typeOnly, reason });
      }
    }
  }
  const order = Object.keys(LAYERS);
  // Top-down: app, ui, store, worker, ... spec; unknown layers last.
  const rank = (l) => (l === 'app' ? -1 : order.includes(l) ? order.length - order.indexOf(l) : order.length + 1);
  const pairs = [...graph.values()].sort((a, b) => rank(a.from) - rank(b.from) || a.from.localeCompare(b.from) || rank(a.to) - rank(b.to) || a.to.localeCompare(b.to));
  return { files: files.length, exemptFiles, checked, packages, violations, graph: pairs };
}

/** The violations (empty when every import points the right way). */
export function checkImports(rootDir) {
  return analyzeImports(rootDir).violations;
}

export function formatViolation(v) {
  return `${v.file}:${v.line}: ${v.from} imports ${v.to} (${v.specifier}) — not allowed: ${v.reason}`;
}

export function formatGraph(result) {
  const lines = [
    '| from | to | imports | type-only | not allowed | from tests/exempt |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const g of result.graph) {
    if (g.from === g.to) continue;
    lines.push(`| ${g.from} | ${g.to} | ${g.imports} | ${g.typeOnly} | ${g.notAllowed || ''} | ${g.exempt || ''} |`);
  }
  const within = result.graph.filter((g) => g.from === g.to).reduce((n, g) => n + g.imports, 0);
  lines.push('', `${result.files} files scanned (${result.exemptFiles} exempt), ${result.checked} local imports checked (${within} within one layer), ${result.violations.length} not allowed.`);
  return lines.join('\n');
}

function main(argv) {
  const args = argv.filter((a) => !a.startsWith('--'));
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const unknownFlag = [...flags].find((f) => f !== '--graph' && f !== '--help');
  if (flags.has('--help') || unknownFlag || args.length > 1) {
    (unknownFlag ? console.error : console.log)('usage: node scripts/check-imports.mjs [--graph] [ROOT]');
    return unknownFlag || args.length > 1 ? 2 : 0;
  }
  const root = args[0] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
  if (!isDir(join(root, 'src'))) {
    console.error(`check-imports: no src/ folder in ${resolve(root)}`);
    return 2;
  }
  const result = analyzeImports(root);
  if (flags.has('--graph')) {
    console.log(formatGraph(result));
    return 0;
  }
  for (const v of result.violations) console.log(formatViolation(v));
  const summary = `${result.files} files scanned (${result.exemptFiles} exempt), ${result.checked} local imports checked, ${result.packages} package imports ignored`;
  if (result.violations.length) {
    console.log(`check-imports: ${result.violations.length} import(s) not allowed (${summary}).`);
    return 1;
  }
  console.log(`check-imports: ok: ${summary}.`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
