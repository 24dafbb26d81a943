/**
 * The one size table of the GPU engine: every GPU buffer the engine uses comes from here.
 *
 * Memory is a set of arenas (one GPUBuffer each); a tensor is a 256-byte-aligned slice of an arena
 * (WebGPU's storage binding offset alignment). WebGPU validates buffer usage per whole buffer: one
 * dispatch may not bind a buffer read-only and writable at once. So tensors that ops write share an
 * arena only where no dispatch reads one of them while writing another (parameters, gradients and
 * moments: AdamW and the gradient norm then run over whole arenas); activations, activation
 * gradients and scratch get one buffer per tensor; inputs and constants are only read. Categories:
 *   parameters   HF names and shapes from paramTable (src/spec/params.ts), in two groups:
 *                2-D matrices (weight decay, see `decays` there) and everything else.
 *                A group is split into several arenas when it exceeds the adapter's buffer limit.
 *                A (V, C) embedding or LM head larger than the limit is split by rows into parts
 *                (Slot.parts; SPLIT_ROWS-row multiples, so LM-head vocabulary chunks never
 *                straddle two parts), each part its own slice of an arena; the ops that read
 *                them (ops/embedding.ts, ops/lmHead.ts, the decoder) run one dispatch per part.
 *   gradients, adam_m, adam_v   the same arenas and offsets as parameters, so AdamW and the
 *                gradient norm run over whole arenas.
 *   weights_f16  with `f16Weights`: an f16 copy of each layer's projection matrices (two halves per
 *                u32), rewritten after every AdamW update. The matmuls' forward and dx read it;
 *                the f32 parameters stay the master copy that AdamW updates. With LoRA and a
 *                16-bit base (`lora.baseDtype` f16 or bf16): the only copy of the frozen projections.
 *   frozen       with LoRA: the model's own tensors (paramTable), which never train: no gradients,
 *                no moments. parameters/gradients/adam_m/adam_v then hold the adapter (loraTable,
 *                src/spec/lora.ts) instead of the model.
 *   activations  what backward needs, per layer, for one micro-batch (B, T), plus shared
 *                transients (pre-RoPE q/k, the branch output before a residual add) and the LM
 *                head's (N, VC) vocabulary chunk: the (N, V) logits and dlogits are never stored.
 *   activation_grads  gradient buffers shared by all layers (backward runs one layer at a time).
 *   inputs       the micro-batch being computed: ids, labels, weights, docIds, positions, roles, seqScale.
 *   staging      the inputs of every micro-batch of a step, copied into `inputs` in the step's encoder.
 *   constants    the RoPE cos/sin table.
 *   scratch      attention score gradients, grad-norm partials, loss sums, the GPU step state.
 * Small uniform buffers (op sizes, optimizer settings; tens of bytes each) are not in this table.
 *
 * N = B*T; letters as in src/spec/config.ts.
 */
import { headSize, type LlamaConfig } from '../spec/config';
import { decays, EMBED_TOKENS, layerParamOf, LM_HEAD, paramTable, PROJECTIONS, type TensorSpec } from '../spec/params';
import { loraTable, loraTargets, validateLora, type LoraConfig } from '../spec/lora';
import type { HalfDtype } from '../spec/half';
import { GRAD_NORM_GROUPS, STEP_STATE_WORDS } from './ops/gradNorm';
import { LOSS_SUMS } from './ops/lossReductions';
import { CE_STATS } from './ops/crossEntropy';

export type Category =
  | 'parameters' | 'gradients' | 'adam_m' | 'adam_v' | 'weights_f16' | 'frozen'
  | 'activations' | 'activation_grads' | 'inputs' | 'staging' | 'constants' | 'scratch';

export const CATEGORIES: readonly Category[] = ['parameters', 'gradients', 'adam_m', 'adam_v', 'weights_f16', 'frozen', 'activations', 'activation_grads', 'inputs', 'staging', 'constants', 'scratch'];

/** WebGPU's largest minStorageBufferOffsetAlignment: every tensor starts on it. */
export const ALIGN = 256;
const F32 = 4;

