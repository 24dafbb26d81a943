/**
 * The baseline: the same LLaMA trained with TensorFlow.js on its WebGPU backend, written the way a
 * TF.js user would write it (tf.variable, tf.variableGrads, tf.losses.softmaxCrossEntropy,
 * tf.train.adam), with what our engine does and TF.js has no one-liner for added by hand:
 * decoupled weight decay (AdamW, on 2-D matrices, applied before the Adam update as PyTorch does)
 * and clipping by the global gradient norm. Same weights, batch, B, T and settings as ours.
 *
 * Shapes: ids (B, T) → x (N, C), N = B*T; matrices are stored (in, out), TF.js's idiom, i.e. the
 * transpose of HF's (out, in); the tied LM head multiplies by the (V, C) embedding transposed.
 * Attention groups query heads by their kv head (h = kvh * G + g, G = NH / NKV), so K and V are
 * never repeated: q (B, NKV, G*T, hs) @ k (B, NKV, T, hs)^T.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { headSize, type LlamaConfig } from '../src/spec/config';
import { EMBED_TOKENS, FINAL_NORM, layerParamNames, LM_HEAD } from '../src/spec/params';
import { IGNORE_INDEX } from '../src/spec/loss';
import type { Batch } from '../src/spec/batch';
import { BENCH_SETTINGS, initWeights, roundStats, syntheticBatch, timePipelined, type BenchCase, type MatmulSide, type TfjsResult } from './common';
import { matmulOperand, type BenchSide } from './ours';

interface Layer {
  ln1: tf.Variable; q: tf.Variable; k: tf.Variable; v: tf.Variable; o: tf.Variable;
  ln2: tf.Variable; gate: tf.Variable; up: tf.Variable; down: tf.Variable;
}

class TfLlama {
  readonly wte: tf.Variable;      // (V, C)
  readonly lmHead: tf.Variable;   // (V, C): wte when tied
  readonly norm: tf.Variable;     // (C)
  readonly layers: Layer[];
  readonly matrices: tf.Variable[]; // weight decay applies to these
  readonly all: tf.Variable[];
  private readonly cos: tf.Tensor2D;  // (T, hs)
  private readonly sin: tf.Tensor2D;  // (T, hs)
  private readonly mask: tf.Tensor2D; // (G*T, T): 0 where key s <= query t, -1e9 elsewhere

  constructor(readonly c: LlamaConfig, readonly B: number, readonly T: number, w: Record<string, Float32Array>, prefix: string) {
    if (c.attention_bias) throw new Error('The TF.js baseline has no q/k/v bias; bench a config without attention_bias.');
    const C = c.hidden_size, hs = headSize(c), G = c.num_attention_heads / c.num_key_value_heads;
    const vec = (name: string) => tf.variable(tf.tensor1d(w[name]), true, `${prefix}/${name}`);
    // HF (out, in) → (in, out)
    const mat = (name: string, out: number, inp: number) => tf.variable(tf.tidy(() => tf.tensor2d(w[name], [out, inp]).transpose()), true, `${prefix}/${name}`);
    this.wte = tf.variable(tf.tensor2d(w[EMBED_TOKENS], [c.vocab_size, C]), true, `${prefix}/${EMBED_TOKENS}`);
    this.lmHead = c.tie_word_embeddings ? this.wte : tf.variable(tf.tensor2d(w[LM_HEAD], [c.vocab_size, C]), true, `${prefix}/${LM_HEAD}`);
    this.norm = vec(FINAL_NORM);
    const qO = c.num_attention_heads * hs, kvO = c.num_key_value_heads * hs, F = c.intermediate_size;
    this.layers = Array.from({ length: c.num_hidden_layers }, (_, i) => {
      const n = layerParamNames(i);
      return {
        ln1: vec(n.ln1),
        q: mat(n.q, qO, C), k: mat(n.k, kvO, C),
        v: mat(n.v, kvO, C), o: mat(n.o, C, qO),
        ln2: vec(n.ln2),
        gate: mat(n.gate, F, C), up: mat(n.up, F, C), down: mat(n.down, C, F),
      };
    });
    this.matrices = [this.wte, ...(c.tie_word_embeddings ? [] : [this.lmHead]), ...this.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down])];
    this.all = [...this.matrices, this.norm, ...this.layers.flatMap((l) => [l.ln1, l.ln2])];

    // RoPE, HF rotate_half: angle(t, j) = t * theta^(-2 (j mod hs/2) / hs)
    const half = hs / 2;
    const ang = new Float32Array(T * hs);
    for (let t = 0; t < T; t++) for (let j = 0; j < hs; j++) ang[t * hs + j] = t * Math.pow(c.rope_theta, -(2 * (j % half)) / hs);
    this.cos = tf.tidy(() => tf.tensor2d(ang, [T, hs]).cos());
    this.sin = tf.tidy(() => tf.tensor2d(ang, [T, hs]).sin());
    const m = new Float32Array(G * T * T);
    for (let r = 0; r < G * T; r++) for (let s = 0; s < T; s++) m[r * T + s] = s <= r % T ? 0 : -1e9;
    this.mask = tf.tensor2d(m, [G * T, T]);
  }

  private rmsnorm(x: tf.Tensor2D, w: tf.Variable): tf.Tensor2D {
    return x.mul(x.square().mean(-1, true).add(this.c.rms_norm_eps).rsqrt()).mul(w);
  }

  /** x (B, H, T, hs) → rotated by position. */
  private rope(x: tf.Tensor4D): tf.Tensor4D {
    const hs = x.shape[3];
    const [x1, x2] = tf.split(x, [hs / 2, hs / 2], 3);
    const rotated = tf.concat([x2.neg(), x1], 3);
    return x.mul(this.cos).add(rotated.mul(this.sin));
  }

  /** (N, H*hs) → (B, H, T, hs) */
  private heads(x: tf.Tensor2D, H: number): tf.Tensor4D {
    return x.reshape([this.B, this.T, H, headSize(this.c)]).transpose([0, 2, 1, 3]);
  }

  /** ids (N) int32 → logits (N, V). */
  logits(ids: tf.Tensor1D): tf.Tensor2D {
    const c = this.c, B = this.B, T = this.T, N = B * T;
    const NH = c.num_attention_heads, NKV = c.num_key_value_heads, hs = headSize(c), G = NH / NKV;
    let x = tf.gather(this.wte, ids) as tf.Tensor2D; // (N, C)
    for (const l of this.layers) {
      const h = this.rmsnorm(x, l.ln1);
      const q = this.rope(this.heads(tf.matMul(h, l.q), NH)).reshape([B, NKV, G * T, hs]);
      const k = this.rope(this.heads(tf.matMul(h, l.k), NKV));
      const v = this.heads(tf.matMul(h, l.v), NKV);
      const scores = tf.matMul(q, k, false, true).mul(1 / Math.sqrt(hs)).add(this.mask); // (B, NKV, G*T, T)
      const y = tf.matMul(tf.softmax(scores), v) // (B, NKV, G*T, hs)
        .reshape([B, NH, T, hs]).transpose([0, 2, 1, 3]).reshape([N, NH * hs]);
      x = x.add(tf.matMul(y, l.o));
      const h2 = this.rmsnorm(x, l.ln2);
      const g = tf.matMul(h2, l.gate);
      x = x.add(tf.matMul(g.mul(g.sigmoid()).mul(tf.matMul(h2, l.up)), l.down)); // SwiGLU
    }
    return tf.matMul(this.rmsnorm(x, this.norm), this.lmHead, false, true);
  }

  dispose(): void {
    for (const v of this.all) v.dispose();
    this.cos.dispose();
    this.sin.dispose();
    this.mask.dispose();
  }
}

