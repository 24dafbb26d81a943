/**
 * The CPU reference LLaMA model in Float64: a straight list of src/reference/ops.ts calls.
 * It is the specification for src/engine/model.ts (same parameter table, same op sequence) and is
 * checked against PyTorch (scripts/make_fixture.py → fixtures/micro.json).
 *
 * Memory, as in llm.c: parameters are offsets into one Float64Array described by one size table
 * (`paramTable`, src/spec/params.ts: HF names, shapes, order); gradients and the AdamW moments use
 * the same layout. Activations (and their gradients) are offsets into one Float64Array described
 * by `activationTable`, per (B, T).
 *
 * Gradient conventions: see ops.ts. `backward` adds into the parameter gradients, so gradient
 * accumulation over micro-batches is: zeroGrads once, then forward/crossEntropy/backward per
 * micro-batch with seqScale normalised over the whole accumulated batch (src/spec/loss.ts).
 *
 * Weight decay applies to 2-D matrices only (embeddings, projections, lm_head), never to norm
 * weights or biases: `decays()` in src/spec/params.ts is the one place that says so.
 */
import { headSize, validateConfig, type LlamaConfig } from '../spec/config';
import { decays, EMBED_TOKENS, FINAL_NORM, layerParamNames, LM_HEAD, paramTable, type TensorSpec } from '../spec/params';
import { IGNORE_INDEX, normalisationScales, trainedTotals } from '../spec/loss';
import type { Batch } from '../spec/batch';
import type { StepReport, TrainSettings } from '../spec/step';
import { makeRng } from '../spec/rng';
import { loraScale, loraTable, loraTargets, validateLora, type LoraConfig, type LoraTarget } from '../spec/lora';
import type { LayerParam } from '../spec/params';
import {
  adamwStep, attentionBackward, attentionForward, clipFactor, crossEntropyForward, embeddingBackward,
  embeddingForward, gradNorm, loraBackward, loraForward, lossReductions, matmulBackward, matmulForward,
  residualBackward, residualForward, rmsnormBackward, rmsnormForward, ropeBackward, ropeForward,
  swigluBackward, swigluForward, type LossReductions,
} from './ops';

// ---------------------------------------------------------------------------------------------
// Size tables and layout
// ---------------------------------------------------------------------------------------------

export interface TensorSlot extends TensorSpec {
  /** First element in the shared Float64Array. */
  offset: number;
  /** Product of shape. */
  size: number;
}

export interface TensorLayout {
  slots: TensorSlot[];
  byName: Map<string, TensorSlot>;
  /** Total elements. */
  total: number;
}

/** Packs tensors back to back in table order. */
export function layoutTensors(specs: readonly TensorSpec[]): TensorLayout {
  const slots: TensorSlot[] = [];
  const byName = new Map<string, TensorSlot>();
  let offset = 0;
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const slot = { ...s, offset, size };
    slots.push(slot);
    byName.set(s.name, slot);
    offset += size;
  }
  return { slots, byName, total: offset };
}

/** The named view of one tensor inside `data`. */
export function tensorView(layout: TensorLayout, data: Float64Array, name: string): Float64Array {
  const s = layout.byName.get(name);
  if (!s) throw new Error(`No tensor named "${name}" in this layout (known: ${[...layout.byName.keys()].slice(0, 6).join(', ')}, …).`);
  return data.subarray(s.offset, s.offset + s.size);
}

/** Views of one layer's weights (or of their gradients: same layout). */
export interface LayerWeights {
  ln1: Float64Array;   // (C)
  q: Float64Array;     // (NH*hs, C)
  qb: Float64Array | null; // (NH*hs)
  k: Float64Array;     // (NKV*hs, C)
  kb: Float64Array | null; // (NKV*hs)
  v: Float64Array;     // (NKV*hs, C)
  vb: Float64Array | null; // (NKV*hs)
  o: Float64Array;     // (C, NH*hs)
  ln2: Float64Array;   // (C)
  gate: Float64Array;  // (F, C)
  up: Float64Array;    // (F, C)
  down: Float64Array;  // (C, F)
}

export interface ModelWeights {
  wte: Float64Array;    // (V, C)
  layers: LayerWeights[];
  norm: Float64Array;   // (C)
  lmHead: Float64Array; // (V, C); the same view as wte when tied, so its gradient adds into dwte
}

