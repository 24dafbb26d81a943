// Shared by every kernel. src/gpu/kernel.ts prepends this file to each shader, and nothing else does,
// followed by the row reductions (workgroup_sum / workgroup_max and the `Lane` entry-point input):
// reduce_subgroups.wgsl where the device has `subgroups`, else reduce_workgroup.wgsl.
// Conventions (same as src/reference/ops.ts): row-major; row of token (b, t) is n = b*T + t;
// floats are f32, token ids / labels / docIds / positions / roles are i32.

// Invocations per workgroup of 1-D and per-row kernels. An override, so an adapter can be tuned
// without editing WGSL; must be a power of two (tree reductions halve it).
override WG: u32 = 64u;

// HF's ignore index: a label of -100 trains nothing.
const IGNORE_INDEX: i32 = -100;

// Index of this workgroup when 1-D work is spread over an x*y grid (one grid dimension holds at
// most 65535 workgroups; see grid() in src/gpu/kernel.ts).
fn flat_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// Global invocation index of 1-D work on such a grid.
fn flat_invocation(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return flat_workgroup(wid, nwg) * WG + lid;
}

// False for +-inf and NaN. Bit test: comparisons with NaN may be folded away by shader compilers.
fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// Per-step training state, written on the GPU by grad_norm_finalize and read by adamw_step.
struct StepState {
  norm: f32,      // global L2 norm of the gradients
  clip: f32,      // clip factor applied to the gradients
  nonFinite: u32, // 1: the loss or a gradient is inf/NaN; the update is skipped
  adamStep: u32,  // updates applied so far (AdamW's bias-correction t)
}

// Per-step optimizer settings, written by the trainer (queue.writeBuffer) before each submit.
struct Hyper {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weightDecay: f32,
  maxNorm: f32, // <= 0: no clipping
  lnBeta1: f32, // ln(beta1), computed on the CPU in float64: the GPU's log is coarse near 1
  lnBeta2: f32,
}
