// AdamW (torch.optim.AdamW semantics) over one parameter arena, element-wise, in place:
//   g = grad * clip;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   p = p * (1 - lr * wd) - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// t = StepState.adamStep and clip = StepState.clip, both written on the GPU by grad_norm_finalize;
// when StepState.nonFinite is set the whole update is skipped (p, m, v untouched).
// wd is hyper.weightDecay for arenas of 2-D matrices and 0 for the others (see layout.ts).
// adamw_step: one element per invocation (any n). adamw_step4: n a multiple of 4, 16-byte loads and
// stores, a fixed number of workgroups striding over the arena, the per-step scalars (bias
// corrections: two exp; clip, hyperparameters) read and computed once per invocation instead of once
// per element: on SwiftShader about half the CPU time of adamw_step (bench/kernel-study.md).

struct Params {
  n: u32,     // elements in this arena
  decay: u32, // 1 = apply weight decay
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>; // (n)
@group(0) @binding(1) var<storage, read_write> m: array<f32>;     // (n)
@group(0) @binding(2) var<storage, read_write> v: array<f32>;     // (n)
@group(0) @binding(3) var<storage, read> grad: array<f32>;        // (n)
@group(0) @binding(4) var<storage, read> state: StepState;
@group(0) @binding(5) var<uniform> hyper: Hyper;
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn adamw_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= p.n || state.nonFinite != 0u) { return; }
  let t = f32(state.adamStep);
  let bc1 = 1.0 - exp(t * hyper.lnBeta1); // 1 - beta1^t
  let bc2 = 1.0 - exp(t * hyper.lnBeta2);
  let g = grad[i] * state.clip;
  let mi = hyper.beta1 * m[i] + (1.0 - hyper.beta1) * g;
  let vi = hyper.beta2 * v[i] + (1.0 - hyper.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let wd = select(0.0, hyper.weightDecay, p.decay != 0u);
  param[i] = param[i] * (1.0 - hyper.lr * wd) - (hyper.lr / bc1) * mi / (sqrt(vi) / sqrt(bc2) + hyper.eps);
}

@group(0) @binding(0) var<storage, read_write> param4: array<vec4<f32>>; // (n/4)
@group(0) @binding(1) var<storage, read_write> m4: array<vec4<f32>>;     // (n/4)
@group(0) @binding(2) var<storage, read_write> v4: array<vec4<f32>>;     // (n/4)
@group(0) @binding(3) var<storage, read> grad4: array<vec4<f32>>;        // (n/4)

@compute @workgroup_size(WG)
fn adamw_step4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  if (state.nonFinite != 0u) { return; }
  let t = f32(state.adamStep);
  let lrc = hyper.lr / (1.0 - exp(t * hyper.lnBeta1)); // lr / (1 - beta1^t)
  let sbc2 = sqrt(1.0 - exp(t * hyper.lnBeta2));        // sqrt(1 - beta2^t)
  let clip = state.clip;
  let b1 = hyper.beta1;
  let b2 = hyper.beta2;
  let eps = vec4<f32>(hyper.eps);
  let keep = 1.0 - hyper.lr * select(0.0, hyper.weightDecay, p.decay != 0u);
  let nq = p.n / 4u;
  let stride = nwg.x * nwg.y * WG;
  for (var j = flat_invocation(wid, nwg, lid); j < nq; j += stride) {
    let g = grad4[j] * clip;
    let mj = b1 * m4[j] + (1.0 - b1) * g;
    let vj = b2 * v4[j] + (1.0 - b2) * g * g;
    m4[j] = mj;
    v4[j] = vj;
    param4[j] = param4[j] * keep - lrc * mj / (sqrt(vj) / sbc2 + eps);
  }
}
