// Dataset preflight as a user meets it: paste a JSONL with known problems and read the totals,
// click a finding to open its sample, check a dropped file (its sample opens in the paste box, with
// Undo), cancel a long run, download the exports and parse them.
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { parse as parseYaml } from 'yaml';
import { expectPasteText, idle, longestTask, openFresh, paste, pasteText, watchLongTasks, warmUp } from './helpers';

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

const line = (...m: { role: string; content: string }[]) => JSON.stringify(m);
const LONG = 'word '.repeat(400);
/** Line 1 fine; 2 no assistant turn; 3 broken JSON; 4 an answer past the embedded model's 256 positions; 5 "<|im_end|>" typed by the user; 6 fine. */
const DATASET = [
  line({ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }),
  line({ role: 'user', content: 'Anyone there?' }),
  '{"messages": [{"role": "user", "content": "broken"',
  line({ role: 'user', content: 'Write a lot.' }, { role: 'assistant', content: LONG }),
  line({ role: 'user', content: 'What does <|im_end|> do?' }, { role: 'assistant', content: 'It ends a turn.' }),
  line({ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'Blue.' }),
].join('\n');

async function runIt(page: Page): Promise<void> {
  await page.getByTestId('preflight-run').click();
  await expect(page.getByTestId('preflight')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
}

const finding = (page: Page, id: string) => page.getByTestId('preflight-findings').locator(`li[data-finding="${id}"]`);

test('a JSONL with known problems: totals, findings by line, broken lines, a finding opens its sample', async ({ page }) => {
  await openFresh(page);
  await paste(page, DATASET);
  await runIt(page);
  await expect(page.getByTestId('preflight-samples')).toHaveText('5');
  await expect(page.getByTestId('preflight-broken')).toContainText('line 3');
  await expect(finding(page, 'nothing-to-train')).toContainText('1 sample');
  await expect(finding(page, 'response-truncated')).toContainText('1 sample');
  await expect(finding(page, 'typed-special-tokens')).toContainText('1 sample');
  await expect(finding(page, 'nothing-to-train').getByRole('button', { name: /Open line 2/ })).toBeVisible();
  await expect(finding(page, 'response-truncated').getByRole('button', { name: /Open line 4/ })).toBeVisible();
  // Nothing to train is fatal by default: marked, and counted.
  await expect(page.getByTestId('preflight-fatal')).toHaveText('1 samples');

  // The table: every sample by its line, sortable, filterable by finding.
  await expect(page.getByTestId('preflight-row')).toHaveCount(5);
  await page.getByTestId('preflight-sort-tokens').click();
  await expect(page.getByTestId('preflight-row').first()).toHaveAttribute('data-line', '4');
  await page.getByTestId('preflight-finding-typed-special-tokens').click();
  await expect(page.getByTestId('preflight-row')).toHaveCount(1);
  await expect(page.getByTestId('preflight-row')).toHaveAttribute('data-line', '5');

  // A finding's link opens its sample in the token view.
  await finding(page, 'response-truncated').getByRole('button', { name: /Open line 4/ }).click();
  await idle(page);
  await expect(page.getByTestId('cut-marker')).toBeVisible();
  await finding(page, 'nothing-to-train').getByRole('button', { name: /Open line 2/ }).click();
  await idle(page);
  await expect(page.getByTestId('count-trained')).toHaveText('0');
});

test('a dropped file: its sample opens in the paste box with Undo; a long run can be cancelled and nothing is lost', async ({ page }) => {
  await openFresh(page);
  await paste(page, DATASET);
  const before = await pasteText(page);
  const many = Array.from({ length: 3000 }, (_, i) => line({ role: 'user', content: `Question ${i}?` }, { role: 'assistant', content: `Answer ${i}.` })).join('\n');
  await page.getByTestId('preflight-file').setInputFiles({ name: 'many.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(many) });
  await expect(page.getByTestId('preflight')).toContainText('many.jsonl');

  // Cancel while it runs: the progress bar moves, Cancel stops it, the paste box is untouched.
  await watchLongTasks(page);
  await page.getByTestId('preflight-run').click();
  await expect(page.getByTestId('preflight-progress')).toBeVisible();
  await expect.poll(async () => Number(await page.getByTestId('preflight-progress').getAttribute('value')), { timeout: 60_000 }).toBeGreaterThan(0);
  await page.getByTestId('preflight-cancel').click();
  await expect(page.getByTestId('preflight')).toHaveAttribute('data-status', 'cancelled');
  expect(await pasteText(page)).toBe(before);
  expect(await longestTask(page)).toBeLessThan(100);

  // Run it through; open line 2000 of the file: the paste box holds that line, and Undo brings back the paste.
  await runIt(page);
  await expect(page.getByTestId('preflight-samples')).toHaveText('3,000');
  await page.getByTestId('preflight-sort-line').click(); // descending: line 3000 first
  await page.getByTestId('preflight-row').first().getByRole('button').click();
  await expectPasteText(page, line({ role: 'user', content: 'Question 2999?' }, { role: 'assistant', content: 'Answer 2999.' }));
  await idle(page);
  await page.getByTestId('preflight-undo-open').click();
  await expectPasteText(page, before);
});

test('exports: the pre-tokenized JSONL carries the labels the lab shows; the tool configs parse', async ({ page }, testInfo) => {
  await openFresh(page);
  await paste(page, DATASET);
  await runIt(page);
  await page.getByTestId('preflight-export').locator('summary').click();

  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('preflight-export-pretokenized').click()]);
  expect(dl.suggestedFilename()).toBe('pretokenized.jsonl');
  const path = testInfo.outputPath('pretokenized.jsonl');
  await dl.saveAs(path);
  const rows = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { input_ids: number[]; labels: number[]; attention_mask: number[] });
  expect(rows).toHaveLength(5);
  for (const r of rows) {
    expect(r.labels).toHaveLength(r.input_ids.length);
    expect(r.attention_mask.every((m) => m === 1)).toBe(true);
    r.labels.forEach((l, i) => expect(l === -100 || l === r.input_ids[i]).toBe(true));
    expect(r.input_ids.length).toBeLessThanOrEqual(256);
  }
  // Line 1 in the token view: its labels are the exported first row's.
  await page.getByTestId('preflight-row').first().getByRole('button').click();
  await idle(page);
  const shown = await page.locator('[data-testid=token-list] .tok').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.label)));
  expect(shown).toEqual(rows[0].labels);

  const files: Record<string, string> = {};
  for (const tool of ['axolotl', 'trl', 'llamafactory', 'torchtune']) {
    const before = files;
    const downloads: Promise<void>[] = [];
    const onDownload = (d: import('@playwright/test').Download) => {
      downloads.push(d.path().then((p) => void (before[`${tool}/${d.suggestedFilename()}`] = readFileSync(p!, 'utf8'))));
    };
    page.on('download', onDownload);
    await page.getByTestId(`preflight-export-${tool}`).click();
    await expect(page.getByTestId(`preflight-export-${tool}`)).toBeEnabled();
    await expect.poll(() => downloads.length, { timeout: 10_000 }).toBeGreaterThan(1);
    await page.waitForTimeout(1500);
    page.off('download', onDownload);
    await Promise.all(downloads);
  }
  const axolotl = parseYaml(files['axolotl/axolotl.yaml']) as { datasets: { type: string }[]; sequence_len: number };
  expect(axolotl.datasets[0].type).toBe('chat_template');
  expect(axolotl.sequence_len).toBe(256);
  const trl = parseYaml(files['trl/sft_config.yaml']) as Record<string, unknown>;
  expect(trl.assistant_only_loss).toBe(true);
  expect(JSON.parse(files['llamafactory/dataset_info.json'])).toBeTruthy();
  expect(parseYaml(files['torchtune/torchtune_dataset.yaml'])).toBeTruthy();
  // Each tool's dataset file is there too, one sample per usable line.
  expect(files['axolotl/train.jsonl']?.trim().split('\n')).toHaveLength(5);
});
