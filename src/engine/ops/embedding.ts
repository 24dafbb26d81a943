/**
 * Token embedding (shaders/embedding.wgsl). The table is one (V, C) tensor or its row parts
 * (RowPart[], a table split across buffers): one dispatch per part, each handling the ids in its rows.
 */
import shader from '../../../shaders/embedding.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, rowParts, type OpContext, type RowPart } from './context';

const src = { name: 'embedding.wgsl', code: shader };

/** Checks that the parts cover rows 0 … V-1 once, in order, each (rows, C); returns V. */
function checkParts(op: string, parts: readonly RowPart[], C: number, what: string): number {
  let V = 0;
  for (const p of parts) {
    if (p.row0 !== V) throw new Error(`${op}: ${what} part '${p.tensor.name}' starts at row ${p.row0}, expected ${V} (parts must cover the rows in order).`);
    expectSize(op, p.tensor, [p.rows, C], what);
    V += p.rows;
  }
  return V;
}

/** out (N,C) =, ids (N), wte (V,C) or its row parts. */
export function embeddingForward(ctx: OpContext, out: GpuTensor, ids: GpuTensor, wte: GpuTensor | readonly RowPart[], N: number, C: number): Dispatch[] {
  const parts = rowParts(wte);
  expectSize('embeddingForward', out, [N, C], 'out');
  expectSize('embeddingForward', ids, [N], 'ids');
  const V = checkParts('embeddingForward', parts, C, 'wte');
  return parts.map((p) => dispatch(ctx, src, 'embedding_forward', [out, ids, p.tensor], { u32: [N, C, V, p.row0, p.rows] }, grid1d(N * C, ctx.wg)));
}

/** dwte (V,C) += (or its row parts, each +=), dout (N,C), ids (N). */
export function embeddingBackward(ctx: OpContext, dwte: GpuTensor | readonly RowPart[], dout: GpuTensor, ids: GpuTensor, N: number, C: number): Dispatch[] {
  const parts = rowParts(dwte);
  expectSize('embeddingBackward', dout, [N, C], 'dout');
  expectSize('embeddingBackward', ids, [N], 'ids');
  const V = checkParts('embeddingBackward', parts, C, 'dwte');
  return parts.map((p) => dispatch(ctx, src, 'embedding_backward', [p.tensor, dout, ids], { u32: [N, C, V, p.row0, p.rows] }, grid1d(C, ctx.wg)));
}
