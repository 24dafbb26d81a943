/**
 * The CPU reference ops, in Float64. This file is the specification the WGSL engine is tested
 * against: same op names and argument order as src/engine/ops/<op>.ts and shaders/<op>.wgsl.
 *
 * Contract (stated once, here):
 * - Row-major. Arguments: outputs, then inputs, then sizes. Floats are Float64Array, token ids,
 *   labels, docIds and positions are Int32Array. Row index of a token: n = b*T + t, N = B*T.
 * - Parameter gradients ACCUMULATE (+=). Activation gradients OVERWRITE (=), except where an op
 *   says otherwise (matmulBackward's `accumulateDx`, residualBackward's da/db).
 * - Linear layers are nn.Linear: y = x @ W^T + b with W (O, I).
 * - Labels follow Hugging Face: labels = input_ids with -100 where nothing is trained; the shift
 *   happens inside the loss (position t predicts the token at t+1).
 * - Dimension letters (B, T, C, V, L, NH, NKV, hs, F) are defined in src/spec/config.ts.
 */
import { IGNORE_INDEX, ROLE_PROMPT, ROLE_RESPONSE } from '../spec/loss';

// ---------------------------------------------------------------------------------------------
// embedding
// ---------------------------------------------------------------------------------------------

/** out[n,:] = wte[ids[n],:]. out (N,C), ids (N), wte (V,C). */
export function embeddingForward(out: Float64Array, ids: Int32Array, wte: Float64Array, N: number, C: number): void {
  const V = wte.length / C;
  for (let n = 0; n < N; n++) {
    const id = ids[n];
    if (!(id >= 0 && id < V)) {
      throw new Error(`embeddingForward: token id ${id} at row ${n} is outside the vocabulary [0, ${V}). Check the tokenizer matches the model.`);
    }
    out.set(wte.subarray(id * C, id * C + C), n * C);
  }
}

/** dwte[ids[n],:] += dout[n,:]. dwte (V,C) +=, dout (N,C), ids (N). */
export function embeddingBackward(dwte: Float64Array, dout: Float64Array, ids: Int32Array, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const row = ids[n] * C;
    for (let c = 0; c < C; c++) dwte[row + c] += dout[n * C + c];
  }
}

// ---------------------------------------------------------------------------------------------
// rmsnorm: out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps)
// ---------------------------------------------------------------------------------------------

/** out (N,C), rstd (N) saved for backward, x (N,C), w (C). */
export function rmsnormForward(out: Float64Array, rstd: Float64Array, x: Float64Array, w: Float64Array, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[o + c] = x[o + c] * r * w[c];
  }
}

/**
 * dx (N,C) =, dw (C) +=, dout (N,C), x (N,C), w (C), rstd (N).
 * With xhat = x*rstd and g = dout*w: dx = rstd * (g - xhat * mean(g*xhat)).
 */