export interface Slot extends TensorSpec {
  category: Category;
  /** Index into Layout.arenas (a split tensor: its first part's). */
  arena: number;
  /** Byte offset inside the arena (a split tensor: its first part's). */
  offset: number;
  /** Bytes of data (elements * 4; for weights_f16, elements * 2 rounded up to whole u32 words); a split tensor: all parts. */
  bytes: number;
  /**
   * A tensor too large for one buffer, split by rows (only `splittable` ones; at least two parts,
   * in row order, together every row once). Absent when the tensor is one slice.
   */
  parts?: SlotPart[];
}

/** Rows row0 … row0+rows-1 of a split tensor, at `offset` bytes into arena `arena`. */
export interface SlotPart {
  row0: number;
  rows: number;
  arena: number;
  offset: number;
  bytes: number;
}

/** Rows per part of a split tensor are a multiple of this (64 rows of f32 = whole 256-byte blocks, and LM-head chunks are multiples of 64). */
export const SPLIT_ROWS = 64;

/**
 * The largest tensor that is split: 4 GiB, what one JS ArrayBuffer holds in every browser (V8 and
 * Safari cap one there). The engine's callers pass and receive each tensor as one Float32Array by
 * HF name, so a larger one cannot be loaded, split or not.
 */
export const MAX_SPLIT_TENSOR_BYTES = 2 ** 32;

/** Categories whose embedding / LM head may be split by rows (the ops reading them handle parts). */
const SPLIT_CATEGORIES: readonly Category[] = ['parameters', 'gradients', 'adam_m', 'adam_v', 'frozen'];

/** Whether `name` in `category` may be split by rows when it exceeds one buffer: the (V, C) embedding and LM head. */
export function splittable(category: Category, name: string): boolean {
  return SPLIT_CATEGORIES.includes(category) && (name === EMBED_TOKENS || name === LM_HEAD);
}

/**
 * Rows per part when a (rows, cols) f32 tensor is split to fit `limit` bytes per buffer: the most
 * whole SPLIT_ROWS blocks that fit, or 0 when not even one block does.
 */
export function partRows(cols: number, limit: number): number {
  return Math.floor(limit / (cols * F32 * SPLIT_ROWS)) * SPLIT_ROWS;
}

export interface Arena {
  label: string;
  category: Category;
  bytes: number;
  /** Parameter/gradient/moment arenas: whether its tensors get weight decay. */
  decay: boolean;
  slots: Slot[];
}

export interface Layout {
  config: LlamaConfig;
  B: number;
  T: number;
  /** Micro-batches per step the staging area holds. */
  microBatches: number;
  /** Vocabulary rows per LM-head chunk (VC). */
  vocabChunk: number;
  /** Positions the RoPE table covers. */
  ropePositions: number;
  arenas: Arena[];
  /** Slot by category and name (parameters/gradients/adam_m/adam_v use the HF name). */
  slots: Record<Category, Map<string, Slot>>;
  /** The adapter, when the layout trains LoRA (parameters = the adapter, the model is frozen). */
  lora: LoraConfig | null;
  /** The model's tensors are in 'frozen' (LoRA, or an evaluation-only engine): none of them trains. */
  frozenModel: boolean;
  /** How weights_f16 stores its halves: 'f16', or the LoRA base's 16-bit dtype. */
  halfDtype: HalfDtype;
}

/** LoRA training: which adapter, and how the frozen projections are stored. */
export interface LoraLayout {
  config: LoraConfig;
  /** Storage of the frozen projection matrices: f32 (default), or f16/bf16 (read with f32 accumulation). */
  baseDtype?: 'f32' | HalfDtype;
}

export interface LayoutOptions {
  /** Micro-batches per optimizer step (gradient accumulation). Default 1. */
  microBatches?: number;
  /** Largest arena (GPUBuffer and binding) in bytes: min(maxBufferSize, maxStorageBufferBindingSize). */
  maxArenaBytes?: number;
  /** Vocabulary rows per LM-head chunk; default defaultVocabChunk(V, B*T), fewer when the (N, VC) chunk would exceed maxArenaBytes. A multiple of 64 below V. */
  vocabChunk?: number;
  /** Adds the weights_f16 category: f16 copies of the layers' projection matrices. Default false (ignored with LoRA). */
  f16Weights?: boolean;
  /** Train a LoRA adapter on a frozen model instead of the model itself. */
  lora?: LoraLayout | null;
  /**
   * Evaluation only: the model in 'frozen', nothing trains (no gradients, no moments): forward,
   * loss, the backward's activation gradients (the heatmap's embedding gradient) and decoding.
   */
  evalOnly?: boolean;
  /**
   * Sizing only (memory checks): a tensor that does not fit `maxArenaBytes` even split is kept
   * whole in an arena of its own instead of throwing, so the check can name it. Never allocate it.
   */
  keepOversized?: boolean;
}