function weightViews(cfg: LlamaConfig, layout: TensorLayout, data: Float64Array): ModelWeights {
  const at = (name: string) => tensorView(layout, data, name);
  const maybe = (name: string) => (layout.byName.has(name) ? at(name) : null);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const n = layerParamNames(i);
    layers.push({
      ln1: at(n.ln1),
      q: at(n.q), qb: maybe(n.qb),
      k: at(n.k), kb: maybe(n.kb),
      v: at(n.v), vb: maybe(n.vb),
      o: at(n.o),
      ln2: at(n.ln2),
      gate: at(n.gate), up: at(n.up), down: at(n.down),
    });
  }
  const wte = at(EMBED_TOKENS);
  return { wte, layers, norm: at(FINAL_NORM), lmHead: cfg.tie_word_embeddings ? wte : at(LM_HEAD) };
}

/**
 * The activation size table for one (B, T). The same layout holds the activation gradients
 * (`logits` there is dlogits). N = B*T.
 */
export function activationTable(cfg: LlamaConfig, B: number, T: number, lora: LoraConfig | null = null): TensorSpec[] {
  const N = B * T, C = cfg.hidden_size, V = cfg.vocab_size, F = cfg.intermediate_size;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, hs = headSize(cfg);
  const t: TensorSpec[] = [{ name: 'encoded', shape: [N, C] }]; // embedding output = residual stream into layer 0
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `layers.${i}`;
    t.push(
      { name: `${p}.ln1`, shape: [N, C] },
      { name: `${p}.rstd1`, shape: [N] },
      { name: `${p}.q`, shape: [N, NH * hs] },       // before RoPE
      { name: `${p}.k`, shape: [N, NKV * hs] },
      { name: `${p}.v`, shape: [N, NKV * hs] },
      { name: `${p}.qr`, shape: [N, NH * hs] },      // after RoPE
      { name: `${p}.kr`, shape: [N, NKV * hs] },
      { name: `${p}.att`, shape: [B, NH, T, T] },    // softmax probabilities
      { name: `${p}.atty`, shape: [N, NH * hs] },    // attention output, heads concatenated
      { name: `${p}.attproj`, shape: [N, C] },
      { name: `${p}.res1`, shape: [N, C] },
      { name: `${p}.ln2`, shape: [N, C] },
      { name: `${p}.rstd2`, shape: [N] },
      { name: `${p}.gate`, shape: [N, F] },
      { name: `${p}.up`, shape: [N, F] },
      { name: `${p}.swi`, shape: [N, F] },
      { name: `${p}.mlpout`, shape: [N, C] },
      { name: `${p}.res2`, shape: [N, C] },          // residual stream out of layer i
    );
  }
  t.push(
    { name: 'lnf', shape: [N, C] },
    { name: 'rstdf', shape: [N] },
    { name: 'logits', shape: [N, V] },
    { name: 'losses', shape: [N] },
    { name: 'normIn', shape: [N, C] }, // gradient side only: an rmsnorm's dx before it joins the residual stream
  );
  // With LoRA: u = x A^T (N, r) of every adapted projection, kept for backward.
  if (lora) for (const a of loraTargets(cfg, lora)) t.push({ name: `layers.${a.layer}.lora.${a.key}`, shape: [N, lora.r] });
  return t;
}

interface LayerActs {
  ln1: Float64Array; rstd1: Float64Array; q: Float64Array; k: Float64Array; v: Float64Array;
  qr: Float64Array; kr: Float64Array; att: Float64Array; atty: Float64Array; attproj: Float64Array;
  res1: Float64Array; ln2: Float64Array; rstd2: Float64Array; gate: Float64Array; up: Float64Array;
  swi: Float64Array; mlpout: Float64Array; res2: Float64Array;
}

interface Acts {
  encoded: Float64Array; layers: LayerActs[]; lnf: Float64Array; rstdf: Float64Array;
  logits: Float64Array; losses: Float64Array; normIn: Float64Array;
}

