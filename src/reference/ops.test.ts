/**
 * Every reference op's backward against central finite differences in Float64, on small odd
 * shapes. Each check uses the scalar f = sum(r * out) for a random r, so dout = r.
 * Tolerance |a − n| ≤ 1e-8 + 1e-6·|n| with h = 1e-5 (truncation ~h², round-off ~1e-16/h).
 */
import { describe, expect, it } from 'vitest';
import {
  adamwStep, attentionBackward, attentionForward, clipFactor, crossEntropyForward,
  embeddingBackward, embeddingForward, gradNorm, lossReductions, matmulBackward, matmulForward,
  residualBackward, residualForward, residualRmsnormBackward, residualRmsnormForward, rmsnormBackward, rmsnormForward, ropeBackward, ropeForward,
  swigluBackward, swigluForward,
} from './ops';
import { IGNORE_INDEX } from '../spec/loss';
import { dot, formatCheck, gradCheck, type GradCheckResult } from './gradcheck';
import { makeRng, randn } from '../spec/rng';

function expectPass(r: GradCheckResult): void {
  console.log(formatCheck(r));
  expect(r.failures, formatCheck(r)).toBe(0);
}

describe('reference ops: backward vs finite differences', () => {
  const rng = makeRng(1234);

  it('embedding', () => {
    const N = 7, C = 5, V = 11;
    const ids = Int32Array.from([3, 0, 10, 3, 7, 3, 1]); // repeats accumulate
    const wte = randn(rng, V * C), r = randn(rng, N * C), out = new Float64Array(N * C);
    const f = () => { embeddingForward(out, ids, wte, N, C); return dot(r, out); };
    const pre = randn(rng, V * C);
    const dwte = pre.slice();
    embeddingBackward(dwte, r, ids, N, C);
    const added = dwte.map((x, i) => x - pre[i]); // += onto existing gradient
    expectPass(gradCheck('embeddingBackward dwte', f, wte, added));
    expect(() => embeddingForward(out, Int32Array.from([0, 0, 0, 0, 0, 0, 11]), wte, N, C)).toThrow(/token id 11 at row 6/);
  });

  it('rmsnorm', () => {
    const N = 5, C = 7, eps = 1e-5;
    const x = randn(rng, N * C), w = randn(rng, C), r = randn(rng, N * C);
    const out = new Float64Array(N * C), rstd = new Float64Array(N);
    const f = () => { rmsnormForward(out, rstd, x, w, N, C, eps); return dot(r, out); };
    f();
    const dx = randn(rng, N * C); // garbage: dx is overwritten
    const dw = new Float64Array(C);
    rmsnormBackward(dx, dw, r, x, w, rstd, N, C);
    expectPass(gradCheck('rmsnormBackward dx', f, x, dx));
    expectPass(gradCheck('rmsnormBackward dw', f, w, dw));
  });

  it('residualRmsnorm (h goes to the norm and to the skip connection)', () => {
    const N = 4, C = 6, eps = 1e-5;
    const a = randn(rng, N * C), b = randn(rng, N * C), w = randn(rng, C), r = randn(rng, N * C), s = randn(rng, N * C);
    const h = new Float64Array(N * C), out = new Float64Array(N * C), rstd = new Float64Array(N);
    // s is the gradient reaching h through the skip connection: the loss sees h directly too.
    const f = () => { residualRmsnormForward(h, out, rstd, a, b, w, N, C, eps); return dot(r, out) + dot(s, h); };
    f();
    const dh = randn(rng, N * C); // garbage: dh is overwritten
    const dw = new Float64Array(C);
    residualRmsnormBackward(dh, dw, r, s, h, w, rstd, N, C);
    expectPass(gradCheck('residualRmsnormBackward dh = da', f, a, dh));
    expectPass(gradCheck('residualRmsnormBackward dh = db', f, b, dh));
    expectPass(gradCheck('residualRmsnormBackward dw', f, w, dw));
  });

  it('matmul (with bias, accumulateDx both ways, no bias)', () => {
    const N = 5, I = 7, O = 3;
    const x = randn(rng, N * I), w = randn(rng, O * I), bias = randn(rng, O), r = randn(rng, N * O);
    const out = new Float64Array(N * O);
    const f = () => { matmulForward(out, x, w, bias, N, I, O); return dot(r, out); };
    const dx = randn(rng, N * I), dw = new Float64Array(O * I), db = new Float64Array(O);
    matmulBackward(dx, dw, db, r, x, w, N, I, O, false);
    expectPass(gradCheck('matmulBackward dx', f, x, dx));
    expectPass(gradCheck('matmulBackward dw', f, w, dw));
    expectPass(gradCheck('matmulBackward dbias', f, bias, db));

    const pre = randn(rng, N * I);
    const dxAcc = pre.slice();
    matmulBackward(dxAcc, new Float64Array(O * I), null, r, x, w, N, I, O, true);
    for (let i = 0; i < N * I; i++) expect(dxAcc[i]).toBeCloseTo(pre[i] + dx[i], 14);

    const fNoBias = () => { matmulForward(out, x, w, null, N, I, O); return dot(r, out); };
    const dwNoBias = new Float64Array(O * I);
    matmulBackward(new Float64Array(N * I), dwNoBias, null, r, x, w, N, I, O, false);
    expectPass(gradCheck('matmulBackward dw (no bias)', fNoBias, w, dwNoBias));
  });

  it('rope', () => {
    const B = 2, T = 3, H = 3, hs = 6, theta = 10000;
    const positions = Int32Array.from([0, 1, 2, 17, 5, 49]);
    const n = B * T * H * hs;
    const x = randn(rng, n), r = randn(rng, n), out = new Float64Array(n);
    const f = () => { ropeForward(out, x, positions, B, T, H, hs, theta); return dot(r, out); };
    f();
    // Position 0 is the identity; every rotation keeps the (j, j+hs/2) pair's length.
    for (let i = 0; i < H * hs; i++) expect(out[i]).toBe(x[i]);
    for (let i = 0; i < n; i += hs) {
      for (let j = 0; j < hs / 2; j++) {
        expect(Math.hypot(out[i + j], out[i + j + hs / 2])).toBeCloseTo(Math.hypot(x[i + j], x[i + j + hs / 2]), 13);
      }
    }
    const dx = new Float64Array(n);
    ropeBackward(dx, r, positions, B, T, H, hs, theta);
    expectPass(gradCheck('ropeBackward dx', f, x, dx));
  });

  it('attention (GQA, causal, padding, packed documents)', () => {
    const B = 2, T = 7, NH = 6, NKV = 2, hs = 3;
    // Sequence 0: one document then 2 padding tokens. Sequence 1: two packed documents.
    const docIds = Int32Array.from([0, 0, 0, 0, 0, -1, -1, 4, 4, 4, 9, 9, 9, 9]);
    const q = randn(rng, B * T * NH * hs), k = randn(rng, B * T * NKV * hs), v = randn(rng, B * T * NKV * hs);
    const r = randn(rng, B * T * NH * hs);
    const out = new Float64Array(B * T * NH * hs), att = new Float64Array(B * NH * T * T);
    const f = () => { attentionForward(out, att, q, k, v, docIds, B, T, NH, NKV, hs); return dot(r, out); };
    f();
    for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
      const row = att.subarray(((b * NH + h) * T + t) * T, ((b * NH + h) * T + t + 1) * T);
      const dt = docIds[b * T + t];
      let sum = 0;
      for (let s = 0; s < T; s++) {
        const allowed = s <= t && dt >= 0 && docIds[b * T + s] === dt;
        if (!allowed) expect(row[s]).toBe(0);
        sum += row[s];
      }
      expect(sum).toBeCloseTo(dt >= 0 ? 1 : 0, 14);
      if (dt < 0) for (let i = 0; i < hs; i++) expect(out[((b * T + t) * NH + h) * hs + i]).toBe(0);
    }
    // Grouped-query attention equals multi-head attention with each kv head repeated NH/NKV times.
    const kRep = new Float64Array(B * T * NH * hs), vRep = new Float64Array(B * T * NH * hs);
    for (let n = 0; n < B * T; n++) for (let h = 0; h < NH; h++) {
      const src = (n * NKV + Math.floor(h / (NH / NKV))) * hs;
      kRep.set(k.subarray(src, src + hs), (n * NH + h) * hs);
      vRep.set(v.subarray(src, src + hs), (n * NH + h) * hs);
    }
    const outMha = new Float64Array(out.length);
    attentionForward(outMha, new Float64Array(att.length), q, kRep, vRep, docIds, B, T, NH, NH, hs);
    for (let i = 0; i < out.length; i++) expect(outMha[i]).toBeCloseTo(out[i], 14);

    const dq = randn(rng, q.length), dk = randn(rng, k.length), dv = randn(rng, v.length); // overwritten
    attentionBackward(dq, dk, dv, r, q, k, v, att, docIds, B, T, NH, NKV, hs);
    expectPass(gradCheck('attentionBackward dq', f, q, dq));
    expectPass(gradCheck('attentionBackward dk', f, k, dk));
    expectPass(gradCheck('attentionBackward dv', f, v, dv));
  });

  it('swiglu', () => {
    const n = 11;
    const gate = randn(rng, n, 2), up = randn(rng, n), r = randn(rng, n), out = new Float64Array(n);
    const f = () => { swigluForward(out, gate, up, n); return dot(r, out); };
    const dgate = new Float64Array(n), dup = new Float64Array(n);
    swigluBackward(dgate, dup, r, gate, up, n);
    expectPass(gradCheck('swigluBackward dgate', f, gate, dgate));
    expectPass(gradCheck('swigluBackward dup', f, up, dup));
  });

  it('residual (gradients accumulate)', () => {
    const n = 9;
    const a = randn(rng, n), b = randn(rng, n), r = randn(rng, n), out = new Float64Array(n);
    const f = () => { residualForward(out, a, b, n); return dot(r, out); };
    const preA = randn(rng, n), preB = randn(rng, n);
    const da = preA.slice(), db = preB.slice();
    residualBackward(da, db, r, n);
    expectPass(gradCheck('residualBackward da (+=)', f, a, da.map((x, i) => x - preA[i])));
    expectPass(gradCheck('residualBackward db (+=)', f, b, db.map((x, i) => x - preB[i])));
  });

  it('crossEntropy: dlogits is the gradient of the objective; masked rows exactly 0', () => {
    const B = 2, T = 5, V = 7, N = B * T;
    const ids = Int32Array.from({ length: N }, () => rng.int(0, V));
    const labels = ids.slice();
    for (const n of [0, 2, 3, 5, 9]) labels[n] = IGNORE_INDEX; // rows 1, 2, 8 untrained; rows 4, 9 are last positions
    const weights = Float64Array.from({ length: N }, () => 0.1 + rng.uniform());
    const seqScale = Float64Array.from([0.3, 0.7]);
    const logits = randn(rng, N * V, 2);
    const losses = new Float64Array(N), dlogits = new Float64Array(N * V);
    const roles = new Uint8Array(N);
    const f = () => {
      crossEntropyForward(losses, dlogits, logits, ids, labels, weights, seqScale, B, T, V);
      return lossReductions(losses, labels, weights, seqScale, roles, B, T).objective;
    };
    f();
    const dl = dlogits.slice();
    expectPass(gradCheck('crossEntropyForward dlogits', f, logits, dl));
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      const n = b * T + t;
      const row = dl.subarray(n * V, n * V + V);
      if (t === T - 1 || labels[n + 1] === IGNORE_INDEX) {
        for (const x of row) expect(Object.is(x, 0)).toBe(true); // exactly +0
      }
      if (t === T - 1) { expect(losses[n]).toBe(0); continue; }
      // the ruler loss, for every t < T-1, trained or not
      const lr = logits.subarray(n * V, n * V + V);
      const lse = Math.log(lr.reduce((s, z) => s + Math.exp(z), 0));
      expect(losses[n]).toBeCloseTo(lse - lr[ids[n + 1]], 12);
    }
    const bad = labels.slice();
    bad[1] = (ids[1] + 1) % V;
    expect(() => crossEntropyForward(losses, dlogits, logits, ids, bad, weights, seqScale, B, T, V)).toThrow(/sequence 0, position 1/);
  });
});

