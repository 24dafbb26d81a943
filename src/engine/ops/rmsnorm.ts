/** RMSNorm (shaders/rmsnorm.wgsl). */
import shader from '../../../shaders/rmsnorm.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid, grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'rmsnorm.wgsl', code: shader };

/** out (N,C) =, rstd (N) =, x (N,C), w (C). One workgroup per row. */
export function rmsnormForward(ctx: OpContext, out: GpuTensor, rstd: GpuTensor, x: GpuTensor, w: GpuTensor, N: number, C: number, eps: number): Dispatch[] {
  expectSize('rmsnormForward', out, [N, C], 'out');
  expectSize('rmsnormForward', rstd, [N], 'rstd');
  expectSize('rmsnormForward', x, [N, C], 'x');
  expectSize('rmsnormForward', w, [C], 'w');
  return [dispatch(ctx, src, 'rmsnorm_forward', [out, rstd, x, w], { u32: [N, C], f32: [eps] }, grid(N))];
}

/** dx (N,C) =, dw (C) +=, dout (N,C), x (N,C), w (C), rstd (N). */
export function rmsnormBackward(ctx: OpContext, dx: GpuTensor, dw: GpuTensor | null, dout: GpuTensor, x: GpuTensor, w: GpuTensor, rstd: GpuTensor, N: number, C: number): Dispatch[] {
  expectSize('rmsnormBackward', dx, [N, C], 'dx');
  if (dw) expectSize('rmsnormBackward', dw, [C], 'dw');
  expectSize('rmsnormBackward', dout, [N, C], 'dout');
  expectSize('rmsnormBackward', x, [N, C], 'x');
  expectSize('rmsnormBackward', w, [C], 'w');
  expectSize('rmsnormBackward', rstd, [N], 'rstd');
  return [
    dispatch(ctx, src, 'rmsnorm_backward', [dx, dout, x, w, rstd], { u32: [N, C], f32: [0] }, grid(N)),
    ...(dw ? rmsnormBackwardWeight(ctx, dw, dout, x, rstd, N, C) : []),
  ];
}

/** dw (C) += sum over rows of dout * x * rstd; also the weight gradient of residualRmsnorm. */
export function rmsnormBackwardWeight(ctx: OpContext, dw: GpuTensor, dout: GpuTensor, x: GpuTensor, rstd: GpuTensor, N: number, C: number): Dispatch[] {
  return [dispatch(ctx, src, 'rmsnorm_backward_weight', [dw, dout, x, rstd], { u32: [N, C], f32: [0] }, grid1d(C, ctx.wg))];
}
