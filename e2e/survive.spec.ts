// Nothing lost: trained weights survive a reload (the heatmap, the answers and the download come
// back without retraining, byte for byte), a run in progress at reload continues from its last
// checkpoint, and a lost GPU device is recovered with one click from the last checkpoint.
import { expect, test, type Download, type Page, type TestInfo } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { idle, openFresh, paste, SIMPLE, warmUp } from './helpers';

const MICRO = '/?model=/e2e/fixtures/micro-model/';
test.beforeAll(async ({ browser }) => warmUp(browser));

async function ready(page: Page): Promise<void> {
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ok');
}

async function setOpt(page: Page, key: string, value: number): Promise<void> {
  const input = page.getByTestId(`opt-${key}`);
  await input.fill(String(value));
  await input.press('Enter');
  await expect(input).toHaveValue(String(value));
}

const phase = async (page: Page) => (await page.getByTestId('train-panel').getAttribute('data-phase')) ?? '';
const savedStep = async (page: Page) => Number((await page.getByTestId('saved-weights').getAttribute('data-step').catch(() => null)) || 0);
const runStep = async (page: Page, run: number) => Number(await page.getByTestId(`run-row-${run}`).getAttribute('data-step'));

/** The step the saved training record names, as IndexedDB holds it now (what a reload reads). */
const recordedStep = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const open = indexedDB.open('sft-playground');
        open.onsuccess = () => {
          const get = open.result.transaction('kv').objectStore('kv').get('training/v1');
          get.onsuccess = () => resolve((get.result as { record?: { saved?: { step: number } } } | undefined)?.record?.saved?.step ?? 0);
          get.onerror = () => resolve(0);
        };
        open.onerror = () => resolve(0);
      }),
  );

/** model.safetensors of run `run`, downloaded as a user does. */
async function weightsOf(page: Page, run: number, testInfo: TestInfo, tag: string): Promise<Buffer> {
  const downloads: Download[] = [];
  const on = (d: Download) => downloads.push(d);
  page.on('download', on);
  await page.getByTestId(`download-weights-${run}`).click();
  await expect.poll(() => downloads.length, { timeout: 60_000 }).toBe(5);
  page.off('download', on);
  const d = downloads.find((x) => x.suggestedFilename() === 'model.safetensors')!;
  const path = testInfo.outputPath(`${tag}-model.safetensors`);
  await d.saveAs(path);
  return readFileSync(path);
}

test('finished runs survive a reload: heatmap, answers and download come back without retraining, byte for byte', async ({ page }, testInfo) => {
  await openFresh(page, MICRO);
  await ready(page);
  await paste(page, SIMPLE);
  await page.getByTestId('answer-tokens').fill('2');
  await setOpt(page, 'steps', 6);
  await setOpt(page, 'lr', 0.01);
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
  await expect(page.getByTestId('answer-run-0')).toBeVisible({ timeout: 120_000 });
  await expect.poll(() => savedStep(page), { timeout: 30_000 }).toBe(6);
  await expect.poll(() => recordedStep(page), { timeout: 30_000 }).toBe(6);
  const before = await weightsOf(page, 0, testInfo, 'before');
  const answerBefore = await page.getByTestId('answer-run-0').textContent();

  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await ready(page);
  // The weights come back from the browser's storage: no step is trained again.
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 60_000 });
  await expect(page.getByTestId('download-weights-0')).toBeEnabled({ timeout: 60_000 });
  expect(await runStep(page, 0)).toBe(6);
  await expect(page.getByTestId('answer-run-0')).toHaveText(answerBefore ?? '');
  const after = await weightsOf(page, 0, testInfo, 'after');
  expect(after.equals(before)).toBe(true);
  // The heatmap reads the restored weights.
  await page.getByTestId('show-heatmap').click();
  await expect(page.getByTestId('heatmap-shown')).toBeVisible({ timeout: 60_000 });

  // Forget one run: its download goes, the curves stay.
  await page.getByTestId('forget-weights-1').click();
  await expect(page.getByTestId('forget-weights-1')).toHaveText('forgotten');
  await expect(page.getByTestId('download-weights-1')).toBeDisabled();
  expect(await runStep(page, 1)).toBe(6);
});