/** One AdamW step; returns the loss (mean over trained tokens) as a scalar tensor the caller reads. */
function trainStep(model: TfLlama, opt: tf.AdamOptimizer, ids: tf.Tensor1D, onehot: tf.Tensor2D, lossWeights: tf.Tensor1D): tf.Scalar {
  const s = BENCH_SETTINGS;
  const { value, grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(onehot, model.logits(ids), lossWeights, 0, tf.Reduction.SUM_BY_NONZERO_WEIGHTS) as tf.Scalar,
    model.all,
  );
  tf.tidy(() => {
    // Summed one by one, not with tf.addN: TF.js 4.22's WebGPU addN binds every input at once, and
    // with more inputs than maxStorageBuffersPerShaderStage (8 by default) the dispatch is invalid
    // and its whole command buffer, with part of the update, is silently dropped.
    const norm = Object.values(grads).map((g) => g.square().sum()).reduce((a, b) => a.add(b)).sqrt();
    const clip = tf.minimum(1, tf.div(s.maxGradNorm, norm.add(1e-6)));
    const clipped = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.mul(clip)]));
    for (const w of model.matrices) w.assign(w.mul(1 - s.lr * s.weightDecay));
    opt.applyGradients(clipped);
  });
  tf.dispose(grads);
  return value;
}