function actViews(cfg: LlamaConfig, layout: TensorLayout, data: Float64Array): Acts {
  const at = (name: string) => tensorView(layout, data, name);
  const layers: LayerActs[] = [];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `layers.${i}`;
    const l = (n: string) => at(`${p}.${n}`);
    layers.push({
      ln1: l('ln1'), rstd1: l('rstd1'), q: l('q'), k: l('k'), v: l('v'), qr: l('qr'), kr: l('kr'),
      att: l('att'), atty: l('atty'), attproj: l('attproj'), res1: l('res1'), ln2: l('ln2'), rstd2: l('rstd2'),
      gate: l('gate'), up: l('up'), swi: l('swi'), mlpout: l('mlpout'), res2: l('res2'),
    });
  }
  return { encoded: at('encoded'), layers, lnf: at('lnf'), rstdf: at('rstdf'), logits: at('logits'), losses: at('losses'), normIn: at('normIn') };
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/**
 * A LoRA adapter on the model (attachLora): its own size table (loraTable) and flat arrays, like
 * the model's. While one is attached, trainStep trains only these tensors; the model's own
 * parameters are frozen. (The reference still computes the frozen tensors' gradients into
 * model.grads, unused; the GPU engine computes none.)
 */
export interface LoraState {
  config: LoraConfig;
  scale: number;
  targets: LoraTarget[];
  layout: TensorLayout;
  params: Float64Array;
  grads: Float64Array;
  m: Float64Array;
  v: Float64Array;
  /** By `${layer}.${key}`: views of A and B and of their gradients. */
  views: Map<string, { t: LoraTarget; A: Float64Array; B: Float64Array; gA: Float64Array; gB: Float64Array }>;
}

export interface ReferenceModel {
  config: LlamaConfig;
  layout: TensorLayout;       // parameter size table with offsets
  params: Float64Array;       // (layout.total)
  grads: Float64Array;        // (layout.total), same layout
  m: Float64Array;            // AdamW first moment, same layout
  v: Float64Array;            // AdamW second moment, same layout
  step: number;               // AdamW updates applied so far
  w: ModelWeights;            // views into params
  g: ModelWeights;            // views into grads
  /** The attached LoRA adapter, or null (full fine-tuning). */
  lora: LoraState | null;
  /** Activations of the last forward (allocated per B, T and adapter). */
  acts: { B: number; T: number; lora: LoraState | null; layout: TensorLayout; data: Float64Array; grad: Float64Array; a: Acts; d: Acts; ids: Int32Array; docIds: Int32Array; positions: Int32Array } | null;
}

/** A model with every parameter 0; fill it with initParams or setParams. */
export function createModel(config: LlamaConfig): ReferenceModel {
  validateConfig(config);
  const layout = layoutTensors(paramTable(config));
  const params = new Float64Array(layout.total);
  const grads = new Float64Array(layout.total);
  return {
    config, layout, params, grads,
    m: new Float64Array(layout.total), v: new Float64Array(layout.total), step: 0,
    w: weightViews(config, layout, params), g: weightViews(config, layout, grads), lora: null, acts: null,
  };
}

/**
 * Attaches a LoRA adapter (PEFT's init from `init`, or these tensors by name) and resets the
 * optimizer: from now on trainStep trains the adapter only. null detaches it.
 */
export function attachLora(model: ReferenceModel, config: LoraConfig | null, tensors?: Record<string, ArrayLike<number>>): void {
  model.acts = null;
  model.step = 0;
  model.m.fill(0);
  model.v.fill(0);
  if (!config) {
    model.lora = null;
    return;
  }
  validateLora(config, model.config);
  const layout = layoutTensors(loraTable(model.config, config));
  const params = new Float64Array(layout.total), grads = new Float64Array(layout.total);
  const targets = loraTargets(model.config, config);
  const views = new Map(targets.map((t) => [`${t.layer}.${t.key}`, {
    t, A: tensorView(layout, params, t.A), B: tensorView(layout, params, t.B), gA: tensorView(layout, grads, t.A), gB: tensorView(layout, grads, t.B),
  }]));
  model.lora = { config, scale: loraScale(config), targets, layout, params, grads, m: new Float64Array(layout.total), v: new Float64Array(layout.total), views };
  if (tensors) {
    for (const s of layout.slots) {
      const src = tensors[s.name];
      if (!src) throw new Error(`Adapter tensor "${s.name}" (shape ${s.shape.join('×')}) is missing.`);
      if (src.length !== s.size) throw new Error(`Adapter tensor "${s.name}" has ${src.length} values; r = ${config.r} needs ${s.size} (shape ${s.shape.join('×')}).`);
      params.set(src, s.offset);
    }
  }
}

