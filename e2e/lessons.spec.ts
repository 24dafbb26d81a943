// Guided lessons: every lesson walked from its URL to its last step, in English and in Chinese,
// with the keyboard for navigation (→ / Enter), each question answered once wrongly (the hint
// shows, Next stays off) and then rightly (Next turns on), a screenshot per step. The answers are
// worked out here from the page's own data-* attributes, not taken from the lesson's code.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { expectPasteText, openFresh, pasteText, warmUp } from './helpers';

const MICRO = '/e2e/fixtures/micro-model/';
type Lang = 'en' | 'zh';

test.beforeAll(async ({ browser }) => warmUp(browser));

const panel = (page: Page) => page.getByTestId('lesson-panel');

/** One step's answers: a wrong one, then the right one. */
interface Answer {
  wrong(page: Page): Promise<void>;
  right(page: Page): Promise<void>;
}

const choice = (wrong: string, right: string): Answer => ({
  wrong: (page) => page.getByTestId(`lesson-choice-${wrong}`).click(),
  right: (page) => page.getByTestId(`lesson-choice-${right}`).click(),
});

interface ChipInfo {
  index: number;
  label: number;
  role: string;
  weight: number;
  text: string;
  eot: boolean;
  dlogit: number;
  dembed: number;
  runLabel: number;
}

async function chipInfo(page: Page): Promise<ChipInfo[]> {
  return page.locator('[data-testid=token-list] .tok').evaluateAll((els) =>
    els.map((el) => {
      const d = (el as HTMLElement).dataset;
      const n = (v: string | undefined) => (v === undefined || v === 'NaN' ? NaN : Number(v));
      return {
        index: Number(d.index), label: Number(d.label), role: d.role ?? '', weight: Number(d.weight),
        text: el.querySelector('.tok-text')?.textContent ?? '', eot: el.classList.contains('eot'),
        dlogit: n(d.dlogit), dembed: n(d.dembed), runLabel: n(d.runLabel),
      };
    }),
  );
}

const chip = (page: Page, i: number): Locator => page.locator(`[data-testid=token-list] .tok[data-index="${i}"]`);

/** Click the chip `pick` chooses (its index) among the token view's chips. */
const clickChip = (pick: (c: ChipInfo[]) => number | undefined) => async (page: Page) => {
  const i = pick(await chipInfo(page));
  expect(i, 'a chip to click').toBeDefined();
  await chip(page, i!).click();
};
const chips = (wrong: (c: ChipInfo[]) => number | undefined, right: (c: ChipInfo[]) => number | undefined): Answer => ({ wrong: clickChip(wrong), right: clickChip(right) });

const firstTarget = (c: ChipInfo[]) => c.find((x) => x.index > 0 && x.label !== -100)?.index;

/** Click the row of the run table whose `col` is chosen by `pick` among the rows' values. */
const runRow = (col: 'prompt' | 'response' | 'held', pick: (sorted: number[]) => number) => async (page: Page) => {
  const rows = page.locator('[data-testid^=run-row-]');
  const values = await rows.evaluateAll((els, c) => els.map((e) => Number((e as HTMLElement).dataset[c])), col);
  const want = pick([...values].sort((a, b) => a - b));
  await rows.nth(values.indexOf(want)).click();
};
const runCard = (i: number) => (page: Page) => page.getByTestId(`run-card-${i}`).locator('.run-card-head').click();

/** Indices of the empty think block's tokens in the token view (Qwen3). */
async function thinkRange(page: Page): Promise<[number, number]> {
  const c = await chipInfo(page);
  const open = c.find((x) => x.text === '<think>')!.index;
  const close = c.find((x) => x.text === '</think>')!.index;
  return [open, close];
}

