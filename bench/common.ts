/**
 * What every side of the benchmark shares: the model configs per adapter class, the synthetic
 * training batch, the initial weights and the optimizer settings, so that our engine and its peers
 * (TF.js, jax-js on WebGPU and on Wasm) train the same model on the same data with the same optimizer.
 *
 * Letters as in src/spec/config.ts (B, T, C, V, L, NH, NKV, F).
 */
import type { LoraLayout } from '../src/engine/layout';
import type { LlamaConfig } from '../src/spec/config';
import { decays, paramTable } from '../src/spec/params';
import type { Batch } from '../src/spec/batch';
import type { TrainSettings } from '../src/spec/step';
import { makeRng } from '../src/spec/rng';
import { IGNORE_INDEX, ROLE_PROMPT, ROLE_RESPONSE } from '../src/spec/loss';

/**
 * 'cpu': sizes that finish in minutes on a software adapter (SwiftShader);
 * 'gpu': sizes that say something about a real GPU.
 */
export type Scale = 'cpu' | 'gpu';

export interface BenchCase {
  /** Short name in the table. */
  name: string;
  config: LlamaConfig;
  B: number;
  T: number;
  /**
   * Timed rounds of `perRound` steps each, after `warmup` steps. Rounds of the two sides alternate,
   * so load from other processes on a shared machine falls on both alike.
   */
  rounds: number;
  perRound: number;
  warmup: number;
  /** Our side trains a LoRA adapter on the frozen model instead (EngineOptions.lora); absent: full fine-tuning. */
  lora?: LoraLayout | null;
}

/** Used when public/models/playground-base/config.json is not there: the size the embedded model was planned at. */
export const EMBEDDED_FALLBACK: LlamaConfig = {
  vocab_size: 4096, hidden_size: 192, intermediate_size: 512, num_hidden_layers: 6,
  num_attention_heads: 6, num_key_value_heads: 2, rope_theta: 10000, rms_norm_eps: 1e-5,
  tie_word_embeddings: true, max_position_embeddings: 256, attention_bias: false,
};

/** A GPT-2-small-sized LLaMA (≈ 110 M parameters with the 32k tied embedding). */
const LARGE_GPU: LlamaConfig = {
  vocab_size: 32000, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12,
  num_attention_heads: 12, num_key_value_heads: 4, rope_theta: 10000, rms_norm_eps: 1e-5,
  tie_word_embeddings: true, max_position_embeddings: 512, attention_bias: false,
};

/** The larger model scaled down to what a CPU adapter trains in about a minute. */
const LARGE_CPU: LlamaConfig = {
  vocab_size: 8192, hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4,
  num_attention_heads: 8, num_key_value_heads: 2, rope_theta: 10000, rms_norm_eps: 1e-5,
  tie_word_embeddings: true, max_position_embeddings: 128, attention_bias: false,
};

export function benchCases(scale: Scale, embedded: LlamaConfig): BenchCase[] {
  if (scale === 'gpu') {
    return [
      { name: 'embedded', config: embedded, B: 8, T: Math.min(256, embedded.max_position_embeddings), rounds: 5, perRound: 4, warmup: 3 },
      { name: 'large', config: LARGE_GPU, B: 4, T: 512, rounds: 5, perRound: 2, warmup: 2 },
    ];
  }
  return [
    { name: 'embedded', config: embedded, B: 2, T: 64, rounds: 3, perRound: 1, warmup: 1 },
    { name: 'large', config: LARGE_CPU, B: 1, T: 128, rounds: 2, perRound: 1, warmup: 1 },
  ];
}

/** The optimizer both sides use: AdamW with decay on 2-D matrices, global-norm clipping, mean over trained tokens. */
export const BENCH_SETTINGS: TrainSettings = {
  lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1, lossMode: 'mean_tokens',
};

/**
 * A chat-like batch: each sequence is one document whose first quarter is prompt (labels -100)
 * and the rest response (labels = ids), random token ids. Positions 0…T-1, no padding.
 */
