/**
 * The GPU training engine: construct it with a config, (B, T) and weights; then `trainStep` runs one
 * optimizer step over up to `microBatches` micro-batches in ONE command encoder and ONE queue
 * submission, and resolves with its report once the small read-back lands (the next step can be
 * submitted before that). Runs in a Web Worker (the app's src/store/train.worker.ts) or directly in Node.
 *
 * Step semantics are the reference's (src/reference/model.ts trainStep):
 * - seqScale per micro-batch from normalisationScales (src/spec/loss.ts) over the TOTAL trained
 *   weight (and trained sequences) of the accumulated step, computed here on the CPU before submit.
 * - No trained tokens (known on the CPU): forward and loss only, the report says so, weights,
 *   moments and the step count are untouched.
 * - Non-finite loss or gradient: detected on the GPU (grad_norm_finalize sets StepState.nonFinite,
 *   AdamW then skips); the report names the step; weights are untouched.
 * - Weight decay only on 2-D matrices (`decays`, src/spec/params.ts); clipping by the global L2 norm.
 */
import type { AdapterReport, Gpu } from '../gpu/device';
import { readTensors, writeTensor, type GpuTensor } from '../gpu/buffers';
import { encode, hasSubgroups, Kernels, type Dispatch } from '../gpu/kernel';
import { ReadbackRing } from '../gpu/readback';
import { DispatchTimer, type TimedDispatch } from '../gpu/timing';
import { headSize, validateConfig, type LlamaConfig } from '../spec/config';
import { buildLayout, memoryEstimate, type Category, type Layout } from './layout';
import { GpuMemory } from './memory';
import { buildModel, type ModelProgram } from './model';
import type { OpContext, RowPart } from './ops/context';
import { ropeTableData } from './ops/rope';
import { decodeLossSums, LOSS_SUMS, type LossSums } from './ops/lossReductions';
import { decodeStepState, STEP_STATE_WORDS } from './ops/gradNorm';
import { hyperData, HYPER_BYTES } from './ops/adamw';
import { DEFAULT_MATMUL_TILES, describeTiles, type MatmulTiles } from './ops/matmul';
import { matmulTilesFor, type MatmulTuning } from './autotune';
import { IGNORE_INDEX, normalisationScales, trainedTotals, type LossMode } from '../spec/loss';
import { paramTable, type TensorSpec } from '../spec/params';
import { initLora, loraScale, loraTable, loraTargets, type LoraConfig } from '../spec/lora';
import { fromHalfWords, toHalfWords, type HalfDtype } from '../spec/half';
import type { Batch } from '../spec/batch';
import type { StepReport, TrainSettings } from '../spec/step';
import { CodedError, msg, worded } from '../spec/message';

/** PyTorch AdamW defaults with HF Trainer's clip, mean over trained tokens. */
export const DEFAULT_TRAIN_SETTINGS: TrainSettings = {
  lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1, lossMode: 'mean_tokens',
};

export interface EngineOptions {
  gpu: Gpu;
  config: LlamaConfig;
  /** Sequences per micro-batch. */
  B: number;
  /** Tokens per sequence (padded). */
  T: number;
  /** Most micro-batches one step accumulates. Default 1. */
  microBatches?: number;
  /** Initial weights by HF name; every parameter of the config must be present. */
  weights: Record<string, Float32Array>;
  /** Invocations per workgroup of 1-D kernels (power of two). Default 64. */
  workgroupSize?: number;
  /** Cap on one arena's bytes below the adapter's limits (tests use it to split parameters, and the embedding / LM head by rows). */
  maxArenaBytes?: number;
  /** Matmul tile shape; default: autotuned once per adapter (src/engine/autotune.ts). */
  matmulTiles?: MatmulTiles;
  /** Vocabulary rows per LM-head chunk (layout.ts defaultVocabChunk when absent; tests force several chunks). */
  vocabChunk?: number;
  /**
   * Row reductions (RMSNorm, cross-entropy, loss sums, grad norm) with subgroup operations. Default:
   * where the device has the `subgroups` feature; false forces the workgroup-memory fallback.
   */
  subgroups?: boolean;
  /**
   * Keep an f16 copy of the layers' projection matrices for the matmuls to read (f32 accumulation,
   * f32 master weights for AdamW). Default: defaultF16Weights(adapter), i.e. off; true forces it.
   */
  f16Weights?: boolean;
  /**
   * Train a LoRA adapter (src/spec/lora.ts) instead of the model: `weights` are then frozen (no
   * gradients, no moments; the projections stored as `baseDtype`), and only the adapter trains.
   * `adapter` by name, or PEFT's init from `seed` (default 0).
   */
  lora?: EngineLora | null;
  /**
   * Evaluation only (layout.ts LayoutOptions.evalOnly): the model's weights and nothing that
   * trains — forward, loss, the heatmap's backward, and a Decoder on it; trainStep refuses.
   * About a quarter of full fine-tuning's memory for the weights (no gradients, no moments).
   */
  evalOnly?: boolean;
}

export interface EngineLora {
  config: LoraConfig;
  adapter?: Record<string, Float32Array>;
  seed?: number;
  /** Storage of the frozen projection matrices: 'f32' (default), 'f16' or 'bf16' (f32 accumulation). */
  baseDtype?: 'f32' | HalfDtype;
}

