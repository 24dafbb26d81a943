/**
 * Every WGSL op, forward and backward, against the Float64 reference op of the same name, on small
 * odd shapes (not multiples of the workgroup size 64 or the matmul tile 16). Tolerance
 * |gpu - ref| <= 1e-5 + 1e-3*|ref| unless a comment says why it is looser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ref from '../reference/ops';
import { IGNORE_INDEX, ROLE_PROMPT, ROLE_RESPONSE, normalisationScales } from '../spec/loss';
import { makeRng, randn } from '../spec/rng';
import { testGpu, compare, type TestGpu } from './ops/testkit';
import { embeddingBackward, embeddingForward } from './ops/embedding';
import { rmsnormBackward, rmsnormForward } from './ops/rmsnorm';
import { describeTiles, MATMUL_TILE_CANDIDATES, matmulBackward, matmulForward, matmulNaiveBackward, matmulNaiveForward } from './ops/matmul';
import { ropeBackward, ropeForward } from './ops/rope';
import { attentionBackward, attentionForward } from './ops/attention';
import { swigluBackward, swigluForward } from './ops/swiglu';
import { residualBackward, residualForward } from './ops/residual';
import { residualRmsnormBackward, residualRmsnormForward } from './ops/residualRmsnorm';
import { packF16Forward } from './ops/packF16';
import { CE_STATS } from './ops/crossEntropy';
import { lmHeadLossBackward, lmHeadLossForward } from './ops/lmHead';
import { decodeLossSums, LOSS_SUMS, lossReductions } from './ops/lossReductions';
import { decodeStepState, gradNorm, STEP_STATE_WORDS } from './ops/gradNorm';
import { adamwStep, hyperData, HYPER_BYTES, type AdamWSettings } from './ops/adamw';
import { readTensors } from '../gpu/buffers';
import { hasSubgroups } from '../gpu/kernel';
import { acquireNodeDevice } from '../gpu/node-device';

let g: TestGpu;
let gDefault: TestGpu;
const rng = makeRng(1234);

beforeAll(async () => {
  g = gDefault = await testGpu();
});

/** Prefix of printed comparisons: which row-reduction path ran ('' outside reductionPaths). */
let path = '';

function expectClose(name: string, gpu: ArrayLike<number>, want: ArrayLike<number>, atol = 1e-5, rtol = 1e-3) {
  const r = compare(`${path}${name}`, gpu, want, atol, rtol);
  expect(r.bad, `${name}: ${r.bad} elements out of tolerance (first at ${r.firstBad})`).toBe(0);
}

const ints = (n: number, lo: number, hi: number) => Int32Array.from({ length: n }, () => rng.int(lo, hi));

describe('embedding', () => {
  it('forward gathers and backward scatter-adds (repeated ids accumulate)', async () => {
    const N = 71, C = 13, V = 9; // few ids: many repeats exercise the race-free scatter
    const ids = ints(N, 0, V);
    const wte = randn(rng, V * C);
    const dout = randn(rng, N * C);
    const dwte0 = randn(rng, V * C);
    const out = g.tensor('out', [N, C]);
    const dwte = g.tensor('dwte', [V, C], dwte0);
    const tIds = g.tensor('ids', [N], ids);
    await g.run([
      ...embeddingForward(g.ctx, out, tIds, g.tensor('wte', [V, C], wte), N, C),
      ...embeddingBackward(g.ctx, dwte, g.tensor('dout', [N, C], dout), tIds, N, C),
    ]);
    const wantOut = new Float64Array(N * C);
    ref.embeddingForward(wantOut, ids, wte, N, C);
    const wantD = Float64Array.from(dwte0);
    ref.embeddingBackward(wantD, dout, ids, N, C);
    expectClose('embeddingForward out', await g.read(out), wantOut);
    expectClose('embeddingBackward dwte', await g.read(dwte), wantD);
  });
});

// Whether this adapter offers subgroups (SwiftShader: yes, size 4); known before the suites are declared.
const SUBGROUPS = hasSubgroups((await acquireNodeDevice()).device);

/**
 * Declares `body` once per row-reduction path (workgroup_sum / workgroup_max): subgroup operations
 * where the adapter has them, and the workgroup-memory fallback always. Both meet the same tolerance.
 */
function reductionPaths(body: () => void) {
  for (const subgroups of [true, false]) {
    const name = subgroups ? 'subgroup reductions' : 'workgroup-memory reductions';
    describe.skipIf(subgroups && !SUBGROUPS)(name, () => {
      beforeAll(async () => {
        g = await testGpu(64, subgroups);
        expect(g.ctx.kernels.subgroups).toBe(subgroups);
        path = `[${subgroups ? 'subgroup' : 'wg-memory'}] `;
      });
      afterAll(() => {
        g = gDefault;
        path = '';
      });
      body();
    });
  }
}

