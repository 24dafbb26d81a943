// Every message code the source uses exists in the catalog, with the placeholders it is given:
// a literal first argument of msg() (or a template literal's fixed head: its namespace must exist),
// read with the TypeScript parser from src/**/*.ts(x) (tests aside). The catalogs' completeness
// in both languages is checked with the UI's namespaces (src/ui/i18n/i18n.test.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import en from './locales/en/messages.json';
import { CodedError, messageOfError, msg, textOf, uncoded } from './message';

const SRC = resolve(import.meta.dirname, '..');
type Tree = { [k: string]: string | Tree };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(p) && !/\.test\.tsx?$/.test(p) && !p.endsWith('.d.ts') ? [p] : [];
  });
}

const PLURAL = /_(one|other)$/;
/** code → the English forms (a plural code has two). */
const codes = new Map<string, string[]>();
const prefixes = new Set<string>();
(function walk(tree: Tree, prefix: string) {
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') {
      const code = key.replace(PLURAL, '');
      codes.set(code, [...(codes.get(code) ?? []), v]);
    } else {
      prefixes.add(`${key}.`);
      walk(v, key);
    }
  }
})(en as Tree, '');
const placeholders = (s: string) => [...s.matchAll(/\{\{\s*(\w+)[^}]*\}\}/g)].map((m) => m[1]);

describe('message codes', () => {
  const uses: { where: string; code: string; params: string[] | null; template: boolean }[] = [];
  for (const path of sourceFiles(SRC)) {
    const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true, path.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
    const visit = (n: ts.Node) => {
      if (ts.isCallExpression(n) && n.expression.getText() === 'msg' && n.arguments[0]) {
        const a = n.arguments[0];
        const where = `${relative(SRC, path)}:${source.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
        const p = n.arguments[1];
        // The names given, when the params are a plain object literal (a spread: unknown, not checked).
        const params =
          p && ts.isObjectLiteralExpression(p) && p.properties.every((q) => ts.isPropertyAssignment(q) || ts.isShorthandPropertyAssignment(q))
            ? p.properties.map((q) => q.name!.getText())
            : p
              ? null
              : [];
        if (ts.isStringLiteralLike(a)) uses.push({ where, code: a.text, params, template: false });
        else if (ts.isTemplateExpression(a)) uses.push({ where, code: a.head.text, params: null, template: true });
      }
      ts.forEachChild(n, visit);
    };
    visit(source);
  }

  it('finds the uses', () => {
    expect(uses.length).toBeGreaterThan(250);
  });

  it('uses only codes that are in the catalog', () => {
    const missing = uses.filter((u) => (u.template ? ![...prefixes].some((p) => p.startsWith(u.code) || u.code.startsWith(p)) : !codes.has(u.code)));
    expect(missing.map((u) => `${u.where}: ${u.code}`)).toEqual([]);
  });

  it('gives every placeholder its code names', () => {
    const bad: string[] = [];
    for (const u of uses) {
      if (u.template || u.params === null || !codes.has(u.code)) continue;
      const given = new Set(u.params);
      for (const form of codes.get(u.code)!) for (const p of placeholders(form)) if (!given.has(p)) bad.push(`${u.where}: ${u.code} needs {{${p}}}`);
    }
    expect(bad).toEqual([]);
  });
});

describe('rendering', () => {
  it('renders every code in both languages with no placeholder left over', () => {
    for (const [code, forms] of codes) {
      // Every placeholder of the English forms, given a value; count as 1 and as 2 for the plural forms.
      const names = new Set(forms.flatMap(placeholders));
      for (const count of [1, 2]) {
        const params = Object.fromEntries([...names].map((n) => [n, n === 'count' ? count : `<${n}>`]));
        for (const lng of ['en', 'zh'] as const) {
          const text = textOf(msg(code, params), lng);
          expect(text, `${lng} ${code}`).not.toMatch(/\{\{\s*\w+[^}]*\}\}/);
          expect(text, `${lng} ${code}`).not.toBe(code);
        }
      }
    }
  });

  it('renders nested messages and plurals in both languages', () => {
    const m = msg('parse.sampleLine', { line: 3, detail: msg('parse.noMessages') });
    expect(textOf(m)).toBe('Line 3: The conversation has no messages. Add at least one message.');
    expect(textOf(m, 'zh')).toBe('第 3 行：对话中没有消息。请至少添加一条消息。');
  });

  it('keeps an uncoded error English, framed in Chinese', () => {
    const m = messageOfError(new Error('shape mismatch'));
    expect(m).toEqual(uncoded('shape mismatch'));
    expect(textOf(m)).toBe('shape mismatch');
    expect(textOf(m, 'zh')).toContain('shape mismatch');
  });

  it('gives a CodedError its English text and its Message', () => {
    const e = new CodedError(msg('parse.noMessages'));
    expect(e.message).toBe('The conversation has no messages. Add at least one message.');
    expect(messageOfError(e)).toEqual(msg('parse.noMessages'));
  });
});
