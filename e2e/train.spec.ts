// Train and compare, as a user does it: paste a chat, train response-only against full-sequence
// (and a third run with prompt weight 0.1) from the same base weights, read the curves, the CSV,
// the heatmap and the answers, pause/resume/stop/reset, the discard dialog, reload, share links.
//
// The embedded model takes tens of seconds per step on SwiftShader, so these tests load the micro
// model (e2e/fixtures/micro-model: same tokenizer and vocabulary, C = 16, 2 layers) with ?model=.
import { readFileSync } from 'node:fs';
import { chromium, expect, test, type Page, type TestInfo } from '@playwright/test';
import { chat, chips, expectPasteText, idle, openFresh, longestTask, paste, screen, SIMPLE, warmUp, watchLongTasks } from './helpers';
import { CHROMIUM_LAUNCH } from '../playwright.config';

const MICRO = '/?model=/e2e/fixtures/micro-model/';

/** A run's main-thread tasks while training stay below this (the page must stay responsive). */
const MAX_TASK_MS = 200;

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

/** The app at a URL (the micro model by default): openFresh from helpers.ts. */
const open = (page: Page, url = MICRO) => openFresh(page, url);

/**
 * screen() (a full-page screenshot) resizes the viewport and back and leaves the page scrolled
 * elsewhere; here the next click then hit the panel instead of the button. Scroll back explicitly
 * and let two frames pass before the test goes on.
 */
async function shot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const y = await page.evaluate(() => scrollY);
  await screen(page, testInfo, name);
  await page.evaluate((top) => {
    scrollTo(0, top);
    return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  }, y);
}

async function modelReady(page: Page): Promise<void> {
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
}

async function setOpt(page: Page, key: string, value: number): Promise<void> {
  const input = page.getByTestId(`opt-${key}`);
  await input.fill(String(value));
  await input.press('Enter');
  await expect(input).toHaveValue(String(value));
}

async function phase(page: Page): Promise<string> {
  return (await page.getByTestId('train-panel').getAttribute('data-phase')) ?? '';
}

interface Row {
  step: number;
  objective: number;
  response: number;
  prompt: number;
  trained: number;
  shown: { objective: string; response: string; prompt: string };
}

async function row(page: Page, run: number): Promise<Row> {
  const r = page.getByTestId(`run-row-${run}`);
  const n = async (a: string) => Number(await r.getAttribute(`data-${a}`));
  return {
    step: await n('step'), objective: await n('objective'), response: await n('response'), prompt: await n('prompt'), trained: await n('trained'),
    shown: {
      objective: (await page.getByTestId(`run-${run}-objective`).textContent()) ?? '',
      response: (await page.getByTestId(`run-${run}-response`).textContent()) ?? '',
      prompt: (await page.getByTestId(`run-${run}-prompt`).textContent()) ?? '',
    },
  };
}

interface CsvRow {
  run: string;
  step: number;
  objective: string;
  response_loss: string;
  prompt_loss: string;
  trained_tokens: number;
}

function parseCsv(text: string): CsvRow[] {
  const lines = text.trim().split('\n');
  expect(lines[0]).toBe('run,step,objective,response_loss,prompt_loss,trained_tokens');
  return lines.slice(1).map((l) => {
    // Run names hold no commas or quotes here, so a plain split is the CSV parse.
    const [run, step, objective, response_loss, prompt_loss, trained_tokens] = l.split(',');
    return { run, step: Number(step), objective, response_loss, prompt_loss, trained_tokens: Number(trained_tokens) };
  });
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-12, Math.abs(b));

interface HeatChip {
  index: number;
  runLabel: number;
  dlogit: number;
  dembed: number;
  loss: number;
  prob: number;
}

async function heatChips(page: Page): Promise<HeatChip[]> {
  return page.locator('[data-testid=token-list] .tok.heat').evaluateAll((els) =>
    els.map((el) => {
      const d = (el as HTMLElement).dataset;
      return { index: Number(d.index), runLabel: Number(d.runLabel), dlogit: Number(d.dlogit), dembed: Number(d.dembed), loss: Number(d.loss), prob: Number(d.prob) };
    }),
  );
}

