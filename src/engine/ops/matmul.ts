/** nn.Linear (shaders/matmul.wgsl): out = x @ w^T + bias. */
import shader from '../../../shaders/matmul.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, MAX_WORKGROUPS_PER_DIM, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'matmul.wgsl', code: shader };

/** Output tile edge (WGSL override TILE): TILE² = 256 invocations, the WebGPU default maximum. */
const TILE = 16;

function tiles(rows: number, cols: number, op: string): [number, number, number] {
  const x = Math.ceil(cols / TILE);
  const y = Math.ceil(rows / TILE);
  if (x > MAX_WORKGROUPS_PER_DIM || y > MAX_WORKGROUPS_PER_DIM) throw new Error(`${op}: a ${rows} x ${cols} output needs more than ${MAX_WORKGROUPS_PER_DIM} tiles in one dimension; reduce the batch or sequence length.`);
  return [x, y, 1];
}

/** out (N,O) =, x (N,I), w (O,I), bias (O) or null. */
export function matmulForward(ctx: OpContext, out: GpuTensor, x: GpuTensor, w: GpuTensor, bias: GpuTensor | null, N: number, I: number, O: number): Dispatch[] {
  expectSize('matmulForward', out, [N, O], 'out');
  expectSize('matmulForward', x, [N, I], 'x');
  expectSize('matmulForward', w, [O, I], 'w');
  if (bias) expectSize('matmulForward', bias, [O], 'bias');
  const params = { u32: [N, I, O, 0] };
  const wg = tiles(N, O, 'matmulForward');
  const d = bias
    ? dispatch(ctx, src, 'matmul_forward_bias', [out, x, w, bias], params, wg, { TILE }, 3)
    : dispatch(ctx, src, 'matmul_forward', [out, x, w], params, wg, { TILE });
  return [{ ...d, flops: 2 * N * I * O }];
}

/** dx (N,I) = (or += with accumulateDx), dw (O,I) +=, dbias (O) += or null, dout (N,O), x (N,I), w (O,I). */
export function matmulBackward(
  ctx: OpContext,
  dx: GpuTensor, dw: GpuTensor, dbias: GpuTensor | null,
  dout: GpuTensor, x: GpuTensor, w: GpuTensor,
  N: number, I: number, O: number, accumulateDx: boolean,
): Dispatch[] {
  expectSize('matmulBackward', dx, [N, I], 'dx');
  expectSize('matmulBackward', dw, [O, I], 'dw');
  if (dbias) expectSize('matmulBackward', dbias, [O], 'dbias');
  expectSize('matmulBackward', dout, [N, O], 'dout');
  expectSize('matmulBackward', x, [N, I], 'x');
  expectSize('matmulBackward', w, [O, I], 'w');
  const out: Dispatch[] = [
    { ...dispatch(ctx, src, 'matmul_backward_dx', [dx, dout, w], { u32: [N, I, O, accumulateDx ? 1 : 0] }, tiles(N, I, 'matmulBackward'), { TILE }), flops: 2 * N * I * O },
    { ...dispatch(ctx, src, 'matmul_backward_dw', [dw, dout, x], { u32: [N, I, O, 0] }, tiles(O, I, 'matmulBackward'), { TILE }), flops: 2 * N * I * O },
  ];
  if (dbias) out.push(dispatch(ctx, src, 'matmul_backward_bias', [dbias, dout], { u32: [N, I, O, 0] }, grid1d(O, ctx.wg)));
  return out;
}
