// Picking the model, downloading a run's weights, and hand overrides in training, as a user does it.
// No network: folder models are the fixtures under e2e/fixtures/ served by the dev server, and the
// Hub is made unreachable with page.route (the machine has no internet either way; the route makes
// the failure immediate and deterministic).
//
//   micro-model/        trainable LLaMA (C = 16, 2 layers), the playground's tokenizer
//   tiny-hf-model/      another LLaMA with its own 67-token byte-level tokenizer (BF16 weights)
//   unsupported-model/  micro-model's config.json with model_type qwen3 (refused by the config reader)
//   too-large-model/    config.json of a LLaMA with a 1,000,000 × 4096 embedding (refused by the memory check)
import { readFileSync } from 'node:fs';
import { expect, test, type Download, type Page } from '@playwright/test';
import { openFresh, chips, idle, paste, screen, SIMPLE, warmUp } from './helpers';

const MICRO_DIR = '/e2e/fixtures/micro-model/';
const MICRO = `/?model=${MICRO_DIR}`;

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

/** The app at a URL (the micro model by default): openFresh from helpers.ts. */
const open = (page: Page, url = MICRO) => openFresh(page, url);

async function modelReady(page: Page, name: string): Promise<void> {
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('model-name')).toHaveText(name);
}

/** Type a source into the model field and press Load. */
async function load(page: Page, source: string): Promise<void> {
  await page.getByTestId('model-source').fill(source);
  await page.getByTestId('model-load').click();
}

/**
 * Training ends by generating every run's answer, one GPU round trip per token (slow on
 * SwiftShader), and requests queue behind it: these tests need no answers, so keep them 1 token.
 */
async function shortAnswers(page: Page): Promise<void> {
  await page.getByTestId('answer-tokens').fill('1');
}

async function setOpt(page: Page, key: string, value: number): Promise<void> {
  const input = page.getByTestId(`opt-${key}`);
  await input.fill(String(value));
  await input.press('Enter');
  await expect(input).toHaveValue(String(value));
}

/** Paths requested under `dir` (from the page or its workers) since `log` started. */
function requestLog(page: Page): string[] {
  const log: string[] = [];
  page.on('request', (r) => log.push(new URL(r.url()).pathname));
  return log;
}

const defaultTokenizerLabel = (page: Page) => page.getByTestId('tokenizer').locator('option[value="default"]');

