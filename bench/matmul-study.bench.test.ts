/**
 * Matmul study (issue 15): our forward kernel (c = a @ bᵀ, shaders/matmul.wgsl) per tile candidate,
 * beside experimental kernels written to test why jax-js's generated WebGPU matmul is faster on
 * SwiftShader (see bench/matmul-study.md). Node + Dawn (SwiftShader unless PLAYGROUND_REAL_GPU), no
 * page, no peers:
 *
 *   npx vitest run --config bench/vitest.matmul-study.config.ts
 *
 * STUDY_SIZES (default 512,1024), STUDY_ROUNDS (default 5), STUDY_ONLY (comma-separated variant
 * names). Variants alternate round-robin (one product per timed call, waited for with
 * queue.onSubmittedWorkDone, one untimed compiling call first), so load from other processes falls
 * on all of them; every variant is spot-checked against a Float64 product first. Nothing here
 * asserts a speed.
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { createTensor, readF32, writeTensor, type GpuTensor } from '../src/gpu/buffers';
import { encode, Kernels, type Dispatch } from '../src/gpu/kernel';
import { acquireNodeDevice, nodeGpu } from '../src/gpu/node-device';
import { dispatch, type OpContext } from '../src/engine/ops/context';
import { describeTiles, MATMUL_TILE_CANDIDATES, matmulBackward, matmulForward, type MatmulTiles } from '../src/engine/ops/matmul';
import matmulShader from '../shaders/matmul.wgsl?raw';
import { matmulOperand } from './ours';
import type { MatmulSide } from './common';

const SIZES = (process.env.STUDY_SIZES ?? '512,1024').split(',').map(Number);
const ROUNDS = Number(process.env.STUDY_ROUNDS ?? 5);
const ONLY = process.env.STUDY_ONLY?.split(',') ?? null;
/** STUDY_JAX=1: also time jax-js's own webgpu matmul (bench/jax.ts startJaxMatmul, a @ b) on the same Dawn. */
const JAX = process.env.STUDY_JAX === '1';

interface Operands {
  n: number;
  a: GpuTensor;  // (n, n)
  bt: GpuTensor; // (n, n): b(k, p) = bt[p, k] (our forward's w)
  b: GpuTensor;  // (n, n): b(k, p) = b[k, p] (row-major, what jax-js's np.matmul(a, b) reads)
  at: GpuTensor; // (n, n): a(m, k) = at[k, m] (row-major a, as the dW product reads dout)
  c: GpuTensor;  // (n, n)
}

interface Variant {
  name: string;
  what: string;
  /** Which stored b the product reads (the spot check builds the reference from the same data). */
  layout: 'bt' | 'b';
  build(ctx: OpContext, o: Operands): Dispatch[];
}

const tilesName = (t: MatmulTiles) => `ours ${t.wgx}x${t.wgy}/bk${t.bk}`;

/** Our engine's forward kernel, as the engine dispatches it. */
const oursForward = (t: MatmulTiles): Variant => ({
  name: tilesName(t),
  what: `matmulForward, ${describeTiles(t)}`,
  layout: 'bt',
  build: (ctx, o) => matmulForward({ ...ctx, matmulTiles: t }, o.c, o.a, o.bt, null, o.n, o.n, o.n),
});

/** Our kernel on jax-js's layout: dx = dout @ w is a @ b with b row-major (B_KCONTIG false). */
const oursRowMajorB = (t: MatmulTiles): Variant => ({
  name: `${tilesName(t)} b row-major`,
  what: `matmulBackward dx (a @ b, b (K, P) row-major), ${describeTiles(t)}`,
  layout: 'b',
  build: (ctx, o) => matmulBackward({ ...ctx, matmulTiles: t }, o.c, null, null, o.a, o.bt, o.b, o.n, o.n, o.n, false),
});

/** shaders/matmul.wgsl before this study (the last commit that changed it before the study's). */
const BEFORE_COMMIT = 'f3e9cc23f7e3088961cc0d02d7c7050431749704';
const beforeCode = execSync(`git show ${BEFORE_COMMIT}:shaders/matmul.wgsl`, { encoding: 'utf8' });

