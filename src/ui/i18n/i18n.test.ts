// The two languages stay complete: (a) every namespace has the same keys in en and zh (an English
// key_one/key_other pair ↔ a Chinese key_other or key: Chinese has no plural), no empty string, and
// the same {{placeholders}} and <tags>; (b) no user-visible literal in src/ui/**/*.tsx escapes t():
// JSX text, string literals shown as JSX children, and aria-label/title/placeholder/alt values with
// letters (A-Za-z or CJK), read with the TypeScript parser; (c) every literal key given to t() or
// <Trans i18nKey> exists in the English resources.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const UI = resolve(import.meta.dirname, '..');
const LOCALES = resolve(import.meta.dirname, 'locales');
/** The `messages` namespace: what the layers below the UI say (src/spec/message.ts), shown by the UI. */
const SPEC_LOCALES = resolve(import.meta.dirname, '../../spec/locales');

type Tree = { [k: string]: string | Tree };
const load = (lang: string): Record<string, Tree> =>
  Object.fromEntries(
    [LOCALES, SPEC_LOCALES].flatMap((dir) =>
      readdirSync(join(dir, lang))
        .filter((f) => f.endsWith('.json'))
        .map((f) => [f.slice(0, -'.json'.length), JSON.parse(readFileSync(join(dir, lang, f), 'utf8')) as Tree]),
    ),
  );
const EN = load('en');
const ZH = load('zh');

/** path → string, nested keys joined with '.'. */
function flatten(tree: Tree, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else flatten(v, key, out);
  }
  return out;
}

const PLURAL = /_(zero|one|two|few|many|other)$/;
/** The key without its plural suffix: what a language without plurals (zh) has once. */
const base = (key: string) => key.replace(PLURAL, '');
const placeholders = (s: string) => [...s.matchAll(/\{\{\s*([\w.]+)[^}]*\}\}/g)].map((m) => m[1]).sort();
const tags = (s: string) => [...s.matchAll(/<\/?([\w]+)\s*\/?>/g)].map((m) => m[0].replace(/\s+/g, '')).sort();

describe('locales', () => {
  it('en and zh have the same namespaces', () => {
    expect(Object.keys(ZH).sort()).toEqual(Object.keys(EN).sort());
  });

  describe.each(Object.keys(EN))('namespace %s', (ns) => {
    const en = flatten(EN[ns]);
    const zh = flatten(ZH[ns] ?? {});
    const enBases = new Set([...en.keys()].map(base));
    const zhBases = new Set([...zh.keys()].map(base));

    it('has every key in both languages (plural forms counted once)', () => {
      expect([...enBases].filter((k) => !zhBases.has(k)), 'missing in zh').toEqual([]);
      expect([...zhBases].filter((k) => !enBases.has(k)), 'missing in en').toEqual([]);
      // English plurals come as a pair; a Chinese plural key is key_other (or the plain key).
      for (const k of en.keys()) if (k.endsWith('_one')) expect(en.has(`${base(k)}_other`), `${k} without _other`).toBe(true);
      for (const k of zh.keys()) if (PLURAL.test(k)) expect(k.endsWith('_other'), `zh ${k}: Chinese needs only _other`).toBe(true);
    });

    it('has no empty string', () => {
      for (const [k, v] of [...en, ...zh]) expect(v.trim(), k).not.toBe('');
    });

    it('has the same placeholders and tags in both languages', () => {
      for (const [k, v] of zh) {
        const b = base(k);
        // Every English form of the key: a placeholder of any of them is fine in Chinese (e.g. {{count}}).
        const forms = [...en].filter(([ek]) => base(ek) === b).map(([, ev]) => ev);
        const enPlaceholders = new Set(forms.flatMap(placeholders));
        for (const p of placeholders(v)) expect(enPlaceholders.has(p), `zh ${k}: {{${p}}} not in en`).toBe(true);
        const other = en.get(`${b}_other`) ?? en.get(b) ?? forms[0];
        expect(placeholders(v).filter((p) => p !== 'count'), `zh ${k} placeholders`).toEqual(placeholders(other).filter((p) => p !== 'count'));
        expect(tags(v), `zh ${k} tags`).toEqual(tags(other));
      }
    });
  });
});

