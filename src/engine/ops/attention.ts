/** Causal per-document grouped-query attention (shaders/attention.wgsl). */
import shader from '../../../shaders/attention.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'attention.wgsl', code: shader };

function sizes(B: number, T: number, NH: number, NKV: number, hs: number) {
  if (NH % NKV !== 0) throw new Error(`attention: NH=${NH} is not a multiple of NKV=${NKV}.`);
  return { u32: [B, T, NH, NKV, hs], f32: [1 / Math.sqrt(hs)] };
}

/** The vec4 kernels (…4 entry points) apply: hs a multiple of 4 and the head-dimension tensors 16-byte aligned. */
function quads(hs: number, ts: readonly GpuTensor[]): boolean {
  return hs % 4 === 0 && ts.every((t) => t.offset % 16 === 0);
}

/** out (B,T,NH,hs) =, att (B,NH,T,T) =, q (B,T,NH,hs), k (B,T,NKV,hs), v (B,T,NKV,hs), docIds (N). */
export function attentionForward(
  ctx: OpContext, out: GpuTensor, att: GpuTensor,
  q: GpuTensor, k: GpuTensor, v: GpuTensor, docIds: GpuTensor,
  B: number, T: number, NH: number, NKV: number, hs: number,
): Dispatch[] {
  const op = 'attentionForward';
  expectSize(op, out, [B, T, NH, hs], 'out');
  expectSize(op, att, [B, NH, T, T], 'att');
  expectSize(op, q, [B, T, NH, hs], 'q');
  expectSize(op, k, [B, T, NKV, hs], 'k');
  expectSize(op, v, [B, T, NKV, hs], 'v');
  expectSize(op, docIds, [B * T], 'docIds');
  const v4 = quads(hs, [out, q, k, v]) ? '4' : '';
  return [dispatch(ctx, src, `attention_forward${v4}`, [out, att, q, k, v, docIds], sizes(B, T, NH, NKV, hs), grid1d(B * NH * T, ctx.wg))];
}

/**
 * dq (B,T,NH,hs) =, dk (B,T,NKV,hs) =, dv (B,T,NKV,hs) =, dout (B,T,NH,hs), q, k, v, att (B,NH,T,T), docIds (N).
 * Uses the scratch tensor 'attention.dpre' (B,NH,T,T) for the pre-softmax score gradients.
 */
export function attentionBackward(
  ctx: OpContext, dq: GpuTensor, dk: GpuTensor, dv: GpuTensor,
  dout: GpuTensor, q: GpuTensor, k: GpuTensor, v: GpuTensor, att: GpuTensor, docIds: GpuTensor,
  B: number, T: number, NH: number, NKV: number, hs: number,
): Dispatch[] {
  const op = 'attentionBackward';
  expectSize(op, dq, [B, T, NH, hs], 'dq');
  expectSize(op, dk, [B, T, NKV, hs], 'dk');
  expectSize(op, dv, [B, T, NKV, hs], 'dv');
  expectSize(op, dout, [B, T, NH, hs], 'dout');
  expectSize(op, q, [B, T, NH, hs], 'q');
  expectSize(op, k, [B, T, NKV, hs], 'k');
  expectSize(op, v, [B, T, NKV, hs], 'v');
  expectSize(op, att, [B, NH, T, T], 'att');
  expectSize(op, docIds, [B * T], 'docIds');
  const dpre = ctx.scratch('attention.dpre', [B, NH, T, T]);
  const s = sizes(B, T, NH, NKV, hs);
  if (quads(hs, [dq, dk, dv, dout, q, k, v])) {
    return [
      dispatch(ctx, src, 'attention_backward_scores4', [dpre, dout, v, att, docIds], s, grid1d(B * NH * T, ctx.wg)),
      dispatch(ctx, src, 'attention_backward_dq4', [dq, dpre, k], s, grid1d(B * T * NH * hs / 4, ctx.wg)),
      dispatch(ctx, src, 'attention_backward_dkv4', [dk, dv, dpre, att, q, dout], s, grid1d(B * T * NKV * hs / 4, ctx.wg)),
    ];
  }
  return [
    dispatch(ctx, src, 'attention_backward_scores', [dpre, dout, v, att, docIds], s, grid1d(B * NH * T, ctx.wg)),
    dispatch(ctx, src, 'attention_backward_dq', [dq, dpre, k], s, grid1d(B * T * NH * hs, ctx.wg)),
    dispatch(ctx, src, 'attention_backward_dkv', [dk, dv, dpre, att, q, dout], s, grid1d(B * T * NKV * hs, ctx.wg)),
  ];
}