reductionPaths(() => describe('rmsnorm', () => {
  it('forward and backward', async () => {
    const N = 19, C = 77, eps = 1e-5; // C > WG exercises the strided row loop
    const x = randn(rng, N * C, 2);
    const w = randn(rng, C);
    const dout = randn(rng, N * C);
    const dw0 = randn(rng, C);
    const tx = g.tensor('x', [N, C], x), tw = g.tensor('w', [C], w);
    const out = g.tensor('out', [N, C]), rstd = g.tensor('rstd', [N]);
    const dx = g.tensor('dx', [N, C], randn(rng, N * C)), dw = g.tensor('dw', [C], dw0);
    await g.run([
      ...rmsnormForward(g.ctx, out, rstd, tx, tw, N, C, eps),
      ...rmsnormBackward(g.ctx, dx, dw, g.tensor('dout', [N, C], dout), tx, tw, rstd, N, C),
    ]);
    const wOut = new Float64Array(N * C), wRstd = new Float64Array(N), wDx = new Float64Array(N * C), wDw = Float64Array.from(dw0);
    ref.rmsnormForward(wOut, wRstd, x, w, N, C, eps);
    ref.rmsnormBackward(wDx, wDw, dout, x, w, wRstd, N, C);
    expectClose('rmsnormForward out', await g.read(out), wOut);
    expectClose('rmsnormForward rstd', await g.read(rstd), wRstd);
    expectClose('rmsnormBackward dx', await g.read(dx), wDx);
    expectClose('rmsnormBackward dw', await g.read(dw), wDw);
  });

  it('forward and backward at workgroup sizes 2 (below SwiftShader\'s subgroup size 4) and 256', async () => {
    const N = 5, C = 301, eps = 1e-6;
    const x = randn(rng, N * C), w = randn(rng, C), dout = randn(rng, N * C);
    const wOut = new Float64Array(N * C), wRstd = new Float64Array(N), wDx = new Float64Array(N * C), wDw = new Float64Array(C);
    ref.rmsnormForward(wOut, wRstd, x, w, N, C, eps);
    ref.rmsnormBackward(wDx, wDw, dout, x, w, wRstd, N, C);
    for (const wg of [2, 256]) {
      const h = await testGpu(wg, g.ctx.kernels.subgroups);
      const tx = h.tensor('x', [N, C], x), tw = h.tensor('w', [C], w);
      const out = h.tensor('out', [N, C]), rstd = h.tensor('rstd', [N]), dx = h.tensor('dx', [N, C]), dw = h.tensor('dw', [C]);
      await h.run([
        ...rmsnormForward(h.ctx, out, rstd, tx, tw, N, C, eps),
        ...rmsnormBackward(h.ctx, dx, dw, h.tensor('dout', [N, C], dout), tx, tw, rstd, N, C),
      ]);
      expectClose(`rmsnormForward out (WG ${wg})`, await h.read(out), wOut);
      expectClose(`rmsnormBackward dx (WG ${wg})`, await h.read(dx), wDx);
    }
  });
}));

reductionPaths(() => describe('residualRmsnorm', () => {
  // C 301: the scalar kernels; C 300: the vec4 ones (C a multiple of 4).
  for (const C of [301, 300]) it(`forward (h = a + b, then the norm) and backward (dh = dskip + the norm's dx, dw +=) at workgroup sizes 2, 64 and 256 (C ${C})`, async () => {
    const N = 5, eps = 1e-6;
    const a = randn(rng, N * C), b = randn(rng, N * C), w = randn(rng, C), dout = randn(rng, N * C), dskip = randn(rng, N * C), dw0 = randn(rng, C);
    const wH = new Float64Array(N * C), wOut = new Float64Array(N * C), wRstd = new Float64Array(N), wDh = new Float64Array(N * C), wDw = Float64Array.from(dw0);
    ref.residualRmsnormForward(wH, wOut, wRstd, a, b, w, N, C, eps);
    ref.residualRmsnormBackward(wDh, wDw, dout, dskip, wH, w, wRstd, N, C);
    for (const wg of [2, 64, 256]) {
      const k = await testGpu(wg, g.ctx.kernels.subgroups);
      const tw = k.tensor('w', [C], w);
      const h = k.tensor('h', [N, C]), out = k.tensor('out', [N, C]), rstd = k.tensor('rstd', [N]);
      const dh = k.tensor('dh', [N, C], randn(rng, N * C)), dw = k.tensor('dw', [C], dw0);
      const ds = [
        ...residualRmsnormForward(k.ctx, h, out, rstd, k.tensor('a', [N, C], a), k.tensor('b', [N, C], b), tw, N, C, eps),
        ...residualRmsnormBackward(k.ctx, dh, dw, k.tensor('dout', [N, C], dout), k.tensor('dskip', [N, C], dskip), h, tw, rstd, N, C),
      ];
      expect(ds.slice(0, 2).map((d) => d.label.split('[')[0])).toEqual(C % 4 ? ['ResidualRmsnormForward', 'ResidualRmsnormBackward'] : ['ResidualRmsnormForward4', 'ResidualRmsnormBackward4']);
      await k.run(ds);
      expectClose(`residualRmsnormForward h (C ${C}, WG ${wg})`, await k.read(h), wH);
      expectClose(`residualRmsnormForward out (C ${C}, WG ${wg})`, await k.read(out), wOut);
      expectClose(`residualRmsnormForward rstd (C ${C}, WG ${wg})`, await k.read(rstd), wRstd);
      expectClose(`residualRmsnormBackward dh (C ${C}, WG ${wg})`, await k.read(dh), wDh);
      expectClose(`residualRmsnormBackward dw (C ${C}, WG ${wg})`, await k.read(dw), wDw);
    }
  });
}));