/** The parameters stored again as f16 when f16Weights is on: the layers' projection matrices. */
export function isF16Weight(name: string): boolean {
  const key = layerParamOf(name);
  return key !== null && PROJECTIONS.includes(key);
}

const align = (x: number) => Math.ceil(x / ALIGN) * ALIGN;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Elements of the LM head's (N, VC) chunk buffer the default chunk size aims at (64 MiB of f32):
 * models whose (N, V) logits fit in it run the head in one chunk, larger ones in several.
 */
export const VOCAB_CHUNK_ELEMENTS = 1 << 24;

/**
 * Vocabulary rows per LM-head chunk (VC) for V and N = B*T: all of V when N*V fits
 * VOCAB_CHUNK_ELEMENTS, else the largest multiple of 64 that does (at least 64). A multiple of 64
 * keeps every chunk's slice of the (V, C) head 256-byte aligned for binding.
 */
export function defaultVocabChunk(V: number, N: number): number {
  if (N * V <= VOCAB_CHUNK_ELEMENTS) return V;
  return Math.max(64, Math.floor(VOCAB_CHUNK_ELEMENTS / N / 64) * 64);
}

/**
 * Per-layer activations kept for backward, (B, T) = one micro-batch. The LM head never holds the
 * (N, V) logits: it works through an (N, VC) chunk (ops/lmHead.ts).
 */
export function activationTable(c: LlamaConfig, B: number, T: number, VC = defaultVocabChunk(c.vocab_size, B * T), lora: LoraConfig | null = null): TensorSpec[] {
  const N = B * T, C = c.hidden_size, V = c.vocab_size, F = c.intermediate_size;
  const NH = c.num_attention_heads, NKV = c.num_key_value_heads, hs = headSize(c);
  const t: TensorSpec[] = [{ name: 'encoded', shape: [N, C] }]; // embedding output = residual stream into layer 0
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `layers.${i}`;
    t.push(
      { name: `${p}.ln1`, shape: [N, C] },
      { name: `${p}.rstd1`, shape: [N] },
      { name: `${p}.qr`, shape: [N, NH * hs] },   // q after RoPE
      { name: `${p}.kr`, shape: [N, NKV * hs] },  // k after RoPE
      { name: `${p}.v`, shape: [N, NKV * hs] },
      { name: `${p}.att`, shape: [B, NH, T, T] }, // softmax probabilities
      { name: `${p}.atty`, shape: [N, NH * hs] }, // attention output, heads concatenated
      { name: `${p}.res1`, shape: [N, C] },       // residual stream after attention
      { name: `${p}.ln2`, shape: [N, C] },
      { name: `${p}.rstd2`, shape: [N] },
      { name: `${p}.gate`, shape: [N, F] },
      { name: `${p}.up`, shape: [N, F] },
      { name: `${p}.swi`, shape: [N, F] },
      { name: `${p}.res2`, shape: [N, C] },       // residual stream out of layer i
    );
  }
  t.push(
    { name: 'q', shape: [N, NH * hs] },    // transient: q before RoPE (RoPE backward does not need it)
    { name: 'k', shape: [N, NKV * hs] },   // transient: k before RoPE
    { name: 'branch', shape: [N, C] },     // transient: o_proj / down_proj output before the residual add
    { name: 'lnf', shape: [N, C] },
    { name: 'rstdf', shape: [N] },
    { name: 'lmHead.chunk', shape: [N, VC] },   // one vocabulary chunk's logits, then (backward) its dlogits
    { name: 'lmHead.stats', shape: [N, CE_STATS] }, // online log-sum-exp state per row
    { name: 'lmHead.tgtLogit', shape: [N] },    // the target token's logit per row
    { name: 'lmHead.lse', shape: [N] },
    { name: 'losses', shape: [N] },
    { name: 'dlogitNorms', shape: [N] },        // ||dlogits|| per position (heatmap)
    { name: 'lastLogits', shape: [B, V] },      // evaluation only: logits after each sequence's last real token
  );
  // With LoRA: u = x A^T (N, r) of every adapted projection, kept for backward.
  if (lora) for (const a of loraTargets(c, lora)) t.push({ name: `layers.${a.layer}.lora.${a.key}`, shape: [N, lora.r] });
  return t;
}

