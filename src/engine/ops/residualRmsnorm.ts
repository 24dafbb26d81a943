/** Residual add fused into RMSNorm (shaders/residual_rmsnorm.wgsl). */
import shader from '../../../shaders/residual_rmsnorm.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';
import { rmsnormBackwardWeight } from './rmsnorm';

const src = { name: 'residual_rmsnorm.wgsl', code: shader };

/** The vec4 kernels (…4 entry points) apply: C a multiple of 4 and the (N, C) and (C) tensors 16-byte aligned. */
function quads(C: number, ts: readonly GpuTensor[]): boolean {
  return C % 4 === 0 && ts.every((t) => t.offset % 16 === 0);
}

/** h (N,C) = a + b, out (N,C) = rmsnorm(h) * w, rstd (N) =; a, b (N,C), w (C). One workgroup per row. */
export function residualRmsnormForward(ctx: OpContext, h: GpuTensor, out: GpuTensor, rstd: GpuTensor, a: GpuTensor, b: GpuTensor, w: GpuTensor, N: number, C: number, eps: number): Dispatch[] {
  for (const [t, what] of [[h, 'h'], [out, 'out'], [a, 'a'], [b, 'b']] as const) expectSize('residualRmsnormForward', t, [N, C], what);
  expectSize('residualRmsnormForward', rstd, [N], 'rstd');
  expectSize('residualRmsnormForward', w, [C], 'w');
  const v4 = quads(C, [h, out, a, b, w]) ? '4' : '';
  return [dispatch(ctx, src, `residual_rmsnorm_forward${v4}`, [h, out, rstd, a, b, w], { u32: [N, C], f32: [eps] }, grid(N))];
}

/**
 * dh (N,C) = dskip + the norm's dx, dw (C) +=; dout (N,C), dskip (N,C) (h's gradient through the
 * skip connection), h (N,C), w (C), rstd (N). dh is also the gradient of both addends a and b.
 */
export function residualRmsnormBackward(ctx: OpContext, dh: GpuTensor, dw: GpuTensor | null, dout: GpuTensor, dskip: GpuTensor, h: GpuTensor, w: GpuTensor, rstd: GpuTensor, N: number, C: number): Dispatch[] {
  for (const [t, what] of [[dh, 'dh'], [dout, 'dout'], [dskip, 'dskip'], [h, 'h']] as const) expectSize('residualRmsnormBackward', t, [N, C], what);
  if (dw) expectSize('residualRmsnormBackward', dw, [C], 'dw');
  expectSize('residualRmsnormBackward', w, [C], 'w');
  expectSize('residualRmsnormBackward', rstd, [N], 'rstd');
  const v4 = quads(C, [dh, dout, dskip, h, w]) ? '4' : '';
  return [
    dispatch(ctx, src, `residual_rmsnorm_backward${v4}`, [dh, dout, dskip, h, w, rstd], { u32: [N, C], f32: [0] }, grid(N)),
    ...(dw ? rmsnormBackwardWeight(ctx, dw, dout, h, rstd, N, C) : []),
  ];
}