describe('matmul', () => {
  for (const withBias of [true, false]) {
    for (const accumulateDx of [false, true]) {
      it(`forward and backward (bias ${withBias}, accumulateDx ${accumulateDx})`, async () => {
        const N = 21, I = 37, O = 29;
        const x = randn(rng, N * I), w = randn(rng, O * I), b = randn(rng, O), dout = randn(rng, N * O);
        const dx0 = randn(rng, N * I), dw0 = randn(rng, O * I), db0 = randn(rng, O);
        const tx = g.tensor('x', [N, I], x), tw = g.tensor('w', [O, I], w);
        const out = g.tensor('out', [N, O]);
        const dx = g.tensor('dx', [N, I], dx0), dw = g.tensor('dw', [O, I], dw0), db = g.tensor('db', [O], db0);
        await g.run([
          ...matmulForward(g.ctx, out, tx, tw, withBias ? g.tensor('b', [O], b) : null, N, I, O),
          ...matmulBackward(g.ctx, dx, dw, withBias ? db : null, g.tensor('dout', [N, O], dout), tx, tw, N, I, O, accumulateDx),
        ]);
        const wOut = new Float64Array(N * O), wDx = Float64Array.from(dx0), wDw = Float64Array.from(dw0), wDb = Float64Array.from(db0);
        ref.matmulForward(wOut, x, w, withBias ? b : null, N, I, O);
        ref.matmulBackward(wDx, wDw, withBias ? wDb : null, dout, x, w, N, I, O, accumulateDx);
        expectClose('matmulForward out', await g.read(out), wOut);
        expectClose('matmulBackward dx', await g.read(dx), wDx);
        expectClose('matmulBackward dw', await g.read(dw), wDw);
        if (withBias) expectClose('matmulBackward dbias', await g.read(db), wDb);
        else expectClose('matmulBackward dbias untouched', await g.read(db), Float32Array.from(db0), 0, 0);
      });
    }
  }

  // Every tile shape the autotune may pick, on shapes spanning several tiles with partial edge
  // tiles in M, P and K: 70 x 45 x 133 (no dimension a multiple of 4: scalar loads) and
  // 68 x 44 x 132 (all multiples of 4: the direct kernels' vec4 path, edges clamped; 4 or 12 past a
  // multiple of 16, so matmul_direct4's 16 x 16 blocks end partly outside in every product) and
  // 4 x 8 x 12 (smaller than one block).
  for (const tiles of MATMUL_TILE_CANDIDATES) for (const [N, I, O] of [[70, 45, 133], [68, 44, 132], [4, 8, 12]]) {
    it(`tiled kernel ${describeTiles(tiles)}, ${N}x${I}x${O}: forward (bias) and backward (accumulate) vs the reference`, async () => {
      const ctx = { ...g.ctx, matmulTiles: tiles };
      const x = randn(rng, N * I), w = randn(rng, O * I), b = randn(rng, O), dout = randn(rng, N * O);
      const dx0 = randn(rng, N * I), dw0 = randn(rng, O * I);
      const tx = g.tensor('x', [N, I], x), tw = g.tensor('w', [O, I], w);
      const out = g.tensor('out', [N, O]), dx = g.tensor('dx', [N, I], dx0), dw = g.tensor('dw', [O, I], dw0);
      const ds = [
        ...matmulForward(ctx, out, tx, tw, g.tensor('b', [O], b), N, I, O),
        ...matmulBackward(ctx, dx, dw, null, g.tensor('dout', [N, O], dout), tx, tw, N, I, O, true),
      ];
      const aligned = N % 4 === 0 && I % 4 === 0 && O % 4 === 0;
      for (const d of ds) expect(d.pipeline.label.toLowerCase().includes('direct4'), `${d.label}: ${d.pipeline.label}`).toBe(tiles.bk === 0 && aligned);
      await g.run(ds);
      const wOut = new Float64Array(N * O), wDx = Float64Array.from(dx0), wDw = Float64Array.from(dw0);
      ref.matmulForward(wOut, x, w, b, N, I, O);
      ref.matmulBackward(wDx, wDw, null, dout, x, w, N, I, O, true);
      expectClose(`tiled ${tiles.wgx}x${tiles.wgy}/${tiles.bk} out`, await g.read(out), wOut);
      expectClose(`tiled ${tiles.wgx}x${tiles.wgy}/${tiles.bk} dx`, await g.read(dx), wDx);
      expectClose(`tiled ${tiles.wgx}x${tiles.wgy}/${tiles.bk} dw`, await g.read(dw), wDw);
    });
  }

  it('tiled kernel agrees with the naive kernel (the GPU oracle) on a model-sized product', async () => {
    const N = 256, I = 192, O = 300;
    const x = randn(rng, N * I), w = randn(rng, O * I), dout = randn(rng, N * O);
    const tx = g.tensor('x', [N, I], x), tw = g.tensor('w', [O, I], w), td = g.tensor('dout', [N, O], dout);
    const [out, dx, dw] = [g.tensor('out', [N, O]), g.tensor('dx', [N, I]), g.tensor('dw', [O, I])];
    const [nOut, nDx, nDw] = [g.tensor('nout', [N, O]), g.tensor('ndx', [N, I]), g.tensor('ndw', [O, I])];
    await g.run([
      ...matmulForward(g.ctx, out, tx, tw, null, N, I, O),
      ...matmulBackward(g.ctx, dx, dw, null, td, tx, tw, N, I, O, false),
      ...matmulNaiveForward(g.ctx, nOut, tx, tw, null, N, I, O),
      ...matmulNaiveBackward(g.ctx, nDx, nDw, td, tx, tw, N, I, O, false),
    ]);
    // Two f32 sums of up to 256 terms in different orders: |diff| stays near 1e-5 * sqrt(K) * |terms|.
    expectClose('tiled vs naive out', await g.read(out), await g.read(nOut), 1e-4, 1e-4);
    expectClose('tiled vs naive dx', await g.read(dx), await g.read(nDx), 1e-4, 1e-4);
    expectClose('tiled vs naive dw', await g.read(dw), await g.read(nDw), 1e-4, 1e-4);
    const wOut = new Float64Array(N * O);
    ref.matmulForward(wOut, x, w, null, N, I, O);
    expectClose('naive out vs reference', await g.read(nOut), wOut);
  });
});

