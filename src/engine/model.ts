/**
 * The LLaMA model on the GPU, as recorded dispatch lists: forward is a straight list of op calls,
 * backward the same calls in reverse (mirroring src/reference/model.ts call for call, except that
 * each residual add is fused into the norm after it), then the loss and the optimizer. Built once
 * per Engine; every step replays the lists.
 *
 * Gradient conventions (ops.ts): parameter gradients accumulate (+=) — the step clears them once, so
 * micro-batches accumulate; activation gradients overwrite. Where the residual stream forks (into an
 * rmsnorm and the skip connection) its gradient is the sum of both paths: residualRmsnormBackward
 * adds the skip path's gradient to the norm's dx as it writes it, into a separate buffer, so nothing
 * needs zeroing between layers. The reference keeps the adds as separate calls (residualForward);
 * residualRmsnorm is exactly those two calls in one kernel.
 */
import { headSize } from '../spec/config';
import { EMBED_TOKENS, FINAL_NORM, layerParamNames, LM_HEAD } from '../spec/params';
import type { Dispatch } from '../gpu/kernel';
import type { GpuTensor } from '../gpu/buffers';
import { at, type OpContext } from './ops/context';
import { embeddingBackward, embeddingForward } from './ops/embedding';
import { rmsnormBackward, rmsnormForward } from './ops/rmsnorm';
import { matmulBackward, matmulForward } from './ops/matmul';
import { ropeBackward, ropeForward } from './ops/rope';
import { attentionBackward, attentionForward } from './ops/attention';
import { swigluBackward, swigluForward } from './ops/swiglu';
import { residualRmsnormBackward, residualRmsnormForward } from './ops/residualRmsnorm';
import { lmHeadLossBackward, lmHeadLossForward, partBounds, vocabChunks, type VocabChunk } from './ops/lmHead';
import { lossReductions } from './ops/lossReductions';
import { gradNorm } from './ops/gradNorm';
import { adamwStep } from './ops/adamw';
import { packF16Forward } from './ops/packF16';
import { loraBackward, loraForward } from './ops/lora';
import { loraScale, loraTargets } from '../spec/lora';
import type { LayerParam } from '../spec/params';
import type { GpuMemory } from './memory';

export interface ModelProgram {
  /** ids → lnf, the final norm's output (activations kept for backward). */
  forward: Dispatch[];
  /**
   * lnf → losses, ||dlogits|| and lse per position through the fused LM head, chunk by chunk
   * (`lossChunks`, then `lossFinal`: finalize and the micro-batch's sums added into
   * scratch:stepSums). `loss` is the two concatenated. After chunk i, activations:lmHead.chunk
   * holds the logits of vocabulary rows vocabChunks[i].
   */
  loss: Dispatch[];
  lossChunks: Dispatch[][];
  lossFinal: Dispatch[];
  vocabChunks: VocabChunk[];
  /** The head's gradient (chunk by chunk) → parameter gradients (+=). */
  backward: Dispatch[];
  /** Gradient norm, clip factor, non-finite check, AdamW over every parameter arena, then packWeights. */
  optimizer: Dispatch[];
  /** Rewrites the weights_f16 copies from the f32 parameters (empty without f16 weights). */
  packWeights: Dispatch[];
}

interface LayerParams {
  ln1: GpuTensor; q: GpuTensor; qb: GpuTensor | null; k: GpuTensor; kb: GpuTensor | null; v: GpuTensor; vb: GpuTensor | null;
  o: GpuTensor; ln2: GpuTensor; gate: GpuTensor; up: GpuTensor; down: GpuTensor;
}

/**
 * Views of the model's weights (or, with category 'gradients', of their gradients: same names).
 * The projection matrices are their 16-bit copies when the layout has them: the matmuls read
 * those, AdamW updates the f32 arenas. With LoRA the model's weights are the frozen ones.
 */
function weights(mem: GpuMemory, category: 'parameters' | 'gradients') {
  const cfg = mem.layout.config;
  const f16 = mem.layout.slots.weights_f16;
  const own = mem.layout.frozenModel ? 'frozen' : category;
  const t = (name: string) => (category === 'parameters' && f16.has(name) ? mem.tensor('weights_f16', name) : mem.tensor(own, name));
  const maybe = (name: string) => (mem.layout.slots[own].has(name) || f16.has(name) ? t(name) : null);
  const layers: LayerParams[] = [];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const n = layerParamNames(i);
    layers.push({
      ln1: t(n.ln1),
      q: t(n.q), qb: maybe(n.qb),
      k: t(n.k), kb: maybe(n.kb),
      v: t(n.v), vb: maybe(n.vb),
      o: t(n.o),
      ln2: t(n.ln2),
      gate: t(n.gate), up: t(n.up), down: t(n.down),
    });
  }
  // The embedding and the LM head as row parts: one part, or several when the (V, C) matrix
  // exceeds one buffer (layout.ts Slot.parts); their ops run one dispatch per part.
  const wte = mem.parts(own, EMBED_TOKENS);
  // Tied: the LM head is the embedding, so its gradient adds into d wte.
  return { wte, layers, norm: t(FINAL_NORM), lmHead: cfg.tie_word_embeddings ? wte : mem.parts(own, LM_HEAD) };
}