/**
 * matmul_direct4 of a given matmul.wgsl text, dispatched as product() does, in one of the engine's
 * three orientations: forward (a, b k-contiguous), dx (b row-major), dw (a and b row-major).
 */
const direct4 = (label: string, code: string, orient: 'fwd' | 'dx' | 'dw', t: MatmulTiles = { wgx: 8, wgy: 8, bk: 0 }): Variant => ({
  name: `${label} ${orient} ${t.wgx}x${t.wgy}`,
  what: `matmul_direct4 of ${label === 'before' ? `shaders/matmul.wgsl at ${BEFORE_COMMIT.slice(0, 7)}` : 'shaders/matmul.wgsl now'}, the ${orient} orientation`,
  layout: orient === 'fwd' ? 'bt' : 'b',
  build: (ctx, o) => {
    const n = o.n;
    const aK = orient !== 'dw', bK = orient === 'fwd';
    const constants = { WGX: t.wgx, WGY: t.wgy, BK: 1, A_KCONTIG: aK ? 1 : 0, B_KCONTIG: bK ? 1 : 0, B_F16: 0, B_BF16: 0 };
    const per = label === 'before' ? 4 : 16; // outputs per invocation along each axis (8 x 8 in part 2, 16 x 16 since part 3)
    return [dispatch(ctx, { name: `study_${label}.wgsl`, code }, 'matmul_direct4', [o.c, aK ? o.a : o.at, bK ? o.bt : o.b], { u32: [n, n, n, n, n, 0] }, [Math.ceil(n / (per * t.wgx)), Math.ceil(n / (per * t.wgy)), 1], constants, 3)];
  },
});

/**
 * Our shaders/matmul.wgsl with the sizes (M, P, K, lda, ldb) turned from uniform reads into
 * pipeline-overridable constants, which Dawn substitutes before compiling: the loop bound and the
 * index arithmetic become constants, as in jax-js's generated code. Same entry points otherwise.
 */
const bakedCode = matmulShader
  .replace(/\bp\.K\b/g, 'S_K').replace(/\bp\.M\b/g, 'S_M').replace(/\bp\.P\b/g, 'S_P')
  .replace(/\bp\.lda\b/g, 'S_LDA').replace(/\bp\.ldb\b/g, 'S_LDB')
  .replace('override WGX', 'override S_M: u32 = 1u;\noverride S_P: u32 = 1u;\noverride S_K: u32 = 1u;\noverride S_LDA: u32 = 1u;\noverride S_LDB: u32 = 1u;\noverride WGX');
const oursBaked = (t: MatmulTiles): Variant => ({
  name: `${tilesName(t)} baked sizes`,
  what: `our kernel, sizes as pipeline constants, ${describeTiles(t)}`,
  layout: 'bt',
  build: (ctx, o) => {
    const n = o.n;
    const entry = t.bk === 0 ? 'matmul_direct4' : 'matmul';
    const constants = { WGX: t.wgx, WGY: t.wgy, BK: t.bk || 1, A_KCONTIG: 1, B_KCONTIG: 1, B_F16: 0, B_BF16: 0, S_M: n, S_P: n, S_K: n, S_LDA: n, S_LDB: n };
    return [dispatch(ctx, { name: 'study_matmul_baked.wgsl', code: bakedCode }, entry, [o.c, o.a, o.bt], { u32: [n, n, n, n, n, 0] }, [Math.ceil(n / ((t.bk === 0 ? 16 : 4) * t.wgx)), Math.ceil(n / ((t.bk === 0 ? 16 : 4) * t.wgy)), 1], constants, 3)];
  },
});