export function rmsnormBackward(dx: Float64Array, dw: Float64Array, dout: Float64Array, x: Float64Array, w: Float64Array, rstd: Float64Array, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    const r = rstd[n];
    let dot = 0; // sum_c g_c * xhat_c
    for (let c = 0; c < C; c++) {
      const xhat = x[o + c] * r;
      dw[c] += dout[o + c] * xhat;
      dot += dout[o + c] * w[c] * xhat;
    }
    const meanDot = dot / C;
    for (let c = 0; c < C; c++) {
      const xhat = x[o + c] * r;
      dx[o + c] = r * (dout[o + c] * w[c] - xhat * meanDot);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// matmul (nn.Linear): out = x @ w^T + bias
// ---------------------------------------------------------------------------------------------

/** out (N,O), x (N,I), w (O,I), bias (O) or null. */
export function matmulForward(out: Float64Array, x: Float64Array, w: Float64Array, bias: Float64Array | null, N: number, I: number, O: number): void {
  for (let n = 0; n < N; n++) {
    const xo = n * I;
    for (let o = 0; o < O; o++) {
      const wo = o * I;
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < I; i++) s += x[xo + i] * w[wo + i];
      out[n * O + o] = s;
    }
  }
}

/**
 * dx (N,I) = (or += when accumulateDx), dw (O,I) +=, dbias (O) += or null,
 * dout (N,O), x (N,I), w (O,I).
 * accumulateDx lets q/k/v (and gate/up) add their input gradients into one shared dx.
 */
export function matmulBackward(
  dx: Float64Array, dw: Float64Array, dbias: Float64Array | null,
  dout: Float64Array, x: Float64Array, w: Float64Array,
  N: number, I: number, O: number, accumulateDx: boolean,
): void {
  for (let n = 0; n < N; n++) {
    const xo = n * I;
    if (!accumulateDx) dx.fill(0, xo, xo + I);
    for (let o = 0; o < O; o++) {
      const d = dout[n * O + o];
      const wo = o * I;
      for (let i = 0; i < I; i++) {
        dx[xo + i] += d * w[wo + i];
        dw[wo + i] += d * x[xo + i];
      }
      if (dbias) dbias[o] += d;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// lora: a low-rank update on top of a frozen projection (src/spec/lora.ts, PEFT's Linear).
//   u = x A^T (N, r);  out += scale · u B^T.   x (N,I), A (r,I), B (O,r), out (N,O).
// ---------------------------------------------------------------------------------------------

/** out (N,O) +=, u (N,r) = x A^T (kept for backward); x (N,I), A (r,I), B (O,r). */
export function loraForward(out: Float64Array, u: Float64Array, x: Float64Array, A: Float64Array, B: Float64Array, scale: number, N: number, I: number, O: number, r: number): void {
  matmulForward(u, x, A, null, N, I, r);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let j = 0; j < r; j++) s += u[n * r + j] * B[o * r + j];
      out[n * O + o] += scale * s;
    }
  }
}

/**
 * dx (N,I) +=, dA (r,I) +=, dB (O,r) +=; dout (N,O), x (N,I), u (N,r) from forward, A, B.
 *   du = scale · dout B (N,r);  dB += scale · dout^T u;  dA += du^T x;  dx += du A.
 * dx accumulates: the frozen projection's own backward has already written its part.
 */
export function loraBackward(dx: Float64Array, dA: Float64Array, dB: Float64Array, dout: Float64Array, x: Float64Array, u: Float64Array, A: Float64Array, B: Float64Array, scale: number, N: number, I: number, O: number, r: number): void {
  const scaled = dout.map((v) => v * scale);
  const du = new Float64Array(N * r);
  matmulBackward(du, dB, null, scaled, u, B, N, r, O, false);
  matmulBackward(dx, dA, null, du, x, A, N, I, r, true);
}

// ---------------------------------------------------------------------------------------------
// rope: HF rotate_half layout. In each head, dim j pairs with j + hs/2 (j < hs/2), angle
// positions[n] * theta^(-2j/hs).  out_j = x_j cos - x_{j+h} sin,  out_{j+h} = x_{j+h} cos + x_j sin.
// ---------------------------------------------------------------------------------------------

/** Inverse frequencies (hs/2): theta^(-2j/hs), computed as torch does (1 / theta^(2j/hs)). */
function ropeInvFreq(hs: number, theta: number): Float64Array {
  const f = new Float64Array(hs / 2);
  for (let j = 0; j < hs / 2; j++) f[j] = 1 / Math.pow(theta, (2 * j) / hs);
  return f;
}

/** out (B,T,H,hs), x (B,T,H,hs), positions (N). out must not alias x. */
export function ropeForward(out: Float64Array, x: Float64Array, positions: Int32Array, B: number, T: number, H: number, hs: number, theta: number): void {
  const half = hs / 2;
  const invFreq = ropeInvFreq(hs, theta);
  for (let n = 0; n < B * T; n++) {
    const p = positions[n];
    for (let j = 0; j < half; j++) {
      const a = p * invFreq[j];
      const cos = Math.cos(a), sin = Math.sin(a);
      for (let h = 0; h < H; h++) {
        const o = (n * H + h) * hs;
        const x1 = x[o + j], x2 = x[o + j + half];
        out[o + j] = x1 * cos - x2 * sin;
        out[o + j + half] = x2 * cos + x1 * sin;
      }
    }
  }
}

/** dx (B,T,H,hs) =, dout (B,T,H,hs), positions (N). The transpose of the rotation. */
export function ropeBackward(dx: Float64Array, dout: Float64Array, positions: Int32Array, B: number, T: number, H: number, hs: number, theta: number): void {
  const half = hs / 2;
  const invFreq = ropeInvFreq(hs, theta);
  for (let n = 0; n < B * T; n++) {
    const p = positions[n];
    for (let j = 0; j < half; j++) {
      const a = p * invFreq[j];
      const cos = Math.cos(a), sin = Math.sin(a);
      for (let h = 0; h < H; h++) {
        const o = (n * H + h) * hs;
        const d1 = dout[o + j], d2 = dout[o + j + half];
        dx[o + j] = d1 * cos + d2 * sin;
        dx[o + j + half] = d2 * cos - d1 * sin;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// attention: causal, per-document, grouped-query. Query head h reads kv head floor(h / (NH/NKV)).
// Query t may attend key s iff s <= t AND docIds[b,s] == docIds[b,t] AND docIds[b,t] >= 0.
// docIds = -1 marks padding: a padding query row has att = 0 and out = 0.
// ---------------------------------------------------------------------------------------------

/** May query (b,t) attend key (b,s)? */
function attends(docIds: Int32Array, b: number, T: number, t: number, s: number): boolean {
  const dt = docIds[b * T + t];
  return s <= t && dt >= 0 && docIds[b * T + s] === dt;
}

/**
 * out (B,T,NH,hs), att (B,NH,T,T) softmax probabilities (0 where masked),
 * q (B,T,NH,hs), k (B,T,NKV,hs), v (B,T,NKV,hs), docIds (N). Scale 1/sqrt(hs).
 */
export function attentionForward(
  out: Float64Array, att: Float64Array,
  q: Float64Array, k: Float64Array, v: Float64Array, docIds: Int32Array,
  B: number, T: number, NH: number, NKV: number, hs: number,
): void {
  const scale = 1 / Math.sqrt(hs);
  const group = NH / NKV;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const arow = ((b * NH + h) * T + t) * T; // att[b,h,t,:]
        const qo = ((b * T + t) * NH + h) * hs;
        const oo = qo;
        let max = -Infinity;
        for (let s = 0; s < T; s++) {
          if (!attends(docIds, b, T, t, s)) { att[arow + s] = 0; continue; }
          const ko = ((b * T + s) * NKV + kvh) * hs;
          let dot = 0;
          for (let i = 0; i < hs; i++) dot += q[qo + i] * k[ko + i];
          att[arow + s] = dot * scale;
          if (att[arow + s] > max) max = att[arow + s];
        }
        for (let i = 0; i < hs; i++) out[oo + i] = 0;
        if (max === -Infinity) continue; // padding query: nothing to attend to
        let sum = 0;
        for (let s = 0; s < T; s++) {
          if (!attends(docIds, b, T, t, s)) continue;
          const e = Math.exp(att[arow + s] - max);
          att[arow + s] = e;
          sum += e;
        }
        for (let s = 0; s < T; s++) {
          if (!attends(docIds, b, T, t, s)) continue;
          const p = att[arow + s] / sum;
          att[arow + s] = p;
          const vo = ((b * T + s) * NKV + kvh) * hs;
          for (let i = 0; i < hs; i++) out[oo + i] += p * v[vo + i];
        }
      }
    }
  }
}

/**
 * dq (B,T,NH,hs) =, dk (B,T,NKV,hs) =, dv (B,T,NKV,hs) =,
 * dout (B,T,NH,hs), q, k, v, att (B,NH,T,T) from forward, docIds (N).
 * datt[t,s] = dout[t]·v[s];  dpre[t,s] = att[t,s] * (datt[t,s] - sum_s' att[t,s'] datt[t,s']);
 * dq[t] = scale * sum_s dpre k[s];  dk[s] += scale * dpre q[t];  dv[s] += att[t,s] dout[t]
 * (dk and dv sum over the NH/NKV query heads that share a kv head).
 */
export function attentionBackward(
  dq: Float64Array, dk: Float64Array, dv: Float64Array,
  dout: Float64Array, q: Float64Array, k: Float64Array, v: Float64Array, att: Float64Array, docIds: Int32Array,
  B: number, T: number, NH: number, NKV: number, hs: number,
): void {
  const scale = 1 / Math.sqrt(hs);
  const group = NH / NKV;
  dq.fill(0, 0, B * T * NH * hs);
  dk.fill(0, 0, B * T * NKV * hs);
  dv.fill(0, 0, B * T * NKV * hs);
  const datt = new Float64Array(T); // one query row at a time
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const arow = ((b * NH + h) * T + t) * T;
        const qo = ((b * T + t) * NH + h) * hs;
        let rowDot = 0; // sum_s att[t,s] * datt[t,s]
        for (let s = 0; s < T; s++) {
          if (!attends(docIds, b, T, t, s)) { datt[s] = 0; continue; }
          const p = att[arow + s];
          const vo = ((b * T + s) * NKV + kvh) * hs;
          let d = 0;
          for (let i = 0; i < hs; i++) {
            d += dout[qo + i] * v[vo + i];
            dv[vo + i] += p * dout[qo + i];
          }
          datt[s] = d;
          rowDot += p * d;
        }
        for (let s = 0; s < T; s++) {
          if (!attends(docIds, b, T, t, s)) continue;
          const p = att[arow + s];
          const dpre = p * (datt[s] - rowDot) * scale;
          const ko = ((b * T + s) * NKV + kvh) * hs;
          for (let i = 0; i < hs; i++) {
            dq[qo + i] += dpre * k[ko + i];
            dk[ko + i] += dpre * q[qo + i];
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// swiglu: out = silu(gate) * up, silu(g) = g * sigmoid(g)
// ---------------------------------------------------------------------------------------------

/** out (N,F), gate (N,F), up (N,F); n = N*F. */
export function swigluForward(out: Float64Array, gate: Float64Array, up: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

/** dgate (N,F) =, dup (N,F) =, dout (N,F), gate, up; n = N*F. silu'(g) = s (1 + g (1 - s)), s = sigmoid(g). */
export function swigluBackward(dgate: Float64Array, dup: Float64Array, dout: Float64Array, gate: Float64Array, up: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const s = 1 / (1 + Math.exp(-g));
    dgate[i] = dout[i] * up[i] * s * (1 + g * (1 - s));
    dup[i] = dout[i] * g * s;
  }
}

// ---------------------------------------------------------------------------------------------
// residual: out = a + b
// ---------------------------------------------------------------------------------------------

/** out (n), a (n), b (n). Also used, in backward, to sum the two gradients that meet at a fork. */
export function residualForward(out: Float64Array, a: Float64Array, b: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/** da (n) +=, db (n) +=, dout (n). The residual stream's gradients accumulate. */
export function residualBackward(da: Float64Array, db: Float64Array, dout: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

// ---------------------------------------------------------------------------------------------
// residualRmsnorm: h = a + b, then rmsnorm(h); the GPU fuses the two into one pass
// ---------------------------------------------------------------------------------------------

/** h (N,C) = a + b, out (N,C) = rmsnorm(h) * w, rstd (N). */
export function residualRmsnormForward(h: Float64Array, out: Float64Array, rstd: Float64Array, a: Float64Array, b: Float64Array, w: Float64Array, N: number, C: number, eps: number): void {
  residualForward(h, a, b, N * C);
  rmsnormForward(out, rstd, h, w, N, C, eps);
}

/**
 * dh (N,C) =, dw (C) +=, dout (N,C), dskip (N,C), h (N,C), w (C), rstd (N).
 * h feeds the norm and the skip connection, so dh = dskip + the norm's dx; dh is also da and db.
 */
export function residualRmsnormBackward(dh: Float64Array, dw: Float64Array, dout: Float64Array, dskip: Float64Array, h: Float64Array, w: Float64Array, rstd: Float64Array, N: number, C: number): void {
  const normDx = new Float64Array(N * C);
  rmsnormBackward(normDx, dw, dout, h, w, rstd, N, C);
  residualForward(dh, dskip, normDx, N * C);
}

// ---------------------------------------------------------------------------------------------
// packF16: a weight matrix stored as f16 (the GPU's weights_f16 copy)
// ---------------------------------------------------------------------------------------------

/** f16's largest finite value: the GPU clamps to it before packing. */
export const F16_MAX = 65504;

/** Spacing of f16 values around |v| (v finite, |v| <= F16_MAX): 2^-24 below 2^-14, else 2^(e-10). */
export function f16Quantum(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -14) return 2 ** -24;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 may round across a power of two
  if (2 ** (e + 1) <= a) e++;
  return 2 ** (e - 10);
}

/** v rounded to the nearest f16 value, ties to even, after clamping to +-F16_MAX. */
export function roundF16(v: number): number {
  if (Number.isNaN(v)) return v;
  const c = Math.min(F16_MAX, Math.max(-F16_MAX, v));
  const q = f16Quantum(c);
  const r = Math.abs(c) / q; // exact: q is a power of two
  const f = Math.floor(r);
  const up = r - f > 0.5 || (r - f === 0.5 && f % 2 === 1);
  return Math.sign(c) * (up ? f + 1 : f) * q;
}

/** The value of one f16 bit pattern (the low 16 bits of h). */
export function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** out (n) = x (n) rounded to f16. The GPU stores the halves packed; here they stay Float64. */
export function packF16Forward(out: Float64Array, x: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = roundF16(x[i]);
}

// ---------------------------------------------------------------------------------------------
// cross-entropy: fused, masked, weighted, HF shift inside.
// ---------------------------------------------------------------------------------------------

/**
 * losses (N) =, dlogits (N,V) =, logits (N,V), ids (N), labels (N), weights (N), seqScale (B).
 *
 * Position (b,t), t < T-1, predicts the token at (b,t+1); t = T-1 predicts nothing.
 * - losses[b,t] = -log softmax(logits[b,t])[ids[b,t+1]]: the "ruler" loss, for every t < T-1,
 *   trained or not (prompt/response curves, heatmap). losses[b,T-1] = 0. The op sees no docIds,
 *   so the ruler loss is also computed where the next token is padding; the reductions drop those
 *   positions (role 0), see lossReductions.
 * - trained(b,t) iff labels[b,t+1] != -100. A trained label must equal ids[b,t+1] (HF: labels are
 *   input_ids with -100 holes), so the objective can be reduced from `losses`.
 * - dlogits[b,t,:] = trained ? weights[b,t+1] * seqScale[b] * (softmax - onehot(label)) : exactly 0.
 * The objective sum_trained weights*seqScale*losses is lossReductions(...).objective.
 */
export function crossEntropyForward(
  losses: Float64Array, dlogits: Float64Array,
  logits: Float64Array, ids: Int32Array, labels: Int32Array, weights: Float64Array, seqScale: Float64Array,
  B: number, T: number, V: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = b * T + t;
      const row = n * V;
      if (t === T - 1) {
        losses[n] = 0;
        dlogits.fill(0, row, row + V);
        continue;
      }
      const target = ids[n + 1];
      const label = labels[n + 1];
      const trained = label !== IGNORE_INDEX;
      if (trained && label !== target) {
        throw new Error(`crossEntropyForward: label ${label} at sequence ${b}, position ${t + 1} is neither -100 nor the input id ${target}. Labels must be the input ids with -100 where nothing is trained (Hugging Face convention).`);
      }
      let max = -Infinity;
      for (let i = 0; i < V; i++) if (logits[row + i] > max) max = logits[row + i];
      let sum = 0;
      for (let i = 0; i < V; i++) sum += Math.exp(logits[row + i] - max);
      const lse = max + Math.log(sum);
      losses[n] = lse - logits[row + target];
      if (!trained) {
        dlogits.fill(0, row, row + V);
        continue;
      }
      const scale = weights[n + 1] * seqScale[b];
      for (let i = 0; i < V; i++) {
        const p = Math.exp(logits[row + i] - lse);
        dlogits[row + i] = scale * (p - (i === label ? 1 : 0));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// loss reductions: the objective and the prompt/response curves (normalisation: src/spec/loss.ts)
// ---------------------------------------------------------------------------------------------

/** Sums over one micro-batch, from crossEntropyForward's losses. */
export interface LossReductions {
  /** sum over trained of weights*seqScale*losses: this micro-batch's share of the objective. */
  objective: number;
  /** sum over trained of weights (unscaled). */
  trainedWeight: number;
  /** number of trained positions. */
  trainedCount: number;
  /** sum over trained of weights*losses (unscaled): trainedLossSum / trainedWeight is the weighted mean. */
  trainedLossSum: number;
  /** ruler loss summed over positions whose target is a prompt token (role 1), trained or not. */
  promptLossSum: number;
  promptCount: number;
  /** ruler loss summed over positions whose target is a response token (role 2), trained or not. */
  responseLossSum: number;
  responseCount: number;
}

/**
 * losses (N), labels (N), weights (N), seqScale (B), roles (N) aligned with losses: roles[b,t]
 * describes the target ids[b,t+1] (0 none/padding, 1 prompt, 2 response; roles[b,T-1] = 0).
 */
export function lossReductions(
  losses: Float64Array, labels: Int32Array, weights: Float64Array, seqScale: Float64Array,
  roles: Int32Array | Uint8Array, B: number, T: number,
): LossReductions {
  const r: LossReductions = {
    objective: 0, trainedWeight: 0, trainedCount: 0, trainedLossSum: 0,
    promptLossSum: 0, promptCount: 0, responseLossSum: 0, responseCount: 0,
  };
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      const n = b * T + t;
      if (labels[n + 1] !== IGNORE_INDEX) {
        const w = weights[n + 1];
        r.objective += w * seqScale[b] * losses[n];
        r.trainedWeight += w;
        r.trainedCount++;
        r.trainedLossSum += w * losses[n];
      }
      if (roles[n] === ROLE_PROMPT) { r.promptLossSum += losses[n]; r.promptCount++; }
      else if (roles[n] === ROLE_RESPONSE) { r.responseLossSum += losses[n]; r.responseCount++; }
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// optimizer
// ---------------------------------------------------------------------------------------------

/**
 * One AdamW step on n elements (torch.optim.AdamW semantics), step = 1-based update count.
 * g = grad * gradScale (the clip factor);  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 * p -= lr * wd * p (decoupled decay, from the old p);  p -= lr * (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps).
 * param, m, v updated in place; grad read only.
 */
export function adamwStep(
  param: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, n: number,
  lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number, gradScale: number,
): void {
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < n; i++) {
    const g = grad[i] * gradScale;
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const p = param[i] * (1 - lr * weightDecay);
    param[i] = p - (lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
  }
}

/** Global L2 norm over all parameter gradients (one flat array holds them all). */
export function gradNorm(grads: Float64Array, n: number): number {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += grads[i] * grads[i];
  return Math.sqrt(ss);
}

/** torch.nn.utils.clip_grad_norm_'s factor: min(1, maxNorm / (norm + 1e-6)). */
export function clipFactor(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}
