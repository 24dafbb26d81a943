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

// The README's lesson picture: "Learning to stop", step 3, on the micro model: the stop meter of a
// run that trains the end-of-turn token against one that masks it, ringed, with the answered question.
test('lesson step', async ({ page }) => {
  await page.routeWebSocket(/.*/, () => {});
  await page.goto('/?lesson=learning-to-stop&model=/e2e/fixtures/micro-model/&lang=en');
  const panel = page.getByTestId('lesson-panel');
  const ready = (step: number) => expect(panel).toHaveAttribute('data-step', String(step)).then(() => expect(panel).toHaveAttribute('data-phase', 'ready'));
  await ready(0);
  await page.locator('[data-testid=token-list] .tok.eot:not([data-label="-100"])').first().click();
  await page.keyboard.press('ArrowRight');
  await ready(1);
  await page.getByTestId('run-card-1').locator('.run-card-head').click();
  await page.keyboard.press('ArrowRight');
  await ready(2);
  await page.getByTestId('lesson-choice-a').click();
  await expect(page.getByTestId('lesson-feedback')).toHaveAttribute('data-feedback', 'right');
  await page.waitForTimeout(300); // the ring follows the scroll on the next frames
  await page.screenshot({ path: `${import.meta.dirname}/screenshots/lesson-learning-to-stop.png` });
});
