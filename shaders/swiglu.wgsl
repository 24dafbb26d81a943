// SwiGLU: out = silu(gate) * up, silu(g) = g * sigmoid(g). Element-wise over n = N*F.
// Backward (overwrite): dgate = dout * up * s * (1 + g * (1 - s)), dup = dout * g * s, s = sigmoid(g).

struct Params {
  n: u32, // N*F
}

// exp(-g) overflows to +inf for g < -88: 1 / (1 + inf) = 0, the correct limit.
fn sigmoid(g: f32) -> f32 {
  return 1.0 / (1.0 + exp(-g));
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (N, F)
@group(0) @binding(1) var<storage, read> gate: array<f32>;      // (N, F)
@group(0) @binding(2) var<storage, read> up: array<f32>;        // (N, F)
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn swiglu_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= p.n) { return; }
  let g = gate[i];
  out[i] = g * sigmoid(g) * up[i];
}

@group(0) @binding(0) var<storage, read_write> dgate: array<f32>; // (N, F)
@group(0) @binding(1) var<storage, read_write> dup: array<f32>;   // (N, F)
@group(0) @binding(2) var<storage, read> dout: array<f32>;        // (N, F)
@group(0) @binding(3) var<storage, read> bgate: array<f32>;       // (N, F)
@group(0) @binding(4) var<storage, read> bup: array<f32>;         // (N, F)
@group(0) @binding(5) var<uniform> bp: Params;

@compute @workgroup_size(WG)
fn swiglu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= bp.n) { return; }
  let g = bgate[i];
  let s = sigmoid(g);
  let d = dout[i];
  dgate[i] = d * bup[i] * s * (1.0 + g * (1.0 - s));
  dup[i] = d * g * s;
}
