// RMSNorm: out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps), rstd saved for backward.
// Backward (xhat = x*rstd, g = dout*w): dx = rstd * (g - xhat * mean(g*xhat))  (overwrite),
// dw += sum over rows of dout*xhat, by a separate per-channel kernel (race-free, fixed order).
// Forward and dx use one workgroup per row with a tree reduction over the C channels.

struct Params {
  N: u32,   // rows
  C: u32,   // channels
  eps: f32, // forward only
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (N, C)
@group(0) @binding(1) var<storage, read_write> rstd: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> x: array<f32>;          // (N, C)
@group(0) @binding(3) var<storage, read> w: array<f32>;          // (C)
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn rmsnorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  let n = flat_workgroup(wid, nwg);
  if (n >= p.N) { return; }
  let o = n * p.C;
  var ss = 0.0;
  for (var c = lid; c < p.C; c += WG) { ss += x[o + c] * x[o + c]; }
  let r = inverseSqrt(workgroup_sum(lane, ss) / f32(p.C) + p.eps);
  if (lid == 0u) { rstd[n] = r; }
  for (var c = lid; c < p.C; c += WG) { out[o + c] = x[o + c] * r * w[c]; }
}

@group(0) @binding(0) var<storage, read_write> dx: array<f32>;   // (N, C) =
@group(0) @binding(1) var<storage, read> dout: array<f32>;       // (N, C)
@group(0) @binding(2) var<storage, read> bx: array<f32>;         // (N, C)
@group(0) @binding(3) var<storage, read> bw: array<f32>;         // (C)
@group(0) @binding(4) var<storage, read> brstd: array<f32>;      // (N)
@group(0) @binding(5) var<uniform> bp: Params;

@compute @workgroup_size(WG)
fn rmsnorm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  let n = flat_workgroup(wid, nwg);
  if (n >= bp.N) { return; }
  let o = n * bp.C;
  let r = brstd[n];
  var dot = 0.0; // sum_c g_c * xhat_c
  for (var c = lid; c < bp.C; c += WG) { dot += dout[o + c] * bw[c] * bx[o + c] * r; }
  let meanDot = workgroup_sum(lane, dot) / f32(bp.C);
  for (var c = lid; c < bp.C; c += WG) {
    dx[o + c] = r * (dout[o + c] * bw[c] - bx[o + c] * r * meanDot);
  }
}

@group(0) @binding(0) var<storage, read_write> dw: array<f32>;   // (C) +=
@group(0) @binding(1) var<storage, read> wdout: array<f32>;      // (N, C)
@group(0) @binding(2) var<storage, read> wx: array<f32>;         // (N, C)
@group(0) @binding(3) var<storage, read> wrstd: array<f32>;      // (N)
@group(0) @binding(4) var<uniform> wp: Params;

// One invocation per channel c, summing over the N rows in order.
@compute @workgroup_size(WG)
fn rmsnorm_backward_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = flat_invocation(wid, nwg, lid);
  if (c >= wp.C) { return; }
  var s = 0.0;
  for (var n = 0u; n < wp.N; n++) { s += wdout[n * wp.C + c] * wx[n * wp.C + c] * wrstd[n]; }
  dw[c] = dw[c] + s;
}