/** Targets and loss weights with the HF shift: position t predicts ids[t+1] where labels[t+1] != -100. */
function targets(batch: Batch, V: number): { onehot: tf.Tensor2D; weights: tf.Tensor1D } {
  const N = batch.B * batch.T;
  const tgt = new Int32Array(N);
  const w = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    const t = n % batch.T;
    if (t === batch.T - 1) continue;
    tgt[n] = batch.ids[n + 1];
    w[n] = batch.labels[n + 1] === IGNORE_INDEX ? 0 : batch.weights[n + 1];
  }
  return { onehot: tf.tidy(() => tf.oneHot(tf.tensor1d(tgt, 'int32'), V).toFloat()) as tf.Tensor2D, weights: tf.tensor1d(w) };
}

let caseCounter = 0;

/** A parameter-shaped tensor's values in HF layout: matrices are stored (in, out), HF's are (out, in); the embedding is (V, C) in both. */
async function hfData(t: tf.Tensor, name = (t as tf.Variable).name): Promise<Float32Array> {
  const hf = name.slice(name.indexOf('/') + 1);
  const transposed = t.rank === 2 && hf !== EMBED_TOKENS && hf !== LM_HEAD;
  const x = transposed ? tf.tidy(() => t.transpose()) : t;
  const data = (await x.data()) as Float32Array;
  if (transposed) x.dispose();
  return data;
}

/** Losses of `steps` AdamW steps of the baseline on one batch (measured before each update), and the parameters after (HF names and layouts). */
export async function tfjsSteps(config: LlamaConfig, batch: Batch, weights: Record<string, Float32Array>, steps: number): Promise<{ losses: number[]; params: Record<string, Float32Array> }> {
  await useWebgpu();
  const model = new TfLlama(config, batch.B, batch.T, weights, `losses${caseCounter++}`);
  const ids = tf.tensor1d(batch.ids, 'int32');
  const { onehot, weights: lw } = targets(batch, config.vocab_size);
  const opt = tf.train.adam(BENCH_SETTINGS.lr, BENCH_SETTINGS.beta1, BENCH_SETTINGS.beta2, BENCH_SETTINGS.eps);
  try {
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      const l = trainStep(model, opt, ids, onehot, lw);
      losses.push((await l.data())[0]);
      l.dispose();
    }
    const params: Record<string, Float32Array> = {};
    for (const v of model.all) params[v.name.slice(v.name.indexOf('/') + 1)] = await hfData(v);
    return { losses, params };
  } finally {
    opt.dispose();
    model.dispose();
    tf.dispose([ids, onehot, lw]);
  }
}

async function useWebgpu(): Promise<void> {
  if (tf.getBackend() === 'webgpu') return;
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not initialise its WebGPU backend.');
  await tf.ready();
  tf.enableProdMode();
}

/**
 * The baseline's loss and every parameter gradient (HF names and layouts) for one batch: the
 * benchmark compares them with our engine's so a wrong baseline cannot pass as a slow one.
 */
