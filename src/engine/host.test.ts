/**
 * The worker protocol, driven through createEngineHost in Node (the same handler worker.ts installs):
 * init → ready with adapter info, run → progress events and runDone, stop mid-run, pause/resume,
 * getWeights, evaluate, and errors that name the problem.
 */
import { describe, expect, it } from 'vitest';
import { MICRO_CONFIG } from './config';
import { packBatch } from '../reference/batch';
import { randomModel } from '../reference/testkit';
import { tensorView } from '../reference/model';
import { hostHarness } from './hostHarness';
import { DEFAULT_TRAIN_SETTINGS } from './trainer';
import type { ProgressEvent } from './protocol';

const M = -100;

describe('engine worker protocol (host)', () => {
  it('init, run with progress, stop, pause/resume, weights, evaluate, errors', async () => {
    const h = hostHarness();
    expect(await h.request({ type: 'trainStep', microBatches: [] })).toMatchObject({ type: 'error', message: expect.stringMatching(/not initialised/) });

    const ref = randomModel(MICRO_CONFIG, 5);
    const weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
    const ready = await h.request({ type: 'init', config: MICRO_CONFIG, weights, B: 2, T: 8, microBatches: 1, settings: { ...DEFAULT_TRAIN_SETTINGS, lr: 5e-3 } });
    expect(ready.type).toBe('ready');
    if (ready.type !== 'ready') return;
    console.log('adapter', ready.adapter.vendor, ready.adapter.architecture, ready.adapter.description, 'fallback:', ready.adapter.isFallbackAdapter, 'memory', ready.memory.total, 'bytes');
    expect(typeof ready.adapter.isFallbackAdapter).toBe('boolean');
    expect(ready.memory.total).toBeGreaterThan(0);

    const batch = packBatch([
      { ids: [1, 2, 3, 4, 10, 11, 12, 13], labels: [M, M, M, M, 10, 11, 12, 13], tokenRoles: [1, 1, 1, 1, 2, 2, 2, 2] },
      { ids: [5, 6, 7, 14, 15], labels: [M, M, M, 14, 15], tokenRoles: [1, 1, 1, 2, 2] },
    ], 8);
    const done = await h.request({ type: 'run', steps: 6, plan: [[batch]] });
    expect(done).toEqual({ type: 'runDone', id: expect.any(Number), steps: 6, reason: 'completed' });
    const progress = h.got.filter((m): m is ProgressEvent => m.type === 'progress');
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const p of progress) {
      expect(p.status).toBe('ok');
      expect(p.trainedTokens).toBe(6);
      expect(p.promptLoss).not.toBeNull();
      expect(p.responseLoss).not.toBeNull();
      expect(p.ms).toBeGreaterThan(0);
    }
    expect(progress[5].objective).toBeLessThan(progress[0].objective); // it learns
    console.log('objective', progress.map((p) => p.objective.toFixed(4)).join(' → '));

    // Stop mid-run: the run ends early with reason 'stopped'.
    const long = h.request({ type: 'run', steps: 1000, plan: [[batch]] });
    await h.next((m) => m.type === 'progress' && m.step === 8);
    await h.request({ type: 'stop' });
    const stopped = await long;
    expect(stopped).toMatchObject({ type: 'runDone', reason: 'stopped' });
    if (stopped.type === 'runDone') expect(stopped.steps).toBeLessThan(20);

    // Pause holds the run; resume finishes it.
    const paused = h.request({ type: 'run', steps: 4, plan: [[batch]] });
    await h.request({ type: 'pause' });
    const before = h.got.filter((m) => m.type === 'progress').length;
    await new Promise((r) => setTimeout(r, 300));
    const during = h.got.filter((m) => m.type === 'progress').length;
    expect(during - before).toBeLessThanOrEqual(3); // only steps already submitted land
    await h.request({ type: 'resume' });
    expect(await paused).toMatchObject({ type: 'runDone', steps: 4, reason: 'completed' });

    const w = await h.request({ type: 'getWeights' });
    expect(w.type).toBe('weights');
    if (w.type === 'weights') {
      expect(Object.keys(w.weights).sort()).toEqual(Object.keys(weights).sort());
      expect(w.weights['lm_head.weight']).not.toEqual(weights['lm_head.weight']);
    }

    const ev = await h.request({ type: 'evaluate', batch });
    expect(ev.type).toBe('evaluation');
    if (ev.type === 'evaluation') {
      expect(ev.losses.length).toBe(16);
      expect(ev.lastLogits.length).toBe(2 * MICRO_CONFIG.vocab_size);
      expect(ev.sums.trainedCount).toBe(6);
    }

    const err = await h.request({ type: 'trainStep', microBatches: [{ ...batch, ids: batch.ids.map(() => 999) }] });
    expect(err).toMatchObject({ type: 'error', message: expect.stringMatching(/Token id 999 at step \d+, micro-batch 0, sequence 0, position 0 is outside the vocabulary/) });
    expect(await h.request({ type: 'dispose' })).toMatchObject({ type: 'ok' });
  });
});
