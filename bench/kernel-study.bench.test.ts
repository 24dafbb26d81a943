/**
 * Kernel study (issue 15): the step's non-matmul kernels (AdamW, the gradient norm's partial sums,
 * residual + RMSNorm forward and backward) beside variants, in isolation, on the embedded model's
 * parameter count and layer rows. Node + Dawn (SwiftShader unless PLAYGROUND_REAL_GPU), no page,
 * no peers:
 *
 *   npx vitest run --config bench/vitest.kernel-study.config.ts
 *
 * STUDY_N (elements, default 3,802,368: the embedded model's parameters), STUDY_MATMUL (N,I,O of the
 * matmul group's forward product, default 128,256,688), STUDY_ROWS (N,C of the residualRmsnorm group's
 * rows, default 128,256: a layer's at the embedded model's 2x64), STUDY_DW (N,I,O of the dw group's weight
 * gradient dw (O, I) += dout (N, O)^T @ x (N, I), default 128,256,688; bench/matmul-study.md, part 3),
 * STUDY_SHADERS (WGSL files whose `// study: <name> <group> entry=…` lines add variants), STUDY_ROUNDS
 * (default 7), STUDY_REPEAT (the dispatches per timed submit, default 1; times are per repetition),
 * STUDY_ONLY (comma-separated variant names). Variants alternate round-robin (one dispatch per timed
 * call, waited for with queue.onSubmittedWorkDone, one untimed compiling call first); wall time and
 * the process's CPU time (SwiftShader's worker threads included: robust to other processes' load),
 * medians. Every variant's output is checked against the engine's kernel first. Nothing here
 * asserts a speed.
 */
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { createTensor, readF32, writeTensor, type GpuTensor } from '../src/gpu/buffers';
import { encode, grid, Kernels, type Dispatch } from '../src/gpu/kernel';
import { acquireNodeDevice } from '../src/gpu/node-device';
import { dispatch, type OpContext } from '../src/engine/ops/context';
import { adamwStep, hyperData } from '../src/engine/ops/adamw';
import { GRAD_NORM_GROUPS, gradNorm, STEP_STATE_WORDS } from '../src/engine/ops/gradNorm';
import { residualRmsnormBackward, residualRmsnormForward } from '../src/engine/ops/residualRmsnorm';
import gradNormShader from '../shaders/grad_norm.wgsl?raw';
import residualRmsnormShader from '../shaders/residual_rmsnorm.wgsl?raw';
import { LOSS_SUMS_HEADER } from '../src/engine/ops/lossReductions';
import { matmulBackward, matmulForward } from '../src/engine/ops/matmul';
import matmulShader from '../shaders/matmul.wgsl?raw';
import { BENCH_SETTINGS } from './common';

