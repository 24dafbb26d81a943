// Your own chat template: edit a copy, a syntax error shows its line and column while the last good
// view stays, a fix re-renders every view, and going back to the tokenizer's template can be undone.
import { expect, test } from '@playwright/test';
import { idle, openFresh, paste, savedSettings, SIMPLE, warmUp } from './helpers';

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

const CHATML_UPPER = "{% for message in messages %}<|im_start|>{{ message['role'] | upper }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}";

test('a pasted template: syntax error with line and column, the last good view stays, a fix re-renders', async ({ page }) => {
  await openFresh(page);
  await paste(page, SIMPLE);
  const tokensBefore = await page.getByTestId('count-tokens').textContent();
  await page.getByTestId('template-edit').click();
  const area = page.getByTestId('template-text');
  await expect(area).toHaveValue(/<\|im_start\|>/);

  // Line 2 breaks: an {% if %} with no condition.
  await area.fill("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% if %}x{% endif %}{{ message['content'] }}<|im_end|>\n{% endfor %}");
  await expect(page.getByTestId('template-error')).toHaveAttribute('data-line', '2');
  await expect(page.getByTestId('template-error')).toHaveAttribute('data-column', '1');
  await expect(page.getByTestId('template-error')).toContainText('line 2, column 1');
  await expect(page.getByTestId('stale-badge')).toBeVisible();
  await expect(page.getByTestId('count-tokens')).toHaveText(tokensBefore ?? '');

  // An unknown filter is a render-time error: it points at the tag that uses it.
  await area.fill("{% for message in messages %}\n<|im_start|>{{ message['role'] | shout }}\n{% endfor %}");
  await expect(page.getByTestId('template-error')).toHaveAttribute('data-line', '2');

  // A good template: the roles are written in capitals now, and nothing is stale.
  await area.fill(CHATML_UPPER);
  await idle(page);
  await expect(page.getByTestId('template-error')).toHaveCount(0);
  await expect(page.getByTestId('stale-badge')).toHaveCount(0);
  await expect(page.locator('[data-testid=token-list] .tok').filter({ hasText: 'ASS' }).first()).toBeVisible();
  // It survives a reload (once written: the write waits for a pause).
  await expect.poll(async () => (await savedSettings(page))?.ownTemplate).toBe(CHATML_UPPER);
  await page.reload();
  await idle(page);
  await expect(page.getByTestId('template-text')).toHaveValue(CHATML_UPPER);

  // Back to the tokenizer's template, and Undo.
  await page.getByTestId('template-drop').click();
  await idle(page);
  await expect(page.getByTestId('template-text')).toHaveCount(0);
  await page.getByTestId('template-undo').click();
  await expect(page.getByTestId('template-text')).toHaveValue(CHATML_UPPER);
});
