// What a user does on the first screen: paste a chat, read labels, change the mask, break the
// input, use other tokenizers. Every check reads the chips' data-* attributes, which come from
// the same label arrays the trainer will use.
import { expect, test } from '@playwright/test';
import {
  chat,
  chips,
  clipboardPaste,
  count,
  expectPasteText,
  idle,
  longestTask,
  openFresh,
  paste,
  pasteSelection,
  pasteText,
  pickTokenizer,
  screen,
  SIMPLE,
  warmUp,
  watchLongTasks,
} from './helpers';
import { EXAMPLES } from '../src/data/examples';

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

test.beforeEach(async ({ page }) => {
  await openFresh(page);
});

test('WebGPU: the page gets an adapter', async ({ page }) => {
  const adapter = await page.evaluate(async () => {
    if (!('gpu' in navigator)) return { present: false, fallback: null, vendor: '' };
    const a = await navigator.gpu.requestAdapter();
    return { present: a !== null, fallback: a?.info.isFallbackAdapter ?? null, vendor: a?.info.vendor ?? '' };
  });
  console.log(`WebGPU adapter: ${JSON.stringify(adapter)}`);
  expect(adapter.present).toBe(true);
});

test('response-only: prompt tokens are -100, assistant tokens carry their ids', async ({ page }, testInfo) => {
  await paste(page, SIMPLE);
  await expect(page.getByTestId('format')).toHaveText('OpenAI messages array');
  const cs = await chips(page);
  expect(cs.length).toBeGreaterThan(20);
  expect(await count(page, 'count-tokens')).toBe(cs.length);

  const byRole = (r: string) => cs.filter((c) => c.role === r);
  for (const r of ['system', 'user']) {
    expect(byRole(r).length).toBeGreaterThan(0);
    for (const c of byRole(r)) expect(c.label, `${r} token ${c.index} "${c.text}"`).toBe(-100);
  }
  const assistant = byRole('assistant');
  expect(assistant.length).toBeGreaterThan(0);
  for (const c of assistant) expect(c.label, `assistant token ${c.index} "${c.text}"`).toBe(c.id);
  // The answer's words are in the trained chips.
  expect(assistant.map((c) => c.text).join('')).toContain('Paris');
  // The end-of-turn token closing the answer trains (default), other markup does not.
  const eot = cs.filter((c) => c.eot);
  expect(eot.length).toBe(1);
  expect(eot[0].label).toBe(eot[0].id);
  for (const c of byRole('template').filter((c) => !c.eot)) expect(c.label).toBe(-100);

  const trained = cs.filter((c) => c.label !== -100).length;
  expect(await count(page, 'count-trained')).toBe(trained);
  expect(await count(page, 'count-masked')).toBe(cs.length - trained);

  // Hover shows the HF shift.
  const first = assistant[0];
  await page.locator(`[data-index="${first.index}"]`).hover();
  const tip = page.getByTestId('token-tooltip');
  await expect(tip).toContainText(`position ${first.index - 1}`);
  await expect(tip).toContainText(String(first.id));
  await screen(page, testInfo, '01-response-only');

  // Turning the end-of-turn token off masks it.
  await page.getByLabel('Train the end-of-turn token').uncheck();
  await idle(page);
  await expect(page.locator(`[data-index="${eot[0].index}"]`)).toHaveAttribute('data-label', '-100');
});

test('full loss trains the prompt; roles can be excluded; prompt weight keeps ids at a weight', async ({ page }, testInfo) => {
  await paste(page, SIMPLE);
  const before = await chips(page);
  const userIdx = before.find((c) => c.role === 'user')!.index;
  await expect(page.locator(`[data-index="${userIdx}"]`)).toHaveAttribute('data-label', '-100');

  await page.getByLabel('Full sequence').check();
  await idle(page);
  const full = await chips(page);
  for (const c of full) expect(c.label, `token ${c.index} ${c.role}`).toBe(c.id);
  expect(await count(page, 'count-masked')).toBe(0);
  await screen(page, testInfo, '02-full-loss');

  // Untick "User": user tokens go back to -100, the rest stay trained.
  await page.getByRole('checkbox', { name: 'User' }).uncheck();
  await idle(page);
  for (const c of await chips(page)) {
    if (c.role === 'user') expect(c.label).toBe(-100);
    else if (c.role === 'system' || c.role === 'assistant') expect(c.label).toBe(c.id);
  }

  // Response-only again, prompt-loss weight 0.5: prompt tokens keep their ids at weight 0.5.
  await page.getByLabel('Responses only').check();
  await page.getByTestId('prompt-weight').fill('0.5');
  await idle(page);
  const weighted = await chips(page);
  for (const c of weighted) {
    expect(c.label).toBe(c.id);
    if (c.role === 'user' || c.role === 'system') expect(c.weight).toBe(0.5);
    if (c.role === 'assistant') expect(c.weight).toBe(1);
  }
  expect(await count(page, 'count-partial')).toBe(weighted.filter((c) => c.weight === 0.5).length);
});

