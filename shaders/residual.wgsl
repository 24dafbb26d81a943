// Residual add: out = a + b (also used in backward to sum the two gradients meeting at a fork).
// Backward: da += dout, db += dout (the residual stream's gradients accumulate).

struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (n)
@group(0) @binding(1) var<storage, read> a: array<f32>;         // (n)
@group(0) @binding(2) var<storage, read> b: array<f32>;         // (n)
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn residual_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = a[i] + b[i];
}

@group(0) @binding(0) var<storage, read_write> da: array<f32>;  // (n) +=
@group(0) @binding(1) var<storage, read_write> db: array<f32>;  // (n) +=
@group(0) @binding(2) var<storage, read> dout: array<f32>;      // (n)
@group(0) @binding(3) var<uniform> bp: Params;

@compute @workgroup_size(WG)
fn residual_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= bp.n) { return; }
  let d = dout[i];
  da[i] = da[i] + d;
  db[i] = db[i] + d;
}