describe('packF16 and matmul with f16 weights', () => {
  it('packF16Forward rounds to a neighbouring f16 value (exact where representable), clamps, and packs two per word', async () => {
    // Odd n (the last word's high half is 0), exact values, values beyond f16's range, subnormals.
    const special = [0, -0, 0.5, -2, 1024, 65504, -65504, 70000, -1e9, 2 ** -24, 3 * 2 ** -25, 1e-9, 1 / 3, 0.1];
    const x = Float64Array.from([...special, ...randn(rng, 51, 3)]);
    const n = x.length;
    const out = g.tensorF16('x16', [n]);
    await g.run(packF16Forward(g.ctx, out, g.tensor('x', [n], x)));
    const got = await g.readF16(out);
    const want = new Float64Array(n);
    ref.packF16Forward(want, Float64Array.from(x, (v) => Math.fround(v)), n);
    for (let i = 0; i < n; i++) {
      const v = Math.min(ref.F16_MAX, Math.max(-ref.F16_MAX, Math.fround(x[i])));
      expect(ref.roundF16(got[i]), `x[${i}] = ${x[i]}: ${got[i]} is an f16 value`).toBe(got[i]);
      // WGSL lets the conversion round either way when a value falls between two f16 values.
      expect(Math.abs(got[i] - v), `x[${i}] = ${x[i]} -> ${got[i]}`).toBeLessThan(ref.f16Quantum(v));
      if (ref.roundF16(v) === v) expect(got[i], `x[${i}] = ${x[i]} is exact in f16`).toBe(v);
      expect([0, ref.f16Quantum(v)]).toContain(Math.abs(got[i] - want[i]));
    }
    expect(got[7]).toBe(65504);
    expect(got[8]).toBe(-65504);
    const words = new Uint32Array((await readTensors(g.gpu.device, [out]))[0]);
    expect(words.length).toBe(Math.ceil(n / 2));
    expect(words[words.length - 1] >>> 16, 'padding half of the last word').toBe(0);
  });

  it('rejects an f16 tensor where an op reads f32, by name', () => {
    const t = g.tensorF16('w16', [4, 4]);
    expect(() => rmsnormForward(g.ctx, g.tensor('o', [1, 4]), g.tensor('r', [1]), g.tensor('x', [1, 4]), g.tensorF16('w', [4]), 1, 4, 1e-5)).toThrow(/rmsnormForward: w 'w' is stored as f16/);
    expect(() => matmulNaiveForward(g.ctx, g.tensor('o', [2, 4]), g.tensor('x', [2, 4]), t, null, 2, 4, 4)).toThrow(/matmulNaiveForward: w 'w16' is stored as f16/);
  });

  // Forward and dx read the f16 copy; dw reads only f32 activations. The reference runs on the
  // decoded f16 values, so the comparison keeps the f32 kernel tolerance.
  for (const tiles of MATMUL_TILE_CANDIDATES) for (const [N, I, O] of [[70, 45, 133], [68, 44, 132]]) {
    it(`f16 weights, ${describeTiles(tiles)}, ${N}x${I}x${O}: forward (bias) and backward (accumulate) vs the reference on the f16 values`, async () => {
      const ctx = { ...g.ctx, matmulTiles: tiles };
      const x = randn(rng, N * I), w = randn(rng, O * I), b = randn(rng, O), dout = randn(rng, N * O);
      const dx0 = randn(rng, N * I), dw0 = randn(rng, O * I);
      const tx = g.tensor('x', [N, I], x), w16 = g.tensorF16('w16', [O, I]);
      await g.run(packF16Forward(ctx, w16, g.tensor('w', [O, I], w)));
      const out = g.tensor('out', [N, O]), dx = g.tensor('dx', [N, I], dx0), dw = g.tensor('dw', [O, I], dw0);
      await g.run([
        ...matmulForward(ctx, out, tx, w16, g.tensor('b', [O], b), N, I, O),
        ...matmulBackward(ctx, dx, dw, null, g.tensor('dout', [N, O], dout), tx, w16, N, I, O, true),
      ]);
      const wh = await g.readF16(w16);
      let moved = 0;
      for (let i = 0; i < wh.length; i++) moved = Math.max(moved, Math.abs(wh[i] - Math.fround(w[i])));
      expect(moved, 'f16 rounding changed the weights').toBeGreaterThan(0);
      const wOut = new Float64Array(N * O), wDx = Float64Array.from(dx0), wDw = Float64Array.from(dw0);
      ref.matmulForward(wOut, x, wh, b, N, I, O);
      ref.matmulBackward(wDx, wDw, null, dout, x, wh, N, I, O, true);
      expectClose(`f16 ${tiles.wgx}x${tiles.wgy}/${tiles.bk} out`, await g.read(out), wOut);
      expectClose(`f16 ${tiles.wgx}x${tiles.wgy}/${tiles.bk} dx`, await g.read(dx), wDx);
      expectClose(`f16 ${tiles.wgx}x${tiles.wgy}/${tiles.bk} dw`, await g.read(dw), wDw);
    });
  }
});