test('hand overrides: click and keyboard toggle a token; clear overrides undoes them', async ({ page }) => {
  await paste(page, SIMPLE);
  const cs = await chips(page);
  const a = cs.find((c) => c.role === 'assistant')!;
  const u = cs.find((c) => c.role === 'user')!;

  await page.locator(`[data-index="${a.index}"]`).click();
  await idle(page);
  await expect(page.locator(`[data-index="${a.index}"]`)).toHaveAttribute('data-label', '-100');
  await expect(page.locator(`[data-index="${a.index}"]`)).toHaveAttribute('data-override', 'mask');

  // Keyboard: focus the user token by arrowing from the assistant one, then press Enter.
  await page.locator(`[data-index="${a.index}"]`).focus();
  for (let i = a.index; i > u.index; i--) await page.keyboard.press('ArrowLeft');
  await expect(page.locator(`[data-index="${u.index}"]`)).toBeFocused();
  await expect(page.getByTestId('token-tooltip')).toContainText(new RegExp(`Position\\s*${u.index}(?!\\d)`));
  await page.keyboard.press('Enter');
  await idle(page);
  await expect(page.locator(`[data-index="${u.index}"]`)).toHaveAttribute('data-label', String(u.id));
  await expect(page.locator(`[data-index="${u.index}"]`)).toHaveAttribute('data-override', 'train');
  await expect(page.getByText('2 hand overrides.')).toBeVisible();

  await page.getByTestId('clear-overrides').click();
  await idle(page);
  await expect(page.locator(`[data-index="${a.index}"]`)).toHaveAttribute('data-label', String(a.id));
  await expect(page.locator(`[data-index="${u.index}"]`)).toHaveAttribute('data-label', '-100');
  await expect(page.locator('[data-override]')).toHaveCount(0);

  // ArrowDown moves to the next visual row, ArrowUp comes back.
  await page.locator('[data-index="0"]').focus();
  await page.keyboard.press('ArrowDown');
  const focused = page.locator('[data-testid=token-list] .tok:focus');
  const below = Number(await focused.getAttribute('data-index'));
  expect(below).toBeGreaterThan(0);
  const top = async (i: number) => (await page.locator(`[data-index="${i}"]`).boundingBox())!.y;
  expect(await top(below)).toBeGreaterThan(await top(0));
  await page.keyboard.press('ArrowUp');
  await expect(page.locator('[data-index="0"]')).toBeFocused();
});

test('invalid JSON: the error names line and column, and the last good view stays', async ({ page }, testInfo) => {
  await paste(page, SIMPLE);
  const good = await chips(page);
  expect(good.length).toBeGreaterThan(20);
  const broken = '[\n  {"role": "user", "content": "Hi"},\n  {"role": "assistant" "content": "Hello!"}\n]';
  await paste(page, broken);
  const err = page.getByTestId('input-error');
  await expect(err).toBeVisible();
  await expect(err).toHaveAttribute('role', 'alert');
  await expect(err).toContainText(/line 3, column \d+/);
  await expect(page.getByTestId('stale-badge')).toBeVisible();
  // The old chips are still there, unchanged.
  expect(await chips(page)).toEqual(good);
  await screen(page, testInfo, '03-invalid-json');

  // "Show line 3 …" puts the caret on the error.
  await err.getByRole('button', { name: /Show line 3/ }).click();
  const [caret] = await pasteSelection(page);
  expect(broken.slice(0, caret).split('\n').length).toBe(3);

  // Fixing the text clears the error and the stale mark.
  await paste(page, broken.replace('"assistant" "content"', '"assistant", "content"'));
  await expect(err).toHaveCount(0);
  await expect(page.getByTestId('stale-badge')).toHaveCount(0);
});