/** The adapter's tensors by name (copies). */
export function loraParams(model: ReferenceModel): Record<string, Float64Array> {
  const l = model.lora;
  if (!l) throw new Error('loraParams: no adapter attached.');
  return Object.fromEntries(l.layout.slots.map((s) => [s.name, l.params.slice(s.offset, s.offset + s.size)]));
}

/** The adapter gradients of the last backward, by name (copies). */
export function loraGrads(model: ReferenceModel): Record<string, Float64Array> {
  const l = model.lora;
  if (!l) throw new Error('loraGrads: no adapter attached.');
  return Object.fromEntries(l.layout.slots.map((s) => [s.name, l.grads.slice(s.offset, s.offset + s.size)]));
}

/** Seeded init as in HF: 2-D matrices ~ N(0, std^2), norm weights 1, biases 0. */
export function initParams(model: ReferenceModel, seed: number, std = 0.02): void {
  const rng = makeRng(seed);
  for (const s of model.layout.slots) {
    const view = model.params.subarray(s.offset, s.offset + s.size);
    if (decays(s)) for (let i = 0; i < s.size; i++) view[i] = rng.normal() * std;
    else view.fill(s.name.endsWith('norm.weight') ? 1 : 0);
  }
}

/** Copies parameters from HF-named flat arrays; every tensor of the table must be present with its size. */
export function setParams(model: ReferenceModel, tensors: Record<string, ArrayLike<number>>): void {
  for (const s of model.layout.slots) {
    const src = tensors[s.name];
    if (!src) throw new Error(`Parameter "${s.name}" (shape ${s.shape.join('×')}) is missing from the checkpoint.`);
    if (src.length !== s.size) throw new Error(`Parameter "${s.name}" has ${src.length} values; the config needs ${s.size} (shape ${s.shape.join('×')}).`);
    model.params.set(src, s.offset);
  }
}

export function zeroGrads(model: ReferenceModel): void {
  model.grads.fill(0);
  model.lora?.grads.fill(0);
}

function ensureActs(model: ReferenceModel, B: number, T: number): NonNullable<ReferenceModel['acts']> {
  if (model.acts && model.acts.B === B && model.acts.T === T && model.acts.lora === model.lora) return model.acts;
  const layout = layoutTensors(activationTable(model.config, B, T, model.lora?.config ?? null));
  const data = new Float64Array(layout.total);
  const grad = new Float64Array(layout.total);
  const N = B * T;
  model.acts = {
    B, T, lora: model.lora, layout, data, grad, a: actViews(model.config, layout, data), d: actViews(model.config, layout, grad),
    ids: new Int32Array(N), docIds: new Int32Array(N), positions: new Int32Array(N),
  };
  return model.acts;
}

function checkBatchShape(name: string, arr: ArrayLike<number>, N: number, B: number, T: number): void {
  if (arr.length !== N) throw new Error(`Batch field "${name}" has ${arr.length} entries; B×T = ${B}×${T} needs ${N}.`);
}

