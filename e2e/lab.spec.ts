// The masking lab as a user meets it: pick frameworks, read their rows side by side with the
// differences highlighted, hover a token for the reason behind each label, give a marker that is
// not there, and train two strategies against each other (two curves, two stop meters).
import { expect, test, type Page } from '@playwright/test';
import { chat, idle, longestTask, openFresh, paste, savedSettings, watchLongTasks, warmUp } from './helpers';

const MICRO = '/?model=/e2e/fixtures/micro-model/';

/** Two assistant turns and a system prompt: the "last turn only" rules and per-turn end tokens differ. */
const TWO_TURNS = chat(
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: 'Four.' },
  { role: 'user', content: 'And 3+3?' },
  { role: 'assistant', content: 'Six.' },
);

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

const lab = (page: Page) => page.getByTestId('masking-lab');

async function labReady(page: Page, rows: number): Promise<void> {
  await idle(page);
  await expect(page.getByTestId('lab-rows').locator('> li')).toHaveCount(rows);
  await expect(lab(page)).toHaveAttribute('data-busy', 'false');
  await expect(page.getByTestId('lab-grid')).toHaveAttribute('data-drawn', 'all');
  await expect(page.getByTestId('lab-grid')).toHaveAttribute('data-stale', 'false');
}

/** Per row: how many cells are highlighted as differing from row 1. */
async function differingCells(page: Page, rows: number): Promise<number[]> {
  return page.getByTestId('lab-grid').evaluate((g, R) => {
    const out = new Array<number>(R).fill(0);
    for (const el of g.querySelectorAll<HTMLElement>('.lab-cell.differs')) out[Number(el.dataset.row)]++;
    // A token one row lacks counts as masked there: a trained base token with a missing cell differs too.
    for (const col of g.querySelectorAll<HTMLElement>('.lab-col')) {
      const base = col.querySelector<HTMLElement>('[data-row="0"]');
      if (!base || base.dataset.missing) continue;
      for (const c of col.querySelectorAll<HTMLElement>('.lab-cell.missing')) if (base.dataset.label !== '-100') out[Number(c.dataset.row)]++;
    }
    return out;
  }, rows);
}

test('three strategies side by side: each row keeps its ids, differences are highlighted and counted, every label has its reason', async ({ page }) => {
  await openFresh(page);
  await paste(page, TWO_TURNS);
  await labReady(page, 1);
  await watchLongTasks(page);
  await page.getByTestId('lab-pick-unsloth-responses-only').check();
  await page.getByTestId('lab-pick-axolotl-chat-template').check();
  await labReady(page, 3);
  expect(await longestTask(page)).toBeLessThan(100);

  const rows = page.getByTestId('lab-rows').locator('> li');
  await expect(rows.nth(0)).toHaveAttribute('data-strategy', 'template-spans');
  await expect(rows.nth(1)).toHaveAttribute('data-strategy', 'unsloth-responses-only');
  await expect(rows.nth(2)).toHaveAttribute('data-strategy', 'axolotl-chat-template');

  // Every cell of a row carries its token id, label, role, strategy and reason; labels are the id or -100.
  const cells = await page.getByTestId('lab-grid').locator('.lab-cell:not(.missing)').evaluateAll((els) =>
    els.map((e) => ({ ...(e as HTMLElement).dataset })),
  );
  expect(cells.length).toBeGreaterThan(40 * 3);
  for (const c of cells) {
    expect(['template-spans', 'unsloth-responses-only', 'axolotl-chat-template']).toContain(c.strategy);
    expect(c.label === '-100' || c.label === c.tokenId).toBe(true);
    expect(c.reason?.length).toBeGreaterThan(3);
    expect(c.role?.length).toBeGreaterThan(3);
  }

  // axolotl looks for the tokenizer's eos (<|endoftext|>) after each turn, which ChatML never writes:
  // it trains no <|im_end|>, so it differs from row 1 exactly at the two end-of-turn tokens.
  const eot = page.locator('.lab-col').filter({ hasText: '<|im_end|>' }).locator('[data-strategy="axolotl-chat-template"].differs');
  await expect(eot).toHaveCount(2);
  // unsloth trains from after "<|im_start|>assistant\n" to the next "<|im_start|>user\n": the
  // newline after <|im_end|> too, which row 1 masks as markup.
  const counted = await differingCells(page, 3);
  expect(counted[1]).toBeGreaterThan(0);
  await expect(page.getByTestId('lab-disagree-1')).toHaveText(String(counted[1]));
  await expect(page.getByTestId('lab-disagree-2')).toHaveText(String(counted[2]));
  expect(counted[2]).toBe(2);

  // Hover the first turn's <|im_end|>: one reason per strategy, the rule in words.
  await page.locator('.lab-col').filter({ hasText: '<|im_end|>' }).filter({ has: page.locator('.differs') }).first().hover();
  const reasons = page.getByTestId('lab-reasons');
  await expect(reasons.locator('li')).toHaveCount(3);
  await expect(reasons.locator('li[data-row="0"]')).toContainText('end-of-turn → trained');
  await expect(reasons.locator('li[data-row="2"]')).toContainText('masked');
  // Keyboard: the grid is one Tab stop; arrows move along the tokens and the reasons follow.
  await page.locator('.lab-col[tabindex="0"]').focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('.lab-col:focus')).toHaveAttribute('data-col', '1');
  await expect(reasons).toContainText('Token');

  // Differences only: just the differing tokens (and a little context).
  const all = await page.locator('.lab-col').count();
  await page.getByTestId('lab-diff-only').check();
  await expect.poll(() => page.locator('.lab-col').count()).toBeLessThan(all);
  expect(await page.locator('.lab-col.differs').count()).toBeGreaterThan(0);

  // Remove a row and undo it.
  await rows.nth(1).getByRole('button', { name: /Remove row 2/ }).click();
  await labReady(page, 2);
  await page.getByTestId('lab-undo-remove').click();
  await labReady(page, 3);
  await expect(rows.nth(1)).toHaveAttribute('data-strategy', 'unsloth-responses-only');

  // The picks survive a reload (once written: the write waits for a pause).
  await expect.poll(async () => ((await savedSettings(page))?.lab as { choices: unknown[] } | undefined)?.choices.length).toBe(3);
  await page.reload();
  await labReady(page, 3);
});