test('unknown role and empty message are reported next to the paste box', async ({ page }) => {
  await paste(page, SIMPLE);
  await paste(page, chat({ role: 'user', content: 'Hi' }, { role: 'wizard' as 'user', content: 'Abracadabra' }));
  await expect(page.getByTestId('input-error')).toContainText('wizard');
  await expect(page.getByTestId('stale-badge')).toBeVisible();

  await paste(page, chat({ role: 'user', content: 'Hi' }, { role: 'assistant', content: '' }));
  await expect(page.getByTestId('input-error')).toContainText(/empty/i);
  await expect(page.getByTestId('input-error')).toContainText(/line \d+/);
});

test('no assistant turn in response-only mode: nothing to train', async ({ page }, testInfo) => {
  await paste(page, chat({ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }));
  const alert = page.getByTestId('nothing-to-train');
  await expect(alert).toBeVisible();
  await expect(alert).toHaveAttribute('role', 'alert');
  await expect(alert).toContainText('nothing to train: every label is -100');
  for (const c of await chips(page)) expect(c.label).toBe(-100);
  expect(await count(page, 'count-trained')).toBe(0);
  await screen(page, testInfo, '04-nothing-to-train');

  await page.getByLabel('Full sequence').check();
  await idle(page);
  await expect(alert).toHaveCount(0);
});

test('a sample longer than the context: cut marker, dimmed tokens, warning when the answer is cut', async ({ page }, testInfo) => {
  const long = chat(
    { role: 'user', content: Array.from({ length: 120 }, (_, i) => `Line ${i}: please summarise this.`).join('\n') },
    { role: 'assistant', content: 'A short summary.' },
  );
  await paste(page, long);
  await expect(page.getByTestId('context-length')).toHaveValue('256');
  const marker = page.getByTestId('cut-marker');
  await expect(marker).toBeVisible();
  await expect(marker).toContainText('256');
  const warn = page.getByTestId('context-warning');
  await expect(warn).toBeVisible();
  await expect(warn).toContainText('removes');
  const cs = await chips(page);
  expect(cs.length).toBeGreaterThan(256);
  for (const c of cs) expect(c.beyondCut, `token ${c.index}`).toBe(c.index >= 256);
  // Every trained token sits beyond the cut here.
  expect(cs.filter((c) => c.label !== -100 && c.index < 256)).toEqual([]);
  await marker.scrollIntoViewIfNeeded();
  await screen(page, testInfo, '05-context-cut');

  // The model's tokenizer cannot go past the model's 256 positions (training cuts there too), and says so.
  await page.getByTestId('context-length').fill('4096');
  await page.getByTestId('context-length').press('Enter');
  await idle(page);
  await expect(page.getByTestId('context-length')).toHaveValue('256');
  await expect(page.getByTestId('context-limit')).toContainText('256 positions');
  await expect(marker).toBeVisible();

  // A tokenizer with no model behind it takes a context long enough to remove the cut.
  await page.getByTestId('tokenizer').selectOption('llama3');
  await idle(page);
  await page.getByTestId('context-length').fill('4096');
  await page.getByTestId('context-length').press('Enter');
  await idle(page);
  await expect(marker).toHaveCount(0);
  await expect(warn).toHaveCount(0);
  await expect(page.locator('[data-beyond-cut]')).toHaveCount(0);
});

const UNICODE = 'Grüße 👋🏽 — 你好，世界 — مرحبا بالعالم — e\u0301 — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 — 🧑‍🚀\ttab';

test('Unicode of every kind round-trips through the tokens', async ({ page }, testInfo) => {
  await paste(page, chat({ role: 'user', content: UNICODE }, { role: 'assistant', content: `Echo: ${UNICODE}` }));
  await expect(page.getByTestId('roundtrip')).toContainText('✓');
  await page.locator('.rendered summary').click();
  await expect(page.getByTestId('rendered-text')).toContainText(UNICODE);
  // The chips, read in order, spell the text (whitespace shown as ␣ ⇥).
  const spelled = (await chips(page)).map((c) => c.text).join('');
  const visible = UNICODE.replaceAll(' ', '␣').replaceAll('\t', '⇥');
  expect(spelled).toContain(visible);
  expect(spelled).toContain(`Echo:␣${visible}`);
  await screen(page, testInfo, '06-unicode');
});

test('JSONL dataset: step through samples', async ({ page }) => {
  const lines = [1, 2, 3].map((k) =>
    JSON.stringify({ messages: [{ role: 'user', content: `Question ${k}` }, { role: 'assistant', content: `Answer number ${k}` }] }),
  );
  await paste(page, lines.join('\n'));
  await expect(page.getByTestId('format')).toContainText('JSONL');
  await expect(page.getByTestId('sample-position')).toHaveText('sample 1 of 3');
  const spelled = async () => (await chips(page)).map((c) => c.text).join('');
  expect(await spelled()).toContain('number␣1');
  await page.getByRole('button', { name: 'Next sample' }).click();
  await idle(page);
  await expect(page.getByTestId('sample-position')).toHaveText('sample 2 of 3');
  expect(await spelled()).toContain('number␣2');
  await page.getByRole('button', { name: 'Next sample' }).click();
  await idle(page);
  await expect(page.getByRole('button', { name: 'Next sample' })).toBeDisabled();
  expect(await spelled()).toContain('number␣3');
});