const N = Number(process.env.STUDY_N ?? 3_802_368);
const ROUNDS = Number(process.env.STUDY_ROUNDS ?? 7);
const ONLY = process.env.STUDY_ONLY?.split(',') ?? null;
const REPEAT = Number(process.env.STUDY_REPEAT ?? 1); // timed calls encode the variant's dispatches this many times (times are per repeat)
const EXTRA = process.env.STUDY_SHADERS?.split(',') ?? []; // extra WGSL files with study entry points

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Rows { a: GpuTensor; b: GpuTensor; w: GpuTensor; h: GpuTensor; out: GpuTensor; rstd: GpuTensor; dout: GpuTensor; dskip: GpuTensor; dh: GpuTensor }
/** The dw group's operands: dout (DN, DO), x (DN, DI), dw (DO, DI) +=; padded copies (leading dimension + 4) and transposed ones. */
interface Dw { dout: GpuTensor; x: GpuTensor; w: GpuTensor; dx: GpuTensor; dw: GpuTensor; doutPad: GpuTensor; xPad: GpuTensor; doutT: GpuTensor; xT: GpuTensor }
interface Bufs { param: GpuTensor; m: GpuTensor; v: GpuTensor; grad: GpuTensor; state: GpuTensor; hyper: GPUBuffer; partials: GpuTensor; sums: GpuTensor; x: GpuTensor; w: GpuTensor; out: GpuTensor; rows: Rows; dw: Dw }
interface Variant { name: string; group: 'adamw' | 'gradNorm' | 'matmul' | 'residualRmsnorm' | 'dw' | 'dx'; build(ctx: OpContext, b: Bufs): Dispatch[] }
/** The matmul group's product: a layer's forward at the embedded model's 2x64 (x (MN, MI) @ w (MO, MI)^T). */
const [MN, MI, MO] = (process.env.STUDY_MATMUL ?? '128,256,688').split(',').map(Number);
/** The residualRmsnorm group's rows: forward then backward (no dw) over (RN, RC). */
const [RN, RC] = (process.env.STUDY_ROWS ?? '128,256').split(',').map(Number);
/** The dw group's product: a layer's weight gradient dw (DO, DI) += dout (DN, DO)^T @ x (DN, DI). */
const [DN, DI, DO] = (process.env.STUDY_DW ?? '128,256,688').split(',').map(Number);
/** shaders/matmul.wgsl with matmul_direct4 at 8 x 8 outputs per invocation (before part 3 landed 16 x 16 everywhere). */
const MATMUL_8X8_COMMIT = 'b0aef0c';
const mm8Src = { name: 'matmul_8x8.wgsl', code: execSync(`git show ${MATMUL_8X8_COMMIT}:shaders/matmul.wgsl`, { encoding: 'utf8' }) };
/** matmul_direct4 with R x C outputs per invocation (R, C multiples of 4), generated on matmul.wgsl's helpers. */
function directRC(R: number, C: number) {
  const name = `matmul_direct${R}x${C}`, ra = R / 4, cb = C / 4;
  let w = `@compute @workgroup_size(WGX, WGY)\nfn ${name}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {\n`;
  w += `  let m = wid.y * ${R}u * WGY + ${R}u * lid.y;\n  let q = wid.x * ${C}u * WGX + ${C}u * lid.x;\n`;
  for (let i = 0; i < ra; i++) w += `  let oa${i} = a_offsets(m + ${4 * i}u);\n`;
  for (let j = 0; j < cb; j++) w += `  let ob${j} = b_offsets(q + ${4 * j}u);\n`;
  for (let i = 0; i < ra; i++) for (let j = 0; j < cb; j++) w += `  var acc${i}_${j}: array<vec4<f32>, 4>;\n`;
  w += '  let sa = a_step();\n  let sb = b_step();\n  var ka = 0u;\n  var kb = 0u;\n  for (var k = 0u; k < p.K; k += 4u) {\n';
  for (let i = 0; i < ra; i++) w += `    let a${i} = a_block(oa${i} + vec4<u32>(ka));\n`;
  for (let j = 0; j < cb; j++) w += `    let b${j} = b_block(ob${j} + vec4<u32>(kb));\n`;
  for (let i = 0; i < ra; i++) for (let j = 0; j < cb; j++) for (let r = 0; r < 4; r++) w += `    acc${i}_${j}[${r}] += b${j} * a${i}[${r}];\n`;
  w += '    ka += sa;\n    kb += sb;\n  }\n';
  for (let i = 0; i < ra; i++) for (let j = 0; j < cb; j++) w += `  for (var r = 0u; r < 4u; r++) { store4(m + ${4 * i}u + r, q + ${4 * j}u, acc${i}_${j}[r]); }\n`;
  return { src: { name: `study_${name}.wgsl`, code: `${matmulShader}\n${w}}\n` }, name };
}
/** A study transpose: out (C, R) = in (R, C)^T, 16 x 16 invocations. */
const transposeSrc = { name: 'study_transpose.wgsl', code: `struct Params { R: u32, C: u32 }
@group(0) @binding(0) var<storage, read_write> tout: array<f32>;
@group(0) @binding(1) var<storage, read> tin: array<f32>;
@group(0) @binding(2) var<uniform> tp: Params;
@compute @workgroup_size(16, 16)
fn transpose_rc(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x >= tp.C || g.y >= tp.R) { return; }
  tout[g.x * tp.R + g.y] = tin[g.y * tp.C + g.x];
}
` };
const rrSrc = { name: 'residual_rmsnorm.wgsl', code: residualRmsnormShader };
const gnSrc = { name: 'grad_norm.wgsl', code: gradNormShader, header: LOSS_SUMS_HEADER };