/** Activation gradients, shared by all layers (backward visits one layer at a time). */
export function activationGradTable(c: LlamaConfig, B: number, T: number, lora: LoraConfig | null = null): TensorSpec[] {
  const N = B * T, C = c.hidden_size, F = c.intermediate_size;
  const NH = c.num_attention_heads, NKV = c.num_key_value_heads, hs = headSize(c);
  return [
    { name: 'dlnf', shape: [N, C] },
    { name: 'dres', shape: [N, C] },       // d residual stream between layers (d res2 of the layer being visited)
    { name: 'dres1', shape: [N, C] },      // d res1: skip path + post-attention norm path
    { name: 'dln', shape: [N, C] },        // d ln1 / d ln2 (q,k,v or gate,up accumulate into it)
    { name: 'dswi', shape: [N, F] },
    { name: 'dgate', shape: [N, F] },
    { name: 'dup', shape: [N, F] },
    { name: 'datty', shape: [N, NH * hs] },
    { name: 'dqr', shape: [N, NH * hs] },
    { name: 'dkr', shape: [N, NKV * hs] },
    { name: 'dq', shape: [N, NH * hs] },
    { name: 'dk', shape: [N, NKV * hs] },
    { name: 'dv', shape: [N, NKV * hs] },
    ...(lora ? [{ name: 'dlora', shape: [N, lora.r] }] : []), // du of the adapter being visited
  ];
}

/** One micro-batch of inputs (the staging area holds `microBatches` copies of this block). */
export function inputTable(B: number, T: number): TensorSpec[] {
  const N = B * T;
  return [
    { name: 'ids', shape: [N] },       // i32
    { name: 'labels', shape: [N] },    // i32, -100 = not trained
    { name: 'weights', shape: [N] },   // f32
    { name: 'docIds', shape: [N] },    // i32, -1 = padding
    { name: 'positions', shape: [N] }, // i32
    { name: 'roles', shape: [N] },     // i32: 0 none, 1 prompt, 2 response (of the target token)
    { name: 'seqScale', shape: [B] },  // f32
  ];
}

/**
 * Builds the layout. A splittable tensor (the embedding, the LM head) over the limit is split by rows;
 * any other tensor over it throws, saying which tensor and what to change (unless keepOversized).
 */
