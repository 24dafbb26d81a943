/** Fused masked softmax cross-entropy with the HF shift inside (shaders/cross_entropy.wgsl). */
import shader from '../../../shaders/cross_entropy.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'cross_entropy.wgsl', code: shader };

/**
 * losses (N) =, dlogits (N,V) =, logits (N,V), ids (N), labels (N), weights (N), seqScale (B).
 * The caller has checked that ids lie in [0, V) and every trained label equals the next input id.
 */
export function crossEntropyForward(
  ctx: OpContext, losses: GpuTensor, dlogits: GpuTensor,
  logits: GpuTensor, ids: GpuTensor, labels: GpuTensor, weights: GpuTensor, seqScale: GpuTensor,
  B: number, T: number, V: number,
): Dispatch[] {
  const op = 'crossEntropyForward';
  const N = B * T;
  expectSize(op, losses, [N], 'losses');
  expectSize(op, dlogits, [N, V], 'dlogits');
  expectSize(op, logits, [N, V], 'logits');
  expectSize(op, ids, [N], 'ids');
  expectSize(op, labels, [N], 'labels');
  expectSize(op, weights, [N], 'weights');
  expectSize(op, seqScale, [B], 'seqScale');
  return [dispatch(ctx, src, 'cross_entropy_forward', [losses, dlogits, logits, ids, labels, weights, seqScale], { u32: [B, T, V] }, grid(N))];
}

/** norms (N) = ||dlogits[n, :]||_2, dlogits (N,V). Per-position gradient strength for the heatmap. */
export function dlogitNorms(ctx: OpContext, norms: GpuTensor, dlogits: GpuTensor, B: number, T: number, V: number): Dispatch[] {
  expectSize('dlogitNorms', norms, [B * T], 'norms');
  expectSize('dlogitNorms', dlogits, [B * T, V], 'dlogits');
  return [dispatch(ctx, src, 'cross_entropy_dlogit_norms', [norms, dlogits], { u32: [B, T, V] }, grid(B * T))];
}
