/**
 * nn.Linear (shaders/matmul.wgsl): out = x @ w^T + bias, and its backward, as one register-blocked
 * tiled kernel whose tile shape (`MatmulTiles`) the autotune picks per adapter. The first, simple
 * kernel (shaders/matmul_naive.wgsl) stays as a test oracle: matmulNaiveForward/Backward.
 */
import shader from '../../../shaders/matmul.wgsl?raw';
import naiveShader from '../../../shaders/matmul_naive.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, MAX_WORKGROUPS_PER_DIM, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'matmul.wgsl', code: shader };
const naiveSrc = { name: 'matmul_naive.wgsl', code: naiveShader };

/**
 * Tile shape of the tiled kernel: a workgroup of wgx x wgy invocations computes a (4*wgy) x (4*wgx)
 * output tile, stepping K in slices of bk (WGSL overrides WGX, WGY, BK).
 */
export interface MatmulTiles {
  wgx: number;
  wgy: number;
  /** K slice staged in workgroup memory; 0 = no workgroup memory (`matmul_direct`: operands read from storage). */
  bk: number;
}

/** Used when nothing was tuned (tests, or an adapter the autotune has not seen): a 32 x 32 tile. */
export const DEFAULT_MATMUL_TILES: MatmulTiles = { wgx: 8, wgy: 8, bk: 16 };

/**
 * What the autotune tries. All fit WebGPU's default limits (256 invocations, 16 KiB of workgroup
 * memory: (4*wgx + 4*wgy) * bk * 4 bytes).
 */
export const MATMUL_TILE_CANDIDATES: readonly MatmulTiles[] = [
  { wgx: 8, wgy: 8, bk: 8 },
  { wgx: 8, wgy: 8, bk: 16 },
  { wgx: 8, wgy: 8, bk: 32 },
  { wgx: 16, wgy: 8, bk: 16 },
  { wgx: 16, wgy: 16, bk: 8 },
  { wgx: 16, wgy: 16, bk: 16 },
  { wgx: 8, wgy: 8, bk: 0 },
  { wgx: 16, wgy: 16, bk: 0 },
];

export function describeTiles(t: MatmulTiles): string {
  return t.bk
    ? `${4 * t.wgy}x${4 * t.wgx} tile, ${t.wgx}x${t.wgy} invocations, 4x4 per invocation, K slice ${t.bk} in workgroup memory`
    : `${t.wgx}x${t.wgy} invocations, no workgroup memory (16x16 per invocation with vec4 loads where aligned, else 4x4)`;
}

/**
 * One tiled product c (M,P) (=|+=) a (M,K) @ b (K,P) (+ bias (P)), c row-major; a and b are read
 * through a leading dimension and an orientation (shaders/matmul.wgsl A_KCONTIG / B_KCONTIG).
 */
interface Product {
  /** The dispatch label. */
  name: 'MatmulForward' | 'MatmulBackwardDx' | 'MatmulBackwardDw';
  /** The public op, for error messages. */
  op: string;
  c: GpuTensor;           // (M, P), row-major
  a: GpuTensor;           // a(m, k) at m*lda + k (aKContig) or k*lda + m
  b: GpuTensor;           // b(k, p) at p*ldb + k (bKContig) or k*ldb + p; f32 or dtype f16
  bias: GpuTensor | null; // (P), added to every row of c
  M: number;              // rows of c and a
  P: number;              // columns of c and b
  K: number;              // the summed dimension
  lda: number;            // a's leading dimension
  ldb: number;            // b's leading dimension
  aKContig: boolean;      // WGSL A_KCONTIG
  bKContig: boolean;      // WGSL B_KCONTIG
  accumulate: boolean;    // c += instead of c =
}

