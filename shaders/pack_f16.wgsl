// f16 storage of a weight matrix: out[i] holds x[2i] (low half) and x[2i+1] (high half) as f16,
// WGSL's pack2x16float layout, which every adapter has (no `shader-f16` needed). Matmuls read it
// back with unpack2x16float and accumulate in f32 (matmul.wgsl, B_F16).
// Forward only: the f16 copy is a rounding of the f32 master weights, which AdamW updates, and its
// gradient is taken as the master's (the usual mixed-precision straight-through), so there is no
// backward kernel. Values beyond f16's range are clamped to +-65504 first: WGSL leaves packing an
// out-of-range value indeterminate.

struct Params {
  n: u32, // f32 elements in x; out has ceil(n / 2) words
}

const F16_MAX = 65504.0;

@group(0) @binding(0) var<storage, read_write> out: array<u32>; // (ceil(n/2))
@group(0) @binding(1) var<storage, read> x: array<f32>;         // (n)
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn pack_f16_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (2u * i >= p.n) { return; }
  let lo = x[2u * i];
  var hi = 0.0;
  if (2u * i + 1u < p.n) { hi = x[2u * i + 1u]; }
  out[i] = pack2x16float(clamp(vec2<f32>(lo, hi), vec2<f32>(-F16_MAX), vec2<f32>(F16_MAX)));
}
