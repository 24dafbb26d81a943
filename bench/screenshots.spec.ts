// The README's screenshot of the masking lab: a two-turn chat under four frameworks' rules, the
// differences only, and the reasons for the first turn's <|im_end|> (hovered).
import { expect, test } from '@playwright/test';

const CHAT = JSON.stringify([
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: 'Four.' },
  { role: 'user', content: 'And 3+3?' },
  { role: 'assistant', content: 'Six.' },
], null, 2);

test('masking lab', async ({ page }) => {
  await page.routeWebSocket(/.*/, () => {});
  await page.goto('/');
  await expect(page.locator('.app')).toHaveAttribute('data-busy', 'false', { timeout: 120_000 });
  await page.getByTestId('paste-box').fill(CHAT);
  await expect(page.locator('.app')).toHaveAttribute('data-busy', 'false');
  for (const id of ['unsloth-responses-only', 'axolotl-chat-template', 'torchtune']) await page.getByTestId(`lab-pick-${id}`).check();
  await expect(page.getByTestId('lab-rows').locator('> li')).toHaveCount(4);
  await expect(page.getByTestId('lab-grid')).toHaveAttribute('data-stale', 'false');
  await expect(page.getByTestId('lab-grid')).toHaveAttribute('data-drawn', 'all');
  await page.locator('.lab-col.differs').filter({ hasText: '<|im_end|>' }).first().hover();
  await expect(page.getByTestId('lab-reasons').locator('li')).toHaveCount(4);
  await page.getByTestId('masking-lab').screenshot({ path: `${import.meta.dirname}/screenshots/masking-lab.png` });
});