test('model picker: errors next to the field keep the model in use; a folder model loads with progress; back to the embedded model', async ({ page }, testInfo) => {
  const requests = requestLog(page);
  await open(page);
  await modelReady(page, 'micro-model');
  // The token view reads the loaded model's tokenizer.
  await expect(defaultTokenizerLabel(page)).toHaveText('micro-model (loaded model)');
  await expect(page.getByTestId('tokenizer')).toHaveValue('default');
  const suggestions = await page.getByTestId('model-suggestions').locator('option').evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
  expect(suggestions).toEqual(['HuggingFaceTB/SmolLM2-135M-Instruct', 'HuggingFaceTB/SmolLM2-360M-Instruct', 'Qwen/Qwen2.5-0.5B-Instruct']);
  await paste(page, SIMPLE);
  const microTokens = (await chips(page)).map((c) => c.id);

  // Unsupported architecture: the config reader's message names it; only config.json was read.
  await load(page, '/e2e/fixtures/unsupported-model/');
  const error = page.getByTestId('model-error');
  await expect(error).toContainText('unsupported architecture: model_type "qwen3" (architectures: Qwen3ForCausalLM)');
  await expect(error).toContainText('Qwen3 applies an RMSNorm to each query and key head');
  await expect(error).toContainText('Still using micro-model.');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready');
  await expect(page.getByTestId('model-name')).toHaveText('micro-model');
  await expect(page.getByTestId('model-source')).toHaveAttribute('aria-invalid', 'true');
  expect(requests.filter((p) => p.startsWith('/e2e/fixtures/unsupported-model/'))).toEqual(['/e2e/fixtures/unsupported-model/config.json']);

  // Too large for the GPU: the memory check's numbers, before any weights are fetched.
  await load(page, '/e2e/fixtures/too-large-model/');
  await expect(error).toContainText('too-large-model cannot train on this GPU, so its weights were not downloaded.');
  await expect(error).toContainText(/parameters:model\.embed_tokens\.weight \(1000000 × 4096\), needs 15625\.0 MiB, but this GPU allows at most \d+\.\d MiB per buffer/);
  await expect(error).toContainText(/It would use \d+\.\d MiB .*: parameters \d+\.\d MiB, gradients and AdamW moments \d+\.\d MiB/);
  await expect(error).toContainText('the model itself is too large for this GPU; pick a smaller model.');
  await expect(page.getByTestId('model-name')).toHaveText('micro-model');
  expect(requests.filter((p) => p.startsWith('/e2e/fixtures/too-large-model/'))).toEqual(['/e2e/fixtures/too-large-model/config.json']);

  // Unreachable Hub: says so, keeps the model, the URL and the token view.
  const hub: string[] = [];
  await page.context().route('https://huggingface.co/**', (route) => {
    hub.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  await load(page, 'HuggingFaceTB/SmolLM2-135M-Instruct');
  await expect(error).toContainText('Could not load HuggingFaceTB/SmolLM2-135M-Instruct: Could not download https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/config.json');
  await expect(error).toContainText('Check the internet connection; huggingface.co must be reachable from this page.');
  await expect(error).toContainText('Still using micro-model.');
  expect(hub).toEqual(['https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/config.json']);
  await expect(page.getByTestId('model-name')).toHaveText('micro-model');
  await expect(page.getByTestId('train')).toBeEnabled();
  expect(new URL(page.url()).searchParams.get('model')).toBe(MICRO_DIR);
  expect((await chips(page)).map((c) => c.id)).toEqual(microTokens);
  await screen(page, testInfo, 'model-01-hub-unreachable');

  // Not a source at all: the resolver's example, nothing fetched.
  await load(page, 'just some words');
  await expect(error).toContainText('just some words');
  await expect(error).toContainText('HuggingFaceTB/SmolLM2-135M-Instruct');

  // A folder model with its own tokenizer. Its weights are held back, so the progress shows the
  // files read so far (bytes and %).
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await page.context().route('**/e2e/fixtures/tiny-hf-model/model.safetensors', async (route) => {
    await held;
    await route.continue();
  });
  await load(page, '/e2e/fixtures/tiny-hf-model/');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'loading');
  await expect(error).toBeHidden();
  await expect(page.getByTestId('model-progress')).toBeVisible();
  await expect(page.getByTestId('model-progress-text')).toHaveText(/^[\w.]+\.json: \d+\.\d KiB of \d+\.\d KiB \(100%\) · \d+\.\d KiB in all$/);
  // While it loads, the model in use is still shown and can be kept with Cancel; here it is not.
  await expect(page.getByTestId('model-name')).toHaveText('micro-model');
  await expect(page.getByTestId('model-cancel')).toBeVisible();
  release();
  await modelReady(page, 'tiny-hf-model');
  await expect(page.getByTestId('model-params')).toHaveText(/parameters$/);
  await expect(page.getByTestId('model-progress')).toBeHidden();
  expect(new URL(page.url()).searchParams.get('model')).toBe('/e2e/fixtures/tiny-hf-model/');
  // The token view now tokenizes with tiny-hf-model's byte-level tokenizer: other ids, its context.
  await expect(defaultTokenizerLabel(page)).toHaveText('tiny-hf-model (loaded model)');
  await idle(page);
  await expect(page.locator('.token-view .panel-head')).toContainText('tiny-hf-model · context 64');
  const tinyTokens = (await chips(page)).map((c) => c.id);
  expect(tinyTokens).not.toEqual(microTokens);
  expect(Math.max(...tinyTokens)).toBeLessThan(67);
  await screen(page, testInfo, 'model-02-tiny-loaded');

  // Back to the embedded model: no ?model= any more, the built-in tokenizer entry again.
  await page.getByTestId('model-embedded').click();
  await modelReady(page, 'playground-base');
  expect(new URL(page.url()).searchParams.has('model')).toBe(false);
  await expect(defaultTokenizerLabel(page)).toHaveText('Playground base (ChatML)');
  await expect(page.getByTestId('model-embedded')).toBeHidden();
  await idle(page);
  expect((await chips(page)).map((c) => c.id)).toEqual(microTokens);
});

test('a Hub model (huggingface.co stood in for by a route): loads, the token view uses its tokenizer, a reload reads the browser cache', async ({ page }) => {
  // huggingface.co/test-org/tiny-chat/resolve/main/<file> answers with e2e/fixtures/tiny-hf-model/<file>, or 404.
  const served: string[] = [];
  const hub = /^https:\/\/huggingface\.co\/test-org\/tiny-chat\/resolve\/main\/([\w.-]+)$/;
  await page.context().route('https://huggingface.co/**', async (route) => {
    const file = hub.exec(route.request().url())?.[1];
    served.push(file ?? route.request().url());
    const headers = { 'access-control-allow-origin': '*' };
    let body: Buffer | null = null;
    try {
      body = file ? readFileSync(`./e2e/fixtures/tiny-hf-model/${file}`) : null;
    } catch {
      body = null;
    }
    await route.fulfill(body ? { status: 200, body, headers: { ...headers, 'content-length': String(body.length) } } : { status: 404, body: 'Entry not found', headers });
  });
  await open(page);
  await modelReady(page, 'micro-model');
  await paste(page, SIMPLE);
  await load(page, 'test-org/tiny-chat');
  await modelReady(page, 'test-org/tiny-chat');
  await expect(page.getByTestId('model-status')).toContainText('Hugging Face Hub');
  expect(served.slice(0, 2)).toEqual(['config.json', 'tokenizer.json']);
  expect(served).toContain('model.safetensors');
  expect(new URL(page.url()).searchParams.get('model')).toBe('test-org/tiny-chat');
  await expect(defaultTokenizerLabel(page)).toHaveText('test-org/tiny-chat (loaded model)');
  await idle(page);
  const ids = (await chips(page)).map((c) => c.id);
  expect(Math.max(...ids)).toBeLessThan(67);
  // The data worker read the tokenizer from the model cache, not from the Hub a second time.
  expect(served.filter((f) => f === 'tokenizer.json').length).toBe(1);

  // Offline now: the reload (?model=test-org/tiny-chat) loads everything from Cache Storage.
  await page.context().unrouteAll();
  const offline: string[] = [];
  await page.context().route('https://huggingface.co/**', (route) => {
    offline.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await modelReady(page, 'test-org/tiny-chat');
  await idle(page);
  expect((await chips(page)).map((c) => c.id)).toEqual(ids);
  expect(offline).toEqual([]);
});

test('cancelling a download keeps the model in use', async ({ page }) => {
  await open(page);
  await modelReady(page, 'micro-model');
  // config.json never answers: the load waits until cancelled.
  await page.context().route('**/e2e/fixtures/tiny-hf-model/config.json', () => {});
  await load(page, '/e2e/fixtures/tiny-hf-model/');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'loading');
  await page.getByTestId('model-cancel').click();
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready');
  await expect(page.getByTestId('model-error')).toHaveText('Loading /e2e/fixtures/tiny-hf-model/ was cancelled. Still using micro-model.');
  await expect(page.getByTestId('model-name')).toHaveText('micro-model');
  // The worker still trains with it.
  await paste(page, SIMPLE);
  await shortAnswers(page);
  await setOpt(page, 'steps', 1);
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
});

/** safetensors: 8-byte little-endian header length, then the JSON header, then the data. */
function safetensorsHeader(bytes: Buffer): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; meta: Record<string, string>; dataStart: number } {
  const n = Number(bytes.readBigUInt64LE(0));
  const json = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const { __metadata__: meta = {}, ...header } = json;
  return { header: header as ReturnType<typeof safetensorsHeader>['header'], meta: meta as Record<string, string>, dataStart: 8 + n };
}

/** Tensor names and shapes a LLaMA config.json implies (transformers' LlamaForCausalLM state dict). */
function expectedTensors(c: Record<string, number | boolean>): Map<string, number[]> {
  const C = c.hidden_size as number, V = c.vocab_size as number, I = c.intermediate_size as number;
  const NH = c.num_attention_heads as number, NKV = c.num_key_value_heads as number;
  const hs = (c.head_dim as number | undefined) ?? C / NH;
  const m = new Map<string, number[]>([['model.embed_tokens.weight', [V, C]], ['model.norm.weight', [C]]]);
  for (let l = 0; l < (c.num_hidden_layers as number); l++) {
    const p = `model.layers.${l}.`;
    m.set(`${p}input_layernorm.weight`, [C]);
    m.set(`${p}self_attn.q_proj.weight`, [NH * hs, C]);
    m.set(`${p}self_attn.k_proj.weight`, [NKV * hs, C]);
    m.set(`${p}self_attn.v_proj.weight`, [NKV * hs, C]);
    m.set(`${p}self_attn.o_proj.weight`, [C, NH * hs]);
    m.set(`${p}post_attention_layernorm.weight`, [C]);
    m.set(`${p}mlp.gate_proj.weight`, [I, C]);
    m.set(`${p}mlp.up_proj.weight`, [I, C]);
    m.set(`${p}mlp.down_proj.weight`, [C, I]);
  }
  if (!c.tie_word_embeddings) m.set('lm_head.weight', [V, C]);
  return m;
}

test('download a run\'s weights: model.safetensors + config.json + tokenizer files; loading another model asks first', async ({ page }, testInfo) => {
  await open(page);
  await modelReady(page, 'micro-model');
  await paste(page, SIMPLE);
  await expect(page.getByTestId('download-weights-1')).toBeDisabled();
  await shortAnswers(page);
  await setOpt(page, 'steps', 3);
  await setOpt(page, 'lr', 0.01);
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });

  const downloads: Download[] = [];
  page.on('download', (d) => downloads.push(d));
  await page.getByTestId('download-weights-1').click();
  await expect.poll(() => downloads.length, { timeout: 60_000 }).toBe(5);
  const files = new Map<string, Buffer>();
  for (const d of downloads) {
    const path = testInfo.outputPath(d.suggestedFilename());
    await d.saveAs(path);
    files.set(d.suggestedFilename(), readFileSync(path));
  }
  expect([...files.keys()].sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);

  // config.json: the source's, field for field, stored as float32.
  const config = JSON.parse(files.get('config.json')!.toString('utf8'));
  const source = JSON.parse(readFileSync(`.${MICRO_DIR}config.json`, 'utf8'));
  expect(config).toEqual({ ...source, torch_dtype: 'float32' });
  // Tokenizer files byte for byte.
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) expect(files.get(f)!.equals(readFileSync(`.${MICRO_DIR}${f}`))).toBe(true);

  // model.safetensors: the names and shapes config.json implies, F32, packed back to back.
  const st = files.get('model.safetensors')!;
  const { header, meta, dataStart } = safetensorsHeader(st);
  const want = expectedTensors(config);
  expect(Object.keys(header).sort()).toEqual([...want.keys()].sort());
  let end = 0;
  for (const [name, t] of Object.entries(header)) {
    expect(t.dtype, name).toBe('F32');
    expect(t.shape, name).toEqual(want.get(name));
    expect(t.data_offsets[1] - t.data_offsets[0], name).toBe(4 * t.shape.reduce((a, b) => a * b, 1));
    end = Math.max(end, t.data_offsets[1]);
  }
  expect(dataStart + end).toBe(st.length);
  expect(meta.format).toBe('pt');
  expect(meta.run).toBe('Run B · full-sequence');
  expect(meta.steps).toBe('3');
  expect(meta.base_model).toBe(MICRO_DIR);
  expect(JSON.parse(meta.mask_policy).mode).toBe('full');

  // Trained: the weights moved away from the base checkpoint's (read the same way), and are finite.
  const base = readFileSync(`.${MICRO_DIR}model.safetensors`);
  const b = safetensorsHeader(base);
  const tensor = (buf: Buffer, start: number, t: { dtype: string; data_offsets: [number, number] }) => {
    expect(t.dtype).toBe('F32');
    const bytes = buf.subarray(start + t.data_offsets[0], start + t.data_offsets[1]);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  let moved = 0;
  let nonFinite = 0;
  for (const name of want.keys()) {
    const after = tensor(st, dataStart, header[name]);
    const before = tensor(base, b.dataStart, b.header[name]);
    expect(after.length).toBe(before.length);
    let maxDiff = 0;
    // Plain loops: one expect() per value costs milliseconds each.
    for (let i = 0; i < after.length; i++) {
      if (!Number.isFinite(after[i])) nonFinite++;
      maxDiff = Math.max(maxDiff, Math.abs(after[i] - before[i]));
    }
    if (maxDiff > 0) moved++;
  }
  expect(nonFinite).toBe(0);
  console.log(`exported ${want.size} tensors, ${moved} changed by training, ${st.length} bytes`);
  expect(moved).toBe(want.size);

  // Loading another model while runs exist asks first; cancel keeps runs and model.
  await load(page, '/e2e/fixtures/tiny-hf-model/');
  await expect(page.getByTestId('confirm-discard')).toBeVisible();
  await expect(page.getByTestId('confirm-discard')).toContainText('Loading /e2e/fixtures/tiny-hf-model/ replaces the model the runs were trained from');
  await page.getByTestId('confirm-cancel').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done');
  await expect(page.getByTestId('model-name')).toHaveText('micro-model');
  await expect(page.getByTestId('download-weights-0')).toBeEnabled();
  // Discard: the runs go, the new model loads.
  await page.getByTestId('model-load').click();
  await page.getByTestId('confirm-discard-ok').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'idle');
  await modelReady(page, 'tiny-hf-model');
  await expect(page.getByTestId('download-weights-0')).toBeDisabled();
});

