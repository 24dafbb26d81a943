/**
 * Token-by-token decoding with a key/value cache, for generation (src/model/generate.ts samples).
 *
 * A Decoder reads the Engine's live parameter buffers (so it always generates with the weights as
 * trained so far; nothing is copied) and owns only the buffers of its size table (decoderTable):
 * one token's activations, a prompt chunk's activations, a K and a V cache per layer, and the
 * logits. Both programs use the training forward's op dispatchers with attention over the cache
 * (ops/attentionDecode.ts):
 *   step     ONE token at the next position (N = 1 row; projections as matvec);
 *   prefill  the prompt in chunks of P = PREFILL_CHUNK rows (projections as the tiled matmul, so
 *            the weights are read once per chunk instead of once per token); the last chunk's
 *            padding rows have position -1 and touch nothing. Its last real row's residual is
 *            copied into the step program's final residual buffer, whose LM head gives the logits.
 * Chunks are separate queue submissions, submitted back to back; only the logits are read back.
 *
 * KV cache vs recomputing the full forward per new token, measured with generation.bench.test.ts
 * (GENERATION_BENCH=1; prompt 128 + 64 new tokens; SwiftShader, the CPU adapter of this 2-core
 * machine, shared with other jobs (load ~8), so absolute times are noisy, the ratios are the point):
 *                                  full recompute     KV cache      KV cache prefill per prompt token
 *                                  (evaluate, T=192)  decode step   chunks of 64 / one per submission
 *   micro (V 67, C 24, L 2)        493 ms/token       52 ms         1.9 ms / 5.7 ms
 *   playground-base (V 4096,       10350 ms/token     215 ms        77 ms / 82 ms
 *     C 256, L 4)
 * Recompute costs O(T·params + T²) per token because the engine's T is fixed (padding included);
 * a cached step costs O(params + pos): 10-50x here, so generation uses the cache. Most of a cached
 * step on this machine is the logits read-back round trip of Dawn in Node (the micro model's step
 * costs 52 ms, its prefill 1.9 ms per token). Chunked prefill barely helps a compute-bound CPU
 * adapter but reads the weights once per 64 tokens instead of once per token, which is what
 * bounds a GPU. Step projections run as matvec (ops/matvec.ts): the tiled matmul would compute
 * 15 empty rows per 16-row tile for N = 1.
 *
 * Shapes: Tmax = maxContext (cache rows). Letters as in src/spec/config.ts.
 */
import { createTensor, numel, writeTensor, type GpuTensor } from '../gpu/buffers';
import { encode, Kernels, type Dispatch } from '../gpu/kernel';
import { headSize, type LlamaConfig } from '../spec/config';
import type { Engine } from './trainer';
import { EMBED_TOKENS, FINAL_NORM, layerParamNames, LM_HEAD, type TensorSpec } from '../spec/params';
import { at, type OpContext } from './ops/context';
import { embeddingForward } from './ops/embedding';
import { rmsnormForward } from './ops/rmsnorm';
import { matvecForward } from './ops/matvec';
import { DEFAULT_MATMUL_TILES, matmulForward, type MatmulTiles } from './ops/matmul';
import { ropeForward } from './ops/rope';
import { attentionDecode, attentionDecodeAppend } from './ops/attentionDecode';
import { swigluForward } from './ops/swiglu';
import { residualForward } from './ops/residual';
import { residualRmsnormForward } from './ops/residualRmsnorm';

/** Cache rows when the caller does not choose: enough for chat turns, small for big models. */
export const DEFAULT_MAX_CONTEXT = 2048;

/** Prompt rows per prefill submission (P): one matmul tile row or more, small activations. */
export const PREFILL_CHUNK = 64;

