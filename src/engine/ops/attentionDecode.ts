/**
 * One-token attention against a key/value cache (shaders/attention_decode.wgsl), for generation.
 * Equals row `pos` of attentionForward for a single document whose keys/values at positions
 * 0..pos are the cache rows (the new token's own k/v appended first).
 */
import shader from '../../../shaders/attention_decode.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'attention_decode.wgsl', code: shader };

function sizes(NH: number, NKV: number, hs: number, Tmax: number) {
  if (NH % NKV !== 0) throw new Error(`attentionDecode: NH=${NH} is not a multiple of NKV=${NKV}.`);
  return { u32: [NH, NKV, hs, Tmax], f32: [1 / Math.sqrt(hs)] };
}

/** kcache (Tmax,NKV,hs) row pos =, vcache (Tmax,NKV,hs) row pos =, k (NKV,hs), v (NKV,hs), positions (1). */
export function attentionDecodeAppend(
  ctx: OpContext, kcache: GpuTensor, vcache: GpuTensor, k: GpuTensor, v: GpuTensor, positions: GpuTensor,
  NH: number, NKV: number, hs: number, Tmax: number,
): Dispatch[] {
  const op = 'attentionDecodeAppend';
  expectSize(op, kcache, [Tmax, NKV, hs], 'kcache');
  expectSize(op, vcache, [Tmax, NKV, hs], 'vcache');
  expectSize(op, k, [NKV, hs], 'k');
  expectSize(op, v, [NKV, hs], 'v');
  expectSize(op, positions, [1], 'positions');
  return [dispatch(ctx, src, 'attention_decode_append', [kcache, vcache, k, v, positions], sizes(NH, NKV, hs, Tmax), grid1d(NKV * hs, ctx.wg))];
}

/** out (NH,hs) =, scores (NH,Tmax) scratch, q (NH,hs), kcache, vcache (Tmax,NKV,hs), positions (1). */
export function attentionDecode(
  ctx: OpContext, out: GpuTensor, scores: GpuTensor, q: GpuTensor, kcache: GpuTensor, vcache: GpuTensor, positions: GpuTensor,
  NH: number, NKV: number, hs: number, Tmax: number,
): Dispatch[] {
  const op = 'attentionDecode';
  expectSize(op, out, [NH, hs], 'out');
  expectSize(op, scores, [NH, Tmax], 'scores');
  expectSize(op, q, [NH, hs], 'q');
  expectSize(op, kcache, [Tmax, NKV, hs], 'kcache');
  expectSize(op, vcache, [Tmax, NKV, hs], 'vcache');
  expectSize(op, positions, [1], 'positions');
  return [dispatch(ctx, src, 'attention_decode', [out, scores, q, kcache, vcache, positions], sizes(NH, NKV, hs, Tmax), [NH, 1, 1])];
}