test('a marker that is not there, an empty marker, and a chat with no assistant turn: each row says what its framework does', async ({ page }) => {
  await openFresh(page);
  await paste(page, TWO_TURNS);
  await page.getByTestId('lab-pick-trl-completion-collator').check();
  await labReady(page, 2);
  const row = page.getByTestId('lab-row-1');
  const field = row.locator('[data-option="response_template"] input');
  await field.fill('### Assistant:');
  await expect(row.getByTestId('lab-row-error-1')).toHaveCount(0);
  await expect(row.getByTestId('lab-trained-1')).toHaveText('0');
  await expect(row.getByTestId('lab-notes-1')).toContainText('Could not find response key');
  await field.fill('');
  await expect(row.getByTestId('lab-option-error-response_template')).toContainText(/empty/i);
  // What was typed elsewhere is still there; fixing the field brings the row back.
  await field.fill('<|im_start|>assistant\\n');
  await expect(row.getByTestId('lab-option-error-response_template')).toHaveCount(0);
  await expect.poll(async () => Number(await row.getByTestId('lab-trained-1').textContent())).toBeGreaterThan(0);

  // No assistant turn: each strategy's own outcome, and never a NaN.
  await paste(page, chat({ role: 'user', content: 'Hello?' }));
  await page.getByTestId('lab-pick-axolotl-chat-template').check();
  await labReady(page, 3);
  await expect(page.getByTestId('lab-trained-0')).toHaveText('0');
  await expect(page.getByTestId('lab-trained-2')).toHaveText('0');
  await expect(page.getByTestId('lab-notes-2')).toContainText(/not trainable/i);
  // (A note may explain that PyTorch's mean over no token is NaN; no count or label is one.)
  for (const r of [0, 1, 2]) await expect(page.getByTestId(`lab-row-counts-${r}`)).not.toContainText('NaN');
  expect(await page.locator('.lab-cell[data-label="NaN"]').count()).toBe(0);
});