// ---- the static scan of the components ----

function tsxFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return tsxFiles(p);
    return p.endsWith('.tsx') ? [p] : [];
  });
}
const FILES = tsxFiles(UI).map((p) => ({ path: relative(UI, p), source: ts.createSourceFile(p, readFileSync(p, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX) }));

const HAS_WORDS = /[A-Za-z\u3400-\u9fff]/;
/**
 * Literals that are the same in every language: code and token text, option keys, names of
 * frameworks, formats and files, units and symbols. Each entry is the whole (trimmed) literal.
 */
const ALLOWED = new Set<string>([
  '<|im_end|>', // a special token as typed, in the split_special_tokens hint
  '[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]', // the paste box's placeholder: a chat in JSON
  'id', // the legend's sample chip: a token id
  'CSV', // export buttons: file formats
  'PNG',
  'β1', // AdamW's betas, named as in the paper
  'β2',
  'English', // the language switch names each language in itself
  '‖∂L/∂logits‖',
  '‖∂L/∂embedding‖',
  'ms',
]);
/** Code identifiers shown as such (an option name like `(split_special_tokens)`): snake_case, maybe in parentheses. */
const CODE_NAME = /^\(?[a-z0-9]+(?:_[a-z0-9]+)+\)?$/;
const VISIBLE_ATTRIBUTES = new Set(['aria-label', 'title', 'placeholder', 'alt']);
const T_CALLEES = new Set(['t', 'tr', 'i18n.t', 'i18next.t']);

const calleeName = (c: ts.CallExpression) => c.expression.getText();
const isComparison = (n: ts.Node) =>
  ts.isBinaryExpression(n) &&
  [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken].includes(n.operatorToken.kind);

/** String pieces of an expression shown to the user: literals and template text, outside t() and comparisons. */
function shownStrings(e: ts.Node, out: { text: string; node: ts.Node }[] = []): { text: string; node: ts.Node }[] {
  if (ts.isCallExpression(e)) {
    // t('…'): translated. Any other call computes its own value (JSON.stringify, join…): scan only the object.
    if (T_CALLEES.has(calleeName(e))) return out;
    if (ts.isPropertyAccessExpression(e.expression)) shownStrings(e.expression.expression, out);
    return out;
  }
  // Comparisons, and array or object literals (tables of keys and settings), are not shown as such.
  if (isComparison(e) || ts.isArrayLiteralExpression(e) || ts.isObjectLiteralExpression(e)) return out;
  if (ts.isElementAccessExpression(e)) return shownStrings(e.expression, out);
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) out.push({ text: e.text, node: e });
  else if (ts.isTemplateExpression(e)) {
    out.push({ text: e.head.text, node: e.head });
    for (const s of e.templateSpans) {
      shownStrings(s.expression, out);
      out.push({ text: s.literal.text, node: s.literal });
    }
  } else if (ts.isJsxElement(e) || ts.isJsxSelfClosingElement(e) || ts.isJsxFragment(e)) return out; // scanned on its own
  else ts.forEachChild(e, (c) => void shownStrings(c, out));
  return out;
}

interface Finding {
  file: string;
  line: number;
  text: string;
}