describe('rope', () => {
  it('forward and backward match the rotate_half reference, positions up to 700', async () => {
    const B = 2, T = 5, H = 3, hs = 10, theta = 10000, P = 1024;
    g.setRope(hs, theta, P);
    const N = B * T;
    const positions = Int32Array.from({ length: N }, (_, i) => (i === 3 ? 700 : rng.int(0, 64)));
    const x = randn(rng, N * H * hs), dout = randn(rng, N * H * hs);
    const tp = g.tensor('positions', [N], positions);
    const out = g.tensor('out', [B, T, H, hs]), dx = g.tensor('dx', [B, T, H, hs]);
    await g.run([
      ...ropeForward(g.ctx, out, g.tensor('x', [B, T, H, hs], x), tp, B, T, H, hs, theta),
      ...ropeBackward(g.ctx, dx, g.tensor('dout', [B, T, H, hs], dout), tp, B, T, H, hs, theta),
    ]);
    const wOut = new Float64Array(N * H * hs), wDx = new Float64Array(N * H * hs);
    ref.ropeForward(wOut, x, positions, B, T, H, hs, theta);
    ref.ropeBackward(wDx, dout, positions, B, T, H, hs, theta);
    expectClose('ropeForward out', await g.read(out), wOut);
    expectClose('ropeBackward dx', await g.read(dx), wDx);
  });
});

