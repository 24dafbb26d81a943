// nn.Linear for a few rows (generation feeds one token): out = x @ w^T + bias, x (N, I), w (O, I),
// out (N, O); the same function as matmul.wgsl's matmul_forward(_bias). Forward only.
// One workgroup per output element (n, o): its invocations read row o of w at consecutive
// addresses (coalesced; the tiled matmul would waste 15 of its 16 tile rows when N = 1), and a
// tree reduction adds their partial dot products.

struct Params {
  N: u32,
  I: u32,
  O: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (N, O)
@group(0) @binding(1) var<storage, read> x: array<f32>;         // (N, I)
@group(0) @binding(2) var<storage, read> w: array<f32>;         // (O, I)
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<f32>;      // (O)

// Dot product of x[n] and w[o] for the workgroup's (n, o) = (e / O, e % O); every invocation gets it.
fn row_dot(e: u32, lid: u32) -> f32 {
  let n = e / p.O;
  let o = e % p.O;
  var acc = 0.0;
  for (var i = lid; i < p.I; i += WG) { acc += x[n * p.I + i] * w[o * p.I + i]; }
  return workgroup_sum(lid, acc);
}

@compute @workgroup_size(WG)
fn matvec_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = flat_workgroup(wid, nwg);
  if (e >= p.N * p.O) { return; }
  let s = row_dot(e, lid);
  if (lid == 0u) { out[e] = s; }
}

@compute @workgroup_size(WG)
fn matvec_forward_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = flat_workgroup(wid, nwg);
  if (e >= p.N * p.O) { return; }
  let s = row_dot(e, lid);
  if (lid == 0u) { out[e] = s + bias[e % p.O]; }
}