export function syntheticBatch(B: number, T: number, V: number, seed = 7): Batch {
  const rng = makeRng(seed);
  const N = B * T;
  const batch: Batch = {
    B, T,
    ids: new Int32Array(N), labels: new Int32Array(N), weights: new Float64Array(N).fill(1),
    docIds: new Int32Array(N), positions: new Int32Array(N), roles: new Int32Array(N),
  };
  const promptLen = Math.max(1, Math.floor(T / 4));
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = b * T + t;
      const id = rng.int(0, V);
      batch.ids[n] = id;
      batch.labels[n] = t < promptLen ? IGNORE_INDEX : id;
      batch.docIds[n] = b;
      batch.positions[n] = t;
      // roles describe the target token of position n (n + 1)
      batch.roles![n] = t + 1 < T ? (t + 1 < promptLen ? ROLE_PROMPT : ROLE_RESPONSE) : 0;
    }
  }
  return batch;
}

/** HF-style init (matrices ~ N(0, 0.02²), norms 1, biases 0), by HF name. */
export function initWeights(config: LlamaConfig, seed = 1): Record<string, Float32Array> {
  const rng = makeRng(seed);
  const out: Record<string, Float32Array> = {};
  for (const s of paramTable(config)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (decays(s)) for (let i = 0; i < n; i++) a[i] = rng.normal() * 0.02;
    else a.fill(s.name.endsWith('norm.weight') ? 1 : 0);
    out[s.name] = a;
  }
  return out;
}

/** ms per step (median over rounds) and tokens/s (all timed tokens over all timed time). */
/** Steps in flight while timing, as the app's TrainingSession runs them (src/worker/trainSession.ts: RUN_AHEAD 2 + the awaited one). */
const IN_FLIGHT = 3;

/**
 * Wall time of `n` steps, pipelined the same way on both sides: `step()` queues one step and
 * resolves when its loss has been read, with up to IN_FLIGHT of them outstanding.
 */
export async function timePipelined(n: number, step: () => Promise<void>): Promise<number> {
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    inflight.push(step());
    if (inflight.length >= IN_FLIGHT) await inflight.shift();
  }
  await Promise.all(inflight);
  return performance.now() - start;
}

export function roundStats(c: BenchCase, roundsMs: readonly number[], perRound: number): { stepMs: number; tokensPerSec: number; roundsMs: number[] } {
  const sorted = [...roundsMs].sort((a, b) => a - b);
  const total = roundsMs.reduce((a, b) => a + b, 0);
  return { stepMs: sorted[Math.floor(sorted.length / 2)] / perRound, tokensPerSec: (c.B * c.T * perRound * roundsMs.length) / (total / 1000), roundsMs: [...roundsMs] };
}

/** Parameters of a config (the embedding counted once when tied). */
export function parameterCount(config: LlamaConfig): number {
  return paramTable(config).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}

/** Per-kernel row of a profile: dispatches grouped by entry point and place (all layers together). */
export interface KernelRow {
  kernel: string;
  /** Dispatches per step. */
  calls: number;
  ms: number;
  /** Share of the profiled step. */
  share: number;
  /** Matmuls: achieved GFLOP/s. */
  gflops?: number;
}

export interface MatmulSummary {
  /** FLOPs of all matmul dispatches of a step. */
  flops: number;
  ms: number;
  gflops: number;
  /** Share of the profiled step time. */
  share: number;
}

/** What both sides report. */
export interface SideResult {
  /** Ours: Engine.create on a fresh device (layout, buffers, weight upload, every pipeline compiled); TF.js: variables created and backend ready; jax-js: backend ready, parameters and optimizer state on the device (the step compiles on first use). */
  startupMs: number;
  /** The first step (includes any compilation the browser deferred to first use). */
  firstStepMs: number;
  /** Median over the timed rounds of wall time per step (steps pipelined as the worker does). */
  stepMs: number;
  tokensPerSec: number;
  /** Wall time of each timed round. */
  roundsMs: number[];
  /** Losses of every step (warm-up first). */
  losses: number[];
}

export interface OursResult extends SideResult {
  /** From timestamp queries of one profiled step; null without timestamp-query. */
  profile: { totalMs: number; kernels: KernelRow[]; matmul: MatmulSummary } | null;
  /** GPU bytes the engine allocates (layout size table), by category. */
  memory: Record<string, number>;
  /** Whether the matmuls read f16 copies of the projection matrices (EngineOptions.f16Weights). */
  f16Weights: boolean;
  /** Matmul tile shape in use. */
  matmulTiles: string;
  /** The autotune's measurements on this case's MLP product (forward + dx + dw), naive kernel included. */
  autotune: { ms: number; shape: { N: number; I: number; O: number }; timings: { tiles: string; ms: number; gflops: number }[] };
}

