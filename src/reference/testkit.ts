/**
 * Shared builders for the reference tests (and the GPU engine's comparisons): a model with
 * random, non-trivial parameters and a batch that exercises every masking path.
 */
import type { LlamaConfig } from '../spec/config';
import { packBatch, type Batch } from '../spec/batch';
import { createModel, initParams, type ReferenceModel } from './model';
import { decays } from '../spec/params';
import { makeRng } from '../spec/rng';

/** Random params large enough that every gradient is well above finite-difference noise. */
export function randomModel(cfg: LlamaConfig, seed: number): ReferenceModel {
  const model = createModel(cfg);
  initParams(model, seed, 0.3);
  const rng = makeRng(seed + 1);
  for (const s of model.layout.slots) {
    if (decays(s)) continue;
    const base = s.name.endsWith('norm.weight') ? 1 : 0;
    for (let i = 0; i < s.size; i++) model.params[s.offset + i] = base + 0.3 * rng.normal();
  }
  return model;
}

/** B=3, T=9: a full sequence with a masked prompt, a padded one with prompt weight 0.1, a packed pair. */
export function testBatch(V: number, seed: number): Batch {
  const rng = makeRng(seed);
  const tok = (n: number) => Array.from({ length: n }, () => rng.int(1, V));
  const a = tok(9), b = tok(6), c = tok(9);
  const M = -100;
  return packBatch([
    { ids: a, labels: [M, M, M, M, ...a.slice(4)], tokenRoles: [1, 1, 1, 1, 2, 2, 2, 2, 2] },
    { ids: b, weights: [1, 0.1, 0.1, 1, 1, 1], tokenRoles: [1, 1, 1, 2, 2, 2] },
    { ids: c, labels: [M, M, c[2], c[3], M, M, M, c[7], c[8]], docIds: [3, 3, 3, 3, 7, 7, 7, 7, 7], tokenRoles: [1, 1, 2, 2, 1, 1, 1, 2, 2] },
  ], 9);
}

