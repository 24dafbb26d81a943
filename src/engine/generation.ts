/**
 * Token-by-token decoding with a key/value cache, for generation (src/model/generate.ts samples).
 *
 * A Decoder reads the Engine's live parameter buffers (so it always generates with the weights as
 * trained so far; nothing is copied) and owns only the buffers of its size table (decoderTable):
 * one token's activations, a K and a V cache per layer, and the logits. Each call feeds ONE token
 * at the next position through the same op dispatchers as the training forward, with N = 1 row,
 * and attention over the cache (ops/attentionDecode.ts). The prompt is fed one token per queue
 * submission, all submitted back to back and only the last read back.
 *
 * KV cache vs recomputing the full forward per new token, measured with generation.bench.test.ts
 * (GENERATION_BENCH=1; SwiftShader, the CPU adapter of this 2-core machine shared with other jobs,
 * so absolute times are noisy, the ratios are the point):
 *   model                              full recompute per new token       KV cache: decode step
 *                                      (Engine.evaluate, T = prompt+64)   (prefill, per prompt token)
 *   micro (V 67, C 24, L 2)            36 ms                              3.0 ms (2.1 ms)
 *   playground-base (V 4096, C 256,    2751 ms                            112 ms (59 ms)
 *     L 4; prompt 16 + 64 new)
 * Recompute costs O(T·params + T²) per token because the engine's T is fixed (padding included; a
 * training engine's T is usually larger still); a cached step costs O(params + pos). So generation
 * uses the cache. Its projections run as matvec (ops/matvec.ts): the tiled matmul would compute
 * 15 empty rows per 16-row tile for N = 1.
 *
 * Shapes: Tmax = maxContext (cache rows). Letters as in config.ts.
 */
import { createTensor, numel, writeTensor, type GpuTensor } from '../gpu/buffers';
import { encode, Kernels, type Dispatch } from '../gpu/kernel';
import { headSize, type LlamaConfig } from './config';
import type { Engine } from './trainer';
import type { TensorSpec } from '../reference/model';
import { at, type OpContext } from './ops/context';
import { embeddingForward } from './ops/embedding';
import { rmsnormForward } from './ops/rmsnorm';
import { matvecForward } from './ops/matvec';
import { ropeForward } from './ops/rope';
import { attentionDecode, attentionDecodeAppend } from './ops/attentionDecode';
import { swigluForward } from './ops/swiglu';
import { residualForward } from './ops/residual';

/** Cache rows when the caller does not choose: enough for chat turns, small for big models. */
export const DEFAULT_MAX_CONTEXT = 2048;

/**
 * The decoder's size table: every buffer it allocates (one GPUBuffer per tensor: a dispatch may not
 * read and write the same buffer). Inputs ids/positions are i32.
 */
export function decoderTable(c: LlamaConfig, Tmax: number): TensorSpec[] {
  const C = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const NH = c.num_attention_heads, NKV = c.num_key_value_heads, hs = headSize(c);
  const t: TensorSpec[] = [
    { name: 'ids', shape: [1] },            // i32: the token being fed
    { name: 'positions', shape: [1] },      // i32: its position (= cache row)
    { name: 'x0', shape: [1, C] },          // residual stream, ping-pong between layers
    { name: 'x1', shape: [1, C] },
    { name: 'res1', shape: [1, C] },        // residual stream after attention
    { name: 'ln', shape: [1, C] },          // rmsnorm output (ln1, ln2, final)
    { name: 'rstd', shape: [1] },
    { name: 'q', shape: [1, NH * hs] },     // before RoPE
    { name: 'k', shape: [1, NKV * hs] },
    { name: 'v', shape: [1, NKV * hs] },
    { name: 'qr', shape: [1, NH * hs] },    // after RoPE
    { name: 'kr', shape: [1, NKV * hs] },
    { name: 'scores', shape: [NH, Tmax] },  // attention exponentials of one row per head
    { name: 'atty', shape: [1, NH * hs] },
    { name: 'branch', shape: [1, C] },      // o_proj / down_proj output before the residual add
    { name: 'gate', shape: [1, F] },
    { name: 'up', shape: [1, F] },
    { name: 'swi', shape: [1, F] },
    { name: 'logits', shape: [1, V] },
  ];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    t.push({ name: `layers.${l}.kcache`, shape: [Tmax, NKV, hs] }, { name: `layers.${l}.vcache`, shape: [Tmax, NKV, hs] });
  }
  return t;
}

