/** AdamW over one parameter arena (shaders/adamw.wgsl). */
import shader from '../../../shaders/adamw.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid, grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'adamw.wgsl', code: shader };

export interface AdamWSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this; <= 0 disables clipping. */
  maxGradNorm: number;
}

/** The Hyper uniform (shaders/common.wgsl) for one step. */
export function hyperData(s: AdamWSettings): Float32Array<ArrayBuffer> {
  return new Float32Array([s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, s.maxGradNorm, Math.log(s.beta1), Math.log(s.beta2)]);
}

export const HYPER_BYTES = 32;

/** Most workgroups of adamw_step4 (each invocation then loops over its share of the arena's quads). */
export const ADAMW_GROUPS = 256;

/**
 * param (n), grad (n), m (n), v (n) for one arena, updated in place. lr, betas, eps, weight decay and
 * max norm come from the `hyper` uniform (written per step); the step count t and the clip factor
 * (gradScale) from `state` (StepState, written by gradNorm on the GPU). `decay`: this arena holds
 * 2-D matrices, which get weight decay.
 */
export function adamwStep(ctx: OpContext, param: GpuTensor, grad: GpuTensor, m: GpuTensor, v: GpuTensor, n: number, hyper: GPUBuffer, state: GpuTensor, decay: boolean): Dispatch[] {
  for (const [t, w] of [[param, 'param'], [grad, 'grad'], [m, 'm'], [v, 'v']] as const) expectSize('adamwStep', t, [n], w);
  // Whole arenas (n a multiple of 64, offsets 256-aligned): the vectorized kernel, at most
  // ADAMW_GROUPS workgroups striding over the arena (SwiftShader pays per workgroup).
  if (n % 4 === 0 && [param, grad, m, v].every((t) => t.offset % 16 === 0)) {
    return [dispatch(ctx, src, 'adamw_step4', [param, m, v, grad, state, hyper], { u32: [n, decay ? 1 : 0] }, grid(Math.max(1, Math.min(ADAMW_GROUPS, Math.ceil(n / (4 * ctx.wg))))))];
  }
  return [dispatch(ctx, src, 'adamw_step', [param, m, v, grad, state, hyper], { u32: [n, decay ? 1 : 0] }, grid1d(n, ctx.wg))];
}
