/**
 * Attention of NQ new tokens against a key/value cache (shaders/attention_decode.wgsl), for
 * generation: NQ = 1 per decoding step, NQ = a chunk of the prompt when prefilling. Row r (at
 * position p = positions[r]) equals row p of attentionForward for a single document whose keys
 * and values at positions 0..p are the cache rows; the rows' own k/v are appended first.
 * positions[r] = -1 marks a padding row: it stores nothing and outputs 0.
 */
import shader from '../../../shaders/attention_decode.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid, grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'attention_decode.wgsl', code: shader };

function sizes(NQ: number, NH: number, NKV: number, hs: number, Tmax: number) {
  if (NH % NKV !== 0) throw new Error(`attentionDecode: NH=${NH} is not a multiple of NKV=${NKV}.`);
  return { u32: [NQ, NH, NKV, hs, Tmax], f32: [1 / Math.sqrt(hs)] };
}

/** kcache (Tmax,NKV,hs) rows positions[r] =, vcache likewise, k (NQ,NKV,hs), v (NQ,NKV,hs), positions (NQ). */
export function attentionDecodeAppend(
  ctx: OpContext, kcache: GpuTensor, vcache: GpuTensor, k: GpuTensor, v: GpuTensor, positions: GpuTensor,
  NQ: number, NH: number, NKV: number, hs: number, Tmax: number,
): Dispatch[] {
  const op = 'attentionDecodeAppend';
  expectSize(op, kcache, [Tmax, NKV, hs], 'kcache');
  expectSize(op, vcache, [Tmax, NKV, hs], 'vcache');
  expectSize(op, k, [NQ, NKV, hs], 'k');
  expectSize(op, v, [NQ, NKV, hs], 'v');
  expectSize(op, positions, [NQ], 'positions');
  return [dispatch(ctx, src, 'attention_decode_append', [kcache, vcache, k, v, positions], sizes(NQ, NH, NKV, hs, Tmax), grid1d(NQ * NKV * hs, ctx.wg))];
}

/** out (NQ,NH,hs) =, scores (NQ*NH,Tmax) scratch, q (NQ,NH,hs), kcache, vcache (Tmax,NKV,hs), positions (NQ). */
export function attentionDecode(
  ctx: OpContext, out: GpuTensor, scores: GpuTensor, q: GpuTensor, kcache: GpuTensor, vcache: GpuTensor, positions: GpuTensor,
  NQ: number, NH: number, NKV: number, hs: number, Tmax: number,
): Dispatch[] {
  const op = 'attentionDecode';
  expectSize(op, out, [NQ, NH, hs], 'out');
  expectSize(op, scores, [NQ * NH, Tmax], 'scores');
  expectSize(op, q, [NQ, NH, hs], 'q');
  expectSize(op, kcache, [Tmax, NKV, hs], 'kcache');
  expectSize(op, vcache, [Tmax, NKV, hs], 'vcache');
  expectSize(op, positions, [NQ], 'positions');
  return [dispatch(ctx, src, 'attention_decode', [out, scores, q, kcache, vcache, positions], sizes(NQ, NH, NKV, hs, Tmax), grid(NQ * NH))];
}