describe('attention', () => {
  // hs 6: the scalar kernels; hs 8: the vec4 ones (hs a multiple of 4).
  for (const hs of [6, 8]) it(`forward and backward: causal, GQA, packed documents and padding (hs ${hs})`, async () => {
    const B = 2, T = 9, NH = 4, NKV = 2;
    // Sequence 0: two packed documents then padding; sequence 1: one document filling the row.
    const docIds = Int32Array.from([0, 0, 0, 0, 1, 1, 1, -1, -1, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    const q = randn(rng, B * T * NH * hs), k = randn(rng, B * T * NKV * hs), v = randn(rng, B * T * NKV * hs);
    const dout = randn(rng, B * T * NH * hs);
    for (let t = 7; t < 9; t++) for (let i = 0; i < NH * hs; i++) dout[(0 * T + t) * NH * hs + i] = 0; // padding rows get no gradient
    const tq = g.tensor('q', [B, T, NH, hs], q), tk = g.tensor('k', [B, T, NKV, hs], k), tv = g.tensor('v', [B, T, NKV, hs], v);
    const td = g.tensor('docIds', [B * T], docIds);
    const out = g.tensor('out', [B, T, NH, hs]), att = g.tensor('att', [B, NH, T, T], randn(rng, B * NH * T * T));
    const dq = g.tensor('dq', [B, T, NH, hs], randn(rng, B * T * NH * hs)), dk = g.tensor('dk', [B, T, NKV, hs], randn(rng, B * T * NKV * hs)), dv = g.tensor('dv', [B, T, NKV, hs], randn(rng, B * T * NKV * hs));
    await g.run([
      ...attentionForward(g.ctx, out, att, tq, tk, tv, td, B, T, NH, NKV, hs),
      ...attentionBackward(g.ctx, dq, dk, dv, g.tensor('dout', [B, T, NH, hs], dout), tq, tk, tv, att, td, B, T, NH, NKV, hs),
    ]);
    const wOut = new Float64Array(B * T * NH * hs), wAtt = new Float64Array(B * NH * T * T);
    const wDq = new Float64Array(B * T * NH * hs), wDk = new Float64Array(B * T * NKV * hs), wDv = new Float64Array(B * T * NKV * hs);
    ref.attentionForward(wOut, wAtt, q, k, v, docIds, B, T, NH, NKV, hs);
    ref.attentionBackward(wDq, wDk, wDv, dout, q, k, v, wAtt, docIds, B, T, NH, NKV, hs);
    const gAtt = await g.read(att);
    expectClose('attentionForward out', await g.read(out), wOut);
    expectClose('attentionForward att', gAtt, wAtt);
    // Masked entries are exactly 0, not merely small.
    for (let i = 0; i < wAtt.length; i++) if (wAtt[i] === 0) expect(gAtt[i]).toBe(0);
    expectClose('attentionBackward dq', await g.read(dq), wDq);
    expectClose('attentionBackward dk', await g.read(dk), wDk);
    expectClose('attentionBackward dv', await g.read(dv), wDv);
  });
});

describe('swiglu and residual', () => {
  it('swiglu forward and backward, including large |gate|', async () => {
    const n = 203;
    const gate = randn(rng, n, 3), up = randn(rng, n), dout = randn(rng, n);
    gate[0] = -120; gate[1] = 95; // exp overflow region
    const tg = g.tensor('gate', [n], gate), tu = g.tensor('up', [n], up);
    const out = g.tensor('out', [n]), dgate = g.tensor('dgate', [n]), dup = g.tensor('dup', [n]);
    await g.run([...swigluForward(g.ctx, out, tg, tu, n), ...swigluBackward(g.ctx, dgate, dup, g.tensor('dout', [n], dout), tg, tu, n)]);
    const wOut = new Float64Array(n), wDg = new Float64Array(n), wDu = new Float64Array(n);
    ref.swigluForward(wOut, gate, up, n);
    ref.swigluBackward(wDg, wDu, dout, gate, up, n);
    expectClose('swigluForward out', await g.read(out), wOut);
    expectClose('swigluBackward dgate', await g.read(dgate), wDg);
    expectClose('swigluBackward dup', await g.read(dup), wDu);
  });

  it('residual forward (=) and backward (+=)', async () => {
    const n = 131;
    const a = randn(rng, n), b = randn(rng, n), dout = randn(rng, n), da0 = randn(rng, n), db0 = randn(rng, n);
    const out = g.tensor('out', [n]), da = g.tensor('da', [n], da0), db = g.tensor('db', [n], db0);
    await g.run([...residualForward(g.ctx, out, g.tensor('a', [n], a), g.tensor('b', [n], b), n), ...residualBackward(g.ctx, da, db, g.tensor('dout', [n], dout), n)]);
    const wOut = new Float64Array(n), wDa = Float64Array.from(da0), wDb = Float64Array.from(db0);
    ref.residualForward(wOut, a, b, n);
    ref.residualBackward(wDa, wDb, dout, n);
    expectClose('residualForward out', await g.read(out), wOut);
    expectClose('residualBackward da', await g.read(da), wDa);
    expectClose('residualBackward db', await g.read(db), wDb);
  });
});

/** A batch with masked prompts, a fully masked row, padding, weights and roles. */
function ceBatch(B: number, T: number, V: number) {
  const N = B * T;
  const ids = ints(N, 0, V);
  const labels = Int32Array.from(ids);
  const weights = new Float64Array(N).fill(1);
  const roles = new Int32Array(N);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = b * T + t;
      const prompt = t < 3 || b === 1; // sequence 1 is all prompt: no trained token
      if (prompt) labels[n] = IGNORE_INDEX;
      else weights[n] = 0.5 + rng.uniform();
      // roles[n] describes the target ids[n+1]
      if (t < T - 1) roles[n] = t + 1 < 3 || b === 1 ? ROLE_PROMPT : ROLE_RESPONSE;
    }
  }
  // Last two tokens of sequence 2 are padding: label -100, role 0.
  for (const t of [T - 2, T - 1]) labels[2 * T + t] = IGNORE_INDEX;
  roles[2 * T + T - 3] = 0;
  roles[2 * T + T - 2] = 0;
  return { N, ids, labels, weights, roles };
}

