/**
 * The LM head fused with the cross-entropy: logits = lnf @ W^T (W (V, C), the embedding when tied)
 * are computed one chunk of VC vocabulary rows at a time into an (N, VC) buffer, so neither the
 * (N, V) logits nor the (N, V) dlogits ever exist. Forward merges each chunk into per-row online
 * log-sum-exp statistics; backward recomputes each chunk's logits (skipped when there is only one
 * chunk: the buffer still holds them), turns them into dlogits in place and runs the chunk's
 * matmul backward (dlnf accumulates over chunks, dW's rows v0.. get their own slice).
 * Same results as reference matmulForward + crossEntropyForward + matmulBackward.
 */
import type { GpuTensor } from '../../gpu/buffers';
import type { Dispatch } from '../../gpu/kernel';
import { expectSize, type OpContext } from './context';
import { matmulBackward, matmulForward } from './matmul';
import { CE_STATS, crossEntropyChunkBackward, crossEntropyChunkStats, crossEntropyFinalize } from './crossEntropy';
import { ALIGN } from '../layout';

/** One vocabulary chunk: rows v0 .. v0+vc-1 of W. */
export interface VocabChunk {
  v0: number;
  vc: number;
}

/** Chunks of at most VC rows covering V. */
export function vocabChunks(V: number, VC: number): VocabChunk[] {
  const out: VocabChunk[] = [];
  for (let v0 = 0; v0 < V; v0 += VC) out.push({ v0, vc: Math.min(VC, V - v0) });
  return out;
}

/** The (N, vc) front of the chunk buffer, and rows v0.. of a (V, C) matrix, as tensor views. */
function views(chunkBuf: GpuTensor, W: GpuTensor, N: number, C: number, c: VocabChunk, op: string) {
  const wOffset = W.offset + c.v0 * C * 4;
  if (wOffset % ALIGN !== 0) throw new Error(`${op}: vocabulary chunk at row ${c.v0} starts at byte ${wOffset} of '${W.name}', not a multiple of ${ALIGN}; choose a chunk size with VC*C a multiple of ${ALIGN / 4}.`);
  return {
    logits: { ...chunkBuf, shape: [N, c.vc], size: N * c.vc * 4 },
    w: { ...W, name: `${W.name}[${c.v0}:${c.v0 + c.vc}]`, shape: [c.vc, C], offset: wOffset, size: c.vc * C * 4 },
  };
}

export interface LmHeadLossForward {
  /** Per chunk: its logits (left in `chunk`) and the statistics merge. */
  chunks: Dispatch[][];
  /** losses, norms, lse. */
  finalize: Dispatch[];
}

/**
 * losses (N) =, norms (N) = ||dlogits|| per row, lse (N) =, stats (N,4) and tgtLogit (N) and
 * chunk (N, VC) as workspace; lnf (N,C), W (V,C), ids (N), labels (N), weights (N), seqScale (B).
 */
export function lmHeadLossForward(
  ctx: OpContext, losses: GpuTensor, norms: GpuTensor, lse: GpuTensor, stats: GpuTensor, tgtLogit: GpuTensor, chunk: GpuTensor,
  lnf: GpuTensor, W: GpuTensor, ids: GpuTensor, labels: GpuTensor, weights: GpuTensor, seqScale: GpuTensor,
  B: number, T: number, C: number, V: number, VC: number,
): LmHeadLossForward {
  const op = 'lmHeadLossForward', N = B * T;
  expectSize(op, chunk, [N, VC], 'chunk');
  expectSize(op, stats, [N, CE_STATS], 'stats');
  const chunks = vocabChunks(V, VC).map((c, i) => {
    const v = views(chunk, W, N, C, c, op);
    return [
      ...matmulForward(ctx, v.logits, lnf, v.w, null, N, C, c.vc),
      ...crossEntropyChunkStats(ctx, stats, tgtLogit, v.logits, ids, B, T, V, c.v0, c.vc, i === 0),
    ];
  });
  return { chunks, finalize: crossEntropyFinalize(ctx, losses, norms, lse, stats, tgtLogit, labels, weights, seqScale, B, T) };
}

/**
 * dlnf (N,C) =, dW (V,C) +=; chunk (N, VC) workspace (after lmHeadLossForward: with one chunk it
 * still holds the logits); lnf (N,C), W (V,C), lse (N), labels (N), weights (N), seqScale (B).
 */
export function lmHeadLossBackward(
  ctx: OpContext, dlnf: GpuTensor, dW: GpuTensor | null, chunk: GpuTensor,
  lnf: GpuTensor, W: GpuTensor, lse: GpuTensor, labels: GpuTensor, weights: GpuTensor, seqScale: GpuTensor,
  B: number, T: number, C: number, V: number, VC: number,
): Dispatch[] {
  const op = 'lmHeadLossBackward', N = B * T;
  expectSize(op, chunk, [N, VC], 'chunk');
  const all = vocabChunks(V, VC);
  return all.flatMap((c, i) => {
    const v = views(chunk, W, N, C, c, op);
    const dw = dW ? views(chunk, dW, N, C, c, op).w : null;
    return [
      ...(all.length > 1 ? matmulForward(ctx, v.logits, lnf, v.w, null, N, C, c.vc) : []),
      ...crossEntropyChunkBackward(ctx, v.logits, lse, labels, weights, seqScale, B, T, V, c.v0, c.vc),
      ...matmulBackward(ctx, dlnf, dw, null, v.logits, lnf, v.w, N, C, c.vc, i > 0),
    ];
  });
}
