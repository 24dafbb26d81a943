/**
 * Runs side by side on the GPU (Dawn/SwiftShader in Node), with the e2e micro model and the
 * default tokenizer on real chats:
 * - same base, same data: at step 1 every run sees the same forward pass, so the ruler losses
 *   (prompt, response) agree across runs; only the objective differs;
 * - the response-only run's objective IS its response-token loss at every step; the full run's is not;
 * - the data order is the seed's alone; pause/resume/stop; snapshots, base and current evaluation;
 *   greedy answers stop at a stop id.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { parseSafetensors } from '../model/safetensors';
import { llamaConfigFromHf } from '../model/hfConfig';
import { loadNodeTokenizer } from '../data/testkit';
import { tokenizeConversation } from '../data/attribution';
import { DEFAULT_POLICY } from '../data/labels';
import type { ChatTokenizer, MaskPolicy } from '../data/types';
import { IGNORE_INDEX } from '../spec/loss';
import { dataOrder, prepareSample, type PreparedSample } from './trainPlan';
import { defaultOptimizer } from '../spec/optimizer';
import { pickSnapshotSteps, TrainingSession, type StepEvent } from './trainSession';
import { FULL_TRAINING, loraTable, runLora, type RunTraining } from '../spec/lora';
import type { TrainingState } from '../engine/trainer';

const dir = new URL('../../e2e/fixtures/micro-model/', import.meta.url);
const info = llamaConfigFromHf(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
const file = parseSafetensors(readFileSync(new URL('model.safetensors', dir)));
const base = Object.fromEntries(file.tensors.map((t) => [t.name, file.getFloat32(t.name)]));

const RESPONSE_ONLY: MaskPolicy = { ...DEFAULT_POLICY, mode: 'response-only' };
const FULL: MaskPolicy = { ...DEFAULT_POLICY, mode: 'full' };

const CHATS = [
  [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is the capital of France?' }, { role: 'assistant', content: 'Paris.' }],
  [{ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'Blue.' }, { role: 'user', content: 'Another?' }, { role: 'assistant', content: 'Green.' }],
  [{ role: 'user', content: 'Say hi.' }, { role: 'assistant', content: 'Hi!' }],
] as const;

let gpu: Gpu;
let tok: ChatTokenizer;
let samples: PreparedSample[];
beforeAll(async () => {
  gpu = await acquireNodeDevice();
  tok = await loadNodeTokenizer('default');
  samples = CHATS.map((c) => prepareSample(tokenizeConversation(tok, c.map((m) => ({ ...m }))), [RESPONSE_ONLY, FULL], info.config.max_position_embeddings));
});

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-12, Math.abs(b));

describe('TrainingSession', () => {
  it('two runs: same base and data, the mask is the only difference', async () => {
    const optimizer = { ...defaultOptimizer(70_000, samples.length), steps: 6, batchSize: 2, lr: 5e-3, warmupSteps: 1 };
    const session = await TrainingSession.create({ gpu, config: info.config, base, runs: 2, samples, optimizer, padId: 3, snapshotSteps: pickSnapshotSteps(6, 2) });
    expect(session.T).toBe(Math.max(...samples.map((s) => s.ids.length)));
    const events: StepEvent[] = [];
    const snaps: number[] = [];
    expect(await session.train((e) => events.push(e), (s) => snaps.push(s))).toBe('completed');
    expect(events.length).toBe(12);
    expect(snaps).toEqual([2, 4]);
    // Step order: step k of both runs before step k+1 of either.
    expect(events.map((e) => e.step)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
    const run = (r: number) => events.filter((e) => e.run === r);
    const [a, b] = [run(0), run(1)];
    let worst = 0;
    for (let i = 0; i < a.length; i++) {
      for (const e of [a[i], b[i]]) {
        expect(e.status).toBe('ok');
        for (const v of [e.objective, e.promptLoss!, e.responseLoss!]) expect(Number.isFinite(v)).toBe(true);
      }
      // Response-only: the objective is the mean over exactly the response positions.
      worst = Math.max(worst, rel(a[i].objective, a[i].responseLoss!));
      // Full sequence: every position trains, so the objective is the mean over prompt and response.
      const e = b[i];
      const mixed = (e.promptLoss! * e.promptTokens + e.responseLoss! * e.responseTokens) / (e.promptTokens + e.responseTokens);
      expect(e.trainedTokens).toBe(e.promptTokens + e.responseTokens);
      worst = Math.max(worst, rel(e.objective, mixed));
      expect(rel(e.objective, e.responseLoss!)).toBeGreaterThan(1e-2);
      expect(a[i].tokens).toBe(b[i].tokens);
      expect(b[i].trainedTokens).toBeGreaterThan(a[i].trainedTokens);
    }
    console.log(`max relative |objective - ruler mean| (run A: response loss, run B: prompt+response mean) over ${a.length} steps = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
    // Step 1: same weights, same batch: the ruler losses agree (the GPU computes them identically).
    expect(rel(a[0].responseLoss!, b[0].responseLoss!)).toBeLessThan(1e-6);
    expect(rel(a[0].promptLoss!, b[0].promptLoss!)).toBeLessThan(1e-6);
    // Afterwards the full run has learned the prompt too: its prompt loss falls further.
    expect(b[5].promptLoss!).toBeLessThan(a[5].promptLoss!);

    // Heatmap data: base (step 0) is the same for both runs' ruler losses; current differs.
    const base0 = await session.evaluate(0, 0, 0);
    const base1 = await session.evaluate(1, 0, 0);
    expect(base0.step).toBe(0);
    expect(Array.from(base0.losses)).toEqual(Array.from(base1.losses));
    const cur0 = await session.evaluate(0, 'current', 0);
    expect(cur0.step).toBe(6);
    expect(Array.from(cur0.losses)).not.toEqual(Array.from(base0.losses));
    const snap = await session.evaluate(0, 4, 0);
    expect(snap.step).toBe(4);
    await expect(session.evaluate(0, 3, 0)).rejects.toThrow(/No weights were kept at step 3/);
    // Zero logit gradient exactly where the run's label is -100; embedding gradient on the prompt.
    const s = samples[0];
    let promptWithEmbedGrad = 0;
    for (let i = 1; i < s.ids.length; i++) {
      if (s.labels[0][i] === IGNORE_INDEX) {
        expect(cur0.dlogitNorms[i - 1]).toBe(0);
        if (cur0.dembedNorms[i - 1] > 0) promptWithEmbedGrad++;
      } else expect(cur0.dlogitNorms[i - 1]).toBeGreaterThan(0);
    }
    expect(promptWithEmbedGrad).toBeGreaterThan(0);

    // Answers: greedy, deterministic, stop ids honoured.
    const prompt = tok.encode(tok.render([{ role: 'user', content: 'Say hi.' }], true));
    const g1 = await session.generate('base', prompt, 8, new Set());
    const g2 = await session.generate('base', prompt, 8, new Set());
    expect(g1.tokens.length).toBe(8);
    expect(g1.reason).toBe('max_new_tokens');
    expect(g2.tokens).toEqual(g1.tokens);
    const stopAtFirst = await session.generate(0, prompt, 8, new Set([...Array(4096).keys()]));
    expect(stopAtFirst.tokens.length).toBe(1);
    expect(stopAtFirst.reason).toBe('end_of_turn');
    // A trained run answers with its own weights: not the base model's tokens, in general; at least
    // its first-token logits differ, which evaluate() showed above. Here: it runs, and is greedy.
    const r0 = await session.generate(0, prompt, 4, new Set());
    expect((await session.generate(0, prompt, 4, new Set())).tokens).toEqual(r0.tokens);
    session.dispose();
  });

  it('pause holds, resume continues, stop ends early; data order depends only on the seed', async () => {
    expect(Array.from(dataOrder(5, 2, 6, 7))).toEqual(Array.from(dataOrder(5, 2, 6, 7)));
    expect(Array.from(dataOrder(5, 2, 6, 7))).not.toEqual(Array.from(dataOrder(5, 2, 6, 8)));
    // Every epoch is a permutation of all samples.
    const o = dataOrder(5, 1, 10, 3);
    expect([...o.subarray(0, 5)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect([...o.subarray(5, 10)].sort()).toEqual([0, 1, 2, 3, 4]);

    const optimizer = { ...defaultOptimizer(70_000, samples.length), steps: 50, batchSize: 1 };
    const session = await TrainingSession.create({ gpu, config: info.config, base, runs: 1, samples, optimizer, padId: 3 });
    let seen = 0;
    const done = session.train(() => {
      seen++;
      if (seen === 2) session.pause();
    });
    // The steps already submitted land, then nothing more is submitted.
    await vi.waitFor(() => expect(session.completed === session.submitted && seen === session.submitted).toBe(true), { timeout: 10_000, interval: 20 });
    const held = seen;
    expect(held).toBeLessThanOrEqual(2 + 2); // step 2 plus at most RUN_AHEAD in flight
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toBe(held);
    expect(session.submitted).toBe(held);
    session.resume();
    await new Promise((r) => setTimeout(r, 100));
    session.stop();
    expect(await done).toBe('stopped');
    expect(seen).toBeGreaterThan(held);
    expect(seen).toBeLessThan(50);
    expect(session.completed).toBe(session.submitted);
    session.dispose();
  });

  it('a LoRA run beside a full run: the same first forward, only the adapter trains, answers and snapshots from the merged weights, a checkpoint resumes it', async () => {
    const optimizer = { ...defaultOptimizer(70_000, samples.length), steps: 4, batchSize: 2, lr: 5e-3, warmupSteps: 0 };
    const lora: RunTraining = { ...FULL_TRAINING, mode: 'lora', r: 4, alpha: 8, targets: ['q', 'k', 'v', 'o'], lr: 2e-2 };
    const trainings = [lora, FULL_TRAINING];
    const session = await TrainingSession.create({ gpu, config: info.config, base, runs: 2, samples, optimizer, padId: 3, snapshotSteps: [2], trainings, checkpointEvery: 2 });
    const events: StepEvent[] = [];
    const states: { step: number; states: TrainingState[] }[] = [];
    expect(await session.train((e) => events.push(e), () => undefined, async (step, st) => void states.push({ step, states: st }))).toBe('completed');
    const a = events.filter((e) => e.run === 0), b = events.filter((e) => e.run === 1);
    // B = 0 at the start: step 1's forward is the base model's in both runs.
    expect(rel(a[0].responseLoss!, b[0].responseLoss!)).toBeLessThan(1e-5);
    // The LoRA run follows the optimizer's schedule from its own peak: 2e-2 / 5e-3 = 4 at every step.
    a.forEach((e, i) => expect(e.lr / b[i].lr).toBeCloseTo(4, 12));
    for (const e of a) expect(e.status).toBe('ok');
    expect(a[3].objective).toBeLessThan(a[0].objective);
    // The LoRA run's weights (merged) moved only in the adapted projections.
    const merged = await session.weights(0);
    expect(merged['model.embed_tokens.weight']).toEqual(base['model.embed_tokens.weight']);
    expect(merged['model.layers.0.mlp.up_proj.weight']).toEqual(base['model.layers.0.mlp.up_proj.weight']);
    expect(merged['model.layers.0.self_attn.q_proj.weight']).not.toEqual(base['model.layers.0.self_attn.q_proj.weight']);
    const adapter = await session.adapter(0);
    expect(adapter!.lora).toEqual({ r: 4, alpha: 8, targets: ['q', 'k', 'v', 'o'] });
    expect(await session.adapter(1)).toBeNull();
    // Two LoRA runs with the same settings start from the same adapter (the training's seed), so only their masks differ.
    const two = await TrainingSession.create({ gpu, config: info.config, base, runs: 2, samples, optimizer: { ...optimizer, steps: 0 }, padId: 3, trainings: [lora, lora] });
    const [x, y] = [await two.adapter(0), await two.adapter(1)];
    expect(x!.tensors['model.layers.0.self_attn.q_proj.lora_A.weight']).toEqual(y!.tensors['model.layers.0.self_attn.q_proj.lora_A.weight']);
    expect(x!.tensors['model.layers.0.self_attn.q_proj.lora_A.weight'].some((v) => v !== 0)).toBe(true);
    two.dispose();
    // The snapshot at step 2 is a full model (the heatmap's scratch engine evaluates it).
    expect(session.snapshots.get(2)![0]['model.layers.0.self_attn.q_proj.weight']).toBeDefined();
    const ev = await session.evaluate(0, 2, 0);
    expect(ev.losses.every(Number.isFinite)).toBe(true);
    const answer = await session.generate(0, Array.from(samples[0].ids.slice(0, 5)), 4, new Set([-1]));
    expect(answer.tokens.length).toBe(4);
    // Checkpoints hold the adapter's state; a new session resumes from it and carries on.
    const last = states[states.length - 1];
    expect(last.step).toBe(4);
    expect(Object.keys(last.states[0].parameters)).toEqual(loraTable(info.config, runLora(lora)!).map((t) => t.name));
    const resumed = await TrainingSession.create({ gpu, config: info.config, base, runs: 2, samples, optimizer: { ...optimizer, steps: 5 }, padId: 3, trainings, resume: { step: 4, states: last.states } });
    const more: StepEvent[] = [];
    await resumed.train((e) => more.push(e));
    expect(more.map((e) => e.step)).toEqual([5, 5]);
    expect(Object.keys((await resumed.adapter(0))!.tensors)).toHaveLength(4 * 2 * info.config.num_hidden_layers);
    session.dispose();
    resumed.dispose();
  });
});