/** Runs the model on ids (N) and returns the logits (N, V) (a view, valid until the next forward). */
export function forward(model: ReferenceModel, ids: Int32Array, docIds: Int32Array, positions: Int32Array, B: number, T: number): Float64Array {
  const cfg = model.config;
  const N = B * T, C = cfg.hidden_size, V = cfg.vocab_size, F = cfg.intermediate_size;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, hs = headSize(cfg);
  const theta = cfg.rope_theta, eps = cfg.rms_norm_eps;
  checkBatchShape('ids', ids, N, B, T);
  checkBatchShape('docIds', docIds, N, B, T);
  checkBatchShape('positions', positions, N, B, T);
  const acts = ensureActs(model, B, T);
  acts.ids.set(ids); acts.docIds.set(docIds); acts.positions.set(positions);
  const a = acts.a, w = model.w;
  const lora = model.lora;
  /** With an adapter on layer l's projection `key`: out += scale · (x A^T) B^T. */
  const adapt = (l: number, key: LayerParam, out: Float64Array, x: Float64Array, I: number, O: number) => {
    const ad = lora?.views.get(`${l}.${key}`);
    if (ad) loraForward(out, tensorView(acts.layout, acts.data, `layers.${l}.lora.${key}`), x, ad.A, ad.B, lora!.scale, N, I, O, lora!.config.r);
  };

  embeddingForward(a.encoded, ids, w.wte, N, C);
  let x = a.encoded; // residual stream (N, C)
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const la = a.layers[l], lw = w.layers[l];
    rmsnormForward(la.ln1, la.rstd1, x, lw.ln1, N, C, eps);
    matmulForward(la.q, la.ln1, lw.q, lw.qb, N, C, NH * hs);
    adapt(l, 'q', la.q, la.ln1, C, NH * hs);
    matmulForward(la.k, la.ln1, lw.k, lw.kb, N, C, NKV * hs);
    adapt(l, 'k', la.k, la.ln1, C, NKV * hs);
    matmulForward(la.v, la.ln1, lw.v, lw.vb, N, C, NKV * hs);
    adapt(l, 'v', la.v, la.ln1, C, NKV * hs);
    ropeForward(la.qr, la.q, positions, B, T, NH, hs, theta);
    ropeForward(la.kr, la.k, positions, B, T, NKV, hs, theta);
    attentionForward(la.atty, la.att, la.qr, la.kr, la.v, docIds, B, T, NH, NKV, hs);
    matmulForward(la.attproj, la.atty, lw.o, null, N, NH * hs, C);
    adapt(l, 'o', la.attproj, la.atty, NH * hs, C);
    residualForward(la.res1, x, la.attproj, N * C);
    rmsnormForward(la.ln2, la.rstd2, la.res1, lw.ln2, N, C, eps);
    matmulForward(la.gate, la.ln2, lw.gate, null, N, C, F);
    adapt(l, 'gate', la.gate, la.ln2, C, F);
    matmulForward(la.up, la.ln2, lw.up, null, N, C, F);
    adapt(l, 'up', la.up, la.ln2, C, F);
    swigluForward(la.swi, la.gate, la.up, N * F);
    matmulForward(la.mlpout, la.swi, lw.down, null, N, F, C);
    adapt(l, 'down', la.mlpout, la.swi, F, C);
    residualForward(la.res2, la.res1, la.mlpout, N * C);
    x = la.res2;
  }
  rmsnormForward(a.lnf, a.rstdf, x, w.norm, N, C, eps);
  matmulForward(a.logits, a.lnf, w.lmHead, null, N, C, V);
  return a.logits;
}

/**
 * The fused loss on the last forward's logits: fills losses (N) and dlogits (N, V) and returns
 * this micro-batch's reductions. seqScale (B) comes from normalisationScales (src/spec/loss.ts).
 */
export function crossEntropy(model: ReferenceModel, batch: Batch, seqScale: Float64Array): LossReductions {
  const acts = model.acts;
  if (!acts || acts.B !== batch.B || acts.T !== batch.T) throw new Error('crossEntropy: run forward on this batch first (no activations for this B×T).');
  const { B, T } = batch, N = B * T;
  checkBatchShape('labels', batch.labels, N, B, T);
  checkBatchShape('weights', batch.weights, N, B, T);
  crossEntropyForward(acts.a.losses, acts.d.logits, acts.a.logits, batch.ids, batch.labels, batch.weights, seqScale, B, T, model.config.vocab_size);
  return lossReductions(acts.a.losses, batch.labels, batch.weights, seqScale, batch.roles ?? new Uint8Array(N), B, T);
}

/**
 * Backpropagates dlogits (left by crossEntropy) through the last forward: the forward's calls in
 * reverse. Parameter gradients accumulate into model.grads. Where the residual stream forks (into
 * an rmsnorm and a skip connection) its gradient is the sum of both paths: the skip path arrives
 * via residualBackward (+=, buffers zeroed first), the norm path via rmsnormBackward into
 * `normIn`, and residualForward adds the two.
 */