/** Records the whole model for the layout's (B, T). `hyper` is the per-step optimizer uniform. */
export function buildModel(base: OpContext, mem: GpuMemory, hyper: GPUBuffer): ModelProgram {
  const { config: cfg, B, T } = mem.layout;
  const N = B * T, C = cfg.hidden_size, V = cfg.vocab_size, F = cfg.intermediate_size;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, hs = headSize(cfg);
  const theta = cfg.rope_theta, eps = cfg.rms_norm_eps, L = cfg.num_hidden_layers;
  const w = weights(mem, 'parameters');
  // With LoRA (or evaluation only) the model is frozen: no gradient of any of its tensors is computed (null dw below).
  const frozen = mem.layout.frozenModel;
  const g = frozen ? null : weights(mem, 'gradients');
  const lora = mem.layout.lora;
  const scale = lora ? loraScale(lora) : 0;
  const adapters = new Map((lora ? loraTargets(cfg, lora) : []).map((t) => [`${t.layer}.${t.key}`, t]));
  /** Layer l's adapter on projection `key`, after the frozen matmul wrote out: out += s · (x A^T) B^T. */
  const adapt = (ctx: OpContext, l: number, key: LayerParam, out: GpuTensor, x: GpuTensor, I: number, O: number): Dispatch[] => {
    const t = adapters.get(`${l}.${key}`);
    if (!t) return [];
    return loraForward(ctx, out, a(`layers.${l}.lora.${key}`), x, mem.tensor('parameters', t.A), mem.tensor('parameters', t.B), scale, N, I, O, lora!.r);
  };
  /** Its backward, after the frozen matmul's dx: dA, dB +=, dx +=. */
  const adaptBack = (ctx: OpContext, l: number, key: LayerParam, dx: GpuTensor, dout: GpuTensor, x: GpuTensor, I: number, O: number): Dispatch[] => {
    const t = adapters.get(`${l}.${key}`);
    if (!t) return [];
    return loraBackward(ctx, dx, mem.tensor('gradients', t.A), mem.tensor('gradients', t.B), d('dlora'), dout, x, a(`layers.${l}.lora.${key}`),
      mem.tensor('parameters', t.A), mem.tensor('parameters', t.B), scale, N, I, O, lora!.r);
  };
  const a = (name: string) => mem.tensor('activations', name);
  const d = (name: string) => mem.tensor('activation_grads', name);
  const inp = (name: string) => mem.tensor('inputs', name);
  const ids = inp('ids'), labels = inp('labels'), weightsIn = inp('weights'), docIds = inp('docIds');
  const positions = inp('positions'), roles = inp('roles'), seqScale = inp('seqScale');
  const la = (l: number, name: string) => a(`layers.${l}.${name}`);
  const residualIn = (l: number) => (l > 0 ? la(l - 1, 'res2') : a('encoded'));

  // ---- forward ----
  // Each residual add is fused into the rmsnorm that reads its sum (residualRmsnorm): layer l's
  // post-attention norm, and layer l+1's input norm (or the final norm, after the last layer).
  const forward: Dispatch[] = [];
  forward.push(...embeddingForward(at(base, 'embed_tokens'), a('encoded'), ids, w.wte, N, C));
  const head = at(base, 'lm_head');
  if (L === 0) forward.push(...rmsnormForward(head, a('lnf'), a('rstdf'), a('encoded'), w.norm, N, C, eps));
  else forward.push(...rmsnormForward(at(base, 'layers.0'), la(0, 'ln1'), la(0, 'rstd1'), a('encoded'), w.layers[0].ln1, N, C, eps));
  for (let l = 0; l < L; l++) {
    const ctx = at(base, `layers.${l}`);
    const lw = w.layers[l];
    const x = residualIn(l);
    const last = l === L - 1;
    forward.push(
      ...matmulForward(ctx, a('q'), la(l, 'ln1'), lw.q, lw.qb, N, C, NH * hs),
      ...adapt(ctx, l, 'q', a('q'), la(l, 'ln1'), C, NH * hs),
      ...matmulForward(ctx, a('k'), la(l, 'ln1'), lw.k, lw.kb, N, C, NKV * hs),
      ...adapt(ctx, l, 'k', a('k'), la(l, 'ln1'), C, NKV * hs),
      ...matmulForward(ctx, la(l, 'v'), la(l, 'ln1'), lw.v, lw.vb, N, C, NKV * hs),
      ...adapt(ctx, l, 'v', la(l, 'v'), la(l, 'ln1'), C, NKV * hs),
      ...ropeForward(ctx, la(l, 'qr'), a('q'), positions, B, T, NH, hs, theta),
      ...ropeForward(ctx, la(l, 'kr'), a('k'), positions, B, T, NKV, hs, theta),
      ...attentionForward(ctx, la(l, 'atty'), la(l, 'att'), la(l, 'qr'), la(l, 'kr'), la(l, 'v'), docIds, B, T, NH, NKV, hs),
      ...matmulForward(ctx, a('branch'), la(l, 'atty'), lw.o, null, N, NH * hs, C),
      ...adapt(ctx, l, 'o', a('branch'), la(l, 'atty'), NH * hs, C),
      ...residualRmsnormForward(ctx, la(l, 'res1'), la(l, 'ln2'), la(l, 'rstd2'), x, a('branch'), lw.ln2, N, C, eps),
      ...matmulForward(ctx, la(l, 'gate'), la(l, 'ln2'), lw.gate, null, N, C, F),
      ...adapt(ctx, l, 'gate', la(l, 'gate'), la(l, 'ln2'), C, F),
      ...matmulForward(ctx, la(l, 'up'), la(l, 'ln2'), lw.up, null, N, C, F),
      ...adapt(ctx, l, 'up', la(l, 'up'), la(l, 'ln2'), C, F),
      ...swigluForward(ctx, la(l, 'swi'), la(l, 'gate'), la(l, 'up'), N * F),
      ...matmulForward(ctx, a('branch'), la(l, 'swi'), lw.down, null, N, F, C),
      ...adapt(ctx, l, 'down', a('branch'), la(l, 'swi'), F, C),
      ...(last
        ? residualRmsnormForward(head, la(l, 'res2'), a('lnf'), a('rstdf'), la(l, 'res1'), a('branch'), w.norm, N, C, eps)
        : residualRmsnormForward(at(base, `layers.${l + 1}`), la(l, 'res2'), la(l + 1, 'ln1'), la(l + 1, 'rstd1'), la(l, 'res1'), a('branch'), w.layers[l + 1].ln1, N, C, eps)),
    );
  }

  // ---- loss: the LM head fused with the cross-entropy, VC vocabulary rows at a time ----
  const VC = mem.layout.vocabChunk;
  const headLoss = lmHeadLossForward(head, a('losses'), a('dlogitNorms'), a('lmHead.lse'), a('lmHead.stats'), a('lmHead.tgtLogit'), a('lmHead.chunk'),
    a('lnf'), w.lmHead, ids, labels, weightsIn, seqScale, B, T, C, V, VC);
  const lossFinal: Dispatch[] = [
    ...headLoss.finalize,
    ...lossReductions(at(base, 'loss'), mem.tensor('scratch', 'stepSums'), a('losses'), labels, weightsIn, seqScale, roles, B, T),
  ];

  // ---- backward: forward's calls in reverse ----
  // The final norm's input only feeds that norm; every other norm input also takes the skip
  // connection, so residualRmsnormBackward adds the skip path's gradient (dskip) as it goes.
  const backward: Dispatch[] = [
    ...lmHeadLossBackward(head, d('dlnf'), g?.lmHead ?? null, a('lmHead.chunk'), a('lnf'), w.lmHead, a('lmHead.lse'), labels, weightsIn, seqScale, B, T, C, V, VC),
    ...rmsnormBackward(head, d('dres'), g?.norm ?? null, d('dlnf'), residualIn(L), w.norm, a('rstdf'), N, C),
  ];
  for (let l = L - 1; l >= 0; l--) {
    const ctx = at(base, `layers.${l}`);
    const lw = w.layers[l], lg = g?.layers[l] ?? null;
    // d('dres') holds d res2 (this layer's output); d mlpout = d res2 (skip connection).
    backward.push(
      ...matmulBackward(ctx, d('dswi'), lg?.down ?? null, null, d('dres'), la(l, 'swi'), lw.down, N, F, C, false),
      ...adaptBack(ctx, l, 'down', d('dswi'), d('dres'), la(l, 'swi'), F, C),
      ...swigluBackward(ctx, d('dgate'), d('dup'), d('dswi'), la(l, 'gate'), la(l, 'up'), N * F),
      ...matmulBackward(ctx, d('dln'), lg?.up ?? null, null, d('dup'), la(l, 'ln2'), lw.up, N, C, F, false),
      ...adaptBack(ctx, l, 'up', d('dln'), d('dup'), la(l, 'ln2'), C, F),
      ...matmulBackward(ctx, d('dln'), lg?.gate ?? null, null, d('dgate'), la(l, 'ln2'), lw.gate, N, C, F, true),
      ...adaptBack(ctx, l, 'gate', d('dln'), d('dgate'), la(l, 'ln2'), C, F),
      // d res1 = d res2 (skip path) + the post-attention norm's dx; d attproj = d res1.
      ...residualRmsnormBackward(ctx, d('dres1'), lg?.ln2 ?? null, d('dln'), d('dres'), la(l, 'res1'), lw.ln2, la(l, 'rstd2'), N, C),
      ...matmulBackward(ctx, d('datty'), lg?.o ?? null, null, d('dres1'), la(l, 'atty'), lw.o, N, NH * hs, C, false),
      ...adaptBack(ctx, l, 'o', d('datty'), d('dres1'), la(l, 'atty'), NH * hs, C),
      ...attentionBackward(ctx, d('dqr'), d('dkr'), d('dv'), d('datty'), la(l, 'qr'), la(l, 'kr'), la(l, 'v'), la(l, 'att'), docIds, B, T, NH, NKV, hs),
      ...ropeBackward(ctx, d('dk'), d('dkr'), positions, B, T, NKV, hs, theta),
      ...ropeBackward(ctx, d('dq'), d('dqr'), positions, B, T, NH, hs, theta),
      ...matmulBackward(ctx, d('dln'), lg?.v ?? null, lg?.vb ?? null, d('dv'), la(l, 'ln1'), lw.v, N, C, NKV * hs, false),
      ...adaptBack(ctx, l, 'v', d('dln'), d('dv'), la(l, 'ln1'), C, NKV * hs),
      ...matmulBackward(ctx, d('dln'), lg?.k ?? null, lg?.kb ?? null, d('dk'), la(l, 'ln1'), lw.k, N, C, NKV * hs, true),
      ...adaptBack(ctx, l, 'k', d('dln'), d('dk'), la(l, 'ln1'), C, NKV * hs),
      ...matmulBackward(ctx, d('dln'), lg?.q ?? null, lg?.qb ?? null, d('dq'), la(l, 'ln1'), lw.q, N, C, NH * hs, true),
      ...adaptBack(ctx, l, 'q', d('dln'), d('dq'), la(l, 'ln1'), C, NH * hs),
      // d res2 of layer l-1 (or d encoded) = d res1 (skip path) + the input norm's dx.
      ...residualRmsnormBackward(ctx, d('dres'), lg?.ln1 ?? null, d('dln'), d('dres1'), residualIn(l), lw.ln1, la(l, 'rstd1'), N, C),
    );
  }
  if (g) backward.push(...embeddingBackward(at(base, 'embed_tokens'), g.wte, d('dres'), ids, N, C));

  // ---- optimizer ----
  const opt = at(base, 'optimizer');
  const state = mem.tensor('scratch', 'stepState');
  const gradArenas = mem.arenasOf('gradients');
  // Nothing trains in an evaluation-only engine: no optimizer.
  const optimizer: Dispatch[] = gradArenas.length === 0 ? [] : gradNorm(opt, state, gradArenas.map((i) => mem.arena(i)), mem.tensor('scratch', 'stepSums'), hyper);
  const [params, ms, vs] = (['parameters', 'adam_m', 'adam_v'] as const).map((c) => mem.arenasOf(c));
  gradArenas.forEach((gi, j) => {
    const arena = mem.layout.arenas[gi];
    const n = arena.bytes / 4;
    optimizer.push(...adamwStep(at(base, `optimizer.${arena.label}`), mem.arena(params[j]), mem.arena(gi), mem.arena(ms[j]), mem.arena(vs[j]), n, hyper, state, arena.decay));
  });
  // With LoRA the 16-bit base is the only copy of frozen weights: nothing to repack.
  const packWeights = frozen ? [] : [...mem.layout.slots.weights_f16.keys()].flatMap((name) => packF16Forward(opt, mem.tensor('weights_f16', name), mem.tensor('parameters', name)));
  optimizer.push(...packWeights);
  return { forward, loss: [...headLoss.chunks.flat(), ...lossFinal], lossChunks: headLoss.chunks, lossFinal, vocabChunks: vocabChunks(V, VC, partBounds(w.lmHead)), backward, optimizer, packWeights };
}