test('train response-only vs full sequence vs prompt weight 0.1: curves, CSV, heatmap, answers, reload', async ({ page }, testInfo) => {
  await open(page);
  await modelReady(page);
  await expect(page.getByTestId('model-name')).toHaveText('micro-model');
  await expect(page.getByTestId('model-params')).toHaveText('70.2k parameters');
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ok');
  // Headless Chromium's WebGPU is SwiftShader: the page must say it is a CPU adapter.
  await expect(page.getByTestId('fallback-warning')).toBeVisible();
  console.log(`adapter: ${await page.getByTestId('gpu-name').textContent()}`);

  await paste(page, SIMPLE);
  await page.getByTestId('add-run').click();
  await expect(page.getByTestId('run-card-2')).toBeVisible();
  await expect(page.getByTestId('run-2-prompt-weight')).toHaveValue('0.1');
  const STEPS = 8;
  await setOpt(page, 'steps', STEPS);
  await setOpt(page, 'lr', 0.01);
  await setOpt(page, 'warmupSteps', 1);
  // Answers decode one token per GPU round trip, slow on SwiftShader: keep them short here.
  await page.getByTestId('answer-tokens').fill('12');
  await shot(page, testInfo, 'train-01-setup');

  await watchLongTasks(page);
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-progress')).toBeVisible();
  // Progress while training: step k of N, tokens/s.
  await expect.poll(async () => Number(await page.getByTestId('progress-step').textContent()), { timeout: 120_000 }).toBeGreaterThan(1);
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
  const longest = await longestTask(page);
  console.log(`training ${STEPS} steps × 3 runs: longest main-thread task ${longest} ms`);
  expect(longest).toBeLessThan(MAX_TASK_MS);
  // The observer is live: a deliberate 120 ms task (a timer, i.e. a real event-loop task; a
  // DevTools evaluate is not one) is seen.
  await page.evaluate(() => {
    setTimeout(() => {
      const t = performance.now();
      while (performance.now() - t < 120);
    }, 0);
  });
  await expect.poll(() => longestTask(page)).toBeGreaterThanOrEqual(100);
  await expect(page.getByTestId('progress-step')).toHaveText(String(STEPS));

  // The table: the last step of each run.
  const rows = [await row(page, 0), await row(page, 1), await row(page, 2)];
  for (const r of rows) {
    expect(r.step).toBe(STEPS);
    for (const v of [r.objective, r.response, r.prompt]) expect(Number.isFinite(v)).toBe(true);
    expect(r.shown.objective).toBe(r.objective.toFixed(4));
    expect(r.shown.response).toBe(r.response.toFixed(4));
  }
  // Response-only trains exactly the response tokens: its objective is the response-token loss.
  expect(rel(rows[0].objective, rows[0].response)).toBeLessThan(1e-5);
  // Full sequence (and prompt weight 0.1) average over other tokens too.
  expect(rel(rows[1].objective, rows[1].response)).toBeGreaterThan(1e-3);
  expect(rel(rows[2].objective, rows[2].response)).toBeGreaterThan(1e-4);
  expect(rows[1].trained).toBeGreaterThan(rows[0].trained);

  // CSV: parses, every run has every step, and matches the numbers shown.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  const csvPath = testInfo.outputPath('loss-curves.csv');
  await download.saveAs(csvPath);
  const csv = parseCsv(readFileSync(csvPath, 'utf8'));
  expect(csv.length).toBe(3 * STEPS);
  const names = [...new Set(csv.map((c) => c.run))];
  expect(names.length).toBe(3);
  for (const [i, name] of names.entries()) {
    const mine = csv.filter((c) => c.run === name);
    expect(mine.map((c) => c.step)).toEqual(Array.from({ length: STEPS }, (_, k) => k + 1));
    const last = mine[mine.length - 1];
    expect(Number(last.objective)).toBe(rows[i].objective);
    expect(Number(last.response_loss)).toBe(rows[i].response);
    expect(Number(last.prompt_loss)).toBe(rows[i].prompt);
    expect(last.trained_tokens).toBe(rows[i].trained);
    for (const c of mine) {
      const d = rel(Number(c.objective), Number(c.response_loss));
      if (i === 0) expect(d, `run A step ${c.step}`).toBeLessThan(1e-5);
      if (i === 1) expect(d, `run B step ${c.step}`).toBeGreaterThan(1e-3);
    }
  }
  // Step 1: every run starts from the same weights on the same batch: same ruler losses.
  const step1 = names.map((n) => csv.find((c) => c.run === n && c.step === 1)!);
  for (const s of step1.slice(1)) {
    expect(rel(Number(s.response_loss), Number(step1[0].response_loss))).toBeLessThan(1e-6);
    expect(rel(Number(s.prompt_loss), Number(step1[0].prompt_loss))).toBeLessThan(1e-6);
  }
  // The loss went down for what each run trains.
  for (const n of names) {
    const mine = csv.filter((c) => c.run === n);
    expect(Number(mine[STEPS - 1].objective)).toBeLessThan(Number(mine[0].objective));
  }
  const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-png').click()]);
  expect(png.suggestedFilename()).toBe('loss-curves.png');
  await expect(page.getByTestId('loss-chart').locator('canvas')).toHaveCount(1);

  // Answers appear at the end of training: base model and every run.
  await expect(page.getByTestId('answer-base')).toBeVisible({ timeout: 120_000 });
  for (const r of [0, 1, 2]) await expect(page.getByTestId(`answer-run-${r}`)).toBeVisible();
  await expect(page.getByTestId('answer-reference')).toContainText('Paris is the capital of France.');
  await shot(page, testInfo, 'train-02-done');

  // Heatmap, run A: zero logit gradient on every -100 token; embedding gradient on prompt tokens.
  await page.getByTestId('heat-run').selectOption('0');
  await page.getByTestId('heat-metric').selectOption('dlogit');
  await page.getByTestId('show-heatmap').click();
  await expect(page.getByTestId('heatmap-shown')).toHaveAttribute('data-step', String(STEPS), { timeout: 60_000 });
  let heat = await heatChips(page);
  expect(heat.length).toBeGreaterThan(20);
  const masked = heat.filter((c) => c.runLabel === -100);
  const trained = heat.filter((c) => c.runLabel !== -100 && c.index > 0);
  expect(masked.length).toBeGreaterThan(10);
  expect(trained.length).toBeGreaterThan(3);
  for (const c of masked) expect(c.dlogit, `token ${c.index}`).toBe(0);
  for (const c of trained) expect(c.dlogit, `token ${c.index}`).toBeGreaterThan(0);
  expect(masked.filter((c) => c.dembed > 0).length).toBeGreaterThan(masked.length / 2);
  for (const c of heat.filter((c) => c.index > 0)) expect(rel(c.prob, Math.exp(-c.loss))).toBeLessThan(1e-5);
  await page.getByTestId('heat-metric').selectOption('dembed');
  await shot(page, testInfo, 'train-03-heatmap');

  // Run B at the base weights (step 0): full sequence, so nearly every token has a gradient.
  await page.getByTestId('heat-run').selectOption('1');
  await page.getByTestId('heat-at').selectOption('0');
  await expect(page.getByTestId('heatmap-shown')).toHaveAttribute('data-run', '1', { timeout: 60_000 });
  await expect(page.getByTestId('heatmap-shown')).toHaveAttribute('data-step', '0');
  heat = await heatChips(page);
  for (const c of heat.filter((c) => c.runLabel === -100)) expect(c.dlogit).toBe(0);
  expect(heat.filter((c) => c.runLabel !== -100 && c.index > 0).every((c) => c.dlogit > 0)).toBe(true);

  // Reload: the finished comparison comes back from IndexedDB.
  await page.waitForTimeout(800); // autosave debounce
  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('run-row-0')).toHaveAttribute('data-step', String(STEPS));
  for (const [i, r] of rows.entries()) {
    const back = await row(page, i);
    expect(back.objective).toBe(r.objective);
    expect(back.response).toBe(r.response);
    expect(back.prompt).toBe(r.prompt);
  }
  await expect(page.getByTestId('answer-run-0')).toBeVisible();
  // The weights come back too (e2e/survive.spec.ts checks them byte for byte): the comparison is
  // live again, not a read-only "restored" record.
  await expect(page.getByTestId('download-weights-0')).toBeEnabled({ timeout: 60_000 });
  await expect(page.getByTestId('train-progress')).toContainText('finished');
  await screen(page, testInfo, 'train-04-restored');
});

