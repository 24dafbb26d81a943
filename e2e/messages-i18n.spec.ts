// Messages from below the UI (parser, JSONL lines, preflight findings) are data the page words in
// its own language (src/spec/message.ts): in Chinese with ?lang=zh, and switched live by the header's
// language switch, without re-running anything.
import { expect, test, type Page } from '@playwright/test';
import { idle, openFresh, paste, warmUp } from './helpers';

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

const line = (...m: { role: string; content: string }[]) => JSON.stringify(m);
/** Line 1 fine; 2 no assistant turn (nothing to train); 3 broken JSON; 4 fine. */
const DATASET = [
  line({ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }),
  line({ role: 'user', content: 'Anyone there?' }),
  '{"messages": [{"role": "user", "content": "broken"',
  line({ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'Blue.' }),
].join('\n');

const language = (page: Page, lang: 'en' | 'zh') => page.getByTestId('language').selectOption(lang);
const finding = (page: Page, id: string) => page.getByTestId('preflight-findings').locator(`li[data-finding="${id}"]`);

test('a parse error, a broken JSONL line and a preflight finding read in Chinese, and switch to English live', async ({ page }) => {
  await openFresh(page, '/?lang=zh');

  // A parse error: the place and the reason in Chinese; in English after the switch, and back.
  await paste(page, '[{"role": "user", "content": "Hi"},]');
  const error = page.getByTestId('input-error');
  await expect(error).toContainText('JSON 无效');
  await expect(error).toContainText('多余的逗号');
  await expect(error).not.toContainText('Invalid JSON');
  await language(page, 'en');
  await expect(error).toContainText("Invalid JSON at line 1, column 36: Trailing comma before ']' is not allowed in JSON.");
  await language(page, 'zh');
  await expect(error).toContainText('第 1 行第 36 列 JSON 无效');

  // A JSONL dataset with a broken line: the line's message and the format badge in Chinese.
  await paste(page, DATASET);
  await idle(page);
  const broken = page.getByTestId('line-errors');
  await expect(broken).toContainText('第 3 行第');
  await expect(broken).toContainText('属性值后应为 \',\' 或 \'}\'，却遇到了输入结尾');
  await expect(page.getByTestId('format')).toContainText('JSONL，3 个样本');

  // The preflight's findings and broken lines.
  await page.getByTestId('preflight-run').click();
  await expect(page.getByTestId('preflight')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(finding(page, 'nothing-to-train')).toContainText('没有可训练的内容');
  await expect(page.getByTestId('preflight-broken')).toContainText('却遇到了输入结尾');

  // Switched live: every message already shown is in English now, with nothing re-run.
  await language(page, 'en');
  await expect(broken).toContainText('Line 3, column');
  await expect(broken).toContainText("Expected ',' or '}' after a property value but found end of input");
  await expect(page.getByTestId('format')).toContainText('JSONL, 3 samples');
  await expect(finding(page, 'nothing-to-train')).toContainText('Nothing to train: every label is -100');
  await expect(page.getByTestId('preflight-broken')).toContainText('found end of input');
  await expect(page.getByTestId('preflight-findings')).not.toContainText('没有可训练的内容');
});

test('nothing to train and a refused optimizer value follow the language switch', async ({ page }) => {
  await openFresh(page, '/?lang=zh');
  await paste(page, line({ role: 'user', content: 'Anyone there?' }));
  await idle(page);
  const nothing = page.getByTestId('nothing-to-train');
  await expect(nothing).toContainText('没有可训练的内容：所有标签都是 -100');

  const steps = page.getByTestId('opt-steps');
  await steps.fill('0');
  await steps.blur();
  const refused = page.getByTestId('opt-steps-error');
  await expect(refused).toContainText('步数必须是 1 到 100000 之间的整数（当前为 0）');

  await language(page, 'en');
  await expect(nothing).toContainText('nothing to train: every label is -100');
  await expect(refused).toContainText('Steps must be a whole number from 1 to 100000 (got 0).');
});

test("the masking lab's reasons and notes and the sample's notes read in Chinese, and switch to English live", async ({ page }) => {
  await openFresh(page, '/?lang=zh');
  await paste(
    page,
    JSON.stringify([
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: 'Four.' },
    ]),
  );
  await idle(page);
  const lab = page.getByTestId('masking-lab');
  await page.getByTestId('lab-pick-axolotl-chat-template').check();
  await expect(page.getByTestId('lab-rows').locator('> li')).toHaveCount(2);
  await expect(lab).toHaveAttribute('data-busy', 'false');
  await expect(page.getByTestId('lab-grid')).toHaveAttribute('data-stale', 'false');

  // The sample's notes (the token view) and a lab row's note.
  const notes = page.getByTestId('sample-notes');
  await expect(notes).toContainText('角色：对完整的');
  await expect(notes).not.toContainText('Roles: content diff');
  const axolotlNotes = page.getByTestId('lab-notes-1');
  await expect(axolotlNotes).toContainText("axolotl 警告：在 chat_template 中找不到 EOS token '<|endoftext|>'");

  // The reasons behind the end-of-turn token's labels, one per row.
  const hoverEnd = () => page.locator('.lab-col').filter({ hasText: '<|im_end|>' }).filter({ has: page.locator('.differs') }).first().hover();
  await hoverEnd();
  const reasons = page.getByTestId('lab-reasons');
  await expect(reasons.locator('li[data-row="0"]')).toContainText('轮次结束 token → 训练');
  await expect(reasons.locator('li[data-row="1"]')).toContainText('轮次结束 token → 屏蔽（<|im_end|> 既不是 eos_token，也不在 eot_tokens 中）');
  // The cells' data-reason stays English (what tests and tools read).
  await expect(page.locator('.lab-cell[data-row="0"]').first()).toHaveAttribute('data-reason', /→/);

  // Switched live: nothing re-run, every text already shown is in English now.
  await language(page, 'en');
  await expect(notes).toContainText('Roles: content diff on the full');
  await expect(axolotlNotes).toContainText("axolotl warns: EOS token '<|endoftext|>' not found in chat_template");
  await hoverEnd();
  await expect(reasons.locator('li[data-row="0"]')).toContainText('end-of-turn → trained');
  await expect(reasons.locator('li[data-row="1"]')).toContainText('end-of-turn → masked (<|im_end|> is neither eos_token nor one of eot_tokens)');
  await expect(reasons).not.toContainText('轮次结束');
});
