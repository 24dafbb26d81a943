/**
 * Whole-model backward vs central finite differences on the micro config (untied, qkv bias, GQA)
 * and on a tied, bias-free variant: a few random coordinates of every parameter tensor.
 * The batch has padding, a packed pair of documents, masked and down-weighted labels.
 */
import { describe, expect, it } from 'vitest';
import { MICRO_CONFIG, type LlamaConfig } from '../spec/config';
import { formatCheck, gradCheck } from './gradcheck';
import { activationTable, backward, crossEntropy, forward, layoutTensors, zeroGrads, type ReferenceModel } from './model';
import { paramTable } from '../spec/params';
import type { Batch } from '../spec/batch';
import { normalisationScales, type LossMode } from '../spec/loss';
import { makeRng } from '../spec/rng';
import { randomModel, testBatch } from './testkit';

function objective(model: ReferenceModel, batch: Batch, mode: LossMode): number {
  forward(model, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
  return crossEntropy(model, batch, normalisationScales(batch.labels, batch.weights, batch.B, batch.T, mode)).objective;
}

function checkModel(cfg: LlamaConfig, label: string): void {
  const model = randomModel(cfg, 7);
  const batch = testBatch(cfg.vocab_size, 11);
  zeroGrads(model);
  objective(model, batch, 'mean_tokens');
  backward(model);
  const grads = model.grads.slice();
  const rng = makeRng(99);
  let worst = 0;
  for (const s of model.layout.slots) {
    const view = model.params.subarray(s.offset, s.offset + s.size);
    // 4 random coordinates, plus for the embedding rows that the batch actually uses
    const idx = Array.from({ length: 4 }, () => rng.int(0, s.size));
    if (s.name === 'model.embed_tokens.weight') idx.push(batch.ids[3] * cfg.hidden_size, batch.ids[20] * cfg.hidden_size + 5);
    const r = gradCheck(`${label} ${s.name}`, () => objective(model, batch, 'mean_tokens'), view, grads.subarray(s.offset, s.offset + s.size), { indices: idx, atol: 1e-9, rtol: 1e-6 });
    console.log(formatCheck(r));
    worst = Math.max(worst, r.maxAbs);
    expect(r.failures, formatCheck(r)).toBe(0);
  }
  console.log(`${label}: worst max|Δ| over all tensors ${worst.toExponential(2)}`);
}

describe('reference model', () => {
  it('parameter table: HF names, shapes, offsets back to back', () => {
    const t = paramTable(MICRO_CONFIG);
    const layout = layoutTensors(t);
    expect(t[0]).toEqual({ name: 'model.embed_tokens.weight', shape: [67, 24] });
    expect(t.map((s) => s.name)).toContain('model.layers.1.self_attn.k_proj.bias');
    expect(layout.byName.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([12, 24]);
    expect(t[t.length - 1].name).toBe('lm_head.weight');
    let offset = 0;
    for (const s of layout.slots) { expect(s.offset).toBe(offset); offset += s.size; }
    expect(layout.total).toBe(offset);
    const tied = paramTable({ ...MICRO_CONFIG, tie_word_embeddings: true, attention_bias: false });
    expect(tied.some((s) => s.name === 'lm_head.weight' || s.name.endsWith('.bias'))).toBe(false);
    expect(activationTable(MICRO_CONFIG, 2, 5).find((s) => s.name === 'layers.0.att')!.shape).toEqual([2, 4, 5, 5]);
  });

  it('backward matches finite differences: micro config (untied, qkv bias, GQA)', () => {
    checkModel(MICRO_CONFIG, 'micro');
  });

  it('backward matches finite differences: tied embeddings, no bias, MHA', () => {
    checkModel({ ...MICRO_CONFIG, tie_word_embeddings: true, attention_bias: false, num_key_value_heads: 4, num_hidden_layers: 1, vocab_size: 31 }, 'tied');
  });
});