test('pause, resume, stop, reset; changing the sample or a mask asks first, cancel keeps the runs', async ({ page }) => {
  await open(page);
  await modelReady(page);
  await paste(page, SIMPLE);
  await setOpt(page, 'steps', 2000);
  await page.getByTestId('train').click();
  const step = async () => Number(await page.getByTestId('progress-step').textContent());
  await expect.poll(step, { timeout: 120_000 }).toBeGreaterThan(2);

  await page.getByTestId('pause').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'paused');
  // The steps already submitted still land; then the count holds.
  let held = -1;
  await expect
    .poll(async () => {
      const before = await step();
      await page.waitForTimeout(1200);
      const after = await step();
      held = after;
      return after === before;
    }, { timeout: 30_000 })
    .toBe(true);
  await page.waitForTimeout(1500);
  expect(await step()).toBe(held);
  await page.getByTestId('resume').click();
  await expect.poll(step, { timeout: 60_000 }).toBeGreaterThan(held);

  // Typing in the paste box: asked; cancel keeps the runs and the text.
  await page.getByTestId('paste-box').press('End');
  await page.getByTestId('paste-box').press('Space');
  await expect(page.getByTestId('confirm-discard')).toBeVisible();
  await page.getByTestId('confirm-cancel').click();
  await expect(page.getByTestId('confirm-discard')).toBeHidden();
  await expectPasteText(page, SIMPLE);
  expect(await phase(page)).toBe('training');

  // A run's mask: asked too.
  await page.getByTestId('run-1-response-only').click();
  await expect(page.getByTestId('confirm-discard')).toBeVisible();
  await page.getByTestId('confirm-cancel').click();
  await expect(page.getByTestId('run-1-full')).toBeChecked();

  await page.getByTestId('stop').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'stopped', { timeout: 60_000 });
  const stoppedAt = await step();
  expect(stoppedAt).toBeLessThan(2000);
  await expect(page.getByTestId('run-row-0')).toHaveAttribute('data-step', String(stoppedAt));

  // The first screen's mask: asked; discard applies the change and clears the runs.
  await page.getByLabel('Full sequence').click();
  await expect(page.getByTestId('confirm-discard')).toBeVisible();
  await page.getByTestId('confirm-discard-ok').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'idle');
  await expect(page.getByLabel('Full sequence')).toBeChecked();
  await expect(page.getByTestId('run-row-0')).toHaveAttribute('data-step', '0');

  // Reset after a short run.
  await setOpt(page, 'steps', 2);
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
  await page.getByTestId('reset').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'idle');
});

