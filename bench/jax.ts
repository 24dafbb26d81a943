/**
 * The strongest browser peer: the same LLaMA trained with jax-js (@jax-js/jax), written the way a
 * JAX user writes it: parameters as a pytree of arrays, a pure loss function, `valueAndGrad` for
 * the gradients and one `jit`-compiled train step that returns the new parameters and optimizer
 * state. jax-js has no optimizer library on npm (no @jax-js/optax), so AdamW is written here, as
 * optax's `adamw` with a 2-D mask and `clip_by_global_norm` would do it: decoupled weight decay
 * on 2-D matrices, bias correction, clipping by the global gradient norm. Runs on jax-js's WebGPU
 * device ('jax' side) or its Wasm device ('jaxwasm', what a user without a usable GPU gets).
 *
 * Ownership: jax-js counts references; every function consumes its array arguments, so an array
 * used twice is passed as `x.ref` the first time (jax-js's README, "Reference counting").
 *
 * Shapes: ids (B, T) → x (N, C), N = B*T. Matrices are stored (in, out), flax's Dense layout, the
 * transpose of HF's (out, in); the embedding is (V, C) in both, and the tied head multiplies by
 * its transpose. Attention is nn.dotProductAttention (GQA by repeating kv heads, causal mask).
 * The target log-probabilities are picked with a one-hot product, not np.takeAlongAxis: in 0.1.25
 * the latter's gradient (a scatter) does not compile under jit ("routine primitive scatter input
 * is not imm"); np.take for the embedding does. Browser only: 0.1.25 uses Iterator helpers
 * (Iterator.prototype.map), which Node 20 lacks.
 */
import { blockUntilReady, init, jit, nn, numpy as np, tree, valueAndGrad, type Device } from '@jax-js/jax';
import { headSize, type LlamaConfig } from '../src/spec/config';
import { EMBED_TOKENS, FINAL_NORM, layerParamNames, LM_HEAD } from '../src/spec/params';
import { IGNORE_INDEX } from '../src/spec/loss';
import type { Batch } from '../src/spec/batch';
import { BENCH_SETTINGS, initWeights, roundStats, syntheticBatch, timePipelined, type BenchCase, type MatmulSide, type SideResult } from './common';
import { matmulOperand, type BenchSide } from './ours';

export type JaxDevice = Extract<Device, 'webgpu' | 'wasm'>;

type Layer = {
  ln1: np.Array; q: np.Array; k: np.Array; v: np.Array; o: np.Array; // ln (C); q (C, NH*hs); k, v (C, NKV*hs); o (NH*hs, C)
  ln2: np.Array; gate: np.Array; up: np.Array; down: np.Array;        // gate, up (C, F); down (F, C)
};
type Params = {
  embed: np.Array;      // (V, C)
  norm: np.Array;       // (C)
  layers: Layer[];
  lmHead?: np.Array;    // (V, C), only when the head is not tied
};
/** The batch as the step sees it: ids (B, T) int32, targets (N) int32, mask (N) 1 where trained, RoPE tables (T, 1, hs). */
type Inputs = { ids: np.Array; targets: np.Array; mask: np.Array; cos: np.Array; sin: np.Array };
type AdamState = { m: Params; v: Params; count: np.Array };

const LAYER_KEYS = ['ln1', 'q', 'k', 'v', 'o', 'ln2', 'gate', 'up', 'down'] as const;
const MATRIX_KEYS = new Set<string>(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);

/** x (…, C) → x / rms(x) * w. */
function rmsnorm(x: np.Array, w: np.Array, eps: number): np.Array {
  const inv = np.reciprocal(np.sqrt(np.mean(np.square(x.ref), -1, { keepdims: true }).add(eps)));
  return x.mul(inv).mul(w);
}

/** x (B, T, H, hs) rotated by position, HF rotate_half; cos, sin (T, 1, hs). */
function rope(x: np.Array, cos: np.Array, sin: np.Array): np.Array {
  const [x1, x2] = np.split(x.ref, 2, -1);
  return x.mul(cos).add(np.concatenate([x2.neg(), x1], -1).mul(sin));
}

