// English and 简体中文: the header's switch puts the page's headings and buttons in Chinese, the
// choice survives a reload, ?lang=zh opens the page in Chinese, and the playground works as before
// on a Chinese chat. Screenshots of the main page in both languages are attached to the report.
import { expect, test, type Page } from '@playwright/test';
import { chat, count, idle, openFresh, paste, screen, warmUp } from './helpers';

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

const ZH_CHAT = chat(
  { role: 'system', content: '你是一位简洁的助手。' },
  { role: 'user', content: '法国的首都是哪里？' },
  { role: 'assistant', content: '法国的首都是巴黎。' },
);

const headings = (page: Page) => page.locator('main h2').allTextContents();

async function expectChinese(page: Page): Promise<void> {
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('SFT 损失掩码实验台');
  await expect.poll(() => headings(page)).toEqual(expect.arrayContaining(['对话样本', '设置', 'Token 与标签', '掩码实验室', '数据集预检', '训练与比较']));
  await expect(page.getByTestId('train')).toHaveText(/^(训练|重新训练)$/);
  await expect(page.getByTestId('preflight-run')).toHaveText('运行预检');
  await expect(page.getByTestId('clear-overrides')).toHaveText('清除手动覆盖');
  await expect(page.getByRole('radio', { name: /^仅回复/ })).toBeChecked();
  // No English heading is left over.
  for (const h of await headings(page)) expect(h, h).not.toMatch(/^[A-Za-z ]+$/);
}

test('switch to 简体中文 in the header; it survives a reload', async ({ page }, testInfo) => {
  await openFresh(page, '/?lang=en');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('SFT loss-masking playground');
  await screen(page, testInfo, 'i18n-en-main');

  await page.getByTestId('language').selectOption('zh');
  await expectChinese(page);
  await idle(page);
  await screen(page, testInfo, 'i18n-zh-main');

  // Remembered (localStorage): a plain reload, without ?lang, is still in Chinese.
  await page.goto('/');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await expectChinese(page);

  // And back.
  await page.getByTestId('language').selectOption('en');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByTestId('preflight-run')).toHaveText('Run preflight');
});

test('?lang=zh opens the page in Chinese, and a Chinese chat tokenizes and trains tokens', async ({ page }) => {
  await openFresh(page, '/?lang=zh');
  await expectChinese(page);
  await paste(page, ZH_CHAT);
  await expect(page.getByTestId('input-error')).toHaveCount(0);
  expect(await count(page, 'count-tokens')).toBeGreaterThan(10);
  expect(await count(page, 'count-trained')).toBeGreaterThan(0);
  // The assistant's Chinese text is on trained chips; the round trip of the rendered template holds.
  const trainedText = await page.locator('.tok.role-assistant.trained .tok-text').allTextContents();
  expect(trainedText.join('')).toContain('巴黎');
  await expect(page.getByTestId('roundtrip')).toContainText('✓');
  // Built-in Chinese examples load too.
  await page.getByLabel('示例').selectOption('zh-multi-turn');
  await idle(page);
  await expect(page.getByTestId('input-error')).toHaveCount(0);
  expect(await count(page, 'count-trained')).toBeGreaterThan(0);
  await expect(page.getByTestId('format')).not.toHaveText('无法识别');
});