reductionPaths(() => describe('LM head fused with cross-entropy, and loss reductions', () => {
  // Against the reference's unfused chain: logits = lnf @ W^T, crossEntropyForward, then
  // matmulBackward of the head. VC = 64 splits V = 150 into 64 + 64 + 22 (the last chunk partial);
  // VC = V is the one-chunk path (no recompute in backward; the chunk buffer ends up holding dlogits).
  for (const [mode, VC] of [['mean_tokens', 64], ['mean_sequences', 64], ['sum', 64], ['mean_tokens', 150]] as const) {
    it(`forward and backward match the reference (${mode}, VC ${VC})`, async () => {
      const B = 3, T = 6, V = 150, C = 20; // V > WG: strided row loop
      const { N, ids, labels, weights, roles } = ceBatch(B, T, V);
      const lnf = randn(rng, N * C), W = randn(rng, V * C, 0.7);
      const seqScale = normalisationScales(labels, weights, B, T, mode);
      const t = (name: string, shape: number[], data?: Float64Array | Int32Array) => g.tensor(name, shape, data);
      const losses = t('losses', [N]), norms = t('norms', [N]), lse = t('lse', [N]), stats = t('stats', [N, CE_STATS]), tgt = t('tgt', [N]);
      const chunk = t('chunk', [N, VC]);
      const tl = t('labels', [N], labels), tw = t('weights', [N], weights), ts = t('seqScale', [B], seqScale), tIds = t('ids', [N], ids);
      const tLnf = t('lnf', [N, C], lnf), tW = t('W', [V, C], W);
      const dlnf = t('dlnf', [N, C], randn(rng, N * C)), dW0 = randn(rng, V * C), dW = t('dW', [V, C], dW0);
      const sums = t('sums', [LOSS_SUMS.length], new Float64Array([1, 2, 3, 4, 5, 6, 7, 8]));
      const fwd = lmHeadLossForward(g.ctx, losses, norms, lse, stats, tgt, chunk, tLnf, tW, tIds, tl, tw, ts, B, T, C, V, VC);
      await g.run([
        ...fwd.chunks.flat(), ...fwd.finalize,
        ...lossReductions(g.ctx, sums, losses, tl, tw, ts, t('roles', [N], roles), B, T),
        ...lmHeadLossBackward(g.ctx, dlnf, dW, chunk, tLnf, tW, lse, tl, tw, ts, B, T, C, V, VC),
      ]);
      const logits = new Float64Array(N * V);
      ref.matmulForward(logits, lnf, W, null, N, C, V);
      const wL = new Float64Array(N), wD = new Float64Array(N * V);
      ref.crossEntropyForward(wL, wD, logits, ids, labels, weights, seqScale, B, T, V);
      const wDlnf = new Float64Array(N * C), wDW = Float64Array.from(dW0);
      ref.matmulBackward(wDlnf, wDW, null, wD, lnf, W, N, C, V, false);
      const wNorms = Array.from({ length: N }, (_, n) => Math.hypot(...wD.subarray(n * V, (n + 1) * V)));
      expectClose('lmHeadLossForward losses', await g.read(losses), wL);
      expectClose('lmHeadLossForward dlogit norms', await g.read(norms), wNorms);
      expectClose('lmHeadLossBackward dlnf', await g.read(dlnf), wDlnf);
      expectClose('lmHeadLossBackward dW (+=)', await g.read(dW), wDW);
      if (VC === V) {
        const gD = await g.read(chunk);
        expectClose('one chunk: dlogits left in the chunk', gD, wD);
        for (let n = 0; n < N; n++) {
          const tt = n % T;
          const trained = tt < T - 1 && labels[n + 1] !== IGNORE_INDEX;
          if (!trained) for (let i = 0; i < V; i++) expect(Object.is(gD[n * V + i], 0), `dlogits[${n},${i}] must be exactly +0`).toBe(true);
        }
      }
      const want = ref.lossReductions(wL, labels, weights, seqScale, roles, B, T);
      const got = decodeLossSums(await g.read(sums));
      // The GPU adds into `sums`, which held 1..8.
      expectClose('lossReductions (+= 1..8)', LOSS_SUMS.map((k) => got[k]), LOSS_SUMS.map((k, i) => want[k] + i + 1));
    });
  }

  it('dlogit norms stay accurate when the target takes almost all the probability', async () => {
    // 1 - p_target comes from the sum without the target, not from 1 - p: no cancellation.
    const B = 1, T = 3, V = 70, C = 4, VC = 64;
    const N = B * T;
    const ids = Int32Array.from([5, 67, 9]);
    const labels = Int32Array.from(ids);
    const weights = new Float64Array(N).fill(1);
    const lnf = new Float64Array(N * C), W = new Float64Array(V * C);
    for (let n = 0; n < N; n++) lnf[n * C] = 1;
    W[67 * C] = 18; // every row puts p ≈ 1 - 69 e^-18 ≈ 1 - 1e-6 on id 67, the target of row 0
    const seqScale = normalisationScales(labels, weights, B, T, 'sum');
    const t = (name: string, shape: number[], data?: Float64Array | Int32Array) => g.tensor(name, shape, data);
    const losses = t('losses', [N]), norms = t('norms', [N]), lse = t('lse', [N]), stats = t('stats', [N, CE_STATS]), tgt = t('tgt', [N]);
    const fwd = lmHeadLossForward(g.ctx, losses, norms, lse, stats, tgt, t('chunk', [N, VC]), t('lnf', [N, C], lnf), t('W', [V, C], W), t('ids', [N], ids), t('labels', [N], labels), t('weights', [N], weights), t('seqScale', [B], seqScale), B, T, C, V, VC);
    await g.run([...fwd.chunks.flat(), ...fwd.finalize]);
    const logits = new Float64Array(N * V);
    ref.matmulForward(logits, lnf, W, null, N, C, V);
    const wL = new Float64Array(N), wD = new Float64Array(N * V);
    ref.crossEntropyForward(wL, wD, logits, ids, labels, weights, seqScale, B, T, V);
    const wNorms = Array.from({ length: N }, (_, n) => Math.hypot(...wD.subarray(n * V, (n + 1) * V)));
    expect(wNorms[0]).toBeLessThan(1e-5);
    // Relative, not absolute: the norm itself is ~1e-6.
    expectClose('near-certain target: dlogit norms', await g.read(norms), wNorms, 1e-9, 1e-3);
  });
}));