/** The mean cross-entropy over trained tokens (mask 1), logits from the LLaMA forward. */
function makeLoss(c: LlamaConfig, B: number, T: number) {
  const N = B * T, NH = c.num_attention_heads, NKV = c.num_key_value_heads, hs = headSize(c), eps = c.rms_norm_eps;
  return function loss(params: Params, inputs: Inputs): np.Array {
    const { cos, sin } = inputs;
    let x = np.take(params.embed.ref, inputs.ids.reshape([N]), 0); // (N, C)
    for (const l of params.layers) {
      const h = rmsnorm(x.ref, l.ln1, eps);
      const q = rope(np.matmul(h.ref, l.q).reshape([B, T, NH, hs]), cos.ref, sin.ref);
      const k = rope(np.matmul(h.ref, l.k).reshape([B, T, NKV, hs]), cos.ref, sin.ref);
      const v = np.matmul(h, l.v).reshape([B, T, NKV, hs]);
      const y = nn.dotProductAttention(q, k, v, { isCausal: true }).reshape([N, NH * hs]);
      x = x.add(np.matmul(y, l.o));
      const h2 = rmsnorm(x.ref, l.ln2, eps);
      x = x.add(np.matmul(nn.silu(np.matmul(h2.ref, l.gate)).mul(np.matmul(h2, l.up)), l.down)); // SwiGLU
    }
    cos.dispose();
    sin.dispose();
    const head = params.lmHead ?? params.embed;
    const logp = nn.logSoftmax(np.matmul(rmsnorm(x, params.norm, eps), head.transpose()), -1); // (N, V)
    const picked = logp.mul(nn.oneHot(inputs.targets, c.vocab_size)).sum(-1); // (N)
    return picked.mul(inputs.mask.ref).sum().neg().div(inputs.mask.sum());
  };
}

/**
 * One AdamW step, jit-compiled: loss and gradients, global-norm clip factor, then per leaf
 * m, v ← moments of the clipped gradient; p ← p·(1 − lr·wd) − lr·m̂ / (√v̂ + eps), decay on 2-D leaves.
 */
function makeTrainStep(c: LlamaConfig, B: number, T: number) {
  const s = BENCH_SETTINGS;
  const lossGrad = valueAndGrad(makeLoss(c, B, T));
  return jit(function trainStep(params: Params, opt: AdamState, inputs: Inputs): [np.Array, Params, AdamState] {
    const [loss, grads] = lossGrad(tree.ref(params), inputs);
    const [gs, def] = tree.flatten(grads);
    const norm = np.sqrt(gs.map((g) => np.sum(np.square(g.ref))).reduce((a, b) => a.add(b)));
    const clip = np.minimum(1, np.reciprocal(norm.add(1e-6)).mul(s.maxGradNorm));
    const count = opt.count.add(1);
    const bc1 = np.power(s.beta1, count.ref).neg().add(1); // 1 - beta1^t
    const bc2 = np.power(s.beta2, count.ref).neg().add(1);
    const ps = tree.leaves(params), ms = tree.leaves(opt.m), vs = tree.leaves(opt.v);
    const newP: np.Array[] = [], newM: np.Array[] = [], newV: np.Array[] = [];
    for (let i = 0; i < gs.length; i++) {
      const g = gs[i].mul(clip.ref);
      const m = ms[i].mul(s.beta1).add(g.ref.mul(1 - s.beta1));
      const v = vs[i].mul(s.beta2).add(np.square(g).mul(1 - s.beta2));
      const p = ps[i].ndim === 2 ? ps[i].mul(1 - s.lr * s.weightDecay) : ps[i];
      const update = m.ref.div(bc1.ref).div(np.sqrt(v.ref.div(bc2.ref)).add(s.eps)).mul(s.lr);
      newP.push(p.sub(update));
      newM.push(m);
      newV.push(v);
    }
    tree.dispose([clip, bc1, bc2]);
    const unflat = (xs: np.Array[]) => tree.unflatten(def, xs) as Params;
    return [loss, unflat(newP), { m: unflat(newM), v: unflat(newV), count }];
  });
}

/** (rows, cols) row-major → (cols, rows). */
function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = a[r * cols + k];
  return out;
}