/** Per-row activations of `R` rows (one token: R = 1; a prompt chunk: R = P), names prefixed. */
function rowTable(c: LlamaConfig, R: number, Tmax: number, prefix: string): TensorSpec[] {
  const C = c.hidden_size, F = c.intermediate_size;
  const NH = c.num_attention_heads, NKV = c.num_key_value_heads, hs = headSize(c);
  return [
    { name: 'ids', shape: [R] },            // i32: the tokens being fed
    { name: 'positions', shape: [R] },      // i32: their positions (= cache rows); -1 = padding row
    { name: 'x0', shape: [R, C] },          // residual stream, ping-pong between layers
    { name: 'x1', shape: [R, C] },
    { name: 'res1', shape: [R, C] },        // residual stream after attention
    { name: 'ln', shape: [R, C] },          // rmsnorm output (ln1, ln2, final)
    { name: 'rstd', shape: [R] },
    { name: 'q', shape: [R, NH * hs] },     // before RoPE
    { name: 'k', shape: [R, NKV * hs] },
    { name: 'v', shape: [R, NKV * hs] },
    { name: 'qr', shape: [R, NH * hs] },    // after RoPE
    { name: 'kr', shape: [R, NKV * hs] },
    { name: 'scores', shape: [R * NH, Tmax] }, // attention exponentials, one row per (row, head)
    { name: 'atty', shape: [R, NH * hs] },
    { name: 'branch', shape: [R, C] },      // o_proj / down_proj output before the residual add
    { name: 'gate', shape: [R, F] },
    { name: 'up', shape: [R, F] },
    { name: 'swi', shape: [R, F] },
  ].map((t) => ({ ...t, name: `${prefix}${t.name}` }));
}

/** Prompt rows per prefill chunk for a cache of Tmax rows (`chunk`: the wanted size). */
export function prefillRows(Tmax: number, chunk = PREFILL_CHUNK): number {
  return Math.min(chunk, Tmax);
}

/**
 * The decoder's size table: every buffer it allocates (one GPUBuffer per tensor: a dispatch may not
 * read and write the same buffer). Inputs ids/positions are i32.
 */
export function decoderTable(c: LlamaConfig, Tmax: number, P = prefillRows(Tmax)): TensorSpec[] {
  const NKV = c.num_key_value_heads, hs = headSize(c);
  const t: TensorSpec[] = [
    ...rowTable(c, 1, Tmax, ''),
    ...rowTable(c, P, Tmax, 'prefill.'),
    { name: 'logits', shape: [1, c.vocab_size] },
  ];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    t.push({ name: `layers.${l}.kcache`, shape: [Tmax, NKV, hs] }, { name: `layers.${l}.vcache`, shape: [Tmax, NKV, hs] });
  }
  return t;
}

/** Bytes the decoder allocates for (config, Tmax), as the engine's layout rounds them (256-byte slices). */
export function decoderBytes(c: LlamaConfig, Tmax: number, P = prefillRows(Tmax)): { total: number; largest: TensorSpec & { bytes: number } } {
  let total = 0;
  let largest = { name: '', shape: [] as readonly number[], bytes: 0 };
  for (const s of decoderTable(c, Tmax, P)) {
    const bytes = numel(s.shape) * 4;
    total += Math.ceil(Math.max(bytes, 4) / 256) * 256;
    if (bytes > largest.bytes) largest = { ...s, bytes };
  }
  return { total, largest };
}

export interface DecoderOptions {
  /** Cache rows = the longest prompt + generated tokens. Default min(max_position_embeddings, DEFAULT_MAX_CONTEXT). */
  maxContext?: number;
  /** Invocations per workgroup of 1-D kernels (as the Engine's option). Default 64. */
  workgroupSize?: number;
  /** Tile shape of the prefill's matmul; default the engine's autotuned one. */
  matmulTiles?: MatmulTiles;
  /** Prompt rows per prefill submission (P); default PREFILL_CHUNK (at most maxContext). */
  prefillChunk?: number;
}