reductionPaths(() => describe('gradNorm and adamw', () => {
  const hyper = (s: AdamWSettings) => {
    const buf = g.gpu.device.createBuffer({ label: 'test.hyper', size: HYPER_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    g.gpu.device.queue.writeBuffer(buf, 0, hyperData(s));
    return buf;
  };
  const settings: AdamWSettings = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1 };

  it('global norm over several arenas, clip factor, step count', async () => {
    // 1000 and 70000 (multiples of 4): grad_norm_partial4; 37 and 4097: grad_norm_partial.
    // 70000: each partial-sum invocation strides over several elements.
    const sizes = [1000, 37, 4097, 70000];
    const grads = sizes.map((n) => randn(rng, n, 0.05));
    const all = new Float64Array(grads.flatMap((a) => [...a]));
    const state = g.tensor('state', [STEP_STATE_WORDS], new Int32Array([0, 0, 0, 7]));
    const sums = g.tensor('sums', [LOSS_SUMS.length], new Float64Array(LOSS_SUMS.length).fill(2.5));
    for (const maxGradNorm of [1, 1e3, 0]) {
      const ds = gradNorm(g.ctx, state, grads.map((a, i) => g.tensor(`grad${i}`, [a.length], a)), sums, hyper({ ...settings, maxGradNorm }));
      expect(ds.map((d) => d.label.split('[')[0])).toEqual(['GradNormPartial4', 'GradNormPartial', 'GradNormPartial', 'GradNormPartial4', 'GradNormFinalize']);
      await g.run(ds);
      const s = decodeStepState((await readTensors(g.gpu.device, [state]))[0]);
      const norm = ref.gradNorm(all, all.length);
      expectClose(`gradNorm norm (maxNorm ${maxGradNorm})`, [s.norm], [norm]);
      expectClose(`gradNorm clip (maxNorm ${maxGradNorm})`, [s.clip], [maxGradNorm > 0 ? ref.clipFactor(norm, maxGradNorm) : 1]);
      expect(s.nonFinite).toBe(false);
    }
    expect(decodeStepState((await readTensors(g.gpu.device, [state]))[0]).adamStep).toBe(10);
  });

  it('flags a NaN gradient or an infinite objective and does not count the step', async () => {
    const state = g.tensor('state', [STEP_STATE_WORDS], new Int32Array([0, 0, 0, 3]));
    const good = g.tensor('sums', [LOSS_SUMS.length], new Float64Array(LOSS_SUMS.length));
    const grad = randn(rng, 100);
    grad[57] = NaN;
    await g.run(gradNorm(g.ctx, state, [g.tensor('grad', [100], grad)], good, hyper(settings)));
    let s = decodeStepState((await readTensors(g.gpu.device, [state]))[0]);
    expect(s.nonFinite).toBe(true);
    expect(s.adamStep).toBe(3);
    const infSums = g.tensor('sums', [LOSS_SUMS.length], new Float64Array([Infinity, 0, 0, 0, 0, 0, 0, 0]));
    await g.run(gradNorm(g.ctx, state, [g.tensor('grad', [100], randn(rng, 100))], infSums, hyper(settings)));
    s = decodeStepState((await readTensors(g.gpu.device, [state]))[0]);
    expect(s.nonFinite).toBe(true);
    expect(s.adamStep).toBe(3);
  });

  // n = 301: adamw_step (one element per invocation); 70000: adamw_step4 (a multiple of 4: vec4,
  // fewer workgroups than quads, so each invocation strides over several).
  for (const [decay, n] of [[true, 301], [false, 301], [true, 70000], [false, 70000]] as const) {
    it(`adamwStep matches torch semantics over 5 steps (weight decay ${decay}, n ${n})`, async () => {
      const p = randn(rng, n), m = new Float64Array(n), v = new Float64Array(n);
      const tp = g.tensor('param', [n], p), tm = g.tensor('m', [n]), tv = g.tensor('v', [n]);
      const clip = 0.7;
      const hb = hyper(settings);
      for (let step = 1; step <= 5; step++) {
        const grad = randn(rng, n);
        const state = g.tensor('state', [STEP_STATE_WORDS], new Int32Array(new Float32Array([1.23, clip, 0, 0]).buffer));
        g.gpu.device.queue.writeBuffer(state.buffer, 12, new Uint32Array([step]));
        await g.run(adamwStep(g.ctx, tp, g.tensor('grad', [n], grad), tm, tv, n, hb, state, decay));
        ref.adamwStep(p, grad, m, v, n, settings.lr, settings.beta1, settings.beta2, settings.eps, decay ? settings.weightDecay : 0, step, clip);
      }
      expectClose('adamwStep param', await g.read(tp), p);
      expectClose('adamwStep m', await g.read(tm), m);
      expectClose('adamwStep v', await g.read(tv), v);
    });
  }

  for (const n of [77, 80]) it(`adamwStep leaves param, m, v untouched when the step is flagged non-finite (n ${n})`, async () => {
    const p = randn(rng, n), m0 = randn(rng, n), v0 = randn(rng, n).map(Math.abs);
    const tp = g.tensor('param', [n], p), tm = g.tensor('m', [n], m0), tv = g.tensor('v', [n], v0);
    const state = g.tensor('state', [STEP_STATE_WORDS], new Int32Array([0, 0, 1, 4]));
    await g.run(adamwStep(g.ctx, tp, g.tensor('grad', [n], randn(rng, n)), tm, tv, n, hyper(settings), state, true));
    expectClose('adamw skipped: param', await g.read(tp), Float32Array.from(p), 0, 0);
    expectClose('adamw skipped: m', await g.read(tm), Float32Array.from(m0), 0, 0);
    expectClose('adamw skipped: v', await g.read(tv), Float32Array.from(v0), 0, 0);
  });
}));
