/**
 * Checkpoints: a run's training state (weights, AdamW moments, step state) read from one engine
 * and put into a fresh one continues bit for bit: the same losses and the same weights as the
 * engine that never stopped. This is what resuming after a reload or a lost device relies on.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { MICRO_CONFIG } from '../spec/config';
import { packBatch, type Batch } from '../spec/batch';
import type { TrainSettings } from '../spec/step';
import { randomModel } from '../reference/testkit';
import { tensorView } from '../reference/model';
import { DEFAULT_TRAIN_SETTINGS, Engine } from './trainer';

const cfg = MICRO_CONFIG;
const M = -100;
let gpu: Gpu;
let weights: Record<string, Float32Array>;
// Weight decay and clipping on: the state must carry everything AdamW reads.
const settings: TrainSettings = { ...DEFAULT_TRAIN_SETTINGS, lr: 1e-2, weightDecay: 0.1, maxGradNorm: 0.5 };

beforeAll(async () => {
  gpu = await acquireNodeDevice();
  const ref = randomModel(cfg, 7);
  weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
});

const batch = (k: number): Batch =>
  packBatch([
    { ids: [1, 2, 3, 4 + k, 10, 11 + k, 12, 13], labels: [M, M, M, M, 10, 11 + k, 12, 13], tokenRoles: [1, 1, 1, 1, 2, 2, 2, 2] },
    { ids: [5, 6, 7, 14, 15 + k], labels: [M, M, M, 14, 15 + k], tokenRoles: [1, 1, 1, 2, 2] },
  ], 8);

describe('training state', () => {
  it('saved after 3 steps and loaded into a fresh engine, 3 more steps match the uninterrupted run bit for bit', async () => {
    const a = await Engine.create({ gpu, config: cfg, B: 2, T: 8, weights });
    for (let k = 0; k < 3; k++) await a.trainStep([batch(k)], settings);
    const state = await a.getTrainingState();
    expect(Object.keys(state.adamM).length).toBeGreaterThan(0);
    expect(state.stepState.length).toBeGreaterThan(0);
    // The moments are not zero after 3 steps (else this test could not tell them from a reset).
    expect(Object.values(state.adamV).some((v) => v.some((x) => x !== 0))).toBe(true);

    const b = await Engine.create({ gpu, config: cfg, B: 2, T: 8, weights });
    b.setTrainingState(state);
    const fresh = await Engine.create({ gpu, config: cfg, B: 2, T: 8, weights });
    fresh.setParameters(state.parameters); // weights only: moments and step count reset
    const lossA: number[] = [], lossB: number[] = [], lossF: number[] = [];
    for (let k = 3; k < 6; k++) {
      lossA.push((await a.trainStep([batch(k)], settings)).loss);
      lossB.push((await b.trainStep([batch(k)], settings)).loss);
      lossF.push((await fresh.trainStep([batch(k)], settings)).loss);
    }
    expect(lossB).toEqual(lossA);
    const pa = await a.getParameters(), pb = await b.getParameters(), pf = await fresh.getParameters();
    let differ = 0;
    for (const name of Object.keys(pa)) {
      expect(Array.from(pb[name]), name).toEqual(Array.from(pa[name]));
      if (pf[name].some((x, i) => x !== pa[name][i])) differ++;
    }
    // Without the moments and the step count the run goes elsewhere: the state is what carries it.
    expect(differ).toBeGreaterThan(0);
    for (const e of [a, b, fresh]) e.destroy();
  });
});