function product(ctx: OpContext, pr: Product): Dispatch {
  const { c, a, b, bias, M, P, K, lda, ldb, aKContig, bKContig } = pr;
  const t = ctx.matmulTiles ?? DEFAULT_MATMUL_TILES;
  const direct = t.bk === 0;
  const bF16 = b.dtype === 'f16', bBF16 = b.dtype === 'bf16';
  // 16-byte loads and stores need every vec4 to start on a multiple of 4 elements.
  const vec4 = direct && K % 4 === 0 && lda % 4 === 0 && ldb % 4 === 0 && P % 4 === 0 && (aKContig || M % 4 === 0) && (bKContig || P % 4 === 0);
  // Outputs per invocation along each axis: 16 x 16 in matmul_direct4, 4 x 4 otherwise.
  const per = vec4 ? 16 : 4;
  const x = Math.ceil(P / (per * t.wgx));
  const y = Math.ceil(M / (per * t.wgy));
  if (x > MAX_WORKGROUPS_PER_DIM || y > MAX_WORKGROUPS_PER_DIM) throw new Error(`${pr.op}: a ${M} x ${P} output needs more than ${MAX_WORKGROUPS_PER_DIM} tiles in one dimension; reduce the batch or sequence length.`);
  // BK sizes the workgroup arrays, which the direct entry points do not use; any valid value does.
  const constants = { WGX: t.wgx, WGY: t.wgy, BK: direct ? 1 : t.bk, A_KCONTIG: aKContig ? 1 : 0, B_KCONTIG: bKContig ? 1 : 0, B_F16: bF16 ? 1 : 0, B_BF16: bBF16 ? 1 : 0 };
  const bindings = bias ? [c, a, b, bias] : [c, a, b];
  const tiledEntry = bias ? 'matmul_bias' : 'matmul';
  const directEntry = vec4 ? (bias ? 'matmul_direct4_bias' : 'matmul_direct4') : bias ? 'matmul_direct_bias' : 'matmul_direct';
  const d = dispatch(ctx, src, direct ? directEntry : tiledEntry, bindings, { u32: [M, P, K, lda, ldb, pr.accumulate ? 1 : 0] }, [x, y, 1], constants, 3);
  // Labelled by the product, not the shared entry point, so profiles split forward, dx and dw.
  return { ...d, label: `${pr.name}${ctx.where ? `[${ctx.where}]` : ''}`, flops: 2 * M * P * K };
}

/** out (N,O) =, x (N,I), w (O,I) (f32 or dtype f16), bias (O) or null. */
export function matmulForward(ctx: OpContext, out: GpuTensor, x: GpuTensor, w: GpuTensor, bias: GpuTensor | null, N: number, I: number, O: number): Dispatch[] {
  expectSize('matmulForward', out, [N, O], 'out');
  expectSize('matmulForward', x, [N, I], 'x');
  expectSize('matmulForward', w, [O, I], 'w', true); // f32, or its f16 copy (read as b)
  if (bias) expectSize('matmulForward', bias, [O], 'bias');
  return [product(ctx, {
    name: 'MatmulForward', op: 'matmulForward',
    c: out,  // (N, O)
    a: x,    // (N, I), k-contiguous
    b: w,    // b(k, o) = w[o, k], k-contiguous
    bias,
    M: N, P: O, K: I, lda: I, ldb: I, aKContig: true, bKContig: true, accumulate: false,
  })];
}

/**
 * dx (N,I) = (or += with accumulateDx), dw (O,I) += or null, dbias (O) += or null, dout (N,O),
 * x (N,I), w (O,I) (f32, or dtype f16/bf16: dx reads it). dw null: a frozen weight (LoRA), no dW product.
 */
