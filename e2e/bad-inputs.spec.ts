// The bad-input corpus: what a hostile (or unlucky) user pastes. One file per case in
// e2e/fixtures/bad-inputs/, indexed by cases.json with the text the page must show:
//   error        a message next to the paste box; the previous good view stays (stale, unchanged)
//   line-errors  JSONL with broken lines: each is listed next to the paste box, the good lines are the view
//   note         accepted, and the format note says what was done to the text
//   sample-note  accepted, and the sample's notes say what is odd about it
// In every case the pasted text stays in the box as pasted: nothing the user wrote is lost.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { chips, openFresh, paste, pasteText, SIMPLE, warmUp, type Chip } from './helpers';

interface Case {
  file: string;
  kind: 'error' | 'line-errors' | 'note' | 'sample-note';
  expect: string;
}

const DIR = resolve(import.meta.dirname, 'fixtures/bad-inputs');
const CASES = JSON.parse(readFileSync(resolve(DIR, 'cases.json'), 'utf8')) as Case[];

let page: Page;
let good: Chip[];

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
  page = await browser.newPage();
  await openFresh(page);
  await paste(page, SIMPLE);
  good = await chips(page);
  expect(good.length).toBeGreaterThan(20);
});

test.afterAll(async () => {
  await page.close();
});

test('the corpus holds at least 20 cases, each with its file', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(20);
  for (const c of CASES) expect(readFileSync(resolve(DIR, c.file), 'utf8').length, c.file).toBeGreaterThanOrEqual(0);
});

for (const c of CASES) {
  test(`bad input ${c.file} (${c.kind}): ${c.expect}`, async () => {
    const text = readFileSync(resolve(DIR, c.file), 'utf8');
    await paste(page, SIMPLE);
    await expect(page.getByTestId('input-error')).toHaveCount(0);
    expect(await chips(page)).toEqual(good);

    await paste(page, text);
    expect(await pasteText(page)).toBe(text);
    const err = page.getByTestId('input-error');
    if (c.kind === 'error') {
      await expect(err).toBeVisible();
      await expect(err).toContainText(c.expect);
      // A proper message, not a crash report from deep inside the code.
      await expect(err).not.toContainText(/Cannot read properties|Maximum call stack|undefined|\[object/);
      await expect(page.getByTestId('stale-badge')).toBeVisible();
      expect(await chips(page)).toEqual(good);
    } else {
      await expect(err).toHaveCount(0);
      await expect(page.getByTestId('stale-badge')).toHaveCount(0);
      expect((await chips(page)).length).toBeGreaterThan(0);
      if (c.kind === 'line-errors') await expect(page.getByTestId('line-errors')).toContainText(c.expect);
      if (c.kind === 'note') await expect(page.getByTestId('format')).toContainText(c.expect);
      if (c.kind === 'sample-note') await expect(page.getByTestId('sample-notes')).toContainText(c.expect);
    }
  });
}

test('JSONL: every broken line is listed with line, column and reason; the good lines stay usable', async () => {
  const ok = (k: number) => JSON.stringify({ messages: [{ role: 'user', content: `Question ${k}` }, { role: 'assistant', content: `Answer ${k}` }] });
  const lines = [ok(1), '{"messages": [', ok(3), '', '{"messages": [{"role": "wizard", "content": "x"}]}', ok(6), '[1, 2]'];
  await paste(page, lines.join('\n'));
  await expect(page.getByTestId('input-error')).toHaveCount(0);
  const list = page.getByTestId('line-errors');
  await expect(list).toContainText('3 of 6 lines');
  const items = list.getByRole('listitem');
  await expect(items).toHaveCount(3);
  await expect(items.nth(0)).toContainText(/^Line 2, column 15: /);
  await expect(items.nth(1)).toContainText(/^Line 5: Message 0 has unknown role "wizard".*column \d+/);
  await expect(items.nth(2)).toContainText(/^Line 7: Message 0 is a number/);
  await expect(page.getByTestId('sample-position')).toHaveText('sample 1 of 3 · line 1');
  await page.getByRole('button', { name: 'Next sample' }).click();
  await expect(page.getByTestId('sample-position')).toHaveText('sample 2 of 3 · line 3');
  await expect.poll(async () => (await chips(page)).map((t) => t.text).join('')).toContain('Answer␣3');

  // 45 broken lines: the first 20 are listed and the rest counted.
  const many = [ok(1), ...Array.from({ length: 45 }, () => '{')];
  await paste(page, many.join('\n'));
  await expect(page.getByTestId('line-errors').getByRole('listitem')).toHaveCount(20);
  await expect(page.getByTestId('line-errors')).toContainText('and 25 more broken lines');
});