test('a JSONL dataset trains on every sample; a share link restores the sample and settings', async ({ page, context }, testInfo) => {
  await open(page);
  await modelReady(page);
  const lines = ['Paris', 'Rome', 'Madrid'].map((city, k) =>
    JSON.stringify({ messages: [{ role: 'user', content: `Capital number ${k + 1}?` }, { role: 'assistant', content: city }] }),
  );
  await paste(page, lines.join('\n'));
  await setOpt(page, 'steps', 3);
  await setOpt(page, 'batchSize', 2);
  await setOpt(page, 'seed', 7);
  // Every sample trains: nothing held out (the default would hold 1 of the 3 out; e2e/heldout.spec.ts).
  await setOpt(page, 'heldOut', 0);
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
  await expect(page.getByTestId('train-progress')).toContainText('3 samples');
  await expect(page.getByTestId('train-progress')).toContainText('batch 2 ×');

  await page.getByTestId('share').click();
  const url = await page.getByTestId('share-url').inputValue();
  expect(url).toContain('#share=');
  const other = await context.newPage();
  await other.routeWebSocket(/.*/, () => {});
  await other.goto(url);
  await expect(other.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  // Same browser: the finished runs above are saved here, and the shared sample would replace
  // their data, so the page asks first.
  await expect(other.getByTestId('confirm-discard')).toBeVisible();
  await other.getByTestId('confirm-discard-ok').click();
  await expectPasteText(other, lines.join('\n'));
  await expect(other.getByTestId('opt-steps')).toHaveValue('3');
  await expect(other.getByTestId('opt-seed')).toHaveValue('7');
  await expect(other.getByTestId('format')).toContainText('JSONL');
  expect(other.url()).not.toContain('#share=');
  await screen(other, testInfo, 'train-05-shared');
});

test('without WebGPU: a clear message, the token view still works, Train is off', async ({ baseURL }, testInfo) => {
  // Its own browser with WebGPU switched off (the config's browser enables it for every test).
  const browser = await chromium.launch({
    ...CHROMIUM_LAUNCH,
    args: [...CHROMIUM_LAUNCH.args.filter((a) => a !== '--enable-unsafe-webgpu'), '--disable-features=WebGPU'],
  });
  try {
    const page = await browser.newPage({ baseURL });
    await open(page);
    // Chromium keeps navigator.gpu but offers no adapter.
    expect(await page.evaluate(async () => !('gpu' in navigator) || (await navigator.gpu.requestAdapter()) === null)).toBe(true);
    await paste(page, SIMPLE);
    await expect(page.locator('[data-testid=token-list] .tok').first()).toBeVisible();
    await expect(page.getByTestId('no-webgpu')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('no-webgpu')).toContainText(/no GPU adapter|not available/);
    await expect(page.getByTestId('train')).toBeDisabled();
    await screen(page, testInfo, 'train-06-no-webgpu');
  } finally {
    await browser.close();
  }
});

test('one source of labels: with a cut, a hand override and a prompt weight, training trains exactly the tokens the view shows', async ({ page }) => {
  await open(page);
  await modelReady(page);
  const sample = chat(
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Hi there' },
    { role: 'assistant', content: 'Hello! How can I help?' },
    { role: 'user', content: Array.from({ length: 6 }, (_, i) => `Line ${i}: sum it up.`).join('\n') },
    { role: 'assistant', content: 'Every line asks for a summary, so here is one sentence that keeps going for a while.' },
  );
  await paste(page, sample);
  // A policy that is not the default: prompt tokens train at weight 0.1 (run C has the same rule).
  await page.getByTestId('prompt-weight').fill('0.1');
  await idle(page);
  let cs = await chips(page);
  const answer = cs.filter((c) => c.role === 'assistant' && c.label !== -100);
  expect(answer.length).toBeGreaterThan(10);
  // A cut in the middle of the last answer, set by hand (the micro model has 128 positions).
  const cutAt = answer[answer.length - 5].index;
  expect(cutAt).toBeLessThan(128);
  await page.getByTestId('context-length').fill(String(cutAt));
  await page.getByTestId('context-length').press('Enter');
  await idle(page);
  // A hand override: mask one trained answer token before the cut.
  const masked = answer[2];
  await page.locator(`[data-index="${masked.index}"]`).click();
  await idle(page);
  await expect(page.locator(`[data-index="${masked.index}"]`)).toHaveAttribute('data-label', '-100');
  cs = await chips(page);
  expect(cs.some((c) => c.beyondCut && c.role === 'assistant')).toBe(true);
  expect(cs.filter((c) => c.weight > 0 && c.weight < 1).length).toBeGreaterThan(0);
  // What the view says trains: labels that are not -100 inside the cut, from position 1 (position 0 predicts nothing).
  const viewTrained = cs.filter((c) => c.index >= 1 && !c.beyondCut && c.label !== -100).length;

  await page.getByTestId('add-run').click();
  await expect(page.getByTestId('run-2-prompt-weight')).toHaveValue('0.1');
  await setOpt(page, 'steps', 1);
  await setOpt(page, 'batchSize', 1);
  await page.getByTestId('train').click();
  await expect.poll(() => phase(page), { timeout: 120_000 }).toBe('done');
  const trained = Number(await page.getByTestId('run-row-2').getAttribute('data-trained'));
  console.log(`one source of labels: view ${viewTrained} trained tokens, run C trained ${trained}`);
  expect(trained).toBe(viewTrained);

  // Answers: a sampling value out of range is refused next to its field; a valid one is used and said.
  await expect(page.getByTestId('answer-base')).toBeVisible({ timeout: 120_000 });
  await page.getByTestId('answer-tokens').fill('4');
  await page.getByTestId('sampling-topP').fill('5');
  await expect(page.getByTestId('sampling')).toContainText('Top-p must be a number from 0.01 to 1 (got 5).');
  await page.getByTestId('sampling-topP').fill('0.9');
  await expect(page.getByTestId('sampling')).not.toContainText('Top-p must be');
  await page.getByTestId('sampling-temperature').fill('0.8');
  await page.getByTestId('sampling-seed').fill('7');
  await page.getByTestId('generate-answers').click();
  await expect(page.getByTestId('answers')).toContainText('sampled at temperature 0.8, top-k 0, top-p 0.9, seed 7', { timeout: 120_000 });
});