export function backward(model: ReferenceModel): void {
  const acts = model.acts;
  if (!acts) throw new Error('backward: run forward and crossEntropy first.');
  const cfg = model.config;
  const { B, T } = acts;
  const N = B * T, C = cfg.hidden_size, V = cfg.vocab_size, F = cfg.intermediate_size;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, hs = headSize(cfg);
  const theta = cfg.rope_theta;
  const a = acts.a, d = acts.d, w = model.w, g = model.g;
  const { ids, docIds, positions } = acts;
  const dlogits = d.logits;
  const lora = model.lora;
  /** With an adapter on layer l's projection `key`: its gradients, and its part of dx (+=). */
  const adaptBack = (l: number, key: LayerParam, dx: Float64Array, dout: Float64Array, x: Float64Array, I: number, O: number) => {
    const ad = lora?.views.get(`${l}.${key}`);
    if (ad) loraBackward(dx, ad.gA, ad.gB, dout, x, tensorView(acts.layout, acts.data, `layers.${l}.lora.${key}`), ad.A, ad.B, lora!.scale, N, I, O, lora!.config.r);
  };
  // residualBackward accumulates: zero every activation gradient except dlogits, the input here.
  const dl = acts.layout.byName.get('logits')!;
  acts.grad.fill(0, 0, dl.offset);
  acts.grad.fill(0, dl.offset + dl.size);

  const L = cfg.num_hidden_layers;
  const xLast = L > 0 ? a.layers[L - 1].res2 : a.encoded;
  const dxLast = L > 0 ? d.layers[L - 1].res2 : d.encoded;
  matmulBackward(d.lnf, g.lmHead, null, dlogits, a.lnf, w.lmHead, N, C, V, false);
  rmsnormBackward(dxLast, g.norm, d.lnf, xLast, w.norm, a.rstdf, N, C);
  for (let l = L - 1; l >= 0; l--) {
    const la = a.layers[l], da = d.layers[l], lw = w.layers[l], lg = g.layers[l];
    const x = l > 0 ? a.layers[l - 1].res2 : a.encoded;
    const dx = l > 0 ? d.layers[l - 1].res2 : d.encoded;
    residualBackward(da.res1, da.mlpout, da.res2, N * C);
    matmulBackward(da.swi, lg.down, null, da.mlpout, la.swi, lw.down, N, F, C, false);
    adaptBack(l, 'down', da.swi, da.mlpout, la.swi, F, C);
    swigluBackward(da.gate, da.up, da.swi, la.gate, la.up, N * F);
    matmulBackward(da.ln2, lg.up, null, da.up, la.ln2, lw.up, N, C, F, false);
    adaptBack(l, 'up', da.ln2, da.up, la.ln2, C, F);
    matmulBackward(da.ln2, lg.gate, null, da.gate, la.ln2, lw.gate, N, C, F, true);
    adaptBack(l, 'gate', da.ln2, da.gate, la.ln2, C, F);
    rmsnormBackward(d.normIn, lg.ln2, da.ln2, la.res1, lw.ln2, la.rstd2, N, C);
    residualForward(da.res1, da.res1, d.normIn, N * C); // fork: skip path + norm path
    residualBackward(dx, da.attproj, da.res1, N * C);
    matmulBackward(da.atty, lg.o, null, da.attproj, la.atty, lw.o, N, NH * hs, C, false);
    adaptBack(l, 'o', da.atty, da.attproj, la.atty, NH * hs, C);
    attentionBackward(da.qr, da.kr, da.v, da.atty, la.qr, la.kr, la.v, la.att, docIds, B, T, NH, NKV, hs);
    ropeBackward(da.k, da.kr, positions, B, T, NKV, hs, theta);
    ropeBackward(da.q, da.qr, positions, B, T, NH, hs, theta);
    matmulBackward(da.ln1, lg.v, lg.vb, da.v, la.ln1, lw.v, N, C, NKV * hs, false);
    adaptBack(l, 'v', da.ln1, da.v, la.ln1, C, NKV * hs);
    matmulBackward(da.ln1, lg.k, lg.kb, da.k, la.ln1, lw.k, N, C, NKV * hs, true);
    adaptBack(l, 'k', da.ln1, da.k, la.ln1, C, NKV * hs);
    matmulBackward(da.ln1, lg.q, lg.qb, da.q, la.ln1, lw.q, N, C, NH * hs, true);
    adaptBack(l, 'q', da.ln1, da.q, la.ln1, C, NH * hs);
    rmsnormBackward(d.normIn, lg.ln1, da.ln1, x, lw.ln1, la.rstd1, N, C);
    residualForward(dx, dx, d.normIn, N * C); // fork: skip path + norm path
  }
  embeddingBackward(g.wte, d.encoded, ids, N, C);
}

/** Activation gradient of the last backward, by activation-table name (e.g. 'encoded'). */
export function activationGrad(model: ReferenceModel, name: string): Float64Array {
  if (!model.acts) throw new Error('activationGrad: run forward and backward first.');
  return tensorView(model.acts.layout, model.acts.grad, name);
}

