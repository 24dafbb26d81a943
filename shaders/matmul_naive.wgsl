// nn.Linear: out = x @ w^T + bias, x (N, I), w (O, I), out (N, O).
// Backward: dx = dout @ w (overwrite, or += when `accumulate` is set: q/k/v and gate/up share one
// input), dw += dout^T @ x, dbias += column sums of dout.
// The first, simple kernel, kept as the GPU test oracle for the tiled one (shaders/matmul.wgsl) on
// shapes too big for the Float64 reference: one TILE x TILE output tile per workgroup, one element
// per invocation, TILE-wide slices of both operands staged in workgroup memory.

override TILE: u32 = 16u;

struct Params {
  N: u32,
  I: u32,
  O: u32,
  accumulate: u32, // backward dx only: 1 = dx +=, 0 = dx =
}

var<workgroup> ta: array<f32, TILE * TILE>;
var<workgroup> tb: array<f32, TILE * TILE>;

@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (N, O)
@group(0) @binding(1) var<storage, read> x: array<f32>;         // (N, I)
@group(0) @binding(2) var<storage, read> w: array<f32>;         // (O, I)
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<f32>;      // (O)

// out tile: rows n0 + ly, columns o0 + lx. Returns sum_i x[n, i] * w[o, i] (0 outside the matrix).
fn forward_tile(wid: vec3<u32>, lid: vec3<u32>) -> f32 {
  let n0 = wid.y * TILE;
  let o0 = wid.x * TILE;
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.I; k0 += TILE) {
    let xi = k0 + lid.x;
    // ta[r][k] = x[n0 + r, k0 + k];  tb[r][k] = w[o0 + r, k0 + k]
    ta[lid.y * TILE + lid.x] = select(0.0, x[(n0 + lid.y) * p.I + xi], n0 + lid.y < p.N && xi < p.I);
    tb[lid.y * TILE + lid.x] = select(0.0, w[(o0 + lid.y) * p.I + xi], o0 + lid.y < p.O && xi < p.I);
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) { acc += ta[lid.y * TILE + k] * tb[lid.x * TILE + k]; }
    workgroupBarrier();
  }
  return acc;
}

@compute @workgroup_size(TILE, TILE)
fn matmul_naive_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let acc = forward_tile(wid, lid);
  let n = wid.y * TILE + lid.y;
  let o = wid.x * TILE + lid.x;
  if (n < p.N && o < p.O) { out[n * p.O + o] = acc; }
}

@compute @workgroup_size(TILE, TILE)
fn matmul_naive_forward_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let acc = forward_tile(wid, lid);
  let n = wid.y * TILE + lid.y;
  let o = wid.x * TILE + lid.x;
  if (n < p.N && o < p.O) { out[n * p.O + o] = acc + bias[o]; }
}

@group(0) @binding(0) var<storage, read_write> dx: array<f32>;  // (N, I)
@group(0) @binding(1) var<storage, read> ddout: array<f32>;     // (N, O)
@group(0) @binding(2) var<storage, read> dw_w: array<f32>;      // (O, I)
@group(0) @binding(3) var<uniform> dp: Params;

// dx tile: rows n0 + ly, columns i0 + lx; dx[n, i] = sum_o dout[n, o] * w[o, i].
@compute @workgroup_size(TILE, TILE)
fn matmul_naive_backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = wid.y * TILE;
  let i0 = wid.x * TILE;
  var acc = 0.0;
  for (var k0 = 0u; k0 < dp.O; k0 += TILE) {
    // ta[r][k] = dout[n0 + r, k0 + k];  tb[k][c] = w[k0 + k, i0 + c]
    let dk = k0 + lid.x;
    let wk = k0 + lid.y;
    ta[lid.y * TILE + lid.x] = select(0.0, ddout[(n0 + lid.y) * dp.O + dk], n0 + lid.y < dp.N && dk < dp.O);
    tb[lid.y * TILE + lid.x] = select(0.0, dw_w[wk * dp.I + i0 + lid.x], wk < dp.O && i0 + lid.x < dp.I);
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) { acc += ta[lid.y * TILE + k] * tb[k * TILE + lid.x]; }
    workgroupBarrier();
  }
  let n = n0 + lid.y;
  let i = i0 + lid.x;
  if (n < dp.N && i < dp.I) {
    let j = n * dp.I + i;
    if (dp.accumulate != 0u) { dx[j] = dx[j] + acc; } else { dx[j] = acc; }
  }
}

@group(0) @binding(0) var<storage, read_write> dw: array<f32>;  // (O, I) +=
@group(0) @binding(1) var<storage, read> wdout: array<f32>;     // (N, O)
@group(0) @binding(2) var<storage, read> wx: array<f32>;        // (N, I)
@group(0) @binding(3) var<uniform> wp: Params;

// dw tile: rows o0 + ly, columns i0 + lx; dw[o, i] += sum_n dout[n, o] * x[n, i].
@compute @workgroup_size(TILE, TILE)
fn matmul_naive_backward_dw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let o0 = wid.y * TILE;
  let i0 = wid.x * TILE;
  var acc = 0.0;
  for (var k0 = 0u; k0 < wp.N; k0 += TILE) {
    // ta[k][r] = dout[k0 + k, o0 + r];  tb[k][c] = x[k0 + k, i0 + c]
    let nk = k0 + lid.y;
    ta[lid.y * TILE + lid.x] = select(0.0, wdout[nk * wp.O + o0 + lid.x], nk < wp.N && o0 + lid.x < wp.O);
    tb[lid.y * TILE + lid.x] = select(0.0, wx[nk * wp.I + i0 + lid.x], nk < wp.N && i0 + lid.x < wp.I);
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) { acc += ta[k * TILE + lid.y] * tb[k * TILE + lid.x]; }
    workgroupBarrier();
  }
  let o = o0 + lid.y;
  let i = i0 + lid.x;
  if (o < wp.O && i < wp.I) {
    let j = o * wp.I + i;
    dw[j] = dw[j] + acc;
  }
}
