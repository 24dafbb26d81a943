// Rotary position embedding, Hugging Face rotate_half layout: within a head, dim j pairs with
// j + hs/2 (j < hs/2) at angle positions[n] * theta^(-2j/hs).
//   out_j = x_j cos - x_{j+h} sin,   out_{j+h} = x_{j+h} cos + x_j sin   (h = hs/2)
// Backward applies the transposed rotation. cos/sin come from a table computed on the CPU in
// float64 (src/engine/ops/rope.ts): f32 angles p*freq lose ~1e-4 rad at p ~ 1000 and WGSL's sin/cos
// are only accurate near 0, so the GPU never evaluates them.

struct Params {
  N: u32,  // rows B*T
  H: u32,  // heads in x
  hs: u32, // head size
  P: u32,  // positions in the table
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (N, H, hs)
@group(0) @binding(1) var<storage, read> x: array<f32>;         // (N, H, hs)
@group(0) @binding(2) var<storage, read> positions: array<i32>; // (N)
@group(0) @binding(3) var<storage, read> table: array<f32>;     // (P, hs/2, 2): cos, sin
@group(0) @binding(4) var<uniform> p: Params;

// One invocation per (n, head, j < hs/2). `sign` = 1 forward, -1 backward (rotation by -angle).
fn rotate(i: u32, sign: f32) {
  let half = p.hs / 2u;
  if (i >= p.N * p.H * half) { return; }
  let j = i % half;
  let nh = i / half; // n * H + head
  let n = nh / p.H;
  let pos = u32(clamp(positions[n], 0, i32(p.P) - 1)); // range-checked on the CPU
  let cs = table[(pos * half + j) * 2u];
  let sn = table[(pos * half + j) * 2u + 1u] * sign;
  let o = nh * p.hs;
  let x1 = x[o + j];
  let x2 = x[o + j + half];
  out[o + j] = x1 * cs - x2 * sn;
  out[o + j + half] = x2 * cs + x1 * sn;
}

@compute @workgroup_size(WG)
fn rope_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  rotate(flat_invocation(wid, nwg, lid), 1.0);
}

// dx = R(-angle) dout: dx_j = d_j cos + d_{j+h} sin, dx_{j+h} = d_{j+h} cos - d_j sin.
@compute @workgroup_size(WG)
fn rope_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  rotate(flat_invocation(wid, nwg, lid), -1.0);
}