test('input and settings survive a reload', async ({ page }) => {
  await paste(page, SIMPLE);
  await page.getByLabel('Full sequence').check();
  await idle(page);
  // Autosave is debounced (300 ms).
  await page.waitForTimeout(800);
  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await expectPasteText(page, SIMPLE);
  await expect(page.getByLabel('Full sequence')).toBeChecked();
  await idle(page);
  expect(await count(page, 'count-masked')).toBe(0);
});

for (const { id, name, eotText } of [
  { id: 'llama3', name: 'Llama 3', eotText: '<|eot_id|>' },
  { id: 'qwen3', name: 'Qwen3', eotText: '<|im_end|>' },
  { id: 'gemma3', name: 'Gemma 3', eotText: '<end_of_turn>' },
  { id: 'llama3_1', name: 'Llama 3.1', eotText: '<|eot_id|>' },
  { id: 'deepseek_v3', name: 'DeepSeek-V3', eotText: '<｜end▁of▁sentence｜>' },
] as const) {
  test(`${name} tokenizer: assistant chips trained, markup masked`, async ({ page }, testInfo) => {
    await paste(
      page,
      chat(
        { role: 'system', content: 'You are helpful.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello! How can I help?' },
        { role: 'user', content: 'Name a colour.' },
        { role: 'assistant', content: 'Teal.' },
      ),
    );
    await pickTokenizer(page, id);
    await expect(page.getByTestId('input-error')).toHaveCount(0);
    const cs = await chips(page);
    const assistant = cs.filter((c) => c.role === 'assistant');
    expect(assistant.map((c) => c.text).join('')).toContain('Hello!');
    expect(assistant.map((c) => c.text).join('')).toContain('Teal.');
    for (const c of assistant) expect(c.label).toBe(c.id);
    for (const c of cs.filter((c) => c.role === 'user' || c.role === 'system')) expect(c.label).toBe(-100);
    // Both assistant turns end with a trained end-of-turn token.
    const eot = cs.filter((c) => c.eot);
    expect(eot.map((c) => c.text)).toEqual([eotText, eotText]);
    for (const c of eot) expect(c.label).toBe(c.id);
    // Template markup (headers, think blocks) never trains.
    for (const c of cs.filter((c) => c.role === 'template' && !c.eot)) expect(c.label, `markup "${c.text}"`).toBe(-100);
    if (id === 'qwen3') {
      const think = cs.filter((c) => c.text.includes('<think>') || c.text.includes('</think>'));
      for (const c of think) expect(c.role).toBe('template');
    }
    await screen(page, testInfo, `07-${id}`);

    // "Last only" masks the first answer.
    await page.getByLabel('Last only').check();
    await idle(page);
    const last = await chips(page);
    expect(last.filter((c) => c.label !== -100).map((c) => c.text).join('')).not.toContain('Hello');
    expect(last.filter((c) => c.label !== -100).map((c) => c.text).join('')).toContain('Teal');
  });
}

// Responsiveness bound: the worker spends ~1–2 s tokenizing these; run on the main thread that
// would be one task of that length. Pasting itself costs ~0.2–0.3 s in Chromium here.
const MAX_MAIN_THREAD_TASK_MS = 1000;

test('a large paste stays responsive and renders only what is on screen', async ({ page }, testInfo) => {
  // ~300 KB answer: ~100k tokens.
  const para = 'The quick brown fox jumps over the lazy dog, then naps in the warm afternoon sun.\n';
  const big = chat({ role: 'user', content: 'Write a lot.' }, { role: 'assistant', content: para.repeat(3600) });
  await watchLongTasks(page);
  const t0 = Date.now();
  await clipboardPaste(page, big);
  await expect(page.locator('.app')).toHaveAttribute('data-busy', 'true');
  await idle(page);
  const ms = Date.now() - t0;
  const T = await count(page, 'count-tokens');
  const inDom = await page.locator('[data-testid=token-list] .tok').count();
  const longest = await longestTask(page);
  console.log(`large paste: ${big.length} chars, ${T} tokens, ${inDom} chips in the DOM, ${ms} ms to the view, longest main-thread task ${longest} ms`);
  expect(await pasteText(page)).toBe(big);
  expect(T).toBeGreaterThan(20_000);
  expect(inDom).toBeLessThan(T / 4);
  expect(longest).toBeLessThan(MAX_MAIN_THREAD_TASK_MS);
  // End jumps to the last token, rendering its chunk.
  await page.locator('[data-testid=token-list] [tabindex="0"]').focus();
  await page.keyboard.press('End');
  await expect(page.locator(`[data-index="${T - 1}"]`)).toBeFocused();
  await screen(page, testInfo, '08-large');
});

