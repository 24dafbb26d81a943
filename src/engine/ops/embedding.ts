/** Token embedding (shaders/embedding.wgsl). */
import shader from '../../../shaders/embedding.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'embedding.wgsl', code: shader };

/** out (N,C) =, ids (N), wte (V,C). */
export function embeddingForward(ctx: OpContext, out: GpuTensor, ids: GpuTensor, wte: GpuTensor, N: number, C: number): Dispatch[] {
  const V = wte.shape[0];
  expectSize('embeddingForward', out, [N, C], 'out');
  expectSize('embeddingForward', ids, [N], 'ids');
  expectSize('embeddingForward', wte, [V, C], 'wte');
  return [dispatch(ctx, src, 'embedding_forward', [out, ids, wte], { u32: [N, C, V] }, grid1d(N * C, ctx.wg))];
}

/** dwte (V,C) +=, dout (N,C), ids (N). */
export function embeddingBackward(ctx: OpContext, dwte: GpuTensor, dout: GpuTensor, ids: GpuTensor, N: number, C: number): Dispatch[] {
  const V = dwte.shape[0];
  expectSize('embeddingBackward', dwte, [V, C], 'dwte');
  expectSize('embeddingBackward', dout, [N, C], 'dout');
  expectSize('embeddingBackward', ids, [N], 'ids');
  return [dispatch(ctx, src, 'embedding_backward', [dwte, dout, ids], { u32: [N, C, V] }, grid1d(C, ctx.wg))];
}