/** dw (DO, DI) (+)= a(o, n) @ b(n, i) through the 8 x 8 matmul_direct4 (8 x 8 invocations): row-major along n (kContig false) or n-contiguous (true). */
function dwProduct(ctx: OpContext, c: GpuTensor, a: GpuTensor, b: GpuTensor, lda: number, M: number, ldb: number, kContig: boolean, accumulate: number): Dispatch {
  const k = kContig ? 1 : 0;
  return dispatch(ctx, mm8Src, 'matmul_direct4', [c, a, b], { u32: [M, DI, DN, lda, ldb, accumulate] }, [Math.ceil(DI / 64), Math.ceil(M / 64), 1], { WGX: 8, WGY: 8, BK: 1, A_KCONTIG: k, B_KCONTIG: k, B_F16: 0, B_BF16: 0 }, 3);
}

/** dw += dout^T @ x (the engine's orientation) with R x C outputs per invocation (directRC), 8 x 8 invocations. */
function dwRC(ctx: OpContext, src: { name: string; code: string }, entry: string, c: GpuTensor, a: GpuTensor, b: GpuTensor, R: number, C: number): Dispatch {
  return dispatch(ctx, src, entry, [c, a, b], { u32: [DO, DI, DN, DO, DI, 1] }, [Math.ceil(DI / (C * 8)), Math.ceil(DO / (R * 8)), 1], { WGX: 8, WGY: 8, BK: 1, A_KCONTIG: 0, B_KCONTIG: 0, B_F16: 0, B_BF16: 0 }, 3);
}

