/** Residual add (shaders/residual.wgsl). */
import shader from '../../../shaders/residual.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'residual.wgsl', code: shader };

/** out (n) = a + b. In backward, also sums the two gradients meeting at a fork. */
export function residualForward(ctx: OpContext, out: GpuTensor, a: GpuTensor, b: GpuTensor, n: number): Dispatch[] {
  for (const [t, w] of [[out, 'out'], [a, 'a'], [b, 'b']] as const) expectSize('residualForward', t, [n], w);
  return [dispatch(ctx, src, 'residual_forward', [out, a, b], { u32: [n] }, grid1d(n, ctx.wg))];
}

/** da (n) +=, db (n) +=, dout (n). */
export function residualBackward(ctx: OpContext, da: GpuTensor, db: GpuTensor, dout: GpuTensor, n: number): Dispatch[] {
  for (const [t, w] of [[da, 'da'], [db, 'db'], [dout, 'dout']] as const) expectSize('residualBackward', t, [n], w);
  return [dispatch(ctx, src, 'residual_backward', [da, db, dout], { u32: [n] }, grid1d(n, ctx.wg))];
}