const ANSWERS: Record<string, Answer[]> = {
  'labels-shift': [
    choice('next', 'own'),
    chips((c) => c.find((x) => x.label === -100 && x.index > 0)?.index, firstTarget),
    chips(firstTarget, (c) => firstTarget(c)! - 1),
    choice('masked', 'nothing'),
    chips(() => 0, (c) => c.length - 1),
  ],
  'minus-100': [
    chips((c) => c.find((x) => x.label !== -100)?.index, (c) => c.find((x) => x.label === -100)?.index),
    choice('zero', 'skip'),
    choice('all', 'trained'),
    {
      wrong: (page) => page.locator('[data-testid=loss-arith-row][data-index="0"]').click(),
      right: (page) => page.locator('[data-testid=loss-arith-row][data-term=skipped]:not([data-index="0"])').first().click(),
    },
    { wrong: (page) => page.getByTestId('loss-arith-sum').click(), right: (page) => page.getByTestId('loss-arith-divisor').click() },
    choice('all', 'kept'),
    choice('zero', 'nan'),
    choice('zeroAll', 'exact'),
  ],
  'response-vs-full': [
    { wrong: runCard(0), right: runCard(1) },
    choice('yes', 'no'),
    { wrong: runRow('prompt', (v) => v[v.length - 1]), right: runRow('prompt', (v) => v[0]) },
    { wrong: runRow('response', (v) => v[v.length - 1]), right: runRow('response', (v) => v[0]) },
    choice('broken', 'fine'),
    { wrong: runRow('held', (v) => v[v.length - 1]), right: runRow('held', (v) => v[0]) },
  ],
  'masked-not-untouched': [
    chips((c) => c.find((x) => x.dlogit > 0)?.index, (c) => c.find((x) => x.index > 0 && x.dlogit === 0)?.index),
    chips((c) => c.find((x) => x.runLabel !== -100 && x.dembed > 0)?.index, (c) => c.find((x) => x.runLabel === -100 && x.dembed > 0)?.index),
    choice('logits', 'attend'),
    chips((c) => c.find((x) => x.dembed > 0)?.index, (c) => c.find((x) => x.dembed === 0)?.index),
    choice('untouched', 'touched'),
  ],
  'learning-to-stop': [
    chips((c) => c.find((x) => x.label !== -100 && !x.eot)?.index, (c) => c.find((x) => x.eot && x.label !== -100)?.index),
    { wrong: runCard(0), right: runCard(1) },
    // Run A trains the end-of-turn token: its p(end-of-turn) ends higher (the lesson reads the meter's data).
    choice('b', 'a'),
    choice('same', 'limit'),
    choice('fine', 'never'),
  ],
  normalisation: [
    { wrong: (page) => page.getByTestId('count-tokens').click(), right: (page) => page.getByTestId('count-trained').click() },
    choice('more', 'same'),
    choice('same', 'ratio'),
    choice('tokens', 'sequences'),
    { wrong: runCard(0), right: runCard(1) },
    {
      wrong: (page) => page.getByTestId('lesson-choice-data').click(),
      right: async (page) => {
        // The engine's two step-1 objectives are in the text, and they differ (same batch, another division).
        const text = (await panel(page).textContent()) ?? '';
        const nums = [...text.matchAll(/(\d+\.\d{4})/g)].map((m) => Number(m[1]));
        expect(nums.length, text).toBeGreaterThanOrEqual(2);
        expect(nums[0]).not.toBe(nums[1]);
        await page.getByTestId('lesson-choice-divide').click();
      },
    },
    choice('seq', 'tok'),
    choice('nothing', 'scales'),
  ],
  'prompt-weight': [
    chips((c) => c.find((x) => x.role === 'assistant' && x.weight === 1)?.index, (c) => c.find((x) => x.label !== -100 && x.weight === 0.1)?.index),
    choice('swapped', 'right'),
    choice('count', 'divisor'),
    choice('zero', 'small'),
    { wrong: runRow('prompt', (v) => v[0]), right: runRow('prompt', (v) => v[1]) },
  ],
  'template-traps': [
    {
      wrong: clickChip((c) => c.find((x) => x.text === 'Four')?.index),
      right: async (page) => chip(page, (await thinkRange(page))[0]).click(),
    },
    {
      // Row 1 (template spans) masks the think block; row 2 (unsloth) trains it.
      wrong: async (page) => page.locator(`.lab-cell[data-row="0"][data-token-index="${(await thinkRange(page))[0]}"]`).click(),
      right: async (page) => page.locator(`.lab-cell[data-row="1"][data-token-index="${(await thinkRange(page))[1]}"]`).click(),
    },
    choice('reasoning', 'marker'),
    choice('three', 'none'),
    choice('special', 'merge'),
    choice('chars', 'ids'),
  ],
};