test('kernel study', async () => {
  const gpu = await acquireNodeDevice();
  const { device } = gpu;
  const kernels = Kernels.for(device);
  const scratch = new Map<string, GpuTensor>();
  const partialsT = createTensor(device, 'partials', [4096]);
  const ctx: OpContext = {
    device, kernels, wg: 64, where: 'study', rope: null,
    scratch: (name, shape) => { if (name === 'gradNorm.partials') return partialsT; if (!scratch.has(name)) scratch.set(name, createTensor(device, name, shape)); return scratch.get(name)!; },
  };
  const t = (name: string, n: number) => createTensor(device, name, [n]);
  const hyper = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(hyper, 0, hyperData(BENCH_SETTINGS));
  const b: Bufs = { param: t('param', N), m: t('m', N), v: t('v', N), grad: t('grad', N), state: t('state', STEP_STATE_WORDS), hyper, partials: partialsT, sums: t('sums', 8), x: createTensor(device, 'x', [MN, MI]), w: createTensor(device, 'w', [MO, MI]), out: createTensor(device, 'out', [MN, MO]),
    dw: { dout: createTensor(device, 'dw.dout', [DN, DO]), x: createTensor(device, 'dw.x', [DN, DI]), w: createTensor(device, 'dw.w', [DO, DI]), dx: createTensor(device, 'dw.dx', [DN, DI]), dw: createTensor(device, 'dw.dw', [DO, DI]),
      doutPad: createTensor(device, 'dw.doutPad', [DN, DO + 4]), xPad: createTensor(device, 'dw.xPad', [DN, DI + 4]), doutT: createTensor(device, 'dw.doutT', [DO, DN]), xT: createTensor(device, 'dw.xT', [DI, DN]) },
    rows: { a: createTensor(device, 'rows.a', [RN, RC]), b: createTensor(device, 'rows.b', [RN, RC]), w: createTensor(device, 'rows.w', [RC]), h: createTensor(device, 'rows.h', [RN, RC]), out: createTensor(device, 'rows.out', [RN, RC]), rstd: createTensor(device, 'rows.rstd', [RN]), dout: createTensor(device, 'rows.dout', [RN, RC]), dskip: createTensor(device, 'rows.dskip', [RN, RC]), dh: createTensor(device, 'rows.dh', [RN, RC]) } };
  const rnd = (s: number) => { const a = new Float32Array(N); let x = s; for (let i = 0; i < N; i++) { x = (x * 1103515245 + 12345) >>> 0; a[i] = (x / 2 ** 32 - 0.5) * 0.02; } return a; };
  const init = () => {
    writeTensor(device, b.param, rnd(1)); writeTensor(device, b.m, rnd(2)); writeTensor(device, b.v, rnd(3).map(Math.abs)); writeTensor(device, b.grad, rnd(4));
    writeTensor(device, b.partials, new Float32Array(4096));
    writeTensor(device, b.x, rnd(5).subarray(0, MN * MI)); writeTensor(device, b.w, rnd(6).subarray(0, MO * MI)); writeTensor(device, b.out, new Float32Array(MN * MO));
    const r = b.rows;
    writeTensor(device, r.a, rnd(7).subarray(0, RN * RC)); writeTensor(device, r.b, rnd(8).subarray(0, RN * RC)); writeTensor(device, r.w, rnd(9).subarray(0, RC));
    writeTensor(device, r.dout, rnd(10).subarray(0, RN * RC)); writeTensor(device, r.dskip, rnd(11).subarray(0, RN * RC));
    const d = b.dw, dout = rnd(12).subarray(0, DN * DO), x = rnd(13).subarray(0, DN * DI);
    const pad = (src: Float32Array, R: number, C: number) => { const o = new Float32Array(R * (C + 4)); for (let r = 0; r < R; r++) o.set(src.subarray(r * C, (r + 1) * C), r * (C + 4)); return o; };
    const tr = (src: Float32Array, R: number, C: number) => { const o = new Float32Array(R * C); for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) o[c * R + r] = src[r * C + c]; return o; };
    writeTensor(device, d.dout, dout); writeTensor(device, d.x, x); writeTensor(device, d.w, rnd(14).subarray(0, DO * DI)); writeTensor(device, d.dw, new Float32Array(DO * DI));
    writeTensor(device, d.doutPad, pad(dout, DN, DO)); writeTensor(device, d.xPad, pad(x, DN, DI)); writeTensor(device, d.doutT, tr(dout, DN, DO)); writeTensor(device, d.xT, tr(x, DN, DI));
    device.queue.writeBuffer(b.state.buffer, 0, new Float32Array([0, 0.7])); device.queue.writeBuffer(b.state.buffer, 8, new Uint32Array([0, 3]));
  };
  const variants: Variant[] = [
    { name: 'adamw engine', group: 'adamw', build: (c, o) => adamwStep(c, o.param, o.grad, o.m, o.v, N, o.hyper, o.state, true) },
    { name: 'matmul engine', group: 'matmul', build: (c, o) => matmulForward({ ...c, matmulTiles: { wgx: 8, wgy: 8, bk: 0 } }, o.out, o.x, o.w, null, MN, MI, MO) },
    // The forward through the 8 x 8 matmul_direct4 (the engine's before part 3).
    { name: 'matmul 8x8', group: 'matmul', build: (c, o) => [dispatch(c, mm8Src, 'matmul_direct4', [o.out, o.x, o.w], { u32: [MN, MO, MI, MI, MI, 0] }, [Math.ceil(MO / 64), Math.ceil(MN / 64), 1], { WGX: 8, WGY: 8, BK: 1, A_KCONTIG: 1, B_KCONTIG: 1, B_F16: 0, B_BF16: 0 }, 3)] },
    // dx (DN, DI) = dout (DN, DO) @ w (DO, DI) as the engine runs it, and through the 8 x 8 kernel.
    { name: 'dx engine', group: 'dx', build: (c, { dw: d }) => matmulBackward({ ...c, matmulTiles: { wgx: 8, wgy: 8, bk: 0 } }, d.dx, null, null, d.dout, d.x, d.w, DN, DI, DO, false) },
    { name: 'dx 8x8', group: 'dx', build: (c, { dw: d }) => [dispatch(c, mm8Src, 'matmul_direct4', [d.dx, d.dout, d.w], { u32: [DN, DI, DO, DO, DI, 0] }, [Math.ceil(DI / 64), Math.ceil(DN / 64), 1], { WGX: 8, WGY: 8, BK: 1, A_KCONTIG: 1, B_KCONTIG: 0, B_F16: 0, B_BF16: 0 }, 3)] },
    // dw += dout^T @ x as the engine runs it (matmul_direct4, a and b row-major along the token axis).
    { name: 'dw engine', group: 'dw', build: (c, { dw: d }) => matmulBackward({ ...c, matmulTiles: { wgx: 8, wgy: 8, bk: 0 } }, d.dx, d.dw, null, d.dout, d.x, d.w, DN, DI, DO, false).slice(1) },
    // The engine's dw before part 3: matmul_direct4 at 8 x 8 outputs per invocation.
    { name: 'dw 8x8 before', group: 'dw', build: (c, { dw: d }) => [dwProduct(c, d.dw, d.dout, d.x, DO, DO, DI, false, 1)] },
    // The 8 x 8 kernel writing c instead of c += (dw zeroed: the check's output matches).
    { name: 'dw write', group: 'dw', build: (c, { dw: d }) => [dwProduct(c, d.dw, d.dout, d.x, DO, DO, DI, false, 0)] },
    // Leading dimensions + 4 floats: rows no longer a power-of-two (or 1 KiB-multiple) bytes apart.
    { name: 'dw padded', group: 'dw', build: (c, { dw: d }) => [dwProduct(c, d.dw, d.doutPad, d.xPad, DO + 4, DO, DI + 4, false, 1)] },
    // Operands already transposed, (DO, DN) and (DI, DN): the forward orientation (k-contiguous both).
    { name: 'dw pretransposed', group: 'dw', build: (c, { dw: d }) => [dwProduct(c, d.dw, d.doutT, d.xT, DN, DO, DN, true, 1)] },
    // The same with the two transposes in the timed submit.
    { name: 'dw transpose+fwd', group: 'dw', build: (c, { dw: d }) => [
      dispatch(c, transposeSrc, 'transpose_rc', [d.doutT, d.dout], { u32: [DN, DO] }, [Math.ceil(DO / 16), Math.ceil(DN / 16), 1], {}),
      dispatch(c, transposeSrc, 'transpose_rc', [d.xT, d.x], { u32: [DN, DI] }, [Math.ceil(DI / 16), Math.ceil(DN / 16), 1], {}),
      dwProduct(c, d.dw, d.doutT, d.xT, DN, DO, DN, true, 1)] },
    ...([[8, 8], [16, 8], [8, 16], [16, 16], [12, 8], [8, 12], [4, 16], [8, 32], [4, 32]] as const).map(([R, C]): Variant => {
      const k = directRC(R, C);
      return { name: `dw ${R}x${C}`, group: 'dw', build: (c, { dw: d }) => [dwRC(c, k.src, k.name, d.dw, d.dout, d.x, R, C)] };
    }),
    { name: 'gradNorm engine', group: 'gradNorm', build: (c, o) => gradNorm(c, o.state, [o.grad], o.sums, o.hyper).slice(0, 1) },
    // The scalar partial sums, which the engine takes for an arena that is not a multiple of 4.
    { name: 'gradNorm scalar', group: 'gradNorm', build: (c, o) => [dispatch(c, gnSrc, 'grad_norm_partial', [o.partials, o.grad], { u32: [N, 0] }, [GRAD_NORM_GROUPS, 1, 1])] },
    { name: 'residualRmsnorm engine', group: 'residualRmsnorm', build: (c, { rows: r }) => [...residualRmsnormForward(c, r.h, r.out, r.rstd, r.a, r.b, r.w, RN, RC, 1e-6), ...residualRmsnormBackward(c, r.dh, null, r.dout, r.dskip, r.h, r.w, r.rstd, RN, RC)] },
    // The scalar entry points, which the engine takes when C is not a multiple of 4.
    { name: 'residualRmsnorm scalar', group: 'residualRmsnorm', build: (c, { rows: r }) => [
      dispatch(c, rrSrc, 'residual_rmsnorm_forward', [r.h, r.out, r.rstd, r.a, r.b, r.w], { u32: [RN, RC], f32: [1e-6] }, grid(RN)),
      dispatch(c, rrSrc, 'residual_rmsnorm_backward', [r.dh, r.dout, r.dskip, r.h, r.w, r.rstd], { u32: [RN, RC], f32: [0] }, grid(RN)),
    ] },
  ];
  for (const file of EXTRA) {
    const code = readFileSync(file, 'utf8');
    const src = { name: file.split('/').pop()!, code };
    for (const m of code.matchAll(/\/\/ study: (\S+) (matmul) entry=(\S+) wgx=(\d+) wgy=(\d+) rows=(\d+)(?: cols=(\d+))?/g)) {
      const [, name, , entry, wgxS, wgyS, rowsS, colsS] = m;
      const wgx = Number(wgxS), wgy = Number(wgyS), rows = Number(rowsS), cols = Number(colsS ?? 4);
      variants.push({
        name, group: 'matmul',
        build: (c, o) => [dispatch(c, src, entry, [o.out, o.x, o.w], { u32: [MN, MO, MI, MI, MI, 0] }, [Math.ceil(MO / (cols * wgx)), Math.ceil(MN / (rows * wgy)), 1], { WGX: wgx, WGY: wgy, BK: 1, A_KCONTIG: 1, B_KCONTIG: 1, B_F16: 0, B_BF16: 0 }, 3)],
      });
    }
    for (const m of code.matchAll(/\/\/ study: (\S+) (adamw|gradNorm) entry=(\S+) wg=(\d+) per=(\d+)(?: groups=(\d+))?/g)) {
      const [, name, group, entry, wgS, perS, groupsS] = m;
      const wg = Number(wgS), per = Number(perS);
      variants.push({
        name, group: group as Variant['group'],
        build: (c, o) => group === 'adamw'
          ? [dispatch(c, src, entry, [o.param, o.m, o.v, o.grad, o.state, o.hyper], { u32: [N, 1] }, groupsS ? [Number(groupsS), 1, 1] : grid(Math.ceil(N / (per * wg))), { WG: wg, PER: per })]
          : [dispatch(c, src, entry, [o.partials, o.grad], { u32: [N, 0] }, [Number(groupsS ?? 64), 1, 1], { WG: wg, PER: per })],
      });
    }
  }
  const chosen = variants.filter((v) => !ONLY || ONLY.includes(v.name));
  const runs = chosen.map((v) => ({ v, ds: v.build(ctx, b), wall: [] as number[], cpu: [] as number[] }));
  const once = async (ds: Dispatch[], reps = 1) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let r = 0; r < reps; r++) encode(pass, ds);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return { wall: wall / reps, cpu: (c.user + c.system) / 1000 / reps };
  };
  // Check: every variant's output against the engine's from the same inputs.
  const refs: Record<string, Float32Array[]> = {};
  for (const r of runs) {
    init();
    device.pushErrorScope('validation');
    await once(r.ds);
    await kernels.checkCompilation();
    const err = await device.popErrorScope();
    if (err) throw new Error(`${r.v.name}: ${err.message}`);
    const out = r.v.group === 'adamw' ? [await readF32(device, b.param), await readF32(device, b.m), await readF32(device, b.v)]
      : r.v.group === 'matmul' ? [await readF32(device, b.out)]
      : r.v.group === 'dw' ? [await readF32(device, b.dw.dw)]
      : r.v.group === 'dx' ? [await readF32(device, b.dw.dx)]
      : r.v.group === 'residualRmsnorm' ? [await readF32(device, b.rows.h), await readF32(device, b.rows.out), await readF32(device, b.rows.dh)]
      : [await readF32(device, b.partials)];
    if (r.v.group === 'gradNorm') { const s = out[0].reduce((a, x) => a + x, 0); out[0] = new Float32Array([s]); }
    const ref = refs[r.v.group] ??= out;
    for (let k = 0; k < ref.length; k++) {
      let worst = 0, mag = 0;
      for (let i = 0; i < ref[k].length; i++) { worst = Math.max(worst, Math.abs(out[k][i] - ref[k][i])); mag = Math.max(mag, Math.abs(ref[k][i])); }
      expect(worst / mag, `${r.v.name} output ${k}`).toBeLessThan(1e-5);
    }
  }
  init();
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of runs) { const s = await once(r.ds, REPEAT); r.wall.push(s.wall); r.cpu.push(s.cpu); }
  }
  const rows = runs.map((r) => ({ name: r.v.name, wallMs: median(r.wall), cpuMs: median(r.cpu), wall: r.wall, cpu: r.cpu }));
  console.log([`kernel study, N=${N}, ${ROUNDS} rounds of ${REPEAT}, dw ${DN},${DI},${DO}`, '| variant | wall ms (median) | CPU ms (median) | wall per round |', '|---|---:|---:|---|',
    ...rows.map((r) => `| ${r.name} | ${r.wallMs.toFixed(2)} | ${r.cpuMs.toFixed(2)} | ${r.wall.map((x) => x.toFixed(0)).join(', ')} |`)].join('\n'));
  if (process.env.STUDY_OUT) writeFileSync(process.env.STUDY_OUT, JSON.stringify({ N, ROUNDS, rows }, null, 1));
  device.destroy();
});