test('train two strategies against each other: two curves, two stop meters', async ({ page }) => {
  await openFresh(page, MICRO);
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await paste(page, TWO_TURNS);
  await page.getByTestId('lab-pick-axolotl-chat-template').check();
  await labReady(page, 2);
  const trainedIn = async (r: number) => Number(await page.getByTestId(`lab-trained-${r}`).textContent());
  const spans = await trainedIn(0);
  const axolotl = await trainedIn(1);
  expect(spans - axolotl).toBe(2);
  await page.getByTestId('lab-row-0').getByTestId('lab-train-as').selectOption({ index: 1 });
  await page.getByTestId('lab-row-1').getByTestId('lab-train-as').selectOption({ index: 2 });
  // Row 1 is the settings panel's policy: run A takes that policy (response-only), not a strategy.
  await expect(page.getByTestId('run-0-strategy')).toHaveCount(0);
  await expect(page.getByTestId('run-0-response-only')).toBeChecked();
  await expect(page.getByTestId('run-1-strategy')).toHaveAttribute('data-strategy', 'axolotl-chat-template');

  const steps = page.getByTestId('opt-steps');
  await steps.fill('4');
  await steps.press('Enter');
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
  for (const r of [0, 1]) {
    await expect(page.getByTestId(`run-row-${r}`)).toHaveAttribute('data-step', '4');
    expect(Number.isFinite(Number(await page.getByTestId(`run-row-${r}`).getAttribute('data-objective')))).toBe(true);
  }
  // Position 0 is never a target; the rest of each run's labels train, four steps of one sample.
  const trained = async (r: number) => Number(await page.getByTestId(`run-row-${r}`).getAttribute('data-trained'));
  expect(await trained(0)).toBe(4 * spans);
  expect(await trained(1)).toBe(4 * axolotl);
  // The stop meter: step 0 and every step of a 4-step training, two turns, for both runs.
  await expect(page.getByTestId('stop-meter')).toHaveAttribute('data-points', '10');
  await expect(page.getByTestId('stop-meter')).not.toContainText('NaN');
});

/** labReady without Playwright's expect: a failed expect poll computes an aria snapshot in the
 *  page, a long task of its own that would be counted as the page's. */
async function labReadyQuietly(page: Page, rows: number): Promise<void> {
  await page.waitForFunction((R) => {
    const lab = document.querySelector('[data-testid=masking-lab]');
    const grid = document.querySelector('[data-testid=lab-grid]');
    return document.querySelectorAll('[data-testid=lab-rows] > li').length === R && lab?.getAttribute('data-busy') === 'false' &&
      grid?.getAttribute('data-drawn') === 'all' && grid?.getAttribute('data-stale') === 'false';
  }, rows);
}

test('six rows on a 4,000-token sample: no main-thread task over 100 ms when the picker changes', async ({ page }, testInfo) => {
  await openFresh(page);
  const turns = [];
  for (let i = 0; i < 40; i++) {
    turns.push({ role: 'user' as const, content: `Question ${i}: ${'tell me about the weather in the mountains and the sea '.repeat(4)}` });
    turns.push({ role: 'assistant' as const, content: `Answer ${i}: ${'it is cold at the top and warm by the water, with wind '.repeat(4)}` });
  }
  await paste(page, chat({ role: 'system', content: 'Be helpful.' }, ...turns));
  for (const id of ['trl-completion-only', 'unsloth-responses-only', 'axolotl-chat-template', 'llamafactory']) {
    await page.getByTestId(`lab-pick-${id}`).check();
    await labReady(page, ['trl-completion-only', 'unsloth-responses-only', 'axolotl-chat-template', 'llamafactory'].indexOf(id) + 2);
  }
  const tokens = Number((await page.getByTestId('lab-row-counts-0').textContent())?.match(/^[\d,]+/)?.[0].replace(/,/g, ''));
  expect(tokens).toBeGreaterThan(4000);
  await watchLongTasks(page);
  await page.getByTestId('lab-pick-torchtune').check();
  await labReadyQuietly(page, 6);
  const adding = await longestTask(page);
  await watchLongTasks(page);
  await page.getByTestId('lab-pick-unsloth-responses-only').uncheck();
  await labReadyQuietly(page, 5);
  const removing = await longestTask(page);
  await watchLongTasks(page);
  await page.getByTestId('lab-diff-only').check();
  await labReadyQuietly(page, 5);
  const filtering = await longestTask(page);
  console.log(`lab, ${tokens} tokens: longest task adding a 6th row ${adding} ms, removing one ${removing} ms, differences only ${filtering} ms`);
  await page.getByTestId('masking-lab').screenshot({ path: testInfo.outputPath('lab-6-rows.png') });
  for (const ms of [adding, removing, filtering]) expect(ms).toBeLessThan(100);
});