function untranslated(file: { path: string; source: ts.SourceFile }): Finding[] {
  const found: Finding[] = [];
  const report = (node: ts.Node, text: string) => {
    const s = text.replace(/\s+/g, ' ').trim();
    if (!HAS_WORDS.test(s) || ALLOWED.has(s) || CODE_NAME.test(s)) return;
    found.push({ file: file.path, line: file.source.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: s });
  };
  const visit = (n: ts.Node) => {
    if (ts.isJsxText(n)) report(n, n.text);
    else if (ts.isJsxExpression(n) && n.expression && (ts.isJsxElement(n.parent) || ts.isJsxFragment(n.parent))) {
      for (const s of shownStrings(n.expression)) report(s.node, s.text);
    } else if (ts.isJsxAttribute(n) && VISIBLE_ATTRIBUTES.has(n.name.getText()) && n.initializer) {
      const init = n.initializer;
      if (ts.isStringLiteral(init)) report(init, init.text);
      else if (ts.isJsxExpression(init) && init.expression) for (const s of shownStrings(init.expression)) report(s.node, s.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(file.source);
  return found;
}

/** The name a t() call is made through ('t', 'tr'…), or 't' for <Trans i18nKey> (given t={t}). */
function calleeOf(node: ts.Node): string {
  return ts.isCallExpression(node) ? calleeName(node) : 't';
}

/**
 * The namespace of `name` where `node` sits: the nearest enclosing function that declares it with
 * `const { t } = useTranslation('ns')` (or `{ t: name }`) among its own statements.
 */
function scopeNs(node: ts.Node, name: string): string | undefined {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    if (!(ts.isFunctionLike(n) && 'body' in n && n.body && ts.isBlock(n.body))) continue;
    for (const st of n.body.statements) {
      if (!ts.isVariableStatement(st)) continue;
      for (const d of st.declarationList.declarations) {
        const init = d.initializer;
        if (!init || !ts.isCallExpression(init) || init.expression.getText() !== 'useTranslation' || !ts.isObjectBindingPattern(d.name)) continue;
        const binds = d.name.elements.some((e) => e.name.getText() === name && (e.propertyName?.getText() ?? e.name.getText()) === 't');
        const arg = init.arguments[0];
        if (binds) return arg && ts.isStringLiteralLike(arg) ? arg.text : arg && ts.isArrayLiteralExpression(arg) && arg.elements[0] && ts.isStringLiteralLike(arg.elements[0]) ? arg.elements[0].text : 'common';
      }
    }
  }
  return undefined;
}

describe('components', () => {
  it('show no user-visible literal outside t() / <Trans>', () => {
    const found = FILES.flatMap(untranslated).map((f) => `${f.file}:${f.line}: ${JSON.stringify(f.text)}`);
    expect(found).toEqual([]);
  });

  it('use only keys that exist in the English resources', () => {
    const missing: string[] = [];
    const en = Object.fromEntries(Object.entries(EN).map(([ns, tree]) => [ns, new Set([...flatten(tree).keys()].flatMap((k) => [k, base(k)]))]));
    let checked = 0;
    for (const { path, source } of FILES) {
      // A file's default namespace: its first useTranslation('ns') (or ['ns', …]); else 'common'.
      const m = /useTranslation\(\s*(?:\[\s*)?'([\w-]+)'/.exec(source.text);
      const defaultNs = m ? m[1] : 'common';
      const check = (node: ts.Node, raw: string, ns = scopeNs(node, calleeOf(node)) ?? defaultNs) => {
        const [k, explicitNs] = raw.includes(':') ? [raw.slice(raw.indexOf(':') + 1), raw.slice(0, raw.indexOf(':'))] : [raw, ns];
        checked++;
        if (!en[explicitNs]?.has(k)) missing.push(`${path}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${explicitNs}:${k}`);
      };
      const visit = (n: ts.Node) => {
        if (ts.isCallExpression(n) && T_CALLEES.has(calleeName(n)) && n.arguments[0] && ts.isStringLiteralLike(n.arguments[0])) {
          const opts = n.arguments[1];
          let ns: string | undefined;
          if (opts && ts.isObjectLiteralExpression(opts)) {
            for (const p of opts.properties) if (ts.isPropertyAssignment(p) && p.name.getText() === 'ns' && ts.isStringLiteralLike(p.initializer)) ns = p.initializer.text;
          }
          check(n, n.arguments[0].text, ns);
        }
        if (ts.isJsxAttribute(n) && n.name.getText() === 'i18nKey' && n.initializer && ts.isStringLiteral(n.initializer)) check(n, n.initializer.text);
        ts.forEachChild(n, visit);
      };
      visit(source);
    }
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });
});
