/** Global gradient L2 norm, clip factor and non-finite flag, on the GPU (shaders/grad_norm.wgsl). */
import shader from '../../../shaders/grad_norm.wgsl?raw';
import { numel, type GpuTensor } from '../../gpu/buffers';
import type { Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';
import { LOSS_SUMS_HEADER } from './lossReductions';

const src = { name: 'grad_norm.wgsl', code: shader, header: LOSS_SUMS_HEADER };

/** Workgroups per gradient arena in the partial pass. */
export const GRAD_NORM_GROUPS = 64;

/** StepState (shaders/common.wgsl): norm f32, clip f32, nonFinite u32, adamStep u32. */
export const STEP_STATE_WORDS = 4;

export interface StepState {
  norm: number;
  clip: number;
  nonFinite: boolean;
  adamStep: number;
}

export function decodeStepState(data: ArrayBuffer): StepState {
  const f = new Float32Array(data, 0, STEP_STATE_WORDS);
  const u = new Uint32Array(data, 0, STEP_STATE_WORDS);
  return { norm: f[0], clip: f[1], nonFinite: u[2] !== 0, adamStep: u[3] };
}

/**
 * state (StepState) =, grads (one tensor per gradient arena), stepSums (lossReductions sums),
 * hyper (Hyper uniform: maxNorm). Uses scratch 'gradNorm.partials'. Writes norm = ||all grads||_2,
 * clip = min(1, maxNorm / (norm + 1e-6)), nonFinite (norm or the summed objective not finite),
 * and counts the update in adamStep unless nonFinite.
 */
export function gradNorm(ctx: OpContext, state: GpuTensor, grads: readonly GpuTensor[], stepSums: GpuTensor, hyper: GPUBuffer): Dispatch[] {
  expectSize('gradNorm', state, [STEP_STATE_WORDS], 'state');
  const partials = ctx.scratch('gradNorm.partials', [grads.length * GRAD_NORM_GROUPS]);
  const out = grads.map((g, a) => {
    const n = numel(g.shape);
    // Whole arenas (a multiple of 64 elements, 256-aligned) take the 16-byte loads; the rest, scalars.
    const entry = n % 4 === 0 && g.offset % 16 === 0 ? 'grad_norm_partial4' : 'grad_norm_partial';
    return dispatch(ctx, src, entry, [partials, g], { u32: [n, a * GRAD_NORM_GROUPS] }, [GRAD_NORM_GROUPS, 1, 1]);
  });
  out.push(dispatch(ctx, src, 'grad_norm_finalize', [state, partials, stepSums, hyper], null, [1, 1, 1]));
  return out;
}
