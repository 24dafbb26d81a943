/** Loss sums of a micro-batch, accumulated on the GPU (shaders/loss_reductions.wgsl). */
import shader from '../../../shaders/loss_reductions.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import type { Dispatch } from '../../gpu/kernel';
import { ROLE_PROMPT, ROLE_RESPONSE } from '../../spec/loss';
import { dispatch, expectSize, type OpContext } from './context';

/**
 * Order of the sums in the GPU buffer, the fields of the reference's LossReductions. The one
 * source of their indices: the shaders read them as SUM_<NAME> constants generated from it.
 */
export const LOSS_SUMS = ['objective', 'trainedWeight', 'trainedCount', 'trainedLossSum', 'promptLossSum', 'promptCount', 'responseLossSum', 'responseCount'] as const;
export type LossSums = Record<(typeof LOSS_SUMS)[number], number>;

/** WGSL for the sums buffer: SUM_OBJECTIVE = 0u … SUM_RESPONSE_COUNT, and SUMS = their count. */
export const LOSS_SUMS_HEADER = {
  from: 'src/engine/ops/lossReductions.ts (LOSS_SUMS)',
  text: [
    ...LOSS_SUMS.map((k, i) => `const SUM_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}: u32 = ${i}u;\n`),
    `const SUMS: u32 = ${LOSS_SUMS.length}u;\n`,
  ].join(''),
};

const src = {
  name: 'loss_reductions.wgsl',
  code: shader,
  header: {
    from: 'src/engine/ops/lossReductions.ts (LOSS_SUMS, src/spec/loss.ts ROLE_*)',
    text: `${LOSS_SUMS_HEADER.text}const ROLE_PROMPT: i32 = ${ROLE_PROMPT};\nconst ROLE_RESPONSE: i32 = ${ROLE_RESPONSE};\n`,
  },
};

/** Decodes the (LOSS_SUMS.length) sums buffer. */
export function decodeLossSums(data: Float32Array): LossSums {
  return Object.fromEntries(LOSS_SUMS.map((k, i) => [k, data[i]])) as LossSums;
}

/**
 * sums (LOSS_SUMS.length) +=, losses (N), labels (N), weights (N), seqScale (B), roles (N).
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
