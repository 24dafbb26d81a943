/**
 * Will (config, B, T, microBatches) fit this GPU? Checked before any GPU allocation, from the
 * engine's own size table (src/engine/layout.ts: memoryEstimate, the same table Engine allocates
 * from) and the generation decoder's (src/engine/generation.ts: decoderTable).
 *
 * Two kinds of limit:
 *   per buffer  every tensor the engine allocates must fit one binding: min(maxBufferSize,
 *               maxStorageBufferBindingSize). Parameter groups are split across buffers, and so
 *               is a (V, C) embedding or LM head larger than one buffer (by rows, layout.ts
 *               Slot.parts: sized here with the adapter's limit, as Engine allocates it); any other
 *               tensor cannot be split: one
 *               tensor cannot be: the attention probabilities (B, NH, T, T) of a layer, the logits
 *               (B*T, V) and the embedding (V, C) are the usual culprits.
 *   in total    WebGPU does not tell how much memory a device has; when the caller knows a budget
 *               (e.g. a user setting) the total is compared with it, else it is only reported.
 * When something does not fit, the result says so with the numbers in MiB and suggests the
 * nearest settings that do fit (shorter context T, smaller batch B, fewer micro-batches), or says
 * the model itself is too large. Never throws.
 */
import type { LlamaConfig } from '../spec/config';
import { buildLayout, layoutBytes, type LoraLayout, type MemoryEstimate } from '../engine/layout';
import { DEFAULT_LORA } from '../spec/lora';
import { decoderBytes } from '../engine/generation';
import { englishOf, joined, msg, worded, type Message } from '../spec/message';

export interface MemoryLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** Bytes the engine may use in all, when known. */
  memoryBudget?: number;
}

export interface BufferNeed {
  /** 'activations:layers.0.att', 'parameters:model.embed_tokens.weight', 'generation:logits', … */
  name: string;
  shape: readonly number[];
  bytes: number;
}

export interface MemoryCheckResult {
  ok: boolean;
  /** Bytes per engine category and total (as Engine allocates them). */
  estimate: MemoryEstimate | null;
  /** Bytes of the generation decoder (KV caches), 0 when not asked for. */
  generationBytes: number;
  /** estimate.total + generationBytes. */
  totalBytes: number;
  /** The largest single tensor buffer. */
  largest: BufferNeed | null;
  /** min(maxBufferSize, maxStorageBufferBindingSize). */
  bufferLimit: number;
  /** What does not fit, one sentence each (empty when ok). */
  problems: string[];
  /** Settings that fit (each checked), nearest first along each axis. */
  suggestions: MemorySuggestion[];
  /** One paragraph for people: null when ok (English; msg the same, coded). */
  message: string | null;
  msg: Message | null;
}

export interface MemorySuggestion {
  B: number;
  T: number;
  microBatches: number;
  /** e.g. 'a shorter context: T = 512 (largest buffer 32.0 MiB, 410.2 MiB in all)'; textMsg the same, coded. */
  text: string;
  textMsg: Message;
  /** Set when the suggestion is to train a LoRA adapter instead (checked with this layout). */
  lora?: LoraLayout;
}

export interface MemoryCheckOptions {
  /** Also count a generation decoder with this many context tokens (KV caches). */
  generationContext?: number;
  /** Count the engine's f16 copies of the projection matrices (EngineOptions.f16Weights). */
  f16Weights?: boolean;
  /** Size a LoRA run (EngineOptions.lora: a frozen model, adapter-only gradients and moments). */
  lora?: LoraLayout | null;
}

const MIB = 2 ** 20;
export const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;

interface Fit {
  estimate: MemoryEstimate;
  generationBytes: number;
  total: number;
  largest: BufferNeed;
  problems: Message[];
}

function measure(config: LlamaConfig, B: number, T: number, microBatches: number, limits: MemoryLimits, opts: MemoryCheckOptions): Fit {
  const bufferLimit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  // The layout Engine would allocate under this limit (the embedding / LM head split by rows when
  // larger); a tensor that cannot fit even so is kept whole (keepOversized) for the check to name.
  const layout = buildLayout(config, B, T, { microBatches, f16Weights: opts.f16Weights, lora: opts.lora, maxArenaBytes: bufferLimit, keepOversized: true });
  let largest: BufferNeed = { name: '', shape: [], bytes: 0 };
  for (const a of layout.arenas) {
    for (const s of a.slots) if (s.bytes > largest.bytes) largest = { name: `${s.category}:${s.name}`, shape: s.shape, bytes: s.bytes };
  }
  const estimate = layoutBytes(layout);
  let generationBytes = 0;
  if (opts.generationContext) {
    const g = decoderBytes(config, opts.generationContext);
    generationBytes = g.total;
    if (g.largest.bytes > largest.bytes) largest = { name: `generation:${g.largest.name}`, shape: g.largest.shape, bytes: g.largest.bytes };
  }
  const total = estimate.total + generationBytes;
  const problems: Message[] = [];
  if (largest.bytes > bufferLimit) {
    const which = limits.maxBufferSize <= limits.maxStorageBufferBindingSize ? 'maxBufferSize' : 'maxStorageBufferBindingSize';
    problems.push(msg('memory.largestBuffer', { name: largest.name, shape: largest.shape.join(' × '), need: mib(largest.bytes), limit: mib(bufferLimit), which }));
  }
  if (limits.memoryBudget !== undefined && total > limits.memoryBudget) {
    problems.push(msg('memory.total', { need: mib(total), budget: mib(limits.memoryBudget) }));
  }
  return { estimate, generationBytes, total, largest, problems };
}