/** The HF weights as a jax-js pytree on `device` (matrices transposed to (in, out)). */
function toParams(c: LlamaConfig, w: Record<string, Float32Array>, device: JaxDevice): Params {
  const C = c.hidden_size;
  const vec = (name: string) => np.array(w[name], { device });
  const mat = (name: string, out: number, inp: number) => np.array(transposed(w[name], out, inp), { shape: [inp, out], device });
  const qO = c.num_attention_heads * headSize(c), kvO = c.num_key_value_heads * headSize(c), F = c.intermediate_size;
  return {
    embed: np.array(w[EMBED_TOKENS], { shape: [c.vocab_size, C], device }),
    norm: vec(FINAL_NORM),
    layers: Array.from({ length: c.num_hidden_layers }, (_, i) => {
      const n = layerParamNames(i);
      return {
        ln1: vec(n.ln1), q: mat(n.q, qO, C), k: mat(n.k, kvO, C), v: mat(n.v, kvO, C), o: mat(n.o, C, qO),
        ln2: vec(n.ln2), gate: mat(n.gate, F, C), up: mat(n.up, F, C), down: mat(n.down, C, F),
      };
    }),
    ...(c.tie_word_embeddings ? {} : { lmHead: np.array(w[LM_HEAD], { shape: [c.vocab_size, C], device }) }),
  };
}

/** A params-shaped tree back in HF names and layouts; consumes it. */
async function fromParams(p: Params): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  const read = async (a: np.Array) => (await a.data()) as Float32Array;
  const mat = async (a: np.Array) => {
    const [inp, o] = a.shape;
    return transposed(await read(a), inp, o);
  };
  out[EMBED_TOKENS] = await read(p.embed);
  out[FINAL_NORM] = await read(p.norm);
  if (p.lmHead) out[LM_HEAD] = await read(p.lmHead);
  for (const [i, l] of p.layers.entries()) {
    const n = layerParamNames(i);
    for (const key of LAYER_KEYS) out[n[key]] = MATRIX_KEYS.has(key) ? await mat(l[key]) : await read(l[key]);
  }
  return out;
}

/** Targets with the HF shift: position t predicts ids[t+1], trained where labels[t+1] != -100. RoPE tables as HF computes them. */
function toInputs(c: LlamaConfig, batch: Batch, device: JaxDevice): Inputs {
  const { B, T } = batch, N = B * T, hs = headSize(c), half = hs / 2;
  const targets = new Int32Array(N), mask = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    if (n % T === T - 1) continue;
    targets[n] = batch.ids[n + 1];
    mask[n] = batch.labels[n + 1] === IGNORE_INDEX ? 0 : batch.weights[n + 1];
  }
  const cos = new Float32Array(T * hs), sin = new Float32Array(T * hs);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < hs; j++) {
      const a = t * Math.pow(c.rope_theta, -(2 * (j % half)) / hs);
      cos[t * hs + j] = Math.cos(a);
      sin[t * hs + j] = Math.sin(a);
    }
  }
  return {
    ids: np.array(batch.ids, { shape: [B, T], dtype: np.int32, device }),
    targets: np.array(targets, { dtype: np.int32, device }),
    mask: np.array(mask, { device }),
    cos: np.array(cos, { shape: [T, 1, hs], device }),
    sin: np.array(sin, { shape: [T, 1, hs], device }),
  };
}

function zerosLike(p: Params): Params {
  return tree.map((a: np.Array) => np.zerosLike(a.ref), p) as Params;
}

const ready = new Map<JaxDevice, Promise<void>>();

/** Starts jax-js's backend for `device` once; fails with a readable reason when the browser has none. */
export function useJax(device: JaxDevice): Promise<void> {
  let p = ready.get(device);
  if (!p) {
    p = init(device).then((got) => {
      if (!got.includes(device)) throw new Error(`jax-js could not start its ${device} backend in this browser.`);
    });
    ready.set(device, p);
  }
  return p;
}

/**
 * The loss and every parameter gradient (HF names and layouts) for one batch, so a wrong jax-js
 * side cannot pass as a slow one.
 */