export interface TfjsResult extends SideResult {
  /** tf.memory(): bytes the WebGPU backend holds in GPU buffers after the timed steps (its buffer pool). */
  gpuBytesAllocated?: number;
}

/** The sides `npm run bench` can run (BENCH_ONLY picks some). */
export const SIDES = ['ours', 'tfjs', 'jax', 'jaxwasm'] as const;
export type Side = (typeof SIDES)[number];
export type Peer = Exclude<Side, 'ours'>;
export const PEERS: readonly Peer[] = ['tfjs', 'jax', 'jaxwasm'];
/** How each side is named in the tables. */
export const SIDE_NAMES: Record<Side, string> = { ours: 'ours (WGSL)', tfjs: 'TF.js webgpu', jax: 'jax-js webgpu', jaxwasm: 'jax-js wasm' };

/** ours tokens/s ÷ a peer's, over all timed rounds and per round (the spread is noise from the machine). */
export interface Ratio {
  total: number;
  perRound: number[];
}

export interface CaseResult {
  name: string;
  config: LlamaConfig;
  B: number;
  T: number;
  parameters: number;
  rounds: number;
  perRound: number;
  ours: OursResult | { error: string };
  tfjs: TfjsResult | { error: string };
  jax: SideResult | { error: string };
  jaxwasm: SideResult | { error: string };
  /** Per peer that ran beside ours. */
  ratios: Partial<Record<Peer, Ratio>>;
}

export interface AdapterSummary {
  description: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
  features: string[];
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

/** One peer against our engine on the micro batch: loss, every gradient, the first AdamW steps. */
export interface PeerCheck {
  side: Peer;
  ok: boolean;
  loss: number;
  /** The gradient tensor with the largest difference relative to its largest entry. */
  worstTensor: string;
  maxAbs: number;
  relative: number;
  /** Losses of the first AdamW steps (lr 1e-3, decay, clipping), each measured before its update. */
  losses: number[];
  /** Largest |Δ| / |ours| over the step-0 loss and those losses (agreement to 6 digits: ≤ 5e-6). */
  lossRelative: number;
  /** Largest parameter difference after those steps, and the largest distance a parameter moved. */
  paramDiff: number;
  paramMoved: number;
}

/** Our engine and its peers on one micro batch (same weights and batch). */
export interface BaselineCheck {
  /** Every peer agrees. */
  ok: boolean;
  oursLoss: number;
  oursLosses: number[];
  peers: PeerCheck[];
}

/** C = A @ B with (n, n) f32 operands, one product per timed call, each side synchronised after it. */
export interface MatmulRow {
  n: number;
  side: Side;
  /** Median ms of one product over the timed repeats (results read back or waited for). */
  ms: number;
  gflops: number;
  /** Ours: the tile shape in use. */
  detail?: string;
}

/** One side of the matmul micro-benchmark at one size. */
export interface MatmulSide {
  /** Runs one product and resolves when it has finished, with its wall time in ms. */
  once(): Promise<number>;
  dispose(): void;
  detail?: string;
}

export interface BenchResult {
  date: string;
  userAgent: string;
  scale: Scale;
  adapter: AdapterSummary;
  /** null when ours or every peer was left out. */
  baselineCheck: BaselineCheck | null;
  /** Whether the page was cross-origin isolated (jax-js's Wasm backend runs multi-threaded only then). */
  crossOriginIsolated?: boolean;
  /** The matmul micro-benchmark (sizes from BENCH_MATMUL_SIZES), with errors per side and size. */
  matmul?: { sizes: number[]; rows: (MatmulRow | { n: number; side: Side; error: string })[] };
  /** Memory the fused LM-head cross-entropy saves at larger vocabularies, from the size table. */
  memoryNotes: { vocab: number; B: number; T: number; vocabChunk: number; logitsBytes: number; savedBytes: number }[];
  cases: CaseResult[];
}

export const isError = (x: object): x is { error: string } => 'error' in x;
