// Global L2 norm of all parameter gradients and the clip factor, without a CPU round trip.
// Gradients live in one or more arenas (src/engine/layout.ts). grad_norm_partial runs once per arena:
// G workgroups each write the sum of squares of a strided share into partials[base + workgroup];
// grad_norm_partial4 (n a multiple of 4, the arena 16-byte aligned) does the same with 16-byte loads.
// grad_norm_finalize (one workgroup) adds all partials and writes StepState:
//   norm = sqrt(sum), clip = min(1, maxNorm / (norm + 1e-6)) (1 when maxNorm <= 0),
//   nonFinite = 1 if the norm or the step's objective is inf/NaN; otherwise adamStep += 1.
// AdamW reads StepState: it skips the whole update when nonFinite is set (weights stay untouched)
// and uses adamStep for bias correction, so a skipped step does not count.

struct PartialParams {
  n: u32,    // gradient elements in this arena
  base: u32, // first partials slot of this arena
}

@group(0) @binding(0) var<storage, read_write> partials: array<f32>; // (arenas * G)
@group(0) @binding(1) var<storage, read> grads: array<f32>;          // (n) one arena
@group(0) @binding(2) var<uniform> pp: PartialParams;

@compute @workgroup_size(WG)
fn grad_norm_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  var ss = 0.0;
  for (var i = wid.x * WG + lid; i < pp.n; i += nwg.x * WG) {
    let g = grads[i];
    ss += g * g;
  }
  let total = workgroup_sum(lane, ss);
  if (lid == 0u) { partials[pp.base + wid.x] = total; }
}

@group(0) @binding(1) var<storage, read> grads4: array<vec4<f32>>; // (n/4) one arena

@compute @workgroup_size(WG)
fn grad_norm_partial4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  var ss = vec4<f32>(0.0);
  for (var i = wid.x * WG + lid; i < pp.n / 4u; i += nwg.x * WG) {
    let g = grads4[i];
    ss += g * g;
  }
  let total = workgroup_sum(lane, (ss.x + ss.y) + (ss.z + ss.w));
  if (lid == 0u) { partials[pp.base + wid.x] = total; }
}

@group(0) @binding(0) var<storage, read_write> state: StepState;
@group(0) @binding(1) var<storage, read> fpartials: array<f32>;     // (count)
@group(0) @binding(2) var<storage, read> stepSums: array<f32>;      // (SUMS) loss_reductions sums (SUM_* prepended)
@group(0) @binding(3) var<uniform> hyper: Hyper;

@compute @workgroup_size(WG)
fn grad_norm_finalize(lane: Lane) {
  let lid = lane.lid;
  var ss = 0.0;
  for (var i = lid; i < arrayLength(&fpartials); i += WG) { ss += fpartials[i]; }
  let total = workgroup_sum(lane, ss);
  if (lid != 0u) { return; }
  let norm = sqrt(total);
  var clip = 1.0;
  if (hyper.maxNorm > 0.0) { clip = min(1.0, hyper.maxNorm / (norm + 1e-6)); }
  let bad = !is_finite(norm) || !is_finite(stepSums[SUM_OBJECTIVE]);
  state.norm = norm;
  state.clip = clip;
  state.nonFinite = select(0u, 1u, bad);
  if (!bad) { state.adamStep = state.adamStep + 1u; }
}
