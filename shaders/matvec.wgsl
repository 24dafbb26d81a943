// nn.Linear for a few rows (generation feeds one token): out = x @ w^T + bias, x (N, I), w (O, I),
// out (N, O); the same function as matmul.wgsl's forward. Forward only.
// Each output element (n, o) gets LANES invocations: lane l adds x[n, i] * w[o, i] for
// i = l, l + LANES, …, so the lanes of one row read consecutive addresses at every step and a
// workgroup of WG invocations covers WG / LANES rows; a tree over the lanes adds the partial sums.
// (The tiled matmul would compute 15 empty rows of its 16-row tiles when N = 1.) Few lanes per row
// keep the reduction short; each invocation walks I / LANES elements.

override LANES: u32 = 4u; // power of two, <= WG

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

var<workgroup> part: array<f32, WG>;

// Output element e = n * O + o of this invocation's row, and (for lane 0) its dot product; every
// invocation takes part in the barriers, rows past the end compute 0.
fn row_dot(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> f32 {
  let lane = lid % LANES;
  let e = flat_workgroup(wid, nwg) * (WG / LANES) + lid / LANES;
  var acc = 0.0;
  if (e < p.N * p.O) {
    let xo = (e / p.O) * p.I;
    let wo = (e % p.O) * p.I;
    for (var i = lane; i < p.I; i += LANES) { acc += x[xo + i] * w[wo + i]; }
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = LANES / 2u; s > 0u; s = s / 2u) {
    if (lane < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  return part[lid - lane];
}

fn element(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return flat_workgroup(wid, nwg) * (WG / LANES) + lid / LANES;
}

@compute @workgroup_size(WG)
fn matvec_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = row_dot(wid, nwg, lid);
  let e = element(wid, nwg, lid);
  if (lid % LANES == 0u && e < p.N * p.O) { out[e] = s; }
}

@compute @workgroup_size(WG)
fn matvec_forward_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = row_dot(wid, nwg, lid);
  let e = element(wid, nwg, lid);
  if (lid % LANES == 0u && e < p.N * p.O) { out[e] = s + bias[e % p.O]; }
}
