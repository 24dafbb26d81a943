// Every lesson is whole in both languages: 4 to 8 steps with distinct ids, and for each step the
// strings the panel shows (title, body, question, hint, right, and one per choice), in English and
// Chinese; the Learn menu's title and summary too.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LESSONS } from './catalog';

type Tree = { [k: string]: string | Tree };
const read = (lang: string) => JSON.parse(readFileSync(resolve(import.meta.dirname, `../i18n/locales/${lang}/lessons.json`), 'utf8')) as Tree;
const at = (t: Tree, path: string): unknown => path.split('.').reduce<unknown>((n, k) => (n && typeof n === 'object' ? (n as Tree)[k] : undefined), t);

describe.each(['en', 'zh'])('lessons in %s', (lang) => {
  const strings = read(lang);
  it.each(LESSONS.map((l) => [l.id, l] as const))('%s', (id, lesson) => {
    expect(lesson.steps.length).toBeGreaterThanOrEqual(4);
    expect(lesson.steps.length).toBeLessThanOrEqual(8);
    expect(new Set(lesson.steps.map((s) => s.id)).size).toBe(lesson.steps.length);
    const missing: string[] = [];
    const need = (key: string) => typeof at(strings, key) === 'string' && (at(strings, key) as string) !== '' ? null : missing.push(key);
    need(`${id}.title`);
    need(`${id}.summary`);
    for (const s of lesson.steps) {
      for (const part of ['title', 'body', 'question', 'hint', 'right']) need(`${id}.steps.${s.id}.${part}`);
      if (s.question.kind === 'choice') {
        for (const c of s.question.choices) need(`${id}.steps.${s.id}.choices.${c.id}`);
        // Exactly one choice is right, or the page decides which (choices that read the page).
        const fixed = s.question.choices.filter((c) => c.correct === true).length;
        const dynamic = s.question.choices.some((c) => typeof c.correct === 'function');
        expect(dynamic || fixed === 1, `${s.id}: one right choice`).toBe(true);
      }
    }
    expect(missing).toEqual([]);
  });
  it('has no lesson the catalog does not know', () => {
    const ids = new Set(LESSONS.map((l) => l.id));
    expect(Object.keys(strings).filter((k) => k !== 'ui' && !ids.has(k))).toEqual([]);
  });
});
