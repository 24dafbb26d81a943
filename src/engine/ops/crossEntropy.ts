/**
 * Masked softmax cross-entropy with the HF shift inside, over the vocabulary in chunks
 * (shaders/cross_entropy.wgsl). ops/lmHead.ts strings these together with the LM head matmul;
 * the contract is the reference's crossEntropyForward.
 */
import shader from '../../../shaders/cross_entropy.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid, grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'cross_entropy.wgsl', code: shader };

/** Running statistics per row (see the shader): (m, s, s_ex, s2_ex). */
export const CE_STATS = 4;

/**
 * stats (N,4) merged (fresh when `first`), tgtLogit (N) set where the target lies in the chunk;
 * logitsChunk (N, vc) = the logits of vocabulary rows v0 .. v0+vc-1, ids (N).
 */
export function crossEntropyChunkStats(
  ctx: OpContext, stats: GpuTensor, tgtLogit: GpuTensor,
  logitsChunk: GpuTensor, ids: GpuTensor,
  B: number, T: number, V: number, v0: number, vc: number, first: boolean,
): Dispatch[] {
  const op = 'crossEntropyChunkStats', N = B * T;
  expectSize(op, stats, [N, CE_STATS], 'stats');
  expectSize(op, tgtLogit, [N], 'tgtLogit');
  expectSize(op, logitsChunk, [N, vc], 'logitsChunk');
  expectSize(op, ids, [N], 'ids');
  return [dispatch(ctx, src, 'cross_entropy_chunk_stats', [stats, tgtLogit, logitsChunk, ids], { u32: [B, T, V, v0, vc, first ? 1 : 0] }, grid(N))];
}

/**
 * losses (N) =, norms (N) = ||dlogits|| per row, lse (N) =; stats (N,4), tgtLogit (N) after every
 * chunk; labels (N), weights (N), seqScale (B).
 */
export function crossEntropyFinalize(
  ctx: OpContext, losses: GpuTensor, norms: GpuTensor, lse: GpuTensor,
  stats: GpuTensor, tgtLogit: GpuTensor, labels: GpuTensor, weights: GpuTensor, seqScale: GpuTensor,
  B: number, T: number,
): Dispatch[] {
  const op = 'crossEntropyFinalize', N = B * T;
  for (const [t, name] of [[losses, 'losses'], [norms, 'norms'], [lse, 'lse'], [tgtLogit, 'tgtLogit'], [labels, 'labels'], [weights, 'weights']] as const) expectSize(op, t, [N], name);
  expectSize(op, stats, [N, CE_STATS], 'stats');
  expectSize(op, seqScale, [B], 'seqScale');
  return [dispatch(ctx, src, 'cross_entropy_finalize', [losses, norms, lse, stats, tgtLogit, labels, weights, seqScale], { u32: [B, T, 0, 0, 0, 0] }, grid1d(N, ctx.wg))];
}

/** chunk (N, vc): logits of rows v0.. in, their dlogits out (in place); lse (N), labels (N), weights (N), seqScale (B). */
export function crossEntropyChunkBackward(
  ctx: OpContext, chunk: GpuTensor,
  lse: GpuTensor, labels: GpuTensor, weights: GpuTensor, seqScale: GpuTensor,
  B: number, T: number, V: number, v0: number, vc: number,
): Dispatch[] {
  const op = 'crossEntropyChunkBackward', N = B * T;
  expectSize(op, chunk, [N, vc], 'chunk');
  for (const [t, name] of [[lse, 'lse'], [labels, 'labels'], [weights, 'weights']] as const) expectSize(op, t, [N], name);
  expectSize(op, seqScale, [B], 'seqScale');
  return [dispatch(ctx, src, 'cross_entropy_chunk_backward', [chunk, lse, labels, weights, seqScale], { u32: [B, T, V, v0, vc, 0] }, grid1d(N * vc, ctx.wg))];
}
