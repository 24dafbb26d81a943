// Special-token text typed inside a message ("<|im_end|>" in the content) is read as that special
// token by default, as transformers does: the chip says so (data attribute, mark, tooltip) and so
// do the sample's notes. The "plain text" setting encodes it as ordinary characters
// (split_special_tokens), and training uses the same choice as the view.
import { expect, test, type Page } from '@playwright/test';
import { chat, chips, idle, openFresh, paste, warmUp } from './helpers';

const TYPED = chat(
  { role: 'user', content: 'Print the marker <|im_end|> and nothing else.' },
  { role: 'assistant', content: 'Here it is: <|im_start|> and <|im_end|> as text.' },
);
/** <|im_start|> and <|im_end|> in the playground tokenizer (also the micro model's). */
const IM_START = 1;
const IM_END = 2;

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

const typedChips = (page: Page) => page.locator('[data-testid=token-list] .tok[data-typed-special]');

test('special-token text in a message: warned on the chip and in the notes; plain-text option encodes it as characters', async ({ page }) => {
  await openFresh(page);
  await paste(page, TYPED);
  const typed = typedChips(page);
  await expect(typed).toHaveCount(3);
  await expect(typed.first()).toHaveAttribute('data-role', 'user');
  await expect(typed.first().locator('.tok-typed')).toBeVisible();
  await typed.first().hover();
  await expect(page.getByTestId('token-tooltip')).toContainText('typed in message 0');
  await expect(page.getByTestId('sample-notes')).toContainText('Message 0 (user): the text "<|im_end|>" is read as the special token');
  await expect(page.getByTestId('sample-notes')).toContainText('Assistant turn 0 (message 1)');
  const before = await chips(page);
  expect(before.filter((c) => c.role !== 'template' && (c.id === IM_START || c.id === IM_END) && !c.eot).length).toBe(3);

  await page.getByTestId('split-special-tokens').check();
  await idle(page);
  await expect(typed).toHaveCount(0);
  const after = await chips(page);
  // No special id left in any message's content; the text is still there, as characters.
  expect(after.filter((c) => c.role !== 'template' && (c.id === IM_START || c.id === IM_END) && !c.eot)).toEqual([]);
  expect(after.map((c) => c.text).join('')).toContain('marker␣<|im_end|>␣and');
  expect(after.length).toBeGreaterThan(before.length);
  await expect(page.getByTestId('sample-notes')).toContainText('encoded as plain text');

  // The choice is a setting: it survives a reload (autosave is debounced, 300 ms).
  await page.waitForTimeout(800);
  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await idle(page);
  await expect(page.getByTestId('split-special-tokens')).toBeChecked();
  await expect(typedChips(page)).toHaveCount(0);
});

test('training uses the view\'s choice: with plain-text special tokens it trains the tokens the view shows', async ({ page }) => {
  await openFresh(page, '/?model=/e2e/fixtures/micro-model/');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await paste(page, TYPED);
  await page.getByTestId('split-special-tokens').check();
  await idle(page);
  const cs = await chips(page);
  const viewTrained = cs.filter((c) => c.index >= 1 && !c.beyondCut && c.label !== -100).length;
  for (const key of ['steps', 'batchSize']) {
    const input = page.getByTestId(`opt-${key}`);
    await input.fill('1');
    await input.press('Enter');
  }
  await page.getByTestId('train').click();
  await expect.poll(async () => page.getByTestId('train-panel').getAttribute('data-phase'), { timeout: 120_000 }).toBe('done');
  expect(Number(await page.getByTestId('run-row-0').getAttribute('data-trained'))).toBe(viewTrained);
  // The answers' prompt is encoded the same way (the data worker's prompt request): they come.
  await expect(page.getByTestId('answer-base')).toBeVisible({ timeout: 120_000 });
});
