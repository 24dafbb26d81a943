/**
 * nn.Linear for a few rows (shaders/matvec.wgsl): what matmulForward computes, laid out for N = 1
 * (generation's one new token), where matmul's 16-row tiles would compute 15 empty rows.
 */
import shader from '../../../shaders/matvec.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'matvec.wgsl', code: shader };

/**
 * Invocations per output row (WGSL override LANES). 4 lanes reading consecutive floats keep every
 * 32-byte memory sector a row touches fully used across steps, and the reduction to 2 levels; a
 * workgroup then covers WG / 4 rows. (On SwiftShader, where each invocation of a workgroup runs in
 * turn, this is also ~10x faster than a whole workgroup per row: 232 vs 2042-3025 ms per token of
 * playground-base measured with 16 vs 64 invocations per row.)
 */
export const MATVEC_LANES = 4;

/** out (N,O) =, x (N,I), w (O,I), bias (O) or null. MATVEC_LANES invocations per output element. */
export function matvecForward(ctx: OpContext, out: GpuTensor, x: GpuTensor, w: GpuTensor, bias: GpuTensor | null, N: number, I: number, O: number): Dispatch[] {
  expectSize('matvecForward', out, [N, O], 'out');
  expectSize('matvecForward', x, [N, I], 'x');
  expectSize('matvecForward', w, [O, I], 'w');
  if (bias) expectSize('matvecForward', bias, [O], 'bias');
  const lanes = Math.min(MATVEC_LANES, ctx.wg);
  const params = { u32: [N, I, O] };
  const constants = { WG: ctx.wg, LANES: lanes };
  const groups = grid(Math.ceil((N * O) / (ctx.wg / lanes)));
  return [
    bias
      ? dispatch(ctx, src, 'matvec_forward_bias', [out, x, w, bias], params, groups, constants, 3)
      : dispatch(ctx, src, 'matvec_forward', [out, x, w], params, groups, constants),
  ];
}
