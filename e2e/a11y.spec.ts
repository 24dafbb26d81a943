// Accessibility of the main page, in both languages: axe-core (WCAG 2.x A/AA rules, colour contrast
// included) finds no serious or critical violation after a paste with the masking lab showing two
// rows, and the page says which language it is in (<html lang>).
import { writeFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { SIMPLE, idle, openFresh, paste, warmUp } from './helpers';

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

async function labWithTwoRows(page: Page): Promise<void> {
  await page.getByTestId('lab-pick-unsloth-responses-only').check();
  await idle(page);
  await expect(page.getByTestId('lab-rows').locator('> li')).toHaveCount(2);
  await expect(page.getByTestId('masking-lab')).toHaveAttribute('data-busy', 'false');
  await expect(page.getByTestId('lab-grid')).toHaveAttribute('data-drawn', 'all');
}

for (const [lang, htmlLang] of [
  ['en', 'en'],
  ['zh', 'zh-CN'],
] as const) {
  test(`${lang}: no serious or critical axe violation on the main page`, async ({ page }, testInfo) => {
    await openFresh(page, `/?lang=${lang}`);
    await expect(page.locator('html')).toHaveAttribute('lang', htmlLang);
    await paste(page, SIMPLE);
    await labWithTwoRows(page);
    // Open the collapsed parts too, so their text is checked.
    await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
    await idle(page);

    const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    const summary = bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}×, e.g. ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')})`);
    const report = testInfo.outputPath(`axe-${lang}.json`);
    writeFileSync(report, JSON.stringify(result.violations, null, 2));
    await testInfo.attach(`axe-${lang}.json`, { path: report, contentType: 'application/json' });
    console.log(`axe ${lang}: ${result.passes.length} rules pass, ${result.violations.length} violated (${result.violations.map((v) => `${v.id}:${v.impact}`).join(', ') || 'none'})`);
    expect(summary).toEqual([]);
  });
}

test('the chips and lab cells name their role and label for screen readers', async ({ page }) => {
  await openFresh(page, '/?lang=en');
  await paste(page, SIMPLE);
  const chip = page.locator('.tok.role-assistant.trained').first();
  await expect(chip).toHaveAttribute('aria-label', /^Token \d+: .+, id \d+, label \d+ \(trained\), assistant/);
  const masked = page.locator('.tok.role-user').first();
  await expect(masked).toHaveAttribute('aria-label', /label -100 \(masked\), user/);
  await labWithTwoRows(page);
  await expect(page.locator('.lab-col').first()).toHaveAttribute('aria-label', /^Token ".*": row 1 -?\d+ \((trained|masked), [\w ]+\); row 2 /);
  // In Chinese the same names, translated.
  await page.getByTestId('language').selectOption('zh');
  await expect(page.locator('.tok.role-assistant.trained').first()).toHaveAttribute('aria-label', /标签 \d+（训练），助手/);
  await expect(page.locator('.lab-col').first()).toHaveAttribute('aria-label', /第 1 行/);
});

test('reduced motion: the busy spinner does not spin', async ({ browser }) => {
  const context = await browser.newContext({ reducedMotion: 'reduce' });
  const page = await context.newPage();
  await openFresh(page);
  const animation = await page.evaluate(() => {
    const el = document.createElement('span');
    el.className = 'spinner';
    document.body.append(el);
    const name = getComputedStyle(el).animationName;
    el.remove();
    return name;
  });
  expect(animation).toBe('none');
  await context.close();
});