describe('reference ops: optimizer', () => {
  it('adamwStep: first step is p(1 - lr·wd) - lr·g/(|g|+eps); second step matches the textbook formula', () => {
    const n = 4, lr = 0.01, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, scale = 0.5;
    const p0 = Float64Array.from([0.3, -1.2, 0.0, 2.0]);
    const g = Float64Array.from([0.4, -0.2, 1e-3, 0.0]);
    const p = p0.slice(), m = new Float64Array(n), v = new Float64Array(n);
    adamwStep(p, g, m, v, n, lr, b1, b2, eps, wd, 1, scale);
    for (let i = 0; i < n; i++) {
      const gi = g[i] * scale;
      expect(p[i]).toBeCloseTo(p0[i] * (1 - lr * wd) - lr * gi / (Math.abs(gi) + eps), 15);
    }
    const p1 = p.slice(), m1 = m.slice(), v1 = v.slice();
    const g2 = Float64Array.from([-0.1, 0.3, 0.2, 0.05]);
    adamwStep(p, g2, m, v, n, lr, b1, b2, eps, wd, 2, 1);
    for (let i = 0; i < n; i++) {
      const mi = b1 * m1[i] + (1 - b1) * g2[i];
      const vi = b2 * v1[i] + (1 - b2) * g2[i] ** 2;
      const mhat = mi / (1 - b1 ** 2), vhat = vi / (1 - b2 ** 2);
      expect(p[i]).toBeCloseTo(p1[i] - lr * wd * p1[i] - lr * mhat / (Math.sqrt(vhat) + eps), 14);
    }
  });

  it('gradNorm and clipFactor', () => {
    expect(gradNorm(Float64Array.from([3, 4, 99]), 2)).toBe(5);
    expect(clipFactor(5, 1)).toBe(1 / (5 + 1e-6));
    expect(clipFactor(0.5, 1)).toBe(1);
  });
});
