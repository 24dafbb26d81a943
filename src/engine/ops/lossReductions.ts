/** Loss sums of a micro-batch, accumulated on the GPU (shaders/loss_reductions.wgsl). */
import shader from '../../../shaders/loss_reductions.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import type { Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'loss_reductions.wgsl', code: shader };

/** Order of the sums in the GPU buffer, the fields of the reference's LossReductions. */
export const LOSS_SUMS = ['objective', 'trainedWeight', 'trainedCount', 'trainedLossSum', 'promptLossSum', 'promptCount', 'responseLossSum', 'responseCount'] as const;
export type LossSums = Record<(typeof LOSS_SUMS)[number], number>;

/** Decodes the (8) sums buffer. */
export function decodeLossSums(data: Float32Array): LossSums {
  return Object.fromEntries(LOSS_SUMS.map((k, i) => [k, data[i]])) as LossSums;
}

/**
 * sums (8) +=, losses (N), labels (N), weights (N), seqScale (B), roles (N).
 * Adds, so the micro-batches of one step accumulate; clear `sums` at the start of the step.
 */
export function lossReductions(
  ctx: OpContext, sums: GpuTensor,
  losses: GpuTensor, labels: GpuTensor, weights: GpuTensor, seqScale: GpuTensor, roles: GpuTensor,
  B: number, T: number,
): Dispatch[] {
  const op = 'lossReductions';
  const N = B * T;
  expectSize(op, sums, [LOSS_SUMS.length], 'sums');
  expectSize(op, losses, [N], 'losses');
  expectSize(op, labels, [N], 'labels');
  expectSize(op, weights, [N], 'weights');
  expectSize(op, seqScale, [B], 'seqScale');
  expectSize(op, roles, [N], 'roles');
  return [dispatch(ctx, src, 'loss_reductions', [sums, losses, labels, weights, seqScale, roles], { u32: [B, T] }, [1, 1, 1])];
}
