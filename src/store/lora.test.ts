// LoRA as a run setting in the store: what saves read back (absent = full fine-tuning, damaged =
// refused), the messages a bad field gets, and the memory planner's rows from the size table.
import { describe, expect, it } from 'vitest';
import { defaultRuns } from './defaults';
import { trainingProblems, validRuns, validTraining } from './validate';
import { memoryPlan } from './memoryPlan';
import { DEFAULT_LORA, FULL_TRAINING, type RunTraining } from '../spec/lora';
import { MICRO_CONFIG } from '../spec/config';
import { memoryEstimate } from '../engine/layout';

const LORA: RunTraining = { ...FULL_TRAINING, mode: 'lora', r: 4, alpha: 8, targets: ['q', 'v'], baseDtype: 'bf16', lr: 1e-3 };

describe('run training mode', () => {
  it('saves: absent reads as full fine-tuning, a valid one round-trips, a damaged one rejects the runs', () => {
    const runs = defaultRuns();
    expect(validRuns(JSON.parse(JSON.stringify(runs)))![0].training).toBeUndefined();
    const withLora = runs.map((r, i) => (i === 0 ? { ...r, training: LORA } : r));
    expect(validRuns(JSON.parse(JSON.stringify(withLora)))![0].training).toEqual(LORA);
    for (const bad of [{ r: 0 }, { r: 2.5 }, { alpha: -1 }, { targets: [] }, { targets: ['q', 'attn'] }, { baseDtype: 'int8' }, { lr: 5 }, { mode: 'qlora' }]) {
      expect(validTraining({ ...LORA, ...bad }), JSON.stringify(bad)).toBeNull();
      expect(validRuns([{ ...runs[0], training: { ...LORA, ...bad } }])).toBeNull();
    }
    expect(validTraining({ ...LORA, targets: ['q', 'q', 'v'] })!.targets).toEqual(['q', 'v']);
  });

  it('a bad field gets a message naming what to type', () => {
    expect(trainingProblems(LORA)).toEqual([]);
    expect(trainingProblems({ ...LORA, r: 0 })).toEqual([{ field: 'r', message: expect.stringMatching(/whole number from 1 to 256/), msg: { code: 'lora.rank', params: { max: 256 } } }]);
    expect(trainingProblems({ ...LORA, alpha: NaN })[0].field).toBe('alpha');
    expect(trainingProblems({ ...LORA, lr: 0 })[0].message).toMatch(/between 0 and 1/);
  });

  it('the planner: three modes from the size table, LoRA smaller, and what does not fit says why', () => {
    const cfg = { ...MICRO_CONFIG, vocab_size: 4096, hidden_size: 128, intermediate_size: 256 };
    const rows = memoryPlan(cfg, 2, 64, DEFAULT_LORA, null);
    expect(rows.map((r) => r.mode)).toEqual(['full', 'lora-f32', 'lora-bf16']);
    expect(rows[0].total).toBe(memoryEstimate(cfg, 2, 64).total);
    expect(rows[1].total).toBe(memoryEstimate(cfg, 2, 64, 1, undefined, false, { config: DEFAULT_LORA, baseDtype: 'f32' }).total);
    expect(rows[1].total).toBeLessThan(rows[0].total);
    expect(rows[2].total).toBeLessThan(rows[1].total);
    expect(rows.every((r) => r.fits === null)).toBe(true);
    expect(rows[1].trainable).toBeLessThan(rows[0].trainable / 10);
    // A budget between the LoRA bf16 and full totals: only the LoRA modes fit, the full row says why.
    const budget = (rows[0].total + rows[2].total) / 2;
    const limited = memoryPlan(cfg, 2, 64, DEFAULT_LORA, { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30, memoryBudget: budget });
    expect(limited[0].fits).toBe(false);
    expect(limited[0].why).toMatch(/MiB in all, more than/);
    expect(limited[2].fits).toBe(true);
  });
});