test('a 1 MB JSONL paste: first sample shown quickly, stepping works', async ({ page }) => {
  const line = (k: number) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: `Question ${k}: ${'what comes next in this long list of words? '.repeat(6)}` },
        { role: 'assistant', content: `Answer ${k}: ${'the next word follows the previous one. '.repeat(6)}` },
      ],
    });
  const lines: string[] = [];
  let size = 0;
  for (let k = 1; size < 1_000_000; k++) {
    lines.push(line(k));
    size += lines[lines.length - 1].length + 1;
  }
  const text = lines.join('\n');
  await watchLongTasks(page);
  const t0 = Date.now();
  await clipboardPaste(page, text);
  await expect(page.getByTestId('sample-position')).toHaveText(`sample 1 of ${lines.length}`);
  await idle(page);
  const ms = Date.now() - t0;
  const longest = await longestTask(page);
  console.log(`1 MB JSONL: ${text.length} chars, ${lines.length} samples, ${ms} ms to the view, longest main-thread task ${longest} ms`);
  await expect(page.getByTestId('format')).toContainText('JSONL');
  expect(longest).toBeLessThan(MAX_MAIN_THREAD_TASK_MS);
  expect((await chips(page)).map((c) => c.text).join('')).toContain('Answer␣1:');
  await page.getByRole('button', { name: 'Next sample' }).click();
  await idle(page);
  expect((await chips(page)).map((c) => c.text).join('')).toContain('Answer␣2:');
  // Typing at the end of 1 MB stays quick; the broken last line is reported with its line number,
  // and the other lines stay the dataset.
  await page.getByTestId('paste-box').focus();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('x');
  await expect(page.getByTestId('line-errors')).toContainText(`Line ${lines.length}, column`);
  await expect(page.getByTestId('sample-position')).toHaveText(`sample 2 of ${lines.length - 1}`);
  await expect(page.getByTestId('input-error')).toHaveCount(0);
});

test('the paste box: an example loaded over a paste is undone with Ctrl+Z, redone with Ctrl+Shift+Z or Ctrl+Y; Tab leaves the box', async ({ page }) => {
  await paste(page, SIMPLE);
  await page.getByLabel('Examples').selectOption(EXAMPLES[1].id);
  await idle(page);
  await expectPasteText(page, EXAMPLES[1].text);
  await page.getByTestId('paste-box').focus();
  await page.keyboard.press('Control+z');
  await expectPasteText(page, SIMPLE);
  await idle(page);
  expect((await chips(page)).map((c) => c.text).join('')).toContain('Paris');
  await page.keyboard.press('Control+Shift+KeyZ'); // KeyZ: key "Z" with Shift, as a keyboard sends it (Playwright's "z" would stay lowercase)
  await expectPasteText(page, EXAMPLES[1].text);
  await page.keyboard.press('Control+z');
  await expectPasteText(page, SIMPLE);
  await page.keyboard.press('Control+y');
  await expectPasteText(page, EXAMPLES[1].text);
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('paste-box')).not.toBeFocused();
  await expectPasteText(page, EXAMPLES[1].text);
});

test('first screen shows the first example; every built-in example loads without an error', async ({ page }, testInfo) => {
  await expectPasteText(page, EXAMPLES[0].text);
  expect((await chips(page)).length).toBeGreaterThan(10);
  await expect(page.getByTestId('input-error')).toHaveCount(0);
  await screen(page, testInfo, '00-first-screen');
  for (const ex of EXAMPLES) {
    await page.getByLabel('Examples').selectOption(ex.id);
    await idle(page);
    await expectPasteText(page, ex.text);
    await expect(page.getByTestId('input-error'), ex.title).toHaveCount(0);
    await expect(page.getByTestId('format')).not.toHaveText('not recognised');
    expect((await chips(page)).length, ex.title).toBeGreaterThan(5);
  }
});