export class Decoder {
  readonly config: LlamaConfig;
  /** Cache rows: positions 0 … maxContext-1 can be fed. */
  readonly maxContext: number;
  private readonly device: GPUDevice;
  private readonly tensors = new Map<string, GpuTensor>();
  /** One token (embedding → blocks); leaves its residual in x{L % 2}. */
  private readonly stepLayers: Dispatch[];
  /** A prompt chunk of P rows (embedding → blocks); leaves its residuals in prefill.x{L % 2}. */
  private readonly prefillLayers: Dispatch[];
  /** Final norm and LM head of x{L % 2} (1, C) → logits (1, V). */
  private readonly head: Dispatch[];
  private readonly P: number;
  private readonly staging: GPUBuffer;
  private readonly kernels: Kernels;
  /** Tokens in the cache (the next token goes to this position). */
  private pos = 0;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly engine: Engine, opts: DecoderOptions) {
    const cfg = engine.config;
    this.config = cfg;
    this.device = engine.gpu.device;
    const Tmax = opts.maxContext ?? Math.min(cfg.max_position_embeddings, DEFAULT_MAX_CONTEXT);
    if (!(Number.isInteger(Tmax) && Tmax >= 1 && Tmax <= cfg.max_position_embeddings)) {
      throw new Error(`Generation context ${Tmax} must be a whole number between 1 and the model's max_position_embeddings (${cfg.max_position_embeddings}).`);
    }
    this.maxContext = Tmax;
    this.P = prefillRows(Tmax, opts.prefillChunk);
    if (!(Number.isInteger(this.P) && this.P >= 1)) throw new Error(`prefillChunk ${opts.prefillChunk} must be a whole number ≥ 1.`);
    for (const s of decoderTable(cfg, Tmax, this.P)) this.tensors.set(s.name, createTensor(this.device, `Decoder.${s.name}`, s.shape));
    this.staging = this.device.createBuffer({ label: 'Decoder.logits.staging', size: Math.max(16, cfg.vocab_size * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.kernels = Kernels.for(this.device, engine.subgroups);
    const hs = headSize(cfg);
    const ctx: OpContext = {
      device: this.device,
      kernels: this.kernels,
      wg: opts.workgroupSize ?? 64,
      where: 'decode',
      rope: { tensor: engine.tensor('constants', 'rope'), hs, theta: cfg.rope_theta, P: engine.layout.ropePositions },
      scratch: (name) => {
        throw new Error(`The decoder has no scratch tensor '${name}'.`);
      },
      matmulTiles: opts.matmulTiles ?? engine.matmulTuning?.tiles ?? DEFAULT_MATMUL_TILES,
    };
    this.stepLayers = this.recordLayers(at(ctx, 'decode'), 1, '');
    this.prefillLayers = this.recordLayers(at(ctx, 'prefill'), this.P, 'prefill.');
    this.head = this.recordHead(at(ctx, 'decode.lm_head'));
  }

  /** Builds a decoder on the engine's parameters; resolves once its pipelines compiled and validated. */
  static async create(engine: Engine, opts: DecoderOptions = {}): Promise<Decoder> {
    if (engine.lora) throw new Error('The decoder reads a full model; a LoRA engine holds a frozen model and an adapter. Decode from an engine with its merged weights (Engine.getParameters(), e.g. an evalOnly engine).');
    const device = engine.gpu.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let built: Decoder | Error;
    try {
      built = new Decoder(engine, opts);
    } catch (err) {
      built = err instanceof Error ? err : new Error(String(err));
    }
    const invalid = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (built instanceof Error) throw built;
    const d = built;
    if (oom) {
      d.destroy();
      const mib = (decoderBytes(engine.config, d.maxContext).total / 2 ** 20).toFixed(1);
      throw new Error(`The GPU ran out of memory allocating the generation cache (${mib} MiB for a ${d.maxContext}-token context): ${oom.message}. Generate with a shorter context.`);
    }
    await d.kernels.checkCompilation();
    if (invalid) {
      d.destroy();
      throw new Error(`Building the generation decoder failed validation: ${invalid.message}`);
    }
    return d;
  }

  /** Tokens currently in the cache. */
  get length(): number {
    return this.pos;
  }

  /**
   * Empties the cache and feeds `ids` from position 0; resolves with the logits (V) that predict
   * the token after the last one. Waits for the engine's pending work (e.g. a weight upload) first.
   */
  prefill(ids: ArrayLike<number>): Promise<Float32Array> {
    if (ids.length === 0) throw new Error('Generation needs a prompt of at least one token.');
    this.checkRoom(0, ids.length);
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i], `prompt position ${i}`);
    const prompt = Int32Array.from(ids);
    return this.serial(async () => {
      await this.engine.flush();
      const n = prompt.length, P = this.P, L = this.config.num_hidden_layers;
      for (let c0 = 0; c0 < n; c0 += P) {
        const rows = Math.min(P, n - c0);
        const chunkIds = new Int32Array(P);
        chunkIds.set(prompt.subarray(c0, c0 + rows));
        const positions = Int32Array.from({ length: P }, (_, i) => (i < rows ? c0 + i : -1));
        writeTensor(this.device, this.t('prefill.ids'), chunkIds);
        writeTensor(this.device, this.t('prefill.positions'), positions);
        const enc = this.device.createCommandEncoder({ label: `Decoder.prefill${c0}.encoder` });
        this.pass(enc, `Decoder.prefill${c0}`, this.prefillLayers);
        const last = c0 + rows === n;
        if (last) {
          // The last prompt token's residual (row rows-1 of the chunk) feeds the step program's head.
          const from = this.t(`prefill.x${L % 2}`), to = this.t(`x${L % 2}`);
          const rowBytes = this.config.hidden_size * 4;
          enc.copyBufferToBuffer(from.buffer, from.offset + (rows - 1) * rowBytes, to.buffer, to.offset, rowBytes);
          this.pass(enc, 'Decoder.prefill.head', this.head);
          this.copyLogits(enc);
        }
        this.device.queue.submit([enc.finish()]);
      }
      this.pos = n;
      return this.readLogits();
    });
  }

  /** Feeds one token at the next position; resolves with the logits (V) for the token after it. */
  step(id: number): Promise<Float32Array> {
    return this.serial(async () => {
      this.checkRoom(this.pos, 1);
      this.checkId(id, `position ${this.pos}`);
      return this.feedOne(id);
    });
  }

  destroy(): void {
    for (const t of this.tensors.values()) t.buffer.destroy();
    this.staging.destroy();
  }

  // ------------------------------------------------------------------------------------------

  private t(name: string): GpuTensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`No decoder tensor named '${name}'.`);
    return t;
  }

  /**
   * R rows through embedding and the L blocks, tensors `${prefix}name`: appends each row's k/v to
   * the caches, attends over them; the output residual is in `${prefix}x{L % 2}`. Projections:
   * matvec for one row, the tiled matmul for a chunk.
   */
  private recordLayers(base: OpContext, R: number, prefix: string): Dispatch[] {
    const cfg = this.config, e = this.engine, Tmax = this.maxContext;
    const C = cfg.hidden_size, F = cfg.intermediate_size;
    const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, hs = headSize(cfg), eps = cfg.rms_norm_eps;
    const linear = R === 1 ? matvecForward : matmulForward;
    const w = (name: string) => e.tensor(e.modelCategory, name);
    const maybe = (name: string) => (e.layout.slots[e.modelCategory].has(name) ? w(name) : null);
    const t = (name: string) => this.t(`${prefix}${name}`);
    const ids = t('ids'), positions = t('positions');
    const x = [t('x0'), t('x1')];
    const out: Dispatch[] = [...embeddingForward(at(base, `${base.where}.embed_tokens`), x[0], ids, e.parts(e.modelCategory, EMBED_TOKENS), R, C)];
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const ctx = at(base, `${base.where}.layers.${l}`);
      const n = layerParamNames(l);
      const xin = x[l % 2], xout = x[(l + 1) % 2];
      const kc = this.t(`layers.${l}.kcache`), vc = this.t(`layers.${l}.vcache`);
      out.push(
        ...rmsnormForward(ctx, t('ln'), t('rstd'), xin, w(n.ln1), R, C, eps),
        ...linear(ctx, t('q'), t('ln'), w(n.q), maybe(n.qb), R, C, NH * hs),
        ...linear(ctx, t('k'), t('ln'), w(n.k), maybe(n.kb), R, C, NKV * hs),
        ...linear(ctx, t('v'), t('ln'), w(n.v), maybe(n.vb), R, C, NKV * hs),
        ...ropeForward(ctx, t('qr'), t('q'), positions, 1, R, NH, hs, cfg.rope_theta),
        ...ropeForward(ctx, t('kr'), t('k'), positions, 1, R, NKV, hs, cfg.rope_theta),
        ...attentionDecodeAppend(ctx, kc, vc, t('kr'), t('v'), positions, R, NH, NKV, hs, Tmax),
        ...attentionDecode(ctx, t('atty'), t('scores'), t('qr'), kc, vc, positions, R, NH, NKV, hs, Tmax),
        ...linear(ctx, t('branch'), t('atty'), w(n.o), null, R, NH * hs, C),
        ...residualRmsnormForward(ctx, t('res1'), t('ln'), t('rstd'), xin, t('branch'), w(n.ln2), R, C, eps),
        ...linear(ctx, t('gate'), t('ln'), w(n.gate), null, R, C, F),
        ...linear(ctx, t('up'), t('ln'), w(n.up), null, R, C, F),
        ...swigluForward(ctx, t('swi'), t('gate'), t('up'), R * F),
        ...linear(ctx, t('branch'), t('swi'), w(n.down), null, R, F, C),
        ...residualForward(ctx, xout, t('res1'), t('branch'), R * C),
      );
    }
    return out;
  }

  /**
   * Final norm and LM head of the one-token residual x{L % 2} → logits (1, V). A head split by rows
   * across buffers (layout.ts Slot.parts) is one matvec per part, each writing its slice of the
   * logits (parts start on multiples of 64 rows, so each slice is 256-byte aligned).
   */
  private recordHead(ctx: OpContext): Dispatch[] {
    const cfg = this.config, e = this.engine, C = cfg.hidden_size;
    const w = (name: string) => e.tensor(e.modelCategory, name);
    const head = e.parts(e.modelCategory, cfg.tie_word_embeddings ? EMBED_TOKENS : LM_HEAD);
    const logits = this.t('logits');
    return [
      ...rmsnormForward(ctx, this.t('ln'), this.t('rstd'), this.t(`x${cfg.num_hidden_layers % 2}`), w(FINAL_NORM), 1, C, cfg.rms_norm_eps),
      ...head.flatMap((p) => {
        const out = head.length === 1 ? logits : { ...logits, name: `${logits.name}[${p.row0}:${p.row0 + p.rows}]`, shape: [1, p.rows], offset: logits.offset + p.row0 * 4, size: p.rows * 4 };
        return matvecForward(ctx, out, this.t('ln'), p.tensor, null, 1, C, p.rows);
      }),
    ];
  }

  private pass(enc: GPUCommandEncoder, label: string, list: readonly Dispatch[]): void {
    const pass = enc.beginComputePass({ label });
    encode(pass, list);
    pass.end();
  }

  private copyLogits(enc: GPUCommandEncoder): void {
    const logits = this.t('logits');
    enc.copyBufferToBuffer(logits.buffer, logits.offset, this.staging, 0, this.config.vocab_size * 4);
  }

  private async readLogits(): Promise<Float32Array> {
    await this.staging.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(this.staging.getMappedRange(0, this.config.vocab_size * 4).slice(0));
    this.staging.unmap();
    return logits;
  }

  /** Feeds `id` at the next position and reads back the logits for the token after it. */
  private async feedOne(id: number): Promise<Float32Array> {
    writeTensor(this.device, this.t('ids'), Int32Array.of(id));
    writeTensor(this.device, this.t('positions'), Int32Array.of(this.pos));
    const enc = this.device.createCommandEncoder({ label: `Decoder.position${this.pos}.encoder` });
    this.pass(enc, `Decoder.position${this.pos}`, [...this.stepLayers, ...this.head]);
    this.copyLogits(enc);
    this.device.queue.submit([enc.finish()]);
    this.pos++;
    return this.readLogits();
  }

  private checkId(id: number, where: string): void {
    const V = this.config.vocab_size;
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new Error(`Token id ${id} at ${where} is outside the vocabulary [0, ${V}). Check that the tokenizer matches the model.`);
  }

  private checkRoom(from: number, n: number): void {
    if (from + n > this.maxContext) {
      throw new Error(`The generation context is full: ${from} tokens + ${n} more exceed ${this.maxContext} (the decoder's maxContext). Shorten the conversation or recreate the decoder with a longer context.`);
    }
  }

  private serial<R>(f: () => R | Promise<R>): Promise<R> {
    const run = this.tail.then(f);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