/** Bytes the decoder allocates for (config, Tmax), as the engine's layout rounds them (256-byte slices). */
export function decoderBytes(c: LlamaConfig, Tmax: number): { total: number; largest: TensorSpec & { bytes: number } } {
  let total = 0;
  let largest = { name: '', shape: [] as readonly number[], bytes: 0 };
  for (const s of decoderTable(c, Tmax)) {
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
}

export class Decoder {
  readonly config: LlamaConfig;
  /** Cache rows: positions 0 … maxContext-1 can be fed. */
  readonly maxContext: number;
  private readonly device: GPUDevice;
  private readonly tensors = new Map<string, GpuTensor>();
  private readonly program: Dispatch[];
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
    for (const s of decoderTable(cfg, Tmax)) this.tensors.set(s.name, createTensor(this.device, `Decoder.${s.name}`, s.shape));
    this.staging = this.device.createBuffer({ label: 'Decoder.logits.staging', size: Math.max(16, cfg.vocab_size * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.kernels = Kernels.for(this.device);
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
    };
    this.program = this.record(ctx);
  }

  /** Builds a decoder on the engine's parameters; resolves once its pipelines compiled and validated. */
  static async create(engine: Engine, opts: DecoderOptions = {}): Promise<Decoder> {
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
    return this.serial(async () => {
      await this.engine.flush();
      this.pos = 0;
      for (let i = 0; i < ids.length - 1; i++) this.submit(ids[i], false);
      return this.feedLast(ids[ids.length - 1]);
    });
  }

  /** Feeds one token at the next position; resolves with the logits (V) for the token after it. */
  step(id: number): Promise<Float32Array> {
    return this.serial(async () => {
      this.checkRoom(this.pos, 1);
      this.checkId(id, `position ${this.pos}`);
      return this.feedLast(id);
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

  /** One token through the model: embedding → L blocks (cache append + cached attention) → logits. */
  private record(base: OpContext): Dispatch[] {
    const cfg = this.config, e = this.engine, Tmax = this.maxContext;
    const C = cfg.hidden_size, V = cfg.vocab_size, F = cfg.intermediate_size;
    const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, hs = headSize(cfg), eps = cfg.rms_norm_eps;
    const w = (name: string) => e.tensor('parameters', name);
    const maybe = (name: string) => (e.layout.slots.parameters.has(name) ? w(name) : null);
    const t = (name: string) => this.t(name);
    const ids = t('ids'), positions = t('positions');
    const x = [t('x0'), t('x1')];
    const out: Dispatch[] = [...embeddingForward(at(base, 'decode.embed_tokens'), x[0], ids, w('model.embed_tokens.weight'), 1, C)];
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const ctx = at(base, `decode.layers.${l}`);
      const p = `model.layers.${l}`;
      const xin = x[l % 2], xout = x[(l + 1) % 2];
      const kc = t(`layers.${l}.kcache`), vc = t(`layers.${l}.vcache`);
      out.push(
        ...rmsnormForward(ctx, t('ln'), t('rstd'), xin, w(`${p}.input_layernorm.weight`), 1, C, eps),
        ...matvecForward(ctx, t('q'), t('ln'), w(`${p}.self_attn.q_proj.weight`), maybe(`${p}.self_attn.q_proj.bias`), 1, C, NH * hs),
        ...matvecForward(ctx, t('k'), t('ln'), w(`${p}.self_attn.k_proj.weight`), maybe(`${p}.self_attn.k_proj.bias`), 1, C, NKV * hs),
        ...matvecForward(ctx, t('v'), t('ln'), w(`${p}.self_attn.v_proj.weight`), maybe(`${p}.self_attn.v_proj.bias`), 1, C, NKV * hs),
        ...ropeForward(ctx, t('qr'), t('q'), positions, 1, 1, NH, hs, cfg.rope_theta),
        ...ropeForward(ctx, t('kr'), t('k'), positions, 1, 1, NKV, hs, cfg.rope_theta),
        ...attentionDecodeAppend(ctx, kc, vc, t('kr'), t('v'), positions, NH, NKV, hs, Tmax),
        ...attentionDecode(ctx, t('atty'), t('scores'), t('qr'), kc, vc, positions, NH, NKV, hs, Tmax),
        ...matvecForward(ctx, t('branch'), t('atty'), w(`${p}.self_attn.o_proj.weight`), null, 1, NH * hs, C),
        ...residualForward(ctx, t('res1'), xin, t('branch'), C),
        ...rmsnormForward(ctx, t('ln'), t('rstd'), t('res1'), w(`${p}.post_attention_layernorm.weight`), 1, C, eps),
        ...matvecForward(ctx, t('gate'), t('ln'), w(`${p}.mlp.gate_proj.weight`), null, 1, C, F),
        ...matvecForward(ctx, t('up'), t('ln'), w(`${p}.mlp.up_proj.weight`), null, 1, C, F),
        ...swigluForward(ctx, t('swi'), t('gate'), t('up'), F),
        ...matvecForward(ctx, t('branch'), t('swi'), w(`${p}.mlp.down_proj.weight`), null, 1, F, C),
        ...residualForward(ctx, xout, t('res1'), t('branch'), C),
      );
    }
    const head = at(base, 'decode.lm_head');
    const lmHead = cfg.tie_word_embeddings ? w('model.embed_tokens.weight') : w('lm_head.weight');
    out.push(
      ...rmsnormForward(head, t('ln'), t('rstd'), x[cfg.num_hidden_layers % 2], w('model.norm.weight'), 1, C, eps),
      ...matvecForward(head, t('logits'), t('ln'), lmHead, null, 1, C, V),
    );
    return out;
  }

  /** Writes (id, pos), encodes one token, submits; with `readLogits` also copies the logits out. */
  private submit(id: number, readLogits: boolean): void {
    writeTensor(this.device, this.t('ids'), Int32Array.of(id));
    writeTensor(this.device, this.t('positions'), Int32Array.of(this.pos));
    const enc = this.device.createCommandEncoder({ label: `Decoder.position${this.pos}.encoder` });
    const pass = enc.beginComputePass({ label: `Decoder.position${this.pos}` });
    encode(pass, this.program);
    pass.end();
    if (readLogits) {
      const logits = this.t('logits');
      enc.copyBufferToBuffer(logits.buffer, logits.offset, this.staging, 0, this.config.vocab_size * 4);
    }
    this.device.queue.submit([enc.finish()]);
    this.pos++;
  }

  private async feedLast(id: number): Promise<Float32Array> {
    this.submit(id, true);
    await this.staging.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(this.staging.getMappedRange(0, this.config.vocab_size * 4).slice(0));
    this.staging.unmap();
    return logits;
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