export async function jaxGradients(config: LlamaConfig, batch: Batch, weights: Record<string, Float32Array>, device: JaxDevice): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  await useJax(device);
  const f = jit(valueAndGrad(makeLoss(config, batch.B, batch.T)));
  const [loss, grads] = f(toParams(config, weights, device), toInputs(config, batch, device));
  const out = { loss: (await loss.data())[0], grads: await fromParams(grads) };
  f.dispose();
  return out;
}

/** Losses of `steps` AdamW steps on one batch (each measured before its update), and the parameters after. */
export async function jaxSteps(config: LlamaConfig, batch: Batch, weights: Record<string, Float32Array>, steps: number, device: JaxDevice): Promise<{ losses: number[]; params: Record<string, Float32Array> }> {
  await useJax(device);
  const step = makeTrainStep(config, batch.B, batch.T);
  const inputs = toInputs(config, batch, device);
  let params = toParams(config, weights, device);
  let opt: AdamState = { m: zerosLike(params), v: zerosLike(params), count: np.array(new Float32Array([0]), { shape: [], device }) };
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const [loss, p, o] = step(params, opt, tree.ref(inputs));
    params = p;
    opt = o;
    losses.push((await loss.data())[0]);
  }
  tree.dispose([opt, inputs]);
  step.dispose();
  return { losses, params: await fromParams(params) };
}

export async function startJax(c: BenchCase, log: (s: string) => void, device: JaxDevice): Promise<BenchSide<SideResult>> {
  const name = device === 'wasm' ? 'jax-js wasm' : 'jax-js webgpu';
  const t0 = performance.now();
  await useJax(device);
  const step = makeTrainStep(c.config, c.B, c.T);
  const inputs = toInputs(c.config, syntheticBatch(c.B, c.T, c.config.vocab_size), device);
  let params = toParams(c.config, initWeights(c.config), device);
  let opt: AdamState = { m: zerosLike(params), v: zerosLike(params), count: np.array(new Float32Array([0]), { shape: [], device }) };
  await blockUntilReady([params, opt, inputs]);
  const startupMs = performance.now() - t0;
  let freed = false;
  const abort = () => {
    if (freed) return;
    freed = true;
    tree.dispose([params, opt, inputs]);
    step.dispose();
  };
  const losses: number[] = [];
  /** Queues one step (jax-js dispatches asynchronously) and resolves when its loss is read. */
  const queueStep = () => {
    const [loss, p, o] = step(params, opt, tree.ref(inputs));
    params = p;
    opt = o;
    return loss.data().then((d) => void losses.push(d[0]));
  };
  try {
    const t1 = performance.now();
    await queueStep(); // traces and compiles the step
    const firstStepMs = performance.now() - t1;
    log(`${name} ${c.name}: first step ${firstStepMs.toFixed(0)} ms, loss ${losses[0].toFixed(4)}`);
    for (let i = 1; i < c.warmup; i++) await queueStep();
    return {
      abort,
      async steps(n) {
        // The last step's update is waited for too: jax-js dispatches lazily.
        const t0 = performance.now();
        await timePipelined(n, queueStep);
        await blockUntilReady([params, opt]);
        const ms = performance.now() - t0;
        log(`${name} ${c.name}: ${n} step(s) in ${ms.toFixed(0)} ms, loss ${losses[losses.length - 1].toFixed(4)}`);
        return ms;
      },
      async finish(roundsMs, perRound) {
        abort();
        return { startupMs, firstStepMs, ...roundStats(c, roundsMs, perRound), losses };
      },
    };
  } catch (err) {
    abort();
    throw err;
  }
}

/** jit(np.matmul) on (n, n) f32 operands; each product is waited for with blockUntilReady. */
export async function startJaxMatmul(n: number, device: JaxDevice): Promise<MatmulSide> {
  await useJax(device);
  const a = np.array(matmulOperand(n, 1), { shape: [n, n], device }), b = np.array(matmulOperand(n, 2), { shape: [n, n], device });
  const matmul = jit((x: np.Array, y: np.Array) => np.matmul(x, y));
  await blockUntilReady([a, b]);
  return {
    async once() {
      const t0 = performance.now();
      const c = await matmul(a.ref, b.ref).blockUntilReady();
      c.dispose();
      return performance.now() - t0;
    },
    dispose() {
      tree.dispose([a, b]);
      matmul.dispose();
    },
  };
}