export function matmulBackward(
  ctx: OpContext,
  dx: GpuTensor, dw: GpuTensor | null, dbias: GpuTensor | null,
  dout: GpuTensor, x: GpuTensor, w: GpuTensor,
  N: number, I: number, O: number, accumulateDx: boolean,
): Dispatch[] {
  checkBackward('matmulBackward', dx, dw, dbias, dout, x, w, N, I, O, true);
  const out: Dispatch[] = [
    product(ctx, {
      name: 'MatmulBackwardDx', op: 'matmulBackward',
      c: dx,   // (N, I)
      a: dout, // (N, O), k-contiguous
      b: w,    // b(o, i) = w[o, i], row-major
      bias: null,
      M: N, P: I, K: O, lda: O, ldb: I, aKContig: true, bKContig: false, accumulate: accumulateDx,
    }),
  ];
  if (dw) out.push(
    product(ctx, {
      name: 'MatmulBackwardDw', op: 'matmulBackward',
      c: dw,   // (O, I) +=
      a: dout, // a(o, n) = dout[n, o], row-major
      b: x,    // b(n, i) = x[n, i], row-major
      bias: null,
      M: O, P: I, K: N, lda: O, ldb: I, aKContig: false, bKContig: false, accumulate: true,
    }),
  );
  if (dbias) out.push(dispatch(ctx, src, 'matmul_backward_bias', [dbias, dout], { u32: [N, O, 0, 0, 0, 0] }, grid1d(O, ctx.wg)));
  return out;
}

/** w may be the f16 copy where the op reads it only as dx's b operand (allowF16W). */
function checkBackward(op: string, dx: GpuTensor, dw: GpuTensor | null, dbias: GpuTensor | null, dout: GpuTensor, x: GpuTensor, w: GpuTensor, N: number, I: number, O: number, allowF16W = false): void {
  expectSize(op, dx, [N, I], 'dx');
  if (dw) expectSize(op, dw, [O, I], 'dw');
  if (dbias) expectSize(op, dbias, [O], 'dbias');
  expectSize(op, dout, [N, O], 'dout');
  expectSize(op, x, [N, I], 'x');
  expectSize(op, w, [O, I], 'w', allowF16W);
}

// ---- the naive kernel: test oracle only ----

/** Output tile edge of the naive kernel (WGSL override TILE): TILE² = 256 invocations. */
const NAIVE_TILE = 16;

function naiveTiles(rows: number, cols: number): [number, number, number] {
  return [Math.ceil(cols / NAIVE_TILE), Math.ceil(rows / NAIVE_TILE), 1];
}

/** matmulForward with the naive kernel (same contract). */
export function matmulNaiveForward(ctx: OpContext, out: GpuTensor, x: GpuTensor, w: GpuTensor, bias: GpuTensor | null, N: number, I: number, O: number): Dispatch[] {
  expectSize('matmulNaiveForward', out, [N, O], 'out');
  expectSize('matmulNaiveForward', x, [N, I], 'x');
  expectSize('matmulNaiveForward', w, [O, I], 'w');
  const params = { u32: [N, I, O, 0] };
  const c = { TILE: NAIVE_TILE };
  return [bias
    ? dispatch(ctx, naiveSrc, 'matmul_naive_forward_bias', [out, x, w, bias], params, naiveTiles(N, O), c, 3)
    : dispatch(ctx, naiveSrc, 'matmul_naive_forward', [out, x, w], params, naiveTiles(N, O), c)];
}

/** matmulBackward with the naive kernel (same contract, no bias). */
export function matmulNaiveBackward(ctx: OpContext, dx: GpuTensor, dw: GpuTensor, dout: GpuTensor, x: GpuTensor, w: GpuTensor, N: number, I: number, O: number, accumulateDx: boolean): Dispatch[] {
  checkBackward('matmulNaiveBackward', dx, dw, null, dout, x, w, N, I, O);
  const c = { TILE: NAIVE_TILE };
  return [
    dispatch(ctx, naiveSrc, 'matmul_naive_backward_dx', [dx, dout, w], { u32: [N, I, O, accumulateDx ? 1 : 0] }, naiveTiles(N, I), c),
    dispatch(ctx, naiveSrc, 'matmul_naive_backward_dw', [dw, dout, x], { u32: [N, I, O, 0] }, naiveTiles(O, I), c),
  ];
}