/** Candidates below `x`: x/2, x/4, … down to `min` (whole numbers), largest first. */
function halvings(x: number, min: number): number[] {
  const out: number[] = [];
  for (let v = Math.floor(x / 2); v >= min; v = Math.floor(v / 2)) out.push(v);
  return out;
}

export function checkMemory(config: LlamaConfig, B: number, T: number, microBatches: number, limits: MemoryLimits, opts: MemoryCheckOptions = {}): MemoryCheckResult {
  const bufferLimit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const bad = Object.entries({ B, T, microBatches }).filter(([, v]) => !(Number.isInteger(v) && v >= 1));
  if (bad.length) {
    const why = msg('memory.badShape', { list: bad.map(([k, v]) => `${k} = ${v}`).join(', ') });
    return { ok: false, estimate: null, generationBytes: 0, totalBytes: 0, largest: null, bufferLimit, problems: [englishOf(why)], suggestions: [], ...worded(msg('memory.cannotSize', { why })) };
  }
  let fit: Fit;
  try {
    fit = measure(config, B, T, microBatches, limits, opts);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, estimate: null, generationBytes: 0, totalBytes: 0, largest: null, bufferLimit, problems: [why], suggestions: [], ...worded(msg('memory.cannotSizeFor', { B, T, micro: microBatches, why })) };
  }
  const base = { estimate: fit.estimate, generationBytes: fit.generationBytes, totalBytes: fit.total, largest: fit.largest, bufferLimit };
  if (fit.problems.length === 0) return { ok: true, ...base, problems: [], suggestions: [], message: null, msg: null };

  const fits = (b: number, t: number, m: number): Fit | null => {
    try {
      const f = measure(config, b, t, m, limits, opts);
      return f.problems.length ? null : f;
    } catch {
      return null;
    }
  };
  const describe = (f: Fit) => msg('memory.describe', { largest: mib(f.largest.bytes), total: mib(f.total) });
  const suggestions: MemorySuggestion[] = [];
  const said = (m: Message) => ({ text: englishOf(m), textMsg: m });
  const MIN_T = 16;
  for (const t of halvings(T, MIN_T)) {
    const f = fits(B, t, microBatches);
    if (f) {
      suggestions.push({ B, T: t, microBatches, ...said(msg('memory.shorter', { t, d: describe(f) })) });
      break;
    }
  }
  for (const b of halvings(B, 1)) {
    // The same sequences per step with more, smaller micro-batches (gradient accumulation).
    const m = Math.ceil(B / b) * microBatches;
    const f = fits(b, T, m);
    if (f) {
      suggestions.push({ B: b, T, microBatches: m, ...said(msg('memory.smaller', { b, m, seq: b * m, d: describe(f) })) });
      break;
    }
  }
  if (microBatches > 1) {
    const f = fits(B, T, 1);
    if (f) suggestions.push({ B, T, microBatches: 1, ...said(msg('memory.fewer', { d: describe(f) })) });
  }
  if (suggestions.length === 0) {
    // Nothing smaller along one axis: try both at once, then say the model is too big.
    const f = fits(1, Math.min(T, MIN_T), 1);
    if (f) {
      for (const t of [T, ...halvings(T, MIN_T)]) {
        const g = fits(1, t, 1);
        if (g) {
          suggestions.push({ B: 1, T: t, microBatches: 1, ...said(msg('memory.minimal', { t, d: describe(g) })) });
          break;
        }
      }
    }
  }
  if (suggestions.length === 0 && !opts.lora) {
    // Full fine-tuning does not fit at any size: a LoRA adapter on a bf16 base (no gradients or
    // moments of the model, its projections at half size), at these settings or the nearest smaller.
    const lora: LoraLayout = { config: DEFAULT_LORA, baseDtype: 'bf16' };
    const withLora = (b: number, t: number, m: number): Fit | null => {
      try {
        const g = measure(config, b, t, m, limits, { ...opts, lora });
        return g.problems.length ? null : g;
      } catch {
        return null;
      }
    };
    const what = msg('memory.lora', { r: DEFAULT_LORA.r, targets: DEFAULT_LORA.targets.join(', ') });
    const here = withLora(B, T, microBatches);
    if (here) suggestions.push({ B, T, microBatches, lora, ...said(msg('memory.loraHere', { what, d: describe(here) })) });
    else {
      for (const t of [T, ...halvings(T, MIN_T)]) {
        const g = withLora(1, t, 1);
        if (g) {
          suggestions.push({ B: 1, T: t, microBatches: 1, lora, ...said(msg('memory.loraMin', { what, t, d: describe(g) })) });
          break;
        }
      }
    }
  }
  const e = fit.estimate;
  const m = msg(fit.generationBytes ? 'memory.doesNotFitGen' : 'memory.doesNotFit', {
    B, T, micro: microBatches, problems: joined(fit.problems, 'semicolon'), total: mib(e.total), gen: mib(fit.generationBytes),
    params: mib(e.parameters), grads: mib(e.gradients + e.adam_m + e.adam_v), acts: mib(e.activations + e.activation_grads), scratch: mib(e.scratch),
    tail: suggestions.length ? msg('memory.try', { list: joined(suggestions.map((x) => x.textMsg), 'or') }) : msg('memory.tooLarge'),
  });
  return { ok: false, ...base, problems: fit.problems.map(englishOf), suggestions, ...worded(m) };
}