export function buildLayout(config: LlamaConfig, B: number, T: number, opts: LayoutOptions = {}): Layout {
  const microBatches = opts.microBatches ?? 1;
  const V = config.vocab_size;
  const lora = opts.lora?.config ?? null;
  if (lora) validateLora(lora, config);
  const baseDtype = opts.lora?.baseDtype ?? 'f32';
  const limit = opts.maxArenaBytes ?? Number.MAX_SAFE_INTEGER;
  // The default chunk also fits one buffer under the limit (the (N, VC) chunk is one tensor).
  const fitting = Math.max(64, Math.floor(limit / (B * T * F32 * 64)) * 64);
  const vocabChunk = Math.min(V, opts.vocabChunk ?? Math.min(defaultVocabChunk(V, B * T), fitting));
  if (!(Number.isInteger(vocabChunk) && vocabChunk > 0 && (vocabChunk === V || vocabChunk % 64 === 0))) {
    throw new Error(`vocabChunk ${opts.vocabChunk} must be a positive multiple of 64 (or at least the vocabulary size ${V}).`);
  }
  const arenas: Arena[] = [];
  const slots = Object.fromEntries(CATEGORIES.map((c) => [c, new Map<string, Slot>()])) as Record<Category, Map<string, Slot>>;

  /**
   * Packs specs into arenas of at most `limit` bytes (one arena per tensor when `perTensor`);
   * returns the arena indices created.
   */
  const pack = (category: Category, label: string, specs: readonly TensorSpec[], decay: boolean, perTensor = false): number[] => {
    const created: number[] = [];
    let cur: Arena | null = null;
    /** Places one slice of `bytes` in the current arena (or a new one), setting slot.arena and slot.offset. */
    const place = (slot: Slot, bytes: number, name: string): void => {
      const padded = align(Math.max(bytes, F32));
      if (!cur || cur.bytes + padded > limit || perTensor) {
        cur = { label: perTensor ? `${label}:${name}` : `${label}${created.length ? `.${created.length}` : ''}`, category, bytes: 0, decay, slots: [] };
        created.push(arenas.length);
        arenas.push(cur);
      }
      slot.arena = arenas.length - 1;
      slot.offset = cur.bytes;
      cur.slots.push(slot);
      cur.bytes += padded;
    };
    for (const s of specs) {
      const bytes = category === 'weights_f16' ? Math.ceil(numel(s.shape) / 2) * F32 : numel(s.shape) * F32;
      const padded = align(Math.max(bytes, F32));
      if (padded > limit) {
        const canSplit = splittable(category, s.name) && s.shape.length === 2 && bytes <= MAX_SPLIT_TENSOR_BYTES;
        const R = canSplit ? partRows(s.shape[1], limit) : 0;
        if (R > 0) {
          // Split by rows: each part a slot of its own in the arenas (named with its row range);
          // the tensor's slot lists them. Identical specs split identically, so gradients and
          // moments mirror the parameters part for part.
          const [rowsAll, cols] = s.shape;
          const parts: SlotPart[] = [];
          for (let row0 = 0; row0 < rowsAll; row0 += R) {
            const rows = Math.min(R, rowsAll - row0);
            const part: Slot = { name: `${s.name}[${row0}:${row0 + rows}]`, shape: [rows, cols], category, arena: 0, offset: 0, bytes: rows * cols * F32 };
            place(part, part.bytes, part.name);
            parts.push({ row0, rows, arena: part.arena, offset: part.offset, bytes: part.bytes });
          }
          slots[category].set(s.name, { ...s, category, arena: parts[0].arena, offset: parts[0].offset, bytes, parts });
          continue;
        }
        if (!opts.keepOversized) {
          const why = canSplit
            ? ` Split by rows it still needs ${mib(SPLIT_ROWS * s.shape[1] * F32)} per ${SPLIT_ROWS}-row part, more than fits.`
            : splittable(category, s.name) ? ` It is not split across buffers either: it is larger than ${mib(MAX_SPLIT_TENSOR_BYTES)}, the most one Float32Array holds in a browser.` : '';
          throw new Error(
            `The ${category} tensor '${s.name}' (${s.shape.join(' x ')}) needs ${mib(bytes)}, more than this GPU can bind in one buffer (${mib(limit)}).${why} ${oversizeAdvice(category)}`,
          );
        }
        // Sizing only: kept whole in an arena of its own, over the limit, for the check to name.
        const slot: Slot = { ...s, category, arena: arenas.length, offset: 0, bytes };
        created.push(arenas.length);
        arenas.push({ label: `${label}:${s.name}`, category, bytes: padded, decay, slots: [slot] });
        cur = null;
        slots[category].set(s.name, slot);
        continue;
      }
      const slot: Slot = { ...s, category, arena: 0, offset: 0, bytes };
      place(slot, bytes, s.name);
      slots[category].set(s.name, slot);
    }
    return created;
  };

  // Trained tensors (the model, or with LoRA the adapter): matrices first (decay), then vectors;
  // gradients and moments mirror them exactly.
  const params = paramTable(config);
  const evalOnly = opts.evalOnly === true && lora === null;
  const trained = lora ? loraTable(config, lora) : evalOnly ? [] : params;
  const groups = [
    { specs: trained.filter((s) => decays(s)), decay: true, suffix: 'matrices' },
    { specs: trained.filter((s) => !decays(s)), decay: false, suffix: 'vectors' },
  ].filter((g) => g.specs.length > 0);
  for (const category of ['parameters', 'gradients', 'adam_m', 'adam_v'] as const) {
    for (const g of groups) pack(category, `${category}.${g.suffix}`, g.specs, g.decay);
  }
  const halfBase = lora !== null && baseDtype !== 'f32';
  if (lora || evalOnly) pack('frozen', 'frozen', params.filter((s) => !(halfBase && isF16Weight(s.name))), false);
  if (halfBase || (!lora && !evalOnly && opts.f16Weights)) pack('weights_f16', 'weights_f16', params.filter((s) => isF16Weight(s.name)), false);
  pack('activations', 'activations', activationTable(config, B, T, vocabChunk, lora), false, true);
  pack('activation_grads', 'activation_grads', activationGradTable(config, B, T, lora), false, true);
  const inputs = inputTable(B, T);
  pack('inputs', 'inputs', inputs, false);
  // The staging block of micro-batch m is the inputs block, byte for byte, at m * (inputs arena bytes).
  const inputArenas = arenas.filter((a) => a.category === 'inputs');
  if (inputArenas.length !== 1) throw new Error(`The inputs of one micro-batch (${mib(inputArenas.reduce((a, b) => a + b.bytes, 0))}) do not fit one GPU buffer; reduce the batch size.`);
  const block = inputArenas[0].bytes;
  pack('staging', 'staging', [{ name: 'microBatches', shape: [microBatches, block / F32] }], false);
  const ropePositions = Math.max(T, config.max_position_embeddings);
  pack('constants', 'constants', [{ name: 'rope', shape: [ropePositions, headSize(config) / 2, 2] }], false);
  const paramArenas = arenas.filter((a) => a.category === 'gradients').length;
  pack('scratch', 'scratch', [
    { name: 'attention.dpre', shape: [B, config.num_attention_heads, T, T] }, // d pre-softmax scores
    { name: 'gradNorm.partials', shape: [paramArenas * GRAD_NORM_GROUPS] },
    { name: 'stepSums', shape: [LOSS_SUMS.length] },   // lossReductions over the step's micro-batches
    { name: 'stepState', shape: [STEP_STATE_WORDS] },  // StepState: norm, clip, nonFinite, adamStep
  ], false, true);
  return { config, B, T, microBatches, vocabChunk, ropePositions, arenas, slots, lora, frozenModel: lora !== null || evalOnly, halfDtype: halfBase ? (baseDtype as HalfDtype) : 'f16' };
}