/** Activation of the last forward, by activation-table name. */
export function activation(model: ReferenceModel, name: string): Float64Array {
  if (!model.acts) throw new Error('activation: run forward first.');
  return tensorView(model.acts.layout, model.acts.data, name);
}

// ---------------------------------------------------------------------------------------------
// Training step: gradient accumulation, clipping, AdamW
// ---------------------------------------------------------------------------------------------

/**
 * One optimizer step over the micro-batches of an accumulated batch. The normalisation uses the
 * total trained weight (and trained-sequence count) over all micro-batches, so accumulating k
 * micro-batches gives the same gradient as one batch of all of them (the Oct-2024 fix).
 * No trained tokens, or a non-finite loss or gradient norm: no update, and the report says why.
 */
export function trainStep(model: ReferenceModel, microBatches: readonly Batch[], s: TrainSettings): StepReport {
  const step = model.step + 1;
  const report: StepReport = {
    status: 'ok', step, loss: 0, trainedWeight: 0, trainedCount: 0, gradNorm: NaN, clipFactor: 1,
    promptLossSum: 0, promptCount: 0, responseLossSum: 0, responseCount: 0,
  };
  let totalWeight = 0, totalSequences = 0;
  for (let i = 0; i < microBatches.length; i++) {
    const mb = microBatches[i];
    const bad = mb.weights.findIndex((w, n) => !Number.isFinite(w) && mb.labels[n] !== IGNORE_INDEX);
    if (bad >= 0) {
      report.status = 'non-finite';
      report.loss = NaN;
      report.message = `Step ${step}: the label weight at micro-batch ${i}, sequence ${Math.floor(bad / mb.T)}, position ${bad % mb.T} is ${mb.weights[bad]}, so no update was applied. Fix the mask policy's weights.`;
      return report;
    }
    const t = trainedTotals(mb.labels, mb.weights, mb.B, mb.T);
    totalWeight += t.weight;
    totalSequences += t.sequences;
  }
  zeroGrads(model);
  const noTokens = !(totalWeight > 0);
  for (let i = 0; i < microBatches.length; i++) {
    const mb = microBatches[i];
    const seqScale = normalisationScales(mb.labels, mb.weights, mb.B, mb.T, s.lossMode, totalWeight, totalSequences);
    forward(model, mb.ids, mb.docIds, mb.positions, mb.B, mb.T);
    const r = crossEntropy(model, mb, seqScale);
    report.loss += r.objective;
    report.trainedWeight += r.trainedWeight;
    report.trainedCount += r.trainedCount;
    report.promptLossSum += r.promptLossSum;
    report.promptCount += r.promptCount;
    report.responseLossSum += r.responseLossSum;
    report.responseCount += r.responseCount;
    if (!noTokens) backward(model);
  }
  if (noTokens) {
    report.status = 'no trained tokens';
    report.message = `Step ${step}: no position in this batch has a trained label (all -100, or all weights 0), so there is nothing to learn from and no update was applied. Check the mask policy or pick samples with a response.`;
    return report;
  }
  // With an adapter attached only its tensors train: the norm, the clip and AdamW see only them.
  const trained = model.lora ?? model;
  report.gradNorm = gradNorm(trained.grads, trained.layout.total);
  if (!Number.isFinite(report.loss) || !Number.isFinite(report.gradNorm)) {
    report.status = 'non-finite';
    const what = !Number.isFinite(report.loss) ? `the loss is ${report.loss}` : `the gradient norm is ${report.gradNorm}`;
    report.message = `Step ${step}: ${what}, so no update was applied. Lower the learning rate, check the weights and the data, or reload the model.`;
    return report;
  }
  const clip = s.maxGradNorm > 0 && Number.isFinite(s.maxGradNorm) ? clipFactor(report.gradNorm, s.maxGradNorm) : 1;
  report.clipFactor = clip;
  for (const slot of trained.layout.slots) {
    const end = slot.offset + slot.size;
    adamwStep(
      trained.params.subarray(slot.offset, end), trained.grads.subarray(slot.offset, end),
      trained.m.subarray(slot.offset, end), trained.v.subarray(slot.offset, end), slot.size,
      s.lr, s.beta1, s.beta2, s.eps, decays(slot) ? s.weightDecay : 0, step, clip,
    );
  }
  model.step = step;
  return report;
}