/**
 * Written from reading jax-js's tuneWebgpu + pipelineSource (not copied): one flat 1-D workgroup of
 * 256 invocations; each invocation computes a 4 x 4 block of c as 16 scalar accumulators; the K loop
 * is unrolled by 4 and each accumulator takes `acc += a0*b0 + a1*b1 + a2*b2 + a3*b3`; scalar loads,
 * each loaded value bound once; no workgroup memory, no barriers, no bounds checks (the upcast and
 * unroll factors divide the sizes exactly), i32 index arithmetic. Invocation order as jax-js's
 * "local" step lays it out: gidx = ((iHi * (P/32) + jHi) * 8 + iLo) * 8 + jLo, rows
 * 4 * (8 * iHi + iLo) .., columns 4 * (8 * jHi + jLo) ...
 * `baked`: sizes as WGSL constants (as jax-js emits them) or read from a uniform.
 */
function jaxlikeCode(n: number, layout: 'bt' | 'b', baked: boolean): string {
  const L: string[] = [];
  if (baked) L.push(`const N: i32 = ${n};`);
  else L.push('struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32 }', '@group(0) @binding(3) var<uniform> prm: Params;');
  L.push(
    '@group(0) @binding(0) var<storage, read_write> res: array<f32>;',
    '@group(0) @binding(1) var<storage, read> in0: array<f32>;',
    '@group(0) @binding(2) var<storage, read> in1: array<f32>;',
    '@compute @workgroup_size(256)',
    'fn jaxlike(@builtin(global_invocation_id) id: vec3<u32>) {',
  );
  if (!baked) L.push('  let N = i32(prm.n);');
  L.push(
    '  if (i32(id.x) >= (N / 4) * (N / 4)) { return; }',
    '  let g = i32(id.x);',
    '  let jLo = g % 8; let iLo = (g / 8) % 8; let jHi = (g / 64) % (N / 32); let iHi = g / (64 * (N / 32));',
    '  let i0 = 4 * (8 * iHi + iLo); let j0 = 4 * (8 * jHi + jLo);',
  );
  for (let u = 0; u < 4; u++) for (let v = 0; v < 4; v++) L.push(`  var acc${u}${v}: f32 = 0.0;`);
  L.push('  for (var r: i32 = 0; r < N / 4; r++) {', '    let k = 4 * r;');
  for (let u = 0; u < 4; u++) for (let q = 0; q < 4; q++) L.push(`    let a${u}${q} = in0[(i0 + ${u}) * N + k + ${q}];`);
  for (let q = 0; q < 4; q++) for (let v = 0; v < 4; v++) {
    L.push(layout === 'b' ? `    let b${q}${v} = in1[(k + ${q}) * N + j0 + ${v}];` : `    let b${q}${v} = in1[(j0 + ${v}) * N + k + ${q}];`);
  }
  for (let u = 0; u < 4; u++) for (let v = 0; v < 4; v++) {
    L.push(`    acc${u}${v} += a${u}0 * b0${v} + a${u}1 * b1${v} + a${u}2 * b2${v} + a${u}3 * b3${v};`);
  }
  L.push('  }');
  for (let u = 0; u < 4; u++) for (let v = 0; v < 4; v++) L.push(`  res[(i0 + ${u}) * N + j0 + ${v}] = acc${u}${v};`);
  L.push('}');
  return L.join('\n');
}

const jaxlike = (layout: 'bt' | 'b', baked: boolean): Variant => ({
  name: `jaxlike ${layout === 'b' ? 'a@b' : 'a@bT'}${baked ? ' baked' : ' uniform'}`,
  what: `jax-js structure (256 flat, 4x4 scalars, K unrolled 4), ${layout === 'b' ? 'b row-major' : 'b k-contiguous (our forward)'}, sizes ${baked ? 'as WGSL constants' : 'from a uniform'}`,
  layout,
  build: (ctx, o) => {
    const n = o.n;
    const code = jaxlikeCode(n, layout, baked);
    const src = { name: `study_jaxlike_${layout}_${baked ? n : 'u'}.wgsl`, code };
    return [dispatch(ctx, src, 'jaxlike', [o.c, o.a, layout === 'b' ? o.b : o.bt], baked ? null : { u32: [n, 0, 0, 0] }, [(n / 4) * (n / 4) / 256, 1, 1], {}, 3)];
  },
});