/** What to change when one tensor of `category` cannot fit a buffer. */
function oversizeAdvice(category: Category): string {
  switch (category) {
    case 'parameters': case 'gradients': case 'adam_m': case 'adam_v':
      return 'Reduce the batch size or sequence length, train a LoRA adapter (its frozen model has no gradients or moments; a bf16 base halves the projections), or use a smaller model.';
    case 'frozen': case 'weights_f16':
      return 'Reduce the batch size or sequence length, use a bf16 base for LoRA, or use a smaller model.';
    default:
      return 'Reduce the batch size or sequence length, or use a smaller model.';
  }
}

/** Bytes per category, and the total. */
export type MemoryEstimate = Record<Category, number> & { total: number };

/** The bytes a layout allocates, per category and in all. */
export function layoutBytes(layout: Layout): MemoryEstimate {
  const out = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as MemoryEstimate;
  out.total = 0;
  for (const a of layout.arenas) {
    out[a.category] += a.bytes;
    out.total += a.bytes;
  }
  return out;
}

/**
 * GPU memory the engine allocates for (config, B, T) and `microBatches`, in bytes per category
 * (uniform buffers and readback staging, < 1 KiB together, are left out). Compare the total with the
 * adapter's memory and each arena with maxBufferSize.
 */
export function memoryEstimate(config: LlamaConfig, B: number, T: number, microBatches = 1, vocabChunk?: number, f16Weights = false, lora: LoraLayout | null = null, maxArenaBytes?: number): MemoryEstimate {
  return layoutBytes(buildLayout(config, B, T, { microBatches, vocabChunk, f16Weights, lora, maxArenaBytes }));
}

/** memoryEstimate for any layout options (e.g. evalOnly). */
export function layoutEstimate(config: LlamaConfig, B: number, T: number, opts: LayoutOptions): MemoryEstimate {
  return layoutBytes(buildLayout(config, B, T, opts));
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