/**
 * f16 weight storage is off by default on every adapter: f32 weights give the numbers PyTorch
 * gives, and no GPU run has shown the f16 copies paying for their rounding (on SwiftShader they are
 * slower; README, Benchmark). The kernels use WGSL's core pack2x16float / unpack2x16float, so any
 * adapter runs them when EngineOptions.f16Weights asks (tests do, on the CPU adapter). The adapter
 * is the argument so that a measured per-adapter choice can replace this without changing callers.
 */
export function defaultF16Weights(_adapter: AdapterReport): boolean {
  return false;
}

/** A step report with what the GPU engine adds to the reference's. */
/** A run's whole optimizer state (Engine.getTrainingState): enough to continue bit for bit. */
export interface TrainingState {
  parameters: Record<string, Float32Array>;
  adamM: Record<string, Float32Array>;
  adamV: Record<string, Float32Array>;
  /** (STEP_STATE_WORDS,) raw words of the step state: norm, clip, non-finite flag, AdamW step. */
  stepState: Uint32Array;
}

export interface EngineStepReport extends StepReport {
  /** trainStep call number, 1-based (counts skipped steps too); `step` is the same number. */
  step: number;
  /** Updates applied so far, after this step (AdamW's t; skipped steps do not count). */
  optimizerStep: number;
  /** Wall time this step held the GPU pipeline: from max(submit, previous step done) to done. */
  ms: number;
}

export interface Evaluation {
  /** Per-position ruler losses (batch.B, batch.T); position t predicts token t+1; t = T-1 is 0. */
  losses: Float32Array;
  /**
   * ||dlogits|| per position (batch.B, batch.T): weights[t+1] * seqScale * ||softmax - onehot|| where
   * trained, exactly 0 elsewhere; how strongly each position pushes the weights.
   */
  dlogitNorms: Float32Array;
  /** Sums as in the reference's lossReductions (seqScale from `mode` on this batch alone). */
  sums: LossSums;
  /** Logits of the last real token of each sequence (batch.B, V): the next-token distribution. */
  lastLogits: Float32Array;
  /** Every position's logits (batch.B, batch.T, V), when asked for. */
  logits?: Float32Array;
  /**
   * ||d objective / d input embedding|| per position (batch.B, batch.T), when asked for: the norm of
   * the gradient at the embedding output (the residual stream entering layer 0) from a backward pass
   * without any update. Unlike dlogitNorms it is not zero on -100 positions: later trained positions
   * attend to them. After such an evaluation getGradients() returns this batch's gradients.
   */
  dembedNorms?: Float32Array;
}

/** Throws, naming the tensor, when a weight is missing or has the wrong size. */
function checkWeights(config: LlamaConfig, tensors: Record<string, Float32Array>, table: readonly TensorSpec[] = paramTable(config)): void {
  for (const s of table) {
    const src = tensors[s.name];
    const n = s.shape.reduce((x, y) => x * y, 1);
    if (!src) throw new Error(`Parameter "${s.name}" (shape ${s.shape.join('×')}) is missing from the weights.`);
    if (src.length !== n) throw new Error(`Parameter "${s.name}" has ${src.length} values; the config needs ${n} (shape ${s.shape.join('×')}).`);
  }
}

/** L2 norm of each (b, t) row of x (B_engine, T_engine, C), for b < B, t < T: (B, T). */
function rowNorms(x: Float32Array, B: number, T: number, engineT: number, C: number): Float32Array {
  const out = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * engineT + t) * C;
      let s = 0;
      for (let c = 0; c < C; c++) s += x[row + c] * x[row + c];
      out[b * T + t] = Math.sqrt(s);
    }
  }
  return out;
}

const READBACK_BYTES = (LOSS_SUMS.length + STEP_STATE_WORDS) * 4;

export class Engine {
  readonly config: LlamaConfig;
  readonly layout: Layout;
  private readonly device: GPUDevice;
  private readonly mem: GpuMemory;
  private readonly program: ModelProgram;
  private readonly hyper: GPUBuffer;
  private readonly ring: ReadbackRing;
  /** Serialises submissions (writes + encode + submit of one call never interleave with another's). */
  private tail: Promise<unknown> = Promise.resolve();
  private calls = 0;
  private lastDone = 0;
  private readonly tiles: MatmulTiles;

