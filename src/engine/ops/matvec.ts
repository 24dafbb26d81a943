/**
 * nn.Linear for a few rows (shaders/matvec.wgsl): what matmulForward computes, laid out for N = 1
 * (generation's one new token), where matmul's 16-row tiles would compute 15 empty rows.
 */
import shader from '../../../shaders/matvec.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'matvec.wgsl', code: shader };

/** out (N,O) =, x (N,I), w (O,I), bias (O) or null. One workgroup per output element. */
export function matvecForward(ctx: OpContext, out: GpuTensor, x: GpuTensor, w: GpuTensor, bias: GpuTensor | null, N: number, I: number, O: number): Dispatch[] {
  expectSize('matvecForward', out, [N, O], 'out');
  expectSize('matvecForward', x, [N, I], 'x');
  expectSize('matvecForward', w, [O, I], 'w');
  if (bias) expectSize('matvecForward', bias, [O], 'bias');
  const params = { u32: [N, I, O] };
  return [
    bias
      ? dispatch(ctx, src, 'matvec_forward_bias', [out, x, w, bias], params, grid(N * O), undefined, 3)
      : dispatch(ctx, src, 'matvec_forward', [out, x, w], params, grid(N * O)),
  ];
}