/**
 * Steps from our matmul_direct4 (forward: a and b both k-contiguous) toward jax-js's structure, to
 * find which difference matters. All read sizes from the uniform, like ours.
 *   hoist: row offsets (with the edge clamp) computed once before the K loop, not per iteration.
 *   math 'mat': b's 4 rows transposed into a mat4x4, acc[r] += bb * a_r (ours); 'dot': acc[r][j] += dot(a_r, b_j), no transpose.
 *   order '2d8': 8 x 8 workgroups as ours; 'flat256': one 256-wide workgroup in jax-js's order.
 */
interface StepOpts { hoist: boolean; math: 'mat' | 'dot'; order: '2d8' | 'flat256' }
function stepCode(o: StepOpts): string {
  const L: string[] = [
    'struct Params { M: u32, P: u32, K: u32, lda: u32, ldb: u32, accumulate: u32 }',
    '@group(0) @binding(0) var<storage, read_write> c4: array<vec4<f32>>;',
    '@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;',
    '@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;',
    '@group(0) @binding(3) var<uniform> p: Params;',
  ];
  if (o.order === '2d8') {
    L.push('@compute @workgroup_size(8, 8)', 'fn step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {',
      '  let m = wid.y * 32u + 4u * lid.y;', '  let q = wid.x * 32u + 4u * lid.x;');
  } else {
    L.push('@compute @workgroup_size(256)', 'fn step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {',
      '  let g = wid.x * 256u + li;',
      '  let jLo = g % 8u; let iLo = (g / 8u) % 8u; let jHi = (g / 64u) % (p.P / 32u); let iHi = g / (64u * (p.P / 32u));',
      '  let m = 4u * (8u * iHi + iLo); let q = 4u * (8u * jHi + jLo);');
  }
  L.push('  let lastM = p.M - 1u; let lastP = p.P - 1u;', '  var acc: array<vec4<f32>, 4>;');
  if (o.hoist) {
    for (let r = 0; r < 4; r++) L.push(`  let ra${r} = min(m + ${r}u, lastM) * p.lda / 4u;`, `  let rb${r} = min(q + ${r}u, lastP) * p.ldb / 4u;`);
  }
  L.push('  for (var k = 0u; k < p.K; k += 4u) {');
  for (let r = 0; r < 4; r++) {
    L.push(o.hoist ? `    let a${r} = a4[ra${r} + k / 4u];` : `    let a${r} = a4[(min(m + ${r}u, lastM) * p.lda + k) / 4u];`);
    L.push(o.hoist ? `    let b${r} = b4[rb${r} + k / 4u];` : `    let b${r} = b4[(min(q + ${r}u, lastP) * p.ldb + k) / 4u];`);
  }
  if (o.math === 'mat') {
    L.push('    let bb = transpose(mat4x4<f32>(b0, b1, b2, b3));');
    for (let r = 0; r < 4; r++) L.push(`    acc[${r}] += bb * a${r};`);
  } else {
    for (let r = 0; r < 4; r++) L.push(`    acc[${r}] += vec4<f32>(dot(a${r}, b0), dot(a${r}, b1), dot(a${r}, b2), dot(a${r}, b3));`);
  }
  L.push('  }', '  if (q >= p.P) { return; }');
  for (let r = 0; r < 4; r++) L.push(`  if (m + ${r}u < p.M) { c4[((m + ${r}u) * p.P + q) / 4u] = acc[${r}]; }`);
  L.push('}');
  return L.join('\n');
}
const stepVariant = (o: StepOpts): Variant => {
  const name = `step ${o.hoist ? 'hoist' : 'inloop'} ${o.math} ${o.order}`;
  return {
    name, what: `our direct4 rewritten: row offsets ${o.hoist ? 'before' : 'inside'} the K loop, ${o.math === 'mat' ? 'transpose + mat4x4 * vec4' : '16 dot()'}, ${o.order === '2d8' ? '8x8 workgroups' : '256 flat, jax-js order'}`,
    layout: 'bt',
    build: (ctx, op) => {
      const n = op.n;
      const src = { name: `study_${name.replace(/ /g, '_')}.wgsl`, code: stepCode(o) };
      const grid: [number, number, number] = o.order === '2d8' ? [n / 32, n / 32, 1] : [(n / 4) * (n / 4) / 256, 1, 1];
      return [dispatch(ctx, src, 'step', [op.c, op.a, op.bt], { u32: [n, n, n, n, n, 0] }, grid, {}, 3)];
    },
  };
};

