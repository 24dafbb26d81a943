// Residual add fused into the RMSNorm that reads it: the residual stream h = a + b is written once
// and normalised in the same pass, instead of a separate add that writes h and a norm that reads it
// back. Forward: h = a + b; out = h * rstd * w, rstd = 1 / sqrt(mean(h^2) + eps) (saved).
// Backward: h feeds both the norm and the skip connection, so its gradient is the sum of the two:
//   dh = dskip + rstd * (g - hhat * mean(g*hhat)),  hhat = h*rstd, g = dout*w   (overwrite)
// and da = db = dh, so the caller passes dh on to both addends. dw is rmsnorm's per-channel kernel.
// One workgroup per row, tree reduction over the C channels (as rmsnorm.wgsl). The …4 entry points
// (C a multiple of 4, the tensors 16-byte aligned) are the same kernels with 16-byte loads and stores.

struct Params {
  N: u32,   // rows
  C: u32,   // channels
  eps: f32, // forward only
}

@group(0) @binding(0) var<storage, read_write> h: array<f32>;    // (N, C) =, the residual stream
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (N, C) =
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>; // (N) =
@group(0) @binding(3) var<storage, read> a: array<f32>;          // (N, C)
@group(0) @binding(4) var<storage, read> b: array<f32>;          // (N, C)
@group(0) @binding(5) var<storage, read> w: array<f32>;          // (C)
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn residual_rmsnorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  let n = flat_workgroup(wid, nwg);
  if (n >= p.N) { return; }
  let o = n * p.C;
  var ss = 0.0;
  // Each invocation reads back only the h it wrote itself, so no barrier is needed between loops.
  for (var c = lid; c < p.C; c += WG) {
    let v = a[o + c] + b[o + c];
    h[o + c] = v;
    ss += v * v;
  }
  let r = inverseSqrt(workgroup_sum(lane, ss) / f32(p.C) + p.eps);
  if (lid == 0u) { rstd[n] = r; }
  for (var c = lid; c < p.C; c += WG) { out[o + c] = h[o + c] * r * w[c]; }
}

@group(0) @binding(0) var<storage, read_write> dh: array<f32>;   // (N, C) =
@group(0) @binding(1) var<storage, read> dout: array<f32>;       // (N, C)
@group(0) @binding(2) var<storage, read> dskip: array<f32>;      // (N, C)
@group(0) @binding(3) var<storage, read> bh: array<f32>;         // (N, C)
@group(0) @binding(4) var<storage, read> bw: array<f32>;         // (C)
@group(0) @binding(5) var<storage, read> brstd: array<f32>;      // (N)
@group(0) @binding(6) var<uniform> bp: Params;

@compute @workgroup_size(WG)
fn residual_rmsnorm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  let n = flat_workgroup(wid, nwg);
  if (n >= bp.N) { return; }
  let o = n * bp.C;
  let r = brstd[n];
  var dot = 0.0; // sum_c g_c * hhat_c
  for (var c = lid; c < bp.C; c += WG) { dot += dout[o + c] * bw[c] * bh[o + c] * r; }
  let meanDot = workgroup_sum(lane, dot) / f32(bp.C);
  for (var c = lid; c < bp.C; c += WG) {
    dh[o + c] = dskip[o + c] + r * (dout[o + c] * bw[c] - bh[o + c] * r * meanDot);
  }
}

// Each invocation takes quads of the row: a quarter of the loop steps.
@group(0) @binding(0) var<storage, read_write> h4: array<vec4<f32>>;   // (N, C/4) =
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>; // (N, C/4) =
@group(0) @binding(3) var<storage, read> a4: array<vec4<f32>>;         // (N, C/4)
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;         // (N, C/4)
@group(0) @binding(5) var<storage, read> w4: array<vec4<f32>>;         // (C/4)

@compute @workgroup_size(WG)
fn residual_rmsnorm_forward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  let n = flat_workgroup(wid, nwg);
  if (n >= p.N) { return; }
  let cq = p.C / 4u;
  let o = n * cq;
  var ss = vec4<f32>(0.0);
  for (var c = lid; c < cq; c += WG) {
    let v = a4[o + c] + b4[o + c];
    h4[o + c] = v;
    ss += v * v;
  }
  let r = inverseSqrt(workgroup_sum(lane, (ss.x + ss.y) + (ss.z + ss.w)) / f32(p.C) + p.eps);
  if (lid == 0u) { rstd[n] = r; }
  for (var c = lid; c < cq; c += WG) { out4[o + c] = h4[o + c] * r * w4[c]; }
}

@group(0) @binding(0) var<storage, read_write> dh4: array<vec4<f32>>; // (N, C/4) =
@group(0) @binding(1) var<storage, read> dout4: array<vec4<f32>>;     // (N, C/4)
@group(0) @binding(2) var<storage, read> dskip4: array<vec4<f32>>;    // (N, C/4)
@group(0) @binding(3) var<storage, read> bh4: array<vec4<f32>>;       // (N, C/4)
@group(0) @binding(4) var<storage, read> bw4: array<vec4<f32>>;       // (C/4)

@compute @workgroup_size(WG)
fn residual_rmsnorm_backward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  let n = flat_workgroup(wid, nwg);
  if (n >= bp.N) { return; }
  let cq = bp.C / 4u;
  let o = n * cq;
  let r = brstd[n];
  var dot = vec4<f32>(0.0); // sum_c g_c * hhat_c
  for (var c = lid; c < cq; c += WG) { dot += dout4[o + c] * bw4[c] * bh4[o + c] * r; }
  let meanDot = workgroup_sum(lane, (dot.x + dot.y) + (dot.z + dot.w)) / f32(bp.C);
  for (var c = lid; c < cq; c += WG) {
    dh4[o + c] = dskip4[o + c] + r * (dout4[o + c] * bw4[c] - bh4[o + c] * r * meanDot);
  }
}
