/**
 * The store's pure parts: the chart data (alignment, EMA, log axis), the CSV, and share links
 * (round trip, damage, version). Moved from src/worker/trainPlan.test.ts unchanged.
 */
import { describe, expect, it } from 'vitest';
import { defaultOptimizer } from '../spec/optimizer';
import { appendStep, chartData, curvesCsv, ema } from './curves';
import { textOf } from '../spec/message';
import type { StepEvent } from '../worker/trainSession';
import { decodeShare, encodeShare, shareInHash, type SharedState } from './share';
import type { RunCurve } from './types';

describe('curves', () => {
  const curve = (objective: (number | null)[], steps = objective.map((_, i) => i + 1)): RunCurve => ({
    step: steps, objective, response: objective.map((v) => (v === null ? null : v / 2)), prompt: objective.map(() => null),
    trainedTokens: steps.map((s) => s * 10), lr: steps.map(() => 1e-3),
  });

  it('aligns runs on steps, keeps nulls, smooths with a debiased EMA, drops ≤ 0 on a log axis', () => {
    const data = chartData([curve([4, 2, null, 1]), curve([3, 0])], { smoothing: false, log: false });
    expect(data[0]).toEqual([1, 2, 3, 4]);
    expect(data[1]).toEqual([4, 2, null, 1]);
    // Four series a run (objective, response, prompt, held-out): run 2's objective is column 5.
    expect(data[5]).toEqual([3, 0, null, null]);
    expect(chartData([curve([3, 0])], { smoothing: false, log: true })[1]).toEqual([3, null]);
    const e = ema([2, 2, null, 2]);
    // Debiased: a constant stays constant from the first step (up to rounding).
    expect(e[2]).toBeNull();
    for (const i of [0, 1, 3]) expect(e[i]).toBeCloseTo(2, 12);
    const s = ema([1, 3], 0.5);
    expect(s[1]).toBeCloseTo((0.5 * 0.5 * 1 + 0.5 * 3) / (1 - 0.25), 12);
  });

  it('non-finite steps are stored as null with a warning that names the step; never plotted', () => {
    const c = curve([]);
    const ev = (step: number, patch: Partial<StepEvent>): StepEvent => ({
      run: 0, step, lr: 1e-3, status: 'ok', objective: 2, promptLoss: 3, responseLoss: 1, promptTokens: 4, responseTokens: 2,
      trainedTokens: 2, tokens: 6, gradNorm: 1, ms: 1, ...patch,
    });
    expect(appendStep(c, ev(1, {}), 'Run A')).toBeNull();
    const w2 = appendStep(c, ev(2, { status: 'non-finite', objective: NaN, promptLoss: Infinity, message: 'Step 2: the loss is NaN, so no update was applied.' }), 'Run A');
    expect(w2 && textOf(w2)).toBe('Run A: Step 2: the loss is NaN, so no update was applied.');
    const w3 = appendStep(c, ev(3, { responseLoss: Infinity }), 'Run A');
    expect(w3 && textOf(w3)).toBe('Run A, step 3: response-token loss is Infinity; not plotted.');
    expect(c.objective).toEqual([2, null, 2]);
    expect(c.prompt).toEqual([3, null, 3]);
    expect(c.response).toEqual([1, 1, null]);
    expect(c.trainedTokens).toEqual([2, 4, 6]);
    for (const series of chartData([c], { smoothing: true, log: true }).slice(1)) {
      for (const v of series) expect(v === null || Number.isFinite(v)).toBe(true);
    }
  });

  it('CSV: header, one row per run per step, raw numbers, quoted names', () => {
    const csv = curvesCsv(['Run A', 'Run "B", full'], [curve([0.1 + 0.2, 1]), curve([null])]);
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('run,step,objective,response_loss,prompt_loss,trained_tokens');
    expect(lines[1]).toBe(`Run A,1,${0.1 + 0.2},${(0.1 + 0.2) / 2},,10`);
    expect(lines[3]).toBe('"Run ""B"", full",1,,,,10');
    expect(lines.length).toBe(4);
  });
});

describe('share links', () => {
  const state: SharedState = {
    text: '[{"role":"user","content":"Héllo 👋"},{"role":"assistant","content":"Hi"}]\n'.repeat(50),
    sampleIndex: 2,
    settings: { tokenizerId: 'default', contextLengths: { default: 128, llama3: null, qwen3: null, gemma3: null, llama3_1: null, deepseek_v3: null, custom: null }, policy: { mode: 'full', assistantTurns: 'last', trainEndOfTurn: false, trainReasoning: false, trainToolCalls: true, trainToolResults: true, roles: { system: true, user: false, assistant: true, template: true }, promptLossWeight: 0.25 }, splitSpecialTokens: true, lab: { choices: [{ key: 'k1', id: 'template-spans', options: {} }, { key: 'k2', id: 'axolotl-chat-template', options: { train_on_eos: 'none', roles_to_train: ['assistant'] } }], diffOnly: true }, ownTemplate: null, customTokenizer: null },
    optimizer: { ...defaultOptimizer(3e6), steps: 7 },
    runs: [{ id: 'a', name: 'Run A', color: '#000', policy: { mode: 'response-only', assistantTurns: 'all', trainEndOfTurn: true, trainReasoning: true, trainToolCalls: true, trainToolResults: false, roles: { system: true, user: true, assistant: true, template: true }, promptLossWeight: 0 }, strategy: { id: 'axolotl-chat-template', options: { train_on_eos: 'last' } }, lossMode: 'sum' }],
  };

  it('round-trips through the URL hash, compressed', async () => {
    const encoded = await encodeShare(state);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encoded.length).toBeLessThan(JSON.stringify(state).length / 4);
    expect(shareInHash(`#share=${encoded}`)).toBe(encoded);
    expect(await decodeShare(encoded)).toEqual(state);
  });

  it('refuses damaged links and other versions with a message', async () => {
    const encoded = await encodeShare(state);
    await expect(decodeShare(encoded.slice(0, encoded.length / 2))).rejects.toThrow(/damaged/);
    const other = Buffer.from(JSON.stringify({ v: 99 })).toString('base64url');
    await expect(decodeShare(other)).rejects.toThrow(/damaged|version/);
  });
});
