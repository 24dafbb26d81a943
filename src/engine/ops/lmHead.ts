/**
 * The LM head fused with the cross-entropy: logits = lnf @ W^T (W (V, C), the embedding when tied)
 * are computed one chunk of VC vocabulary rows at a time into an (N, VC) buffer, so neither the
 * (N, V) logits nor the (N, V) dlogits ever exist. Forward merges each chunk into per-row online
 * log-sum-exp statistics; backward recomputes each chunk's logits (skipped when there is only one
 * chunk: the buffer still holds them), turns them into dlogits in place and runs the chunk's
 * matmul backward (dlnf accumulates over chunks, dW's rows v0.. get their own slice).
 * Same results as reference matmulForward + crossEntropyForward + matmulBackward.
 * W (and dW) may be row parts (a head split across buffers, layout.ts Slot.parts): chunks are then
 * cut at part boundaries, so each chunk's rows are one slice of one part's buffer.
 */
import type { GpuTensor } from '../../gpu/buffers';
import type { Dispatch } from '../../gpu/kernel';
import { expectSize, rowParts, type OpContext, type RowPart } from './context';
import { matmulBackward, matmulForward } from './matmul';
import { CE_STATS, crossEntropyChunkBackward, crossEntropyChunkStats, crossEntropyFinalize } from './crossEntropy';
import { ALIGN } from '../layout';

/** One vocabulary chunk: rows v0 .. v0+vc-1 of W. */
export interface VocabChunk {
  v0: number;
  vc: number;
}

/**
 * Chunks of at most VC rows covering V; with `bounds` (the first rows of W's parts, after 0),
 * no chunk crosses one: each part is chunked on its own.
 */
export function vocabChunks(V: number, VC: number, bounds: readonly number[] = []): VocabChunk[] {
  const out: VocabChunk[] = [];
  const ends = [...bounds.filter((b) => b > 0 && b < V), V];
  let start = 0;
  for (const end of ends) {
    for (let v0 = start; v0 < end; v0 += VC) out.push({ v0, vc: Math.min(VC, end - v0) });
    start = end;
  }
  return out;
}

/** Where each part after the first begins (vocabChunks' bounds). */
export function partBounds(W: GpuTensor | readonly RowPart[]): number[] {
  return rowParts(W).slice(1).map((p) => p.row0);
}

/** The (N, vc) front of the chunk buffer, and rows v0.. of a (V, C) matrix (or its parts), as tensor views. */
function views(chunkBuf: GpuTensor, W: GpuTensor | readonly RowPart[], N: number, C: number, c: VocabChunk, op: string) {
  const part = rowParts(W).find((p) => c.v0 >= p.row0 && c.v0 + c.vc <= p.row0 + p.rows);
  if (!part) throw new Error(`${op}: vocabulary chunk rows ${c.v0}..${c.v0 + c.vc - 1} do not lie in one part of the head.`);
  const t = part.tensor;
  const wOffset = t.offset + (c.v0 - part.row0) * C * 4;
  if (wOffset % ALIGN !== 0) throw new Error(`${op}: vocabulary chunk at row ${c.v0} starts at byte ${wOffset} of '${t.name}', not a multiple of ${ALIGN}; choose a chunk size with VC*C a multiple of ${ALIGN / 4}.`);
  return {
    logits: { ...chunkBuf, shape: [N, c.vc], size: N * c.vc * 4 },
    w: { ...t, name: `${t.name}[${c.v0 - part.row0}:${c.v0 - part.row0 + c.vc}]`, shape: [c.vc, C], offset: wOffset, size: c.vc * C * 4 },
  };
}

/** Checks that W's parts are (rows, C) each and cover V rows in order. */
function checkHead(op: string, W: GpuTensor | readonly RowPart[], V: number, C: number, what: string): void {
  let next = 0;
  for (const p of rowParts(W)) {
    if (p.row0 !== next) throw new Error(`${op}: ${what} part '${p.tensor.name}' starts at row ${p.row0}, expected ${next}.`);
    expectSize(op, p.tensor, [p.rows, C], what);
    next += p.rows;
  }
  if (next !== V) throw new Error(`${op}: ${what} covers ${next} vocabulary rows, expected ${V}.`);
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
  lnf: GpuTensor, W: GpuTensor | readonly RowPart[], ids: GpuTensor, labels: GpuTensor, weights: GpuTensor, seqScale: GpuTensor,
  B: number, T: number, C: number, V: number, VC: number,
): LmHeadLossForward {
  const op = 'lmHeadLossForward', N = B * T;
  expectSize(op, chunk, [N, VC], 'chunk');
  expectSize(op, stats, [N, CE_STATS], 'stats');
  checkHead(op, W, V, C, 'W');
  const chunks = vocabChunks(V, VC, partBounds(W)).map((c, i) => {
    const v = views(chunk, W, N, C, c, op);
    return [
      ...matmulForward(ctx, v.logits, lnf, v.w, null, N, C, c.vc),
      ...crossEntropyChunkStats(ctx, stats, tgtLogit, v.logits, ids, B, T, V, c.v0, c.vc, i === 0),
    ];
  });
  return { chunks, finalize: crossEntropyFinalize(ctx, losses, norms, lse, stats, tgtLogit, labels, weights, seqScale, B, T) };
}

/**
 * dlnf (N,C) =, dW (V,C) += (null: no weight gradient); chunk (N, VC) workspace (after lmHeadLossForward: with one chunk it
 * still holds the logits); lnf (N,C), W (V,C), lse (N), labels (N), weights (N), seqScale (B).
 */
export function lmHeadLossBackward(
  ctx: OpContext, dlnf: GpuTensor, dW: GpuTensor | readonly RowPart[] | null, chunk: GpuTensor,
  lnf: GpuTensor, W: GpuTensor | readonly RowPart[], lse: GpuTensor, labels: GpuTensor, weights: GpuTensor, seqScale: GpuTensor,
  B: number, T: number, C: number, V: number, VC: number,
): Dispatch[] {
  const op = 'lmHeadLossBackward', N = B * T;
  expectSize(op, chunk, [N, VC], 'chunk');
  checkHead(op, W, V, C, 'W');
  if (dW) {
    checkHead(op, dW, V, C, 'dW');
    if (partBounds(dW).join() !== partBounds(W).join()) throw new Error(`${op}: dW is split at rows (${partBounds(dW).join(', ')}), W at (${partBounds(W).join(', ')}); they must match.`);
  }
  const all = vocabChunks(V, VC, partBounds(W));
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
