/** f16 storage of a weight matrix (shaders/pack_f16.wgsl). */
import shader from '../../../shaders/pack_f16.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'pack_f16.wgsl', code: shader };

/** out (same shape, dtype f16) = x (f32) rounded to f16, clamped to +-65504. No backward (straight-through). */
export function packF16Forward(ctx: OpContext, out: GpuTensor, x: GpuTensor): Dispatch[] {
  if (out.dtype !== 'f16') throw new Error(`packF16Forward: out '${out.name}' must be an f16 tensor.`);
  expectSize('packF16Forward', out, x.shape, 'out', true);
  expectSize('packF16Forward', x, out.shape, 'x');
  const n = x.shape.reduce((a, b) => a * b, 1);
  return [dispatch(ctx, src, 'pack_f16_forward', [out, x], { u32: [n] }, grid1d(Math.ceil(n / 2), ctx.wg))];
}