  private constructor(readonly gpu: Gpu, opts: EngineOptions) {
    validateConfig(opts.config);
    const wg = opts.workgroupSize ?? 64;
    if (!(Number.isInteger(Math.log2(wg)) && wg <= gpu.adapter.limits.maxComputeInvocationsPerWorkgroup)) {
      throw new Error(`workgroupSize ${wg} must be a power of two no larger than ${gpu.adapter.limits.maxComputeInvocationsPerWorkgroup} (this adapter's limit).`);
    }
    this.config = opts.config;
    this.device = gpu.device;
    this.tiles = opts.matmulTiles ?? DEFAULT_MATMUL_TILES;
    const lim = gpu.adapter.limits;
    this.layout = buildLayout(opts.config, opts.B, opts.T, {
      microBatches: opts.microBatches ?? 1,
      maxArenaBytes: Math.min(lim.maxBufferSize, lim.maxStorageBufferBindingSize, opts.maxArenaBytes ?? Infinity),
      vocabChunk: opts.vocabChunk,
      f16Weights: opts.f16Weights ?? defaultF16Weights(gpu.adapter),
      lora: opts.lora ? { config: opts.lora.config, baseDtype: opts.lora.baseDtype } : null,
      evalOnly: opts.evalOnly,
    });
    // Popped in create(): allocation failures become one readable error.
    this.device.pushErrorScope('out-of-memory');
    this.mem = new GpuMemory(this.device, this.layout);
    this.hyper = this.device.createBuffer({ label: 'Engine.hyper.uniforms', size: HYPER_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.ring = new ReadbackRing(this.device, 'Engine.stepReadback', READBACK_BYTES);
    const hs = headSize(opts.config);
    const rope = this.mem.tensor('constants', 'rope');
    writeTensor(this.device, rope, ropeTableData(hs, opts.config.rope_theta, this.layout.ropePositions));
    const ctx: OpContext = {
      device: this.device,
      kernels: Kernels.for(this.device, opts.subgroups ?? hasSubgroups(this.device)),
      wg,
      where: '',
      rope: { tensor: rope, hs, theta: opts.config.rope_theta, P: this.layout.ropePositions },
      matmulTiles: this.tiles,
      scratch: (name, shape) => {
        const t = this.mem.tensor('scratch', name);
        if (t.shape.join('x') !== shape.join('x')) throw new Error(`Scratch '${name}' is laid out as (${t.shape.join(', ')}), the op wants (${shape.join(', ')}).`);
        return t;
      },
    };
    this.kernels = ctx.kernels;
    this.subgroups = ctx.kernels.subgroups;
    this.device.pushErrorScope('validation');
    this.program = buildModel(ctx, this.mem, this.hyper);
    this.setParameters(opts.weights);
    if (opts.lora) this.setAdapter(opts.lora.adapter ?? toF32(initLora(opts.config, opts.lora.config, opts.lora.seed ?? 0)));
  }

  /** The tensors that train: the adapter with LoRA, else the model (HF names, this order). */
  get trainedTable(): TensorSpec[] {
    if (this.layout.lora) return loraTable(this.config, this.layout.lora);
    return this.layout.frozenModel ? [] : paramTable(this.config);
  }

  /** Where the model's own weights live: 'parameters' when they train, else 'frozen' (LoRA, evaluation only). */
  get modelCategory(): 'parameters' | 'frozen' {
    return this.layout.frozenModel ? 'frozen' : 'parameters';
  }

  /** The LoRA adapter this engine trains, or null (full fine-tuning). */
  get lora(): LoraConfig | null {
    return this.layout.lora;
  }

  private readonly kernels: Kernels;
  /** Whether row reductions use subgroup operations (EngineOptions.subgroups); the decoder follows it. */
  readonly subgroups: boolean;
  /** Whether the matmuls read f16 copies of the projection matrices (EngineOptions.f16Weights). */
  get f16Weights(): boolean {
    return this.layout.slots.weights_f16.size > 0;
  }
  /** How the matmul tile shape was chosen (null when the caller gave one). */
  matmulTuning: MatmulTuning | null = null;

  /** The matmul tile shape in use, in words. */
  get matmulTiles(): string {
    return describeTiles(this.tiles);
  }

  /** Builds the engine; resolves once every pipeline has compiled and validated. */
  static async create(opts: EngineOptions): Promise<Engine> {
    checkWeights(opts.config, opts.weights);
    if (opts.lora?.adapter) checkWeights(opts.config, opts.lora.adapter, loraTable(opts.config, opts.lora.config));
    validateConfig(opts.config);
    let tuning: MatmulTuning | null = null;
    if (!opts.matmulTiles) {
      const c = opts.config;
      tuning = await matmulTilesFor(opts.gpu, { N: opts.B * opts.T, I: c.hidden_size, O: c.intermediate_size });
    }
    const e = new Engine(opts.gpu, { ...opts, matmulTiles: opts.matmulTiles ?? tuning!.tiles });
    e.matmulTuning = tuning;
    const invalid = await e.device.popErrorScope();
    const oom = await e.device.popErrorScope();
    if (oom) {
      e.destroy();
      const lora = opts.lora ? { config: opts.lora.config, baseDtype: opts.lora.baseDtype } : null;
      const mib = (memoryEstimate(opts.config, opts.B, opts.T, opts.microBatches ?? 1, opts.vocabChunk, opts.f16Weights ?? defaultF16Weights(opts.gpu.adapter), lora).total / 2 ** 20).toFixed(0);
      throw new CodedError(msg('engine.outOfMemory', { mib, B: opts.B, T: opts.T, detail: oom.message }));
    }
    await e.kernels.checkCompilation();
    if (invalid) throw new CodedError(msg('engine.validation', { detail: invalid.message }));
    return e;
  }

  get B(): number { return this.layout.B; }
  get T(): number { return this.layout.T; }

  // ------------------------------------------------------------------------------------------
  // weights
  // ------------------------------------------------------------------------------------------

  /**
   * Loads the model's weights by HF name and resets the optimizer (moments, step count). With LoRA
   * they are the frozen base (16-bit projections rounded here, on the CPU); the adapter stays.
   */
  setParameters(tensors: Record<string, Float32Array>): void {
    checkWeights(this.config, tensors);
    const half = this.layout.slots.weights_f16;
    const lora = this.layout.frozenModel;
    // Copied now: the write waits for steps already requested, and the caller may reuse its arrays.
    const copies = paramTable(this.config).map((s) => {
      if (lora && half.has(s.name)) return { category: 'weights_f16' as Category, name: s.name, data: toHalfWords(tensors[s.name], this.layout.halfDtype) as Float32Array | Uint32Array };
      return { category: (lora ? 'frozen' : 'parameters') as Category, name: s.name, data: tensors[s.name].slice() as Float32Array | Uint32Array };
    });
    void this.serial(() => {
      for (const { category, name, data } of copies) this.writeNamed(category, name, data);
      const enc = this.device.createCommandEncoder({ label: 'Engine.resetOptimizer.encoder' });
      for (const c of ['adam_m', 'adam_v', 'gradients'] as const) for (const i of this.mem.arenasOf(c)) enc.clearBuffer(this.mem.buffers[i]);
      const state = this.mem.tensor('scratch', 'stepState');
      enc.clearBuffer(state.buffer, state.offset, state.size);
      if (this.program.packWeights.length) {
        const pass = enc.beginComputePass({ label: 'Engine.packWeights.pass' });
        encode(pass, this.program.packWeights);
        pass.end();
      }
      this.device.queue.submit([enc.finish()]);
    });
  }


  /**
   * Loads a LoRA adapter by name (loraTable) and resets the optimizer: training continues from it.
   */
  setAdapter(tensors: Record<string, Float32Array>): void {
    const lora = this.layout.lora;
    if (!lora) throw new Error('setAdapter: this engine fine-tunes the whole model; build it with `lora` to train an adapter.');
    const table = loraTable(this.config, lora);
    checkWeights(this.config, tensors, table);
    const copies = table.map((s) => [s.name, tensors[s.name].slice()] as const);
    void this.serial(() => {
      for (const [name, data] of copies) this.writeNamed('parameters', name, data);
      const enc = this.device.createCommandEncoder({ label: 'Engine.setAdapter.encoder' });
      for (const c of ['adam_m', 'adam_v', 'gradients'] as const) for (const i of this.mem.arenasOf(c)) enc.clearBuffer(this.mem.buffers[i]);
      const state = this.mem.tensor('scratch', 'stepState');
      enc.clearBuffer(state.buffer, state.offset, state.size);
      this.device.queue.submit([enc.finish()]);
    });
  }

  /**
   * The model's current weights by HF name (Float32Array each). With LoRA: the frozen base as the
   * GPU holds it (16-bit values widened) with the adapter merged in, W + (alpha/r)·B·A, in f32:
   * the full model this run has become (generation, export, snapshots).
   */
  async getParameters(): Promise<Record<string, Float32Array>> {
    if (!this.layout.frozenModel) return this.readNamed('parameters');
    if (!this.layout.lora) return this.getFrozenParameters();
    const [base, adapter] = await Promise.all([this.getFrozenParameters(), this.getAdapter()]);
    return mergeLora(this.config, this.layout.lora, base, adapter);
  }

  /** With LoRA: the frozen model as stored on the GPU (16-bit projections widened exactly). */
  getFrozenParameters(): Promise<Record<string, Float32Array>> {
    if (!this.layout.frozenModel) throw new Error('getFrozenParameters: this engine fine-tunes the whole model; nothing is frozen.');
    const half = this.layout.slots.weights_f16;
    return this.serial(async () => {
      const specs = paramTable(this.config);
      const data = await this.readNamedBytes(specs.map((s) => [half.has(s.name) ? 'weights_f16' : 'frozen', s.name] as const));
      return Object.fromEntries(specs.map((s, i) => {
        const n = s.shape.reduce((a, b) => a * b, 1);
        return [s.name, half.has(s.name) ? fromHalfWords(new Uint32Array(data[i]), n, this.layout.halfDtype) : new Float32Array(data[i])];
      }));
    });
  }

  /** With LoRA: the adapter's current tensors by name (loraTable). */
  getAdapter(): Promise<Record<string, Float32Array>> {
    if (!this.layout.lora) throw new Error('getAdapter: this engine fine-tunes the whole model; it has no adapter.');
    return this.readNamed('parameters');
  }

  /**
   * Everything a run needs to continue exactly where it is: the trained tensors (the model, or with
   * LoRA the adapter), both AdamW moments (by name) and the step state (AdamW's step count among
   * its words). Queued behind the steps submitted so far, so it is the state after the last of them.
   */
  getTrainingState(): Promise<TrainingState> {
    return this.serial(async () => {
      const specs = this.trainedTable;
      const cats = ['parameters', 'adam_m', 'adam_v'] as const;
      const data = await this.readNamedBytes([...cats.flatMap((c) => specs.map((s) => [c, s.name] as const)), ['scratch', 'stepState'] as const]);
      const named = (k: number) => Object.fromEntries(specs.map((s, i) => [s.name, new Float32Array(data[k * specs.length + i])]));
      return { parameters: named(0), adamM: named(1), adamV: named(2), stepState: new Uint32Array(data[cats.length * specs.length]) };
    });
  }

  /** Puts back a getTrainingState() result: the next step continues from it (gradients cleared). */
  setTrainingState(state: TrainingState): void {
    const specs = this.trainedTable;
    checkWeights(this.config, state.parameters, specs);
    checkWeights(this.config, state.adamM, specs);
    checkWeights(this.config, state.adamV, specs);
    const copies = ([['parameters', state.parameters], ['adam_m', state.adamM], ['adam_v', state.adamV]] as const).flatMap(([c, t]) =>
      specs.map((s) => [c, s.name, t[s.name].slice()] as const),
    );
    const stepState = state.stepState.slice();
    void this.serial(() => {
      for (const [c, name, data] of copies) this.writeNamed(c, name, data);
      writeTensor(this.device, this.mem.tensor('scratch', 'stepState'), stepState);
      const enc = this.device.createCommandEncoder({ label: 'Engine.setTrainingState.encoder' });
      for (const i of this.mem.arenasOf('gradients')) enc.clearBuffer(this.mem.buffers[i]);
      if (this.program.packWeights.length) {
        const pass = enc.beginComputePass({ label: 'Engine.packWeights.pass' });
        encode(pass, this.program.packWeights);
        pass.end();
      }
      this.device.queue.submit([enc.finish()]);
    });
  }

  /** The gradients of the last step (cleared at the start of each step), of the trained tensors. */
  getGradients(): Promise<Record<string, Float32Array>> {
    return this.readNamed('gradients');
  }

  private readNamed(category: 'parameters' | 'gradients'): Promise<Record<string, Float32Array>> {
    return this.serial(async () => {
      const specs = this.trainedTable;
      const data = await this.readNamedBytes(specs.map((s) => [category, s.name] as const));
      return Object.fromEntries(specs.map((s, i) => [s.name, new Float32Array(data[i])]));
    });
  }

  /** Writes one tensor by name: a tensor split by rows (layout.ts Slot.parts) part by part. */
  private writeNamed(category: Category, name: string, data: Float32Array | Uint32Array): void {
    const parts = this.mem.parts(category, name);
    if (parts.length === 1) return writeTensor(this.device, parts[0].tensor, data);
    const slot = this.mem.slot(category, name);
    const cols = data.length / slot.shape[0];
    for (const p of parts) writeTensor(this.device, p.tensor, data.subarray(p.row0 * cols, (p.row0 + p.rows) * cols));
  }

  /** Reads tensors by name in one read-back, each as one buffer (a split tensor's parts joined in row order). */
  private async readNamedBytes(items: readonly (readonly [Category, string])[]): Promise<ArrayBuffer[]> {
    const views = items.map(([c, name]) => this.mem.views(c, name));
    const data = await readTensors(this.device, views.flat());
    let k = 0;
    return views.map((vs) => {
      const got = data.slice(k, k + vs.length);
      k += vs.length;
      if (got.length === 1) return got[0];
      const out = new Uint8Array(got.reduce((a, b) => a + b.byteLength, 0));
      let at = 0;
      for (const b of got) {
        out.set(new Uint8Array(b), at);
        at += b.byteLength;
      }
      return out.buffer;
    });
  }

  // ------------------------------------------------------------------------------------------
  // training
  // ------------------------------------------------------------------------------------------

  /**
   * Submits one optimizer step over `microBatches` (each at most B x T; smaller ones are padded).
   * Returns once the step's report has been read back; call it again without awaiting to pipeline.
   * Throws (before touching the GPU) when a batch is malformed, saying where.
   */
  trainStep(microBatches: readonly Batch[], settings: TrainSettings): Promise<EngineStepReport> {
    if (this.layout.frozenModel && !this.layout.lora) throw new Error('trainStep: this engine was built for evaluation only (EngineOptions.evalOnly); nothing in it trains.');
    return this.submitStep(microBatches, settings, null);
  }

  /**
   * trainStep with every dispatch in its own timestamped pass (benchmark only: needs the device's
   * `timestamp-query` feature; the extra passes make the step itself a little slower). Resolves
   * with the report and each dispatch's GPU time in encoding order. One profile at a time.
   */
  async profileStep(microBatches: readonly Batch[], settings: TrainSettings): Promise<{ report: EngineStepReport; dispatches: TimedDispatch[] }> {
    if (this.profiling) throw new Error('profileStep: a profile is already running; await it before starting the next.');
    const p = this.program;
    const perStep = p.forward.length + p.loss.length + p.backward.length;
    const timer = (this.timer ??= new DispatchTimer(this.device, perStep * this.layout.microBatches + p.optimizer.length));
    this.profiling = true;
    try {
      const report = await this.submitStep(microBatches, settings, timer);
      return { report, dispatches: await timer.results() };
    } finally {
      this.profiling = false;
    }
  }

  private timer: DispatchTimer | null = null;
  private profiling = false;

  private submitStep(microBatches: readonly Batch[], settings: TrainSettings, timer: DispatchTimer | null): Promise<EngineStepReport> {
    // A rejected batch does not use up a step number.
    const step = this.calls + 1;
    if (microBatches.length === 0) throw new Error(`Step ${step}: no micro-batches given.`);
    if (microBatches.length > this.layout.microBatches) throw new Error(`Step ${step}: ${microBatches.length} micro-batches, but the engine was built for at most ${this.layout.microBatches}. Recreate it with a larger microBatches.`);
    const padded = microBatches.map((mb, i) => this.prepare(mb, i, step));
    this.calls = step;
    let totalWeight = 0, totalSequences = 0;
    for (const mb of padded) {
      const t = trainedTotals(mb.labels, mb.weights, mb.B, mb.T);
      totalWeight += t.weight;
      totalSequences += t.sequences;
    }
    const trained = totalWeight > 0;
    const scales = padded.map((mb) => normalisationScales(mb.labels, mb.weights, mb.B, mb.T, settings.lossMode, totalWeight, totalSequences));

    let submitted = 0;
    const readback = this.serial(async () => {
      const slot = await this.ring.reserve();
      try {
        this.encodeStep(step, slot, padded, scales, trained, settings, timer);
      } catch (err) {
        slot.cancel();
        throw err;
      }
      submitted = performance.now();
      return slot.afterSubmit();
    });
    return readback.then(async (pending) => {
      const bytes = await pending;
      const done = performance.now();
      const ms = done - Math.max(submitted, this.lastDone);
      this.lastDone = done;
      return this.report(step, trained, bytes, ms);
    });
  }

  /** Writes the step's inputs and settings, encodes the whole step in one encoder, submits it. */
  private encodeStep(step: number, slot: Awaited<ReturnType<ReadbackRing['reserve']>>, padded: readonly Batch[], scales: readonly Float64Array[], trained: boolean, settings: TrainSettings, timer: DispatchTimer | null): void {
    padded.forEach((mb, m) => this.writeInputs(mb, scales[m], m));
    this.device.queue.writeBuffer(this.hyper, 0, hyperData({ ...settings, maxGradNorm: Number.isFinite(settings.maxGradNorm) ? settings.maxGradNorm : 0 }));
    const enc = this.device.createCommandEncoder({ label: `Engine.step${step}.encoder` });
    for (const i of this.mem.arenasOf('gradients')) enc.clearBuffer(this.mem.buffers[i]);
    const sums = this.mem.tensor('scratch', 'stepSums');
    enc.clearBuffer(sums.buffer, sums.offset, sums.size);
    padded.forEach((_, m) => {
      this.copyInputs(enc, m);
      this.pass(enc, `Engine.step${step}.microBatch${m}`, trained ? [this.program.forward, this.program.loss, this.program.backward] : [this.program.forward, this.program.loss], timer);
    });
    if (trained) this.pass(enc, `Engine.step${step}.optimizer`, [this.program.optimizer], timer);
    timer?.finish(enc);
    slot.encodeCopies(enc, [sums, this.mem.tensor('scratch', 'stepState')]);
    this.device.queue.submit([enc.finish()]);
  }

  private report(step: number, trained: boolean, bytes: ArrayBuffer, ms: number): EngineStepReport {
    const s = decodeLossSums(new Float32Array(bytes, 0, LOSS_SUMS.length));
    const st = decodeStepState(bytes.slice(LOSS_SUMS.length * 4));
    const r: EngineStepReport = {
      status: 'ok', step, optimizerStep: st.adamStep, ms,
      loss: s.objective, trainedWeight: s.trainedWeight, trainedCount: s.trainedCount,
      gradNorm: trained ? st.norm : NaN, clipFactor: trained ? st.clip : 1,
      promptLossSum: s.promptLossSum, promptCount: s.promptCount, responseLossSum: s.responseLossSum, responseCount: s.responseCount,
    };
    if (!trained) {
      r.status = 'no trained tokens';
      Object.assign(r, worded(msg('engine.noTrainedTokens', { step })));
    } else if (st.nonFinite) {
      r.status = 'non-finite';
      const what = !Number.isFinite(s.objective) ? msg('engine.lossIs', { value: String(s.objective) }) : msg('engine.normIs', { value: String(st.norm) });
      Object.assign(r, worded(msg('engine.nonFinite', { step, what })));
    }
    return r;
  }

  // ------------------------------------------------------------------------------------------
  // evaluation (forward only)
  // ------------------------------------------------------------------------------------------

  /**
   * Forward and loss without any update: per-position losses (heatmap), the loss sums (seqScale
   * from `mode` on this batch alone) and the next-token logits after each sequence's last real
   * token (generation). `allLogits` also returns every position's logits. `embedGrads` also runs
   * backward (gradients cleared first, no optimizer) and returns dembedNorms.
   */
  evaluate(batch: Batch, mode: LossMode = 'mean_tokens', allLogits = false, embedGrads = false): Promise<Evaluation> {
    const step = this.calls; // evaluation does not count as a step
    const mb = this.prepare(batch, 0, step);
    const scale = normalisationScales(mb.labels, mb.weights, mb.B, mb.T, mode);
    const { V } = { V: this.config.vocab_size };
    return this.serial(async () => {
      this.writeInputs(mb, scale, 0);
      const enc = this.device.createCommandEncoder({ label: 'Engine.evaluate.encoder' });
      const sums = this.mem.tensor('scratch', 'stepSums');
      enc.clearBuffer(sums.buffer, sums.offset, sums.size);
      this.copyInputs(enc, 0);
      // Parameter gradients accumulate (+=): start from zero so getGradients() is this batch's.
      if (embedGrads) for (const i of this.mem.arenasOf('gradients')) enc.clearBuffer(this.mem.buffers[i]);
      this.pass(enc, 'Engine.evaluate.forward', [this.program.forward]);
      // The head runs chunk by chunk; between chunks the rows of each sequence's last real token
      // (and, when asked, every row) are copied out of the (N, vc) chunk buffer.
      const { B: b0, T: t0 } = batch;
      const lastRow = Array.from({ length: b0 }, (_, b) => {
        let last = -1;
        for (let t = 0; t < t0; t++) if (batch.docIds[b * t0 + t] >= 0) last = t;
        return last;
      });
      const N = this.B * this.T;
      const chunk = this.mem.tensor('activations', 'lmHead.chunk');
      const last = this.mem.tensor('activations', 'lastLogits');
      // Every position's logits exist only here, for this call (tests, diagnostics): chunk-major.
      const full = allLogits ? this.device.createBuffer({ label: 'Engine.evaluate.allLogits', size: N * V * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : null;
      this.program.lossChunks.forEach((ds, i) => {
        const { v0, vc } = this.program.vocabChunks[i];
        this.pass(enc, `Engine.evaluate.lmHead${i}`, [ds]);
        lastRow.forEach((t, b) => {
          if (t >= 0) enc.copyBufferToBuffer(chunk.buffer, chunk.offset + (b * this.T + t) * vc * 4, last.buffer, last.offset + (b * V + v0) * 4, vc * 4);
        });
        if (full) enc.copyBufferToBuffer(chunk.buffer, chunk.offset, full, N * v0 * 4, N * vc * 4);
      });
      this.pass(enc, 'Engine.evaluate.loss', embedGrads ? [this.program.lossFinal, this.program.backward] : [this.program.lossFinal]);
      this.device.queue.submit([enc.finish()]);
      // After backward, activation_grads:dres holds d encoded (N, C): the embedding output's gradient.
      const dembed = this.mem.tensor('activation_grads', 'dres');
      const [lossData, normData, sumData, lastData, dembedData] = await readTensors(this.device, [this.mem.tensor('activations', 'losses'), this.mem.tensor('activations', 'dlogitNorms'), sums, last, ...(embedGrads ? [dembed] : [])]);
      const lossAll = new Float32Array(lossData), normAll = new Float32Array(normData), lastAll = new Float32Array(lastData);
      const losses = new Float32Array(b0 * t0);
      const dlogitNorms = new Float32Array(b0 * t0);
      const lastLogits = new Float32Array(b0 * V);
      for (let b = 0; b < b0; b++) {
        losses.set(lossAll.subarray(b * this.T, b * this.T + t0), b * t0);
        dlogitNorms.set(normAll.subarray(b * this.T, b * this.T + t0), b * t0);
        if (lastRow[b] >= 0) lastLogits.set(lastAll.subarray(b * V, (b + 1) * V), b * V);
      }
      let logits: Float32Array | undefined;
      if (full) {
        await full.mapAsync(GPUMapMode.READ);
        const chunked = new Float32Array(full.getMappedRange().slice(0));
        full.destroy();
        logits = new Float32Array(b0 * t0 * V);
        for (const { v0, vc } of this.program.vocabChunks) {
          for (let b = 0; b < b0; b++) {
            for (let t = 0; t < t0; t++) {
              const src = N * v0 + (b * this.T + t) * vc;
              logits.set(chunked.subarray(src, src + vc), (b * t0 + t) * V + v0);
            }
          }
        }
      }
      const ev: Evaluation = { losses, dlogitNorms, sums: decodeLossSums(new Float32Array(sumData)), lastLogits, logits };
      if (dembedData) ev.dembedNorms = rowNorms(new Float32Array(dembedData), b0, t0, this.T, this.config.hidden_size);
      return ev;
    });
  }

  /** Waits for every submitted step and read-back. */
  async flush(): Promise<void> {
    await this.tail;
    await this.ring.drain();
  }

  destroy(): void {
    this.timer?.destroy();
    this.mem.destroy();
    this.ring.destroy();
    this.hyper.destroy();
  }

  // ------------------------------------------------------------------------------------------
  // internals
  // ------------------------------------------------------------------------------------------

  private serial<R>(f: () => R | Promise<R>): Promise<R> {
    const run = this.tail.then(f);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** One compute pass over `lists`; with a timer, one timed pass per dispatch instead. */
  private pass(enc: GPUCommandEncoder, label: string, lists: readonly Dispatch[][], timer: DispatchTimer | null = null): void {
    if (timer) {
      for (const l of lists) timer.encode(enc, l);
      return;
    }
    const pass = enc.beginComputePass({ label });
    for (const l of lists) encode(pass, l);
    pass.end();
  }

  /** Copies micro-batch m's staged inputs into the live input block (inside the step's encoder). */
  private copyInputs(enc: GPUCommandEncoder, m: number): void {
    const inputs = this.mem.arena(this.mem.arenasOf('inputs')[0]);
    const staging = this.mem.tensor('staging', 'microBatches');
    enc.copyBufferToBuffer(staging.buffer, staging.offset + m * inputs.size, inputs.buffer, 0, inputs.size);
  }

  /** Writes a prepared micro-batch into staging block m (queue-ordered before the next submit). */
  private writeInputs(mb: Batch, seqScale: Float64Array, m: number): void {
    const arena = this.layout.arenas[this.mem.arenasOf('inputs')[0]];
    const block = new ArrayBuffer(arena.bytes);
    const put = (name: string, data: Int32Array | Float32Array) => {
      const s = this.mem.slot('inputs', name);
      new Uint8Array(block, s.offset, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    };
    put('ids', mb.ids);
    put('labels', mb.labels);
    put('weights', Float32Array.from(mb.weights));
    put('docIds', mb.docIds);
    put('positions', mb.positions);
    put('roles', Int32Array.from(mb.roles ?? new Int32Array(mb.ids.length)));
    put('seqScale', Float32Array.from(seqScale));
    const staging = this.mem.tensor('staging', 'microBatches');
    this.device.queue.writeBuffer(staging.buffer, staging.offset + m * arena.bytes, block);
  }

  /**
   * Checks a micro-batch against the engine and the HF label convention, and pads it to (B, T)
   * (padding: id 0, label -100, weight 0, docId -1, position 0, role 0).
   */
  private prepare(batch: Batch, m: number, step: number): Batch {
    const { B, T } = this;
    const V = this.config.vocab_size;
    const where = (n: number) => `step ${step}, micro-batch ${m}, sequence ${Math.floor(n / batch.T)}, position ${n % batch.T}`;
    if (batch.B > B || batch.T > T) throw new Error(`Step ${step}, micro-batch ${m}: the batch is ${batch.B} x ${batch.T} but the engine holds at most ${B} x ${T}. Recreate the engine or split the batch.`);
    const N0 = batch.B * batch.T;
    for (const [name, arr] of Object.entries({ ids: batch.ids, labels: batch.labels, weights: batch.weights, docIds: batch.docIds, positions: batch.positions, ...(batch.roles ? { roles: batch.roles } : {}) })) {
      if (arr.length !== N0) throw new Error(`Step ${step}, micro-batch ${m}: "${name}" has ${arr.length} entries; B×T = ${batch.B}×${batch.T} needs ${N0}.`);
    }
    for (let n = 0; n < N0; n++) {
      const id = batch.ids[n], label = batch.labels[n], w = batch.weights[n];
      if (!(id >= 0 && id < V)) throw new Error(`Token id ${id} at ${where(n)} is outside the vocabulary [0, ${V}). Check that the tokenizer matches the model.`);
      if (label !== IGNORE_INDEX && label !== id) throw new Error(`Label ${label} at ${where(n)} is neither -100 nor the input id ${id}. Labels must be the input ids with -100 where nothing is trained (Hugging Face convention).`);
      if (label !== IGNORE_INDEX && !Number.isFinite(w)) throw new Error(`The label weight at ${where(n)} is ${w}. Fix the mask policy's weights.`);
      if (batch.docIds[n] < -1) throw new Error(`docId ${batch.docIds[n]} at ${where(n)}: use -1 for padding and ids >= 0 for documents.`);
      const p = batch.positions[n];
      if (!(p >= 0 && p < this.layout.ropePositions)) throw new Error(`Position ${p} at ${where(n)} is outside [0, ${this.layout.ropePositions}) (max_position_embeddings). Shorten the sample.`);
    }
    if (batch.B === B && batch.T === T && batch.roles) return batch;
    const N = B * T;
    const out: Batch = {
      B, T,
      ids: new Int32Array(N), labels: new Int32Array(N).fill(IGNORE_INDEX), weights: new Float64Array(N),
      docIds: new Int32Array(N).fill(-1), positions: new Int32Array(N), roles: new Int32Array(N),
    };
    for (let b = 0; b < batch.B; b++) {
      const src = b * batch.T, dst = b * T, len = batch.T;
      out.ids.set(batch.ids.subarray(src, src + len), dst);
      out.labels.set(batch.labels.subarray(src, src + len), dst);
      out.weights.set(batch.weights.subarray(src, src + len), dst);
      out.docIds.set(batch.docIds.subarray(src, src + len), dst);
      out.positions.set(batch.positions.subarray(src, src + len), dst);
      if (batch.roles) out.roles!.set(batch.roles.subarray(src, src + len), dst);
    }
    return out;
  }

  /** A live tensor, for tests and diagnostics (e.g. ('activations', 'logits')). */
  tensor(category: Parameters<GpuMemory['tensor']>[0], name: string): GpuTensor {
    return this.mem.tensor(category, name);
  }

  /** A live tensor's row parts (one part unless the layout split it across buffers: the embedding, the LM head). */
  parts(category: Parameters<GpuMemory['tensor']>[0], name: string): RowPart[] {
    return this.mem.parts(category, name);
  }
}

function toF32(t: Record<string, Float64Array>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Float32Array.from(v)]));
}

/**
 * The merged model: every base tensor, with W + (alpha/r)·B·A for each adapted projection
 * (PEFT's merge_and_unload), accumulated in f64 and stored as f32. (O, I) = (O, r) @ (r, I).
 */
export function mergeLora(config: LlamaConfig, lora: LoraConfig, base: Record<string, Float32Array>, adapter: Record<string, Float32Array>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = { ...base };
  const s = loraScale(lora), r = lora.r;
  for (const t of loraTargets(config, lora)) {
    const W = base[t.base], A = adapter[t.A], B = adapter[t.B];
    const merged = new Float32Array(W.length);
    const row = new Float64Array(t.I);
    for (let o = 0; o < t.O; o++) {
      row.fill(0);
      for (let j = 0; j < r; j++) {
        const b = B[o * r + j];
        if (b === 0) continue;
        const a0 = j * t.I;
        for (let i = 0; i < t.I; i++) row[i] += b * A[a0 + i];
      }
      const w0 = o * t.I;
      for (let i = 0; i < t.I; i++) merged[w0 + i] = W[w0 + i] + s * row[i];
    }
    out[t.base] = merged;
  }
  return out;
}
