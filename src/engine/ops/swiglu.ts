/** SwiGLU (shaders/swiglu.wgsl): out = silu(gate) * up, element-wise over n = N*F. */
import shader from '../../../shaders/swiglu.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'swiglu.wgsl', code: shader };

/** out (N,F) =, gate (N,F), up (N,F); n = N*F. */
export function swigluForward(ctx: OpContext, out: GpuTensor, gate: GpuTensor, up: GpuTensor, n: number): Dispatch[] {
  for (const [t, w] of [[out, 'out'], [gate, 'gate'], [up, 'up']] as const) expectSize('swigluForward', t, [n], w);
  return [dispatch(ctx, src, 'swiglu_forward', [out, gate, up], { u32: [n] }, grid1d(n, ctx.wg))];
}

/** dgate (N,F) =, dup (N,F) =, dout (N,F), gate, up; n = N*F. */
export function swigluBackward(ctx: OpContext, dgate: GpuTensor, dup: GpuTensor, dout: GpuTensor, gate: GpuTensor, up: GpuTensor, n: number): Dispatch[] {
  for (const [t, w] of [[dgate, 'dgate'], [dup, 'dup'], [dout, 'dout'], [gate, 'gate'], [up, 'up']] as const) expectSize('swigluBackward', t, [n], w);
  return [dispatch(ctx, src, 'swiglu_backward', [dgate, dup, dout, gate, up], { u32: [n] }, grid1d(n, ctx.wg))];
}