async function walk(page: Page, id: string, lang: Lang, shot: (name: string) => Promise<void>): Promise<void> {
  await openFresh(page, `/?lesson=${id}&model=${MICRO}&lang=${lang}`);
  const p = panel(page);
  await expect(p).toHaveAttribute('data-lesson', id);
  const answers = ANSWERS[id];
  const count = answers.length;
  await expect(page.getByTestId('lesson-count')).toContainText(String(count));
  for (let i = 0; i < count; i++) {
    await expect(p).toHaveAttribute('data-step', String(i));
    await expect(p).toHaveAttribute('data-phase', 'ready', { timeout: 240_000 });
    // The step's heading has the focus (a screen reader reads the step), the URL names the lesson.
    await expect(page.getByTestId('lesson-step-title')).toBeFocused();
    expect(new URL(page.url()).searchParams.get('lesson')).toBe(id);
    await expect(page.getByTestId('lesson-ring')).toBeVisible();
    const next = page.getByTestId('lesson-next');
    await expect(next).toBeDisabled();
    // Keyboard: → does nothing before the answer.
    await page.keyboard.press('ArrowRight');
    await expect(p).toHaveAttribute('data-step', String(i));

    await answers[i].wrong(page);
    await expect(page.getByTestId('lesson-feedback')).toHaveAttribute('data-feedback', 'wrong');
    await expect(next).toBeDisabled();
    await answers[i].right(page);
    await expect(page.getByTestId('lesson-feedback')).toHaveAttribute('data-feedback', 'right');
    await expect(next).toBeEnabled();
    await expect(next).toBeFocused();
    await shot(`lesson-${id}-${i + 1}-${lang}`);
    if (i === 1) {
      // ← goes back a step and → returns (the step's state is set up again, already answered or not).
      await page.keyboard.press('ArrowLeft');
      await expect(p).toHaveAttribute('data-step', '0');
      await expect(p).toHaveAttribute('data-phase', 'ready', { timeout: 240_000 });
      await answers[0].right(page);
      // The right answer moves the focus to Next; → before that lands on whatever was clicked.
      await expect(next).toBeFocused();
      await page.keyboard.press('ArrowRight');
      await expect(p).toHaveAttribute('data-step', '1');
      await expect(p).toHaveAttribute('data-phase', 'ready', { timeout: 240_000 });
      await answers[1].right(page);
      await expect(next).toBeFocused();
    }
    // Next from the keyboard: → on most steps, Enter on some (both work where the focus is on Next).
    await page.keyboard.press(i % 2 === 0 ? 'ArrowRight' : 'Enter');
  }
  // Past the last step: the lesson closes, the URL forgets it, the learner's own sample is back.
  await expect(p).toHaveCount(0);
  expect(new URL(page.url()).searchParams.get('lesson')).toBeNull();
}

for (const lang of ['en', 'zh'] as const) {
  for (const id of Object.keys(ANSWERS)) {
    test(`lesson ${id} (${lang}): every step from the URL, keyboard navigation, a wrong answer's hint, then the right one`, async ({ page }, testInfo) => {
      test.setTimeout(600_000);
      await walk(page, id, lang, async (name) => {
        const path = testInfo.outputPath(`${name}.png`);
        await page.screenshot({ path });
        await testInfo.attach(name, { path, contentType: 'image/png' });
      });
    });
  }
}

test('Learn menu, Esc, presenter mode and reduced motion; no serious or critical axe violation on a lesson step', async ({ page }) => {
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await openFresh(page, '/');
  const before = await pasteText(page);
  await page.getByTestId('learn').click();
  await page.getByTestId('learn-minus-100').click();
  const p = panel(page);
  await expect(p).toHaveAttribute('data-phase', 'ready');
  expect(new URL(page.url()).searchParams.get('lesson')).toBe('minus-100');
  // The ring dims the page but takes no clicks; the panel is a labelled dialog with a live region.
  await expect(page.getByTestId('lesson-ring')).toHaveCSS('pointer-events', 'none');
  await expect(p).toHaveAttribute('role', 'dialog');
  await expect(p.locator('[aria-live=polite]')).toHaveCount(1);
  await expect(p).not.toHaveCSS('animation-name', 'lesson-in');

  const axe = await new AxeBuilder({ page }).include('[data-testid=lesson-panel]').analyze();
  const bad = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
  const whole = await new AxeBuilder({ page }).analyze();
  const badWhole = whole.violations.filter((v) => (v.impact === 'serious' || v.impact === 'critical') && v.nodes.some((n) => n.target.join(' ').includes('lesson')));
  expect(badWhole.map((v) => v.id)).toEqual([]);

  // Presenter mode: large type, the panel docked, ?present=1 in the URL.
  await page.getByTestId('lesson-present').click();
  await expect(p).toHaveClass(/presenter/);
  expect(new URL(page.url()).searchParams.get('present')).toBe('1');
  const size = await p.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  expect(size).toBeGreaterThan(20);

  // Esc closes the lesson, puts the learner's sample back and returns the focus to Learn.
  await page.keyboard.press('Escape');
  await expect(p).toHaveCount(0);
  await expect(page.getByTestId('learn')).toBeFocused();
  await expectPasteText(page, before);
  expect(new URL(page.url()).searchParams.get('lesson')).toBeNull();

  // ?present=1 opens a lesson in presenter mode.
  await openFresh(page, '/?lesson=labels-shift&present=1');
  await expect(panel(page)).toHaveClass(/presenter/);
});