test('hand overrides on the token view apply to every run\'s labels for their sample', async ({ page }, testInfo) => {
  await open(page);
  await modelReady(page, 'micro-model');
  await paste(page, SIMPLE);
  const before = await chips(page);
  // A user-content token (masked under the first screen's response-only mask) and an answer token.
  const user = before.find((c) => c.role === 'user' && c.label === -100 && c.text.trim() !== '')!;
  const answer = before.find((c) => c.role === 'assistant' && c.label === c.id && c.text.trim() !== '')!;
  expect(user && answer).toBeTruthy();
  const chip = (i: number) => page.locator(`[data-testid=token-list] .tok[data-index="${i}"]`);
  await chip(user.index).click();
  await idle(page);
  await chip(answer.index).click();
  await idle(page);
  await expect(chip(user.index)).toHaveAttribute('data-label', String(user.id));
  await expect(chip(answer.index)).toHaveAttribute('data-label', '-100');
  await expect(page.getByTestId('overrides-note')).toContainText('Hand overrides apply to all runs');
  await expect(page.getByTestId('overrides-note')).toContainText('2 on sample 1 now.');

  await shortAnswers(page);
  await setOpt(page, 'steps', 2);
  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 120_000 });
  await expect(page.getByTestId('train-progress')).toContainText('2 hand overrides on sample 1, applied to every run');

  // Every run's labels (as the heatmap reads them from the worker): both overrides, whatever the
  // run's own mask says. Run A is response-only (would mask the user token, train the answer),
  // run B full-sequence (would train both).
  for (const run of [0, 1]) {
    await page.getByTestId('heat-run').selectOption(String(run));
    await page.getByTestId('show-heatmap').click();
    await expect(page.getByTestId('heatmap-shown')).toHaveAttribute('data-run', String(run), { timeout: 60_000 });
    await expect(chip(user.index)).toHaveAttribute('data-run-label', String(user.id));
    await expect(chip(answer.index)).toHaveAttribute('data-run-label', '-100');
    // The other tokens keep the run's own rule: run A masks the system prompt, run B trains it.
    const system = before.find((c) => c.role === 'system' && c.text.trim() !== '')!;
    await expect(chip(system.index)).toHaveAttribute('data-run-label', run === 0 ? '-100' : String(system.id));
  }
  // The masked answer token gets no logit gradient in either run; the forced user token does.
  await expect(chip(answer.index)).toHaveAttribute('data-dlogit', '0');
  expect(Number(await chip(user.index).getAttribute('data-dlogit'))).toBeGreaterThan(0);
  await screen(page, testInfo, 'model-03-overrides-heatmap');

  // Another click changes what the runs were trained on: asked first; cancel keeps the override.
  await chip(user.index).click();
  await expect(page.getByTestId('confirm-discard')).toBeVisible();
  await page.getByTestId('confirm-cancel').click();
  await expect(chip(user.index)).toHaveAttribute('data-override', 'train');
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done');
});
