// LoRA as a user does it on the micro model (e2e/fixtures/micro-model): the memory planner next to
// the model picker, run A switched to a LoRA adapter (a bad rank gets a message and keeps the
// last good one), A (LoRA, response-only) and B (full fine-tuning, full sequence) trained side by
// side with answers from both, A's PEFT adapter downloaded and its safetensors header and
// adapter_config.json parsed, and the run's mode back after a reload.
import { readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Download, type Page } from '@playwright/test';
import { openFresh, paste, screen, SIMPLE, warmUp } from './helpers';

const MICRO_DIR = '/e2e/fixtures/micro-model/';
const MICRO = `/?model=${MICRO_DIR}`;

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

async function setOpt(page: Page, key: string, value: number): Promise<void> {
  const input = page.getByTestId(`opt-${key}`);
  await input.fill(String(value));
  await input.press('Enter');
  await expect(input).toHaveValue(String(value));
}

const mibOf = async (page: Page, mode: string) => Number(((await page.getByTestId(`planner-${mode}-total`).textContent()) ?? '').replace(' MiB', ''));

test('a LoRA run beside a full run: planner, settings with messages, training, answers, PEFT adapter download, kept across a reload', async ({ page }, testInfo) => {
  test.setTimeout(300_000);
  await openFresh(page, MICRO);
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  const config = JSON.parse(readFileSync(`.${MICRO_DIR}config.json`, 'utf8'));

  // The planner: one row per mode from the size table; LoRA smaller than full fine-tuning, a bf16 base smaller still.
  const planner = page.getByTestId('memory-planner');
  await expect(planner).toBeVisible();
  await expect(page.getByTestId('planner-full')).toHaveAttribute('data-fits', 'true', { timeout: 30_000 });
  const [full, lf32, lbf16] = [await mibOf(page, 'full'), await mibOf(page, 'lora-f32'), await mibOf(page, 'lora-bf16')];
  expect(lf32).toBeLessThan(full);
  expect(lbf16).toBeLessThanOrEqual(lf32);

  await paste(page, SIMPLE);
  await page.getByTestId('answer-tokens').fill('3');
  await setOpt(page, 'steps', 4);
  await setOpt(page, 'lr', 0.01);

  // Run A becomes LoRA: its settings appear with PEFT's defaults and a learning rate of its own.
  await expect(page.getByTestId('run-0-training-mode')).toHaveValue('full');
  await page.getByTestId('run-0-training-mode').selectOption('lora');
  await expect(page.getByTestId('run-0-training')).toHaveAttribute('data-mode', 'lora');
  await expect(page.getByTestId('run-0-lora-r')).toHaveValue('8');
  await expect(page.getByTestId('run-0-lora-lr')).toHaveValue('0.1');
  for (const p of ['q', 'k', 'v', 'o']) await expect(page.getByTestId(`run-0-lora-target-${p}`)).toBeChecked();
  await expect(page.getByTestId('run-0-lora-target-up')).not.toBeChecked();
  // A rank of 0 is refused next to the field, the typed text stays, the run keeps r = 8.
  const trainable8 = await page.getByTestId('run-0-lora-trainable').textContent();
  await page.getByTestId('run-0-lora-r').fill('0');
  await expect(page.getByTestId('run-0-lora-r-error')).toContainText('The rank must be a whole number from 1 to 256.');
  await expect(page.getByTestId('run-0-lora-r')).toHaveValue('0');
  await expect(page.getByTestId('run-0-lora-trainable')).toHaveText(trainable8!);
  await page.getByTestId('run-0-lora-r').fill('4');
  await expect(page.getByTestId('run-0-lora-r-error')).toHaveCount(0);
  await expect(page.getByTestId('run-0-lora-trainable')).not.toHaveText(trainable8!);
  await page.getByTestId('run-0-lora-lr').fill('0.05');
  await page.getByTestId('run-0-lora-target-up').check();
  await page.getByTestId('run-0-lora-base').selectOption('bf16');
  await expect(page.getByTestId('run-1-training-mode')).toHaveValue('full');
  await screen(page, testInfo, 'lora-01-settings');
  // The new controls pass the same axe rules as the rest of the page (labels, contrast), a bad field's message included.
  await page.getByTestId('run-0-lora-alpha').fill('-1');
  await expect(page.getByTestId('run-0-lora-alpha-error')).toContainText('Alpha must be a number above 0.');
  const axe = await new AxeBuilder({ page }).include('[data-testid="run-0-training"]').include('[data-testid="memory-planner"]').withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`)).toEqual([]);
  await page.getByTestId('run-0-lora-alpha').fill('16');
  await expect(page.getByTestId('run-0-lora-alpha-error')).toHaveCount(0);

  await page.getByTestId('train').click();
  await expect(page.getByTestId('train-panel')).toHaveAttribute('data-phase', 'done', { timeout: 180_000 });
  for (const r of [0, 1]) {
    const objective = Number(await page.getByTestId(`run-row-${r}`).getAttribute('data-objective'));
    expect(Number.isFinite(objective), `run ${r} objective`).toBe(true);
  }
  await expect(page.getByTestId('answer-run-0')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('answer-run-1')).toBeVisible();

  // Only the LoRA run offers an adapter; it is PEFT's two files.
  await expect(page.getByTestId('download-adapter-1')).toHaveCount(0);
  const downloads: Download[] = [];
  page.on('download', (d) => downloads.push(d));
  await page.getByTestId('download-adapter-0').click();
  await expect.poll(() => downloads.length, { timeout: 60_000 }).toBe(2);
  const files = new Map<string, Buffer>();
  for (const d of downloads) {
    const path = testInfo.outputPath(d.suggestedFilename());
    await d.saveAs(path);
    files.set(d.suggestedFilename(), readFileSync(path));
  }
  expect([...files.keys()].sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  const cfg = JSON.parse(files.get('adapter_config.json')!.toString('utf8'));
  expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 16, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'up_proj'] });
  expect(typeof cfg.base_model_name_or_path).toBe('string');
  const st = files.get('adapter_model.safetensors')!;
  const n = Number(st.readBigUInt64LE(0));
  const { __metadata__: _meta, ...header } = JSON.parse(st.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const C = config.hidden_size, hs = C / config.num_attention_heads;
  const out = { q_proj: config.num_attention_heads * hs, k_proj: config.num_key_value_heads * hs, v_proj: config.num_key_value_heads * hs, o_proj: C, up_proj: config.intermediate_size } as Record<string, number>;
  const want = new Map<string, number[]>();
  for (let l = 0; l < config.num_hidden_layers; l++) {
    for (const [m, O] of Object.entries(out)) {
      const path = `base_model.model.model.layers.${l}.${m === 'up_proj' ? 'mlp' : 'self_attn'}.${m}`;
      want.set(`${path}.lora_A.weight`, [4, m === 'o_proj' ? config.num_attention_heads * hs : C]);
      want.set(`${path}.lora_B.weight`, [O, 4]);
    }
  }
  expect(Object.keys(header).sort()).toEqual([...want.keys()].sort());
  let end = 0;
  const sorted = Object.entries(header).sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  for (const [name, t] of sorted) {
    expect(t.dtype, name).toBe('F32');
    expect(t.shape, name).toEqual(want.get(name));
    expect(t.data_offsets[0], `${name} starts where the previous ends`).toBe(end);
    end = t.data_offsets[1];
    expect(end - t.data_offsets[0]).toBe(t.shape[0] * t.shape[1] * 4);
  }
  expect(8 + n + end).toBe(st.length);
  // Trained: some B entry is no longer zero.
  const b = sorted.find(([name]) => name.endsWith('q_proj.lora_B.weight'))!;
  const data = new Float32Array(st.buffer.slice(st.byteOffset + 8 + n + b[1].data_offsets[0], st.byteOffset + 8 + n + b[1].data_offsets[1]));
  expect(data.some((v) => v !== 0)).toBe(true);

  // The run's mode is saved with the runs (written when the training started): back after a reload.
  await page.waitForTimeout(1000); // the autosave debounce after the last change
  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('run-0-training-mode')).toHaveValue('lora');
  await expect(page.getByTestId('run-0-lora-r')).toHaveValue('4');
  await expect(page.getByTestId('run-0-lora-base')).toHaveValue('bf16');
});