const VARIANTS: Variant[] = [
  ...(['fwd', 'dx', 'dw'] as const).flatMap((or) => [direct4('before', beforeCode, or), direct4('now', matmulShader, or)]),
  ...MATMUL_TILE_CANDIDATES.map(oursForward),
  oursRowMajorB({ wgx: 8, wgy: 8, bk: 0 }),
  oursBaked({ wgx: 8, wgy: 8, bk: 0 }),
  oursBaked({ wgx: 16, wgy: 16, bk: 0 }),
  jaxlike('b', true),
  jaxlike('b', false),
  jaxlike('bt', true),
  jaxlike('bt', false),
  stepVariant({ hoist: false, math: 'mat', order: '2d8' }),
  stepVariant({ hoist: true, math: 'mat', order: '2d8' }),
  stepVariant({ hoist: false, math: 'dot', order: '2d8' }),
  stepVariant({ hoist: true, math: 'dot', order: '2d8' }),
  stepVariant({ hoist: true, math: 'dot', order: 'flat256' }),
  stepVariant({ hoist: false, math: 'mat', order: 'flat256' }),
].filter((v) => !ONLY || ONLY.includes(v.name));

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

test('matmul study', async () => {
  const gpu = await acquireNodeDevice();
  const { device } = gpu;
  const kernels = Kernels.for(device);
  const ctx: OpContext = { device, kernels, wg: 64, where: 'study', rope: null, scratch: () => { throw new Error('study: no scratch'); } };
  const adapter = `${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}`;
  const rows: { n: number; name: string; what: string; ms: number; min: number; max: number; gflops: number; cpuMs: number; cpuMin: number; cpuMax: number; gflopPerCpuS: number; samples: number[]; cpuSamples: number[] }[] = [];
  for (const n of SIZES) {
    const A = matmulOperand(n, 1), Bt = matmulOperand(n, 2);
    const B = new Float32Array(n * n); // row-major b(k, p) = Bt[p, k]: the same product
    for (let p = 0; p < n; p++) for (let k = 0; k < n; k++) B[k * n + p] = Bt[p * n + k];
    const At = new Float32Array(n * n);
    for (let m = 0; m < n; m++) for (let k = 0; k < n; k++) At[k * n + m] = A[m * n + k];
    const o: Operands = { n, a: createTensor(device, 'a', [n, n]), bt: createTensor(device, 'bt', [n, n]), b: createTensor(device, 'b', [n, n]), at: createTensor(device, 'at', [n, n]), c: createTensor(device, 'c', [n, n]) };
    writeTensor(device, o.a, A); writeTensor(device, o.bt, Bt); writeTensor(device, o.b, B); writeTensor(device, o.at, At);
    const runs: { v: Variant; ds: Dispatch[]; samples: number[]; cpuSamples: number[]; side?: MatmulSide }[] = VARIANTS.map((v) => ({ v, ds: v.build(ctx, o), samples: [] as number[], cpuSamples: [] as number[] }));
    if (JAX) {
      // jax-js asks navigator.gpu for an adapter: hand it the same Dawn instance (its own device).
      const g = globalThis as { navigator?: { gpu?: GPU; userAgent?: string } };
      g.navigator ??= { userAgent: 'Node.js' };
      g.navigator.gpu ??= nodeGpu();
      const { startJaxMatmul } = await import('./jax');
      // STUDY_JAX_SHADER=1 prints the WGSL jax-js generates for the product (its DEBUG level 2).
      const { setDebug } = await import('@jax-js/jax');
      if (process.env.STUDY_JAX_SHADER === '1') setDebug(2);
      const side = await startJaxMatmul(n, 'webgpu');
      await side.once();
      setDebug(0);
      runs.push({ v: { name: 'jax-js webgpu', what: 'jax-js jit(np.matmul)(a, b), blockUntilReady (bench/jax.ts startJaxMatmul)', layout: 'b', build: () => [] }, ds: [], samples: [], cpuSamples: [], side });
    }
    // Wall ms of one product; its process CPU ms (all threads, SwiftShader's workers included) go
    // to `cpu`: on a box shared with other heavy processes, CPU time counts the work done and not
    // the time spent descheduled, so it is far steadier than wall time on a CPU adapter.
    let cpu = 0;
    const once = async (ds: readonly Dispatch[], side?: MatmulSide) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      if (side) {
        await side.once();
        const c = process.cpuUsage(c0);
        cpu = (c.user + c.system) / 1000;
        return performance.now() - t0;
      }
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      encode(pass, ds);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      const wall = performance.now() - t0;
      const c = process.cpuUsage(c0);
      cpu = (c.user + c.system) / 1000;
      return wall;
    };
    // Compile + spot check each: 64 entries against a Float64 product.
    for (const r of runs) {
      if (r.side) { await once([], r.side); continue; } // its compiling call; bench/run checks its numbers
      device.pushErrorScope('validation');
      await once(r.ds);
      await kernels.checkCompilation();
      const err = await device.popErrorScope();
      if (err) throw new Error(`${r.v.name}: ${err.message}`);
      const c = await readF32(device, o.c);
      let worst = 0;
      for (let s = 0; s < 64; s++) {
        const i = (s * 7919) % n, j = (s * 104729 + 13) % n;
        let ref = 0, mag = 0;
        for (let k = 0; k < n; k++) { ref += A[i * n + k] * Bt[j * n + k]; mag += Math.abs(A[i * n + k] * Bt[j * n + k]); }
        worst = Math.max(worst, Math.abs(c[i * n + j] - ref) / mag);
      }
      expect(worst, `${r.v.name} at n=${n}`).toBeLessThan(1e-5);
      writeTensor(device, o.c, new Float32Array(n * n)); // the next variant must write every entry
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of runs) { r.samples.push(await once(r.ds, r.side)); r.cpuSamples.push(cpu); }
    }
    for (const r of runs) {
      const ms = median(r.samples), cpuMs = median(r.cpuSamples), flop = 2 * n ** 3;
      rows.push({ n, name: r.v.name, what: r.v.what, ms, min: Math.min(...r.samples), max: Math.max(...r.samples), gflops: flop / (ms * 1e6), cpuMs, cpuMin: Math.min(...r.cpuSamples), cpuMax: Math.max(...r.cpuSamples), gflopPerCpuS: flop / (cpuMs * 1e6), samples: r.samples, cpuSamples: r.cpuSamples });
      console.log(`n=${n} ${r.v.name.padEnd(32)} wall ${ms.toFixed(1).padStart(8)} ms ${(flop / (ms * 1e6)).toFixed(2).padStart(6)} GFLOP/s [${r.samples.map((s) => s.toFixed(0)).join(' ')}] | cpu ${cpuMs.toFixed(1).padStart(8)} ms ${(flop / (cpuMs * 1e6)).toFixed(2).padStart(6)} GFLOP/cpu-s [${r.cpuSamples.map((s) => s.toFixed(0)).join(' ')}]`);
    }
    for (const t of [o.a, o.b, o.bt, o.at, o.c]) t.buffer.destroy();
    for (const r of runs) r.side?.dispose();
  }
  const out = process.env.STUDY_OUT ?? 'bench/matmul-study.json';
  writeFileSync(out, JSON.stringify({ adapter, rounds: ROUNDS, when: new Date().toISOString(), rows }, null, 1));
  console.log(`adapter: ${adapter}; wrote ${out}`);
  device.destroy();
});