test('a run in progress at reload continues from its last checkpoint, with a note', async ({ page }) => {
  await openFresh(page, MICRO);
  await ready(page);
  await paste(page, SIMPLE);
  await page.getByTestId('answer-tokens').fill('2');
  await setOpt(page, 'steps', 60);
  await page.getByTestId('train').click();
  // A checkpoint every 6 steps: wait until one is on disk and named by the saved record, then leave mid-run.
  await expect.poll(() => recordedStep(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(6);
  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await ready(page);
  await expect(page.getByTestId('restore-notice')).toContainText(/interrupted at step \d+ .* continues from the saved step \d+/, { timeout: 60_000 });
  const from = Number((await page.getByTestId('restore-notice').textContent())!.match(/saved step (\d+)/)![1]);
  expect(from).toBeGreaterThanOrEqual(6);
  await expect.poll(() => phase(page), { timeout: 60_000 }).toMatch(/training|done/);
  // The curve goes on from the checkpoint: no step is missing or repeated.
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 180_000 });
  const csv = await page.evaluate(async () => {
    const path = '/src/store/index.ts'; // the app's own module instance, from the dev server
    const { getCurves } = (await import(/* @vite-ignore */ path)) as { getCurves(): { step: number[] }[] };
    return getCurves().map((c) => c.step);
  });
  for (const steps of csv) expect(steps).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  expect(await runStep(page, 0)).toBe(60);
});

test('a lost GPU device: a message, the curves stay, and one click continues from the checkpoint', async ({ page }) => {
  await openFresh(page, `${MICRO}&faults=1`);
  await ready(page);
  await paste(page, SIMPLE);
  await page.getByTestId('answer-tokens').fill('2');
  await setOpt(page, 'steps', 60);
  await page.getByTestId('train').click();
  await expect.poll(() => savedStep(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(6);
  await page.evaluate(() => (globalThis as unknown as { __playgroundFaults: { loseDevice(): Promise<void> } }).__playgroundFaults.loseDevice());
  await expect(page.getByTestId('recover')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('train-panel')).toContainText('The GPU device was lost');
  const at = await savedStep(page);
  const shown = await runStep(page, 0);
  expect(shown).toBeGreaterThanOrEqual(at);
  await page.getByTestId('recover').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 180_000 });
  expect(await runStep(page, 0)).toBe(60);
  const steps = await page.evaluate(async () => {
    const path = '/src/store/index.ts'; // the app's own module instance, from the dev server
    const { getCurves } = (await import(/* @vite-ignore */ path)) as { getCurves(): { step: number[] }[] };
    return getCurves().map((c) => c.step);
  });
  for (const s of steps) expect(s).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  await idle(page);
});

test('a stopped training stays stopped across a reload and continues from its saved step; a hidden tab keeps training with no gap in the curves', async ({ page }) => {
  await openFresh(page, MICRO);
  await ready(page);
  await paste(page, SIMPLE);
  await page.getByTestId('answer-tokens').fill('2');
  await setOpt(page, 'steps', 40);
  await page.getByTestId('train').click();
  await expect.poll(() => runStep(page, 0), { timeout: 120_000 }).toBeGreaterThanOrEqual(3);
  // The tab goes to the background for a while, then comes back.
  const hide = (hidden: boolean) =>
    page.evaluate((h) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
  await hide(true);
  const hiddenAt = await runStep(page, 0);
  await page.waitForTimeout(1500);
  await hide(false);
  await expect.poll(() => runStep(page, 0), { timeout: 60_000 }).toBeGreaterThan(hiddenAt);
  await page.getByTestId('stop').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'stopped', { timeout: 60_000 });
  const stoppedAt = await runStep(page, 0);
  await expect.poll(() => savedStep(page), { timeout: 30_000 }).toBe(stoppedAt);
  await expect.poll(() => recordedStep(page), { timeout: 30_000 }).toBe(stoppedAt);
  // A reload brings the stopped runs back stopped: nothing trains until the user continues.
  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await ready(page);
  await expect(page.getByTestId('continue-training')).toBeVisible({ timeout: 60_000 });
  expect(await phase(page)).toBe('stopped');
  expect(await runStep(page, 0)).toBe(stoppedAt);
  await page.getByTestId('continue-training').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 180_000 });
  const steps = await page.evaluate(async () => {
    const path = '/src/store/index.ts';
    const { getCurves } = (await import(/* @vite-ignore */ path)) as { getCurves(): { step: number[] }[] };
    return getCurves().map((c) => c.step);
  });
  for (const s of steps) expect(s).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
});