export async function tfjsGradients(config: LlamaConfig, batch: Batch, weights: Record<string, Float32Array>): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  await useWebgpu();
  const prefix = `check${caseCounter++}`;
  const model = new TfLlama(config, batch.B, batch.T, weights, prefix);
  const ids = tf.tensor1d(batch.ids, 'int32');
  const { onehot, weights: lw } = targets(batch, config.vocab_size);
  try {
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(onehot, model.logits(ids), lw, 0, tf.Reduction.SUM_BY_NONZERO_WEIGHTS) as tf.Scalar,
      model.all,
    );
    const loss = (await value.data())[0];
    const out: Record<string, Float32Array> = {};
    for (const [name, g] of Object.entries(grads)) out[name.slice(prefix.length + 1)] = await hfData(g, name);
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, grads: out };
  } finally {
    model.dispose();
    tf.dispose([ids, onehot, lw]);
  }
}

export async function startTfjs(c: BenchCase, log: (s: string) => void): Promise<BenchSide<TfjsResult>> {
  const t0 = performance.now();
  await useWebgpu();
  const batch = syntheticBatch(c.B, c.T, c.config.vocab_size);
  const model = new TfLlama(c.config, c.B, c.T, initWeights(c.config), `bench${caseCounter++}`);
  const ids = tf.tensor1d(batch.ids, 'int32');
  const { onehot, weights } = targets(batch, c.config.vocab_size);
  const opt = tf.train.adam(BENCH_SETTINGS.lr, BENCH_SETTINGS.beta1, BENCH_SETTINGS.beta2, BENCH_SETTINGS.eps);
  const startupMs = performance.now() - t0;
  let freed = false;
  const abort = () => {
    if (freed) return;
    freed = true;
    opt.dispose();
    model.dispose();
    tf.dispose([ids, onehot, weights]);
  };
  try {
    const losses: number[] = [];
    const step = async () => {
      const l = trainStep(model, opt, ids, onehot, weights);
      const v = (await l.data())[0];
      l.dispose();
      return v;
    };
    const t1 = performance.now();
    losses.push(await step());
    const firstStepMs = performance.now() - t1;
    log(`tfjs ${c.name}: first step ${firstStepMs.toFixed(0)} ms, loss ${losses[0].toFixed(4)}`);
    for (let i = 1; i < c.warmup; i++) losses.push(await step());
    const tensorsBefore = tf.memory().numTensors;
    return {
      abort,
      // Same pipelining as ours: read step i's loss while later steps are already queued.
      async steps(n) {
        const ms = await timePipelined(n, () => {
          const l = trainStep(model, opt, ids, onehot, weights);
          return l.data().then((d) => {
            losses.push(d[0]);
            l.dispose();
          });
        });
        log(`tfjs ${c.name}: ${n} step(s) in ${ms.toFixed(0)} ms, loss ${losses[losses.length - 1].toFixed(4)}`);
        return ms;
      },
      async finish(roundsMs, perRound) {
        const leaked = tf.memory().numTensors - tensorsBefore;
        // The WebGPU backend's own counters: bytes in its buffer pool (allocated, including free buffers).
        const mem = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
        abort();
        if (leaked !== 0) throw new Error(`TF.js baseline leaks ${leaked} tensors over the timed steps; the timing would include garbage.`);
        return {
          startupMs, firstStepMs, ...roundStats(c, roundsMs, perRound), losses,
          ...(mem.numBytesAllocatedInGPU !== undefined ? { gpuBytesAllocated: mem.numBytesAllocatedInGPU } : {}),
        };
      },
    };
  } catch (err) {
    abort();
    throw err;
  }
}

/** tf.matMul on (n, n) f32 operands; each product is waited for by reading one element of it. */
export async function startTfjsMatmul(n: number): Promise<MatmulSide> {
  await useWebgpu();
  const a = tf.tensor2d(matmulOperand(n, 1), [n, n]), b = tf.tensor2d(matmulOperand(n, 2), [n, n]);
  return {
    async once() {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      const corner = tf.slice(c, [0, 0], [1, 1]);
      await corner.data();
      tf.dispose([c, corner]);
      return performance.now() - t0;
    },
    dispose() {
      tf.dispose([a, b]);
    },
  };
}
