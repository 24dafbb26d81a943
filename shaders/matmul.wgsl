// nn.Linear: out = x @ w^T + bias, x (N, I), w (O, I), out (N, O).
// Backward: dx = dout @ w (overwrite, or += when `accumulate` is set: q/k/v and gate/up share one
// input), dw += dout^T @ x, dbias += column sums of dout.
//
// All three products are one tiled kernel  c (M, P) (= or +=) a (M, K) @ b (K, P) (+ bias (P)),
// c row-major; a and b are read through a leading dimension and an orientation override:
//   forward  c = out (N, O)       a = x (N, I)               A_KCONTIG  b(k, o) = w[o, k]   B_KCONTIG
//   dx       c = dx (N, I)        a = dout (N, O)            A_KCONTIG  b(o, i) = w[o, i]   row-major
//   dw       c = dw (O, I) +=     a(o, n) = dout[n, o]       row-major  b(n, i) = x[n, i]   row-major
// A workgroup of WGX x WGY invocations computes a (4*WGY) x (4*WGX) tile of c, each invocation a
// 4 x 4 register block (rows 4*ly.., columns 4*lx..). K advances in slices of BK staged in
// workgroup memory k-major, so the inner loop reads one vec4 of a and one of b per k and does 16
// multiply-adds. WGX, WGY, BK come from the autotune (src/engine/autotune.ts); every candidate is
// tested against the reference (src/engine/ops.test.ts).
// b may be stored as f16 (B_F16: forward and dx with the f16 copy of a weight, see pack_f16.wgsl):
// b is bound as raw u32 words either way, read through b_load / b_quad, and every product still
// accumulates in f32.

override WGX: u32 = 8u;
override WGY: u32 = 8u;
override BK: u32 = 16u;
// a(m, k) at m*lda + k (true) or k*lda + m (false); b(k, p) at p*ldb + k (true) or k*ldb + p (false).
override A_KCONTIG: bool = true;
override B_KCONTIG: bool = true;
// b's words hold f32 bits (false) or two f16 halves each, element 2i in the low half (true).
override B_F16: bool = false;
// Likewise with two bfloat16 halves (a frozen LoRA base stored as bf16): a half is the top 16 bits
// of an f32, so widening is a shift.
override B_BF16: bool = false;

// The two bf16 halves of a word as f32s (element 2i, the low half, first).
fn unpack2xbf16(w: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));
}

struct Params {
  M: u32,
  P: u32,
  K: u32,
  lda: u32,
  ldb: u32,
  accumulate: u32, // 1: c +=, 0: c =
}

@group(0) @binding(0) var<storage, read_write> c: array<f32>; // (M, P)
@group(0) @binding(1) var<storage, read> a: array<f32>;       // a(m, k), see A_KCONTIG
@group(0) @binding(2) var<storage, read> b: array<u32>;       // b(k, p), see B_KCONTIG and B_F16
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // (P)

// Element i of b (an index into the f32 or f16 array).
fn b_load(i: u32) -> f32 {
  if (B_F16) {
    let pair = unpack2x16float(b[i / 2u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
  }
  if (B_BF16) {
    let pair = unpack2xbf16(b[i / 2u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
  }
  return bitcast<f32>(b[i]);
}

// as_[k * WGY + r] = a rows 4r..4r+3 of the tile at slice column k; bs_ likewise for b's columns.
var<workgroup> as_: array<vec4<f32>, BK * WGY>;
var<workgroup> bs_: array<vec4<f32>, BK * WGX>;

fn load_a(m0: u32, k0: u32, lid: u32) {
  let rows = 4u * WGY;
  for (var e = lid; e < rows * BK; e += WGX * WGY) {
    // Neighbouring invocations read neighbouring addresses in either orientation.
    let m = select(e % rows, e / BK, A_KCONTIG);
    let k = select(e / rows, e % BK, A_KCONTIG);
    let gm = m0 + m;
    let gk = k0 + k;
    var v = 0.0;
    if (gm < p.M && gk < p.K) { v = a[select(gk * p.lda + gm, gm * p.lda + gk, A_KCONTIG)]; }
    as_[k * WGY + m / 4u][m % 4u] = v;
  }
}

fn load_b(p0: u32, k0: u32, lid: u32) {
  let cols = 4u * WGX;
  for (var e = lid; e < cols * BK; e += WGX * WGY) {
    let q = select(e % cols, e / BK, B_KCONTIG);
    let k = select(e / cols, e % BK, B_KCONTIG);
    let gq = p0 + q;
    let gk = k0 + k;
    var v = 0.0;
    if (gq < p.P && gk < p.K) { v = b_load(select(gk * p.ldb + gq, gq * p.ldb + gk, B_KCONTIG)); }
    bs_[k * WGX + q / 4u][q % 4u] = v;
  }
}

// The invocation's 4 x 4 block of a @ b: rows m0 + 4*ly + r (element r), columns p0 + 4*lx + (component).
fn tile(wid: vec3<u32>, lx: u32, ly: u32) -> array<vec4<f32>, 4> {
  let m0 = wid.y * 4u * WGY;
  let p0 = wid.x * 4u * WGX;
  let lid = ly * WGX + lx;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    load_a(m0, k0, lid);
    load_b(p0, k0, lid);
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let av = as_[k * WGY + ly];
      let bv = bs_[k * WGX + lx];
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
    }
    workgroupBarrier();
  }
  return acc;
}

fn store(m: u32, p0: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let col = p0 + j;
    if (col < p.P) {
      let i = m * p.P + col;
      if (p.accumulate != 0u) { c[i] = c[i] + v[j]; } else { c[i] = v[j]; }
    }
  }
}

@compute @workgroup_size(WGX, WGY)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let acc = tile(wid, lid.x, lid.y);
  let m = wid.y * 4u * WGY + 4u * lid.y;
  let col = wid.x * 4u * WGX + 4u * lid.x;
  for (var r = 0u; r < 4u; r++) { store(m + r, col, acc[r]); }
}

@compute @workgroup_size(WGX, WGY)
fn matmul_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let acc = tile(wid, lid.x, lid.y);
  let m = wid.y * 4u * WGY + 4u * lid.y;
  let col = wid.x * 4u * WGX + 4u * lid.x;
  var bv = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (col + j < p.P) { bv[j] = bias[col + j]; } }
  for (var r = 0u; r < 4u; r++) { store(m + r, col, acc[r] + bv); }
}

// The same product without workgroup memory or barriers: each invocation reads its 4 rows of a and
// 4 columns of b straight from storage (the caches do the reuse). Slower than `matmul` on most GPUs,
// faster on CPU adapters, where barriers are expensive; the autotune decides.
fn a_at(m: u32, k: u32) -> f32 {
  if (m >= p.M) { return 0.0; }
  return a[select(k * p.lda + m, m * p.lda + k, A_KCONTIG)];
}

fn b_at(k: u32, q: u32) -> f32 {
  if (q >= p.P) { return 0.0; }
  return b_load(select(k * p.ldb + q, q * p.ldb + k, B_KCONTIG));
}

fn direct_tile(m: u32, q: u32) -> array<vec4<f32>, 4> {
  var acc: array<vec4<f32>, 4>;
  for (var k = 0u; k < p.K; k++) {
    let bv = vec4<f32>(b_at(k, q), b_at(k, q + 1u), b_at(k, q + 2u), b_at(k, q + 3u));
    acc[0] += a_at(m, k) * bv;
    acc[1] += a_at(m + 1u, k) * bv;
    acc[2] += a_at(m + 2u, k) * bv;
    acc[3] += a_at(m + 3u, k) * bv;
  }
  return acc;
}

@compute @workgroup_size(WGX, WGY)
fn matmul_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m = wid.y * 4u * WGY + 4u * lid.y;
  let col = wid.x * 4u * WGX + 4u * lid.x;
  let acc = direct_tile(m, col);
  for (var r = 0u; r < 4u; r++) { store(m + r, col, acc[r]); }
}

@compute @workgroup_size(WGX, WGY)
fn matmul_direct_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m = wid.y * 4u * WGY + 4u * lid.y;
  let col = wid.x * 4u * WGX + 4u * lid.x;
  let acc = direct_tile(m, col);
  var bv = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (col + j < p.P) { bv[j] = bias[col + j]; } }
  for (var r = 0u; r < 4u; r++) { store(m + r, col, acc[r] + bv); }
}

// matmul_direct with 16-byte loads and stores, used when K, the leading dimensions, P and (for a
// row-major a) M are multiples of 4: per 4-wide slice of K, four vec4 loads of a and four of b form
// 4 x 4 blocks, and each output row takes one matrix-vector product (16 multiply-adds); an
// invocation computes 16 x 16 outputs as sixteen such blocks (direct4_tile). Rows and columns past
// the edge read clamped (valid) addresses and are not stored.
@group(0) @binding(0) var<storage, read_write> c4: array<vec4<f32>>; // (M, P/4)
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<u32>>;

// Elements 4j .. 4j+3 of b (quad j): one 16-byte load of f32, or half of one of f16.
fn b_quad(j: u32) -> vec4<f32> {
  if (B_F16) {
    let w = b4[j / 2u];
    let h = select(w.xy, w.zw, (j & 1u) == 1u);
    return vec4<f32>(unpack2x16float(h.x), unpack2x16float(h.y));
  }
  if (B_BF16) {
    let w = b4[j / 2u];
    let h = select(w.xy, w.zw, (j & 1u) == 1u);
    return vec4<f32>(unpack2xbf16(h.x), unpack2xbf16(h.y));
  }
  return bitcast<vec4<f32>>(b4[j]);
}

// The quads (4-element units; every offset here is a multiple of 4) the 4 loads of a's block read
// at K slice 0: rows m .. m+3 (clamped, k-contiguous) or rows k = 0 .. 3 at column min(m, M - 4)
// (row-major). Computed once per invocation; each 4-wide K step then adds a_step to all four.
// Recomputing the clamped offsets and the divisions at every K step (as before) cost about a fifth
// of the product's time on SwiftShader; jax-js's generated kernel avoids it with constant offsets
// (bench/matmul-study.md).
fn a_offsets(m: u32) -> vec4<u32> {
  if (A_KCONTIG) { return min(vec4<u32>(m) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.M - 1u)) * (p.lda / 4u); }
  return vec4<u32>(min(m, p.M - 4u) / 4u) + vec4<u32>(0u, 1u, 2u, 3u) * (p.lda / 4u);
}

fn a_step() -> u32 { return select(p.lda, 1u, A_KCONTIG); }

// Likewise for b: columns q .. q+3 (clamped, k-contiguous) or rows k = 0 .. 3 at min(q, P - 4).
fn b_offsets(q: u32) -> vec4<u32> {
  if (B_KCONTIG) { return min(vec4<u32>(q) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.P - 1u)) * (p.ldb / 4u); }
  return vec4<u32>(min(q, p.P - 4u) / 4u) + vec4<u32>(0u, 1u, 2u, 3u) * (p.ldb / 4u);
}

fn b_step() -> u32 { return select(p.ldb, 1u, B_KCONTIG); }

// Column r = a(m + r, k .. k+3), from the four quads `i` (a_offsets + the K step's offset).
fn a_block(i: vec4<u32>) -> mat4x4<f32> {
  let v = mat4x4<f32>(a4[i.x], a4[i.y], a4[i.z], a4[i.w]);
  if (A_KCONTIG) { return v; }
  return transpose(v);
}

// Column j = b(k + j, q .. q+3), likewise.
fn b_block(i: vec4<u32>) -> mat4x4<f32> {
  let v = mat4x4<f32>(b_quad(i.x), b_quad(i.y), b_quad(i.z), b_quad(i.w));
  if (B_KCONTIG) { return transpose(v); }
  return v;
}

fn store4(m: u32, q: u32, v: vec4<f32>) {
  if (m >= p.M || q >= p.P) { return; }
  let i = (m * p.P + q) / 4u;
  if (p.accumulate != 0u) { c4[i] = c4[i] + v; } else { c4[i] = v; }
}

// A 16 x 16 output block per invocation as sixteen 4 x 4 quadrants: per 4-wide K step four a blocks
// and four b blocks (32 loads) feed 1024 multiply-adds, four times the work per load of a single
// 4 x 4 block and twice that of 8 x 8. SwiftShader gathers every storage load lane by lane (only
// constant offsets become vector loads), so loads per multiply-add are what cost there: 8 x 8 gave
// 18-21% less CPU than 4 x 4 at the model's shapes (N = 128 tokens), 16 x 16 another 22-25% over
// the step's forward, dx and dW products (bench/matmul-study.md, parts 2 and 3). A workgroup covers (16*WGY) x (16*WGX)
// outputs (product() sizes the grid).
// acc[4i + j]: rows m + 4i .., columns q + 4j .. (constant indices only).
alias Acc16 = array<array<vec4<f32>, 4>, 16>;

fn quad_fma(acc: ptr<function, array<vec4<f32>, 4>>, a: mat4x4<f32>, b: mat4x4<f32>) {
  (*acc)[0] += b * a[0];
  (*acc)[1] += b * a[1];
  (*acc)[2] += b * a[2];
  (*acc)[3] += b * a[3];
}

fn direct4_tile(m: u32, q: u32, acc: ptr<function, Acc16>) {
  let oa0 = a_offsets(m);
  let oa1 = a_offsets(m + 4u);
  let oa2 = a_offsets(m + 8u);
  let oa3 = a_offsets(m + 12u);
  let ob0 = b_offsets(q);
  let ob1 = b_offsets(q + 4u);
  let ob2 = b_offsets(q + 8u);
  let ob3 = b_offsets(q + 12u);
  let sa = a_step();
  let sb = b_step();
  var ka = 0u;
  var kb = 0u;
  for (var k = 0u; k < p.K; k += 4u) {
    let a0 = a_block(oa0 + vec4<u32>(ka));
    let a1 = a_block(oa1 + vec4<u32>(ka));
    let a2 = a_block(oa2 + vec4<u32>(ka));
    let a3 = a_block(oa3 + vec4<u32>(ka));
    let b0 = b_block(ob0 + vec4<u32>(kb));
    let b1 = b_block(ob1 + vec4<u32>(kb));
    let b2 = b_block(ob2 + vec4<u32>(kb));
    let b3 = b_block(ob3 + vec4<u32>(kb));
    quad_fma(&(*acc)[0], a0, b0);
    quad_fma(&(*acc)[1], a0, b1);
    quad_fma(&(*acc)[2], a0, b2);
    quad_fma(&(*acc)[3], a0, b3);
    quad_fma(&(*acc)[4], a1, b0);
    quad_fma(&(*acc)[5], a1, b1);
    quad_fma(&(*acc)[6], a1, b2);
    quad_fma(&(*acc)[7], a1, b3);
    quad_fma(&(*acc)[8], a2, b0);
    quad_fma(&(*acc)[9], a2, b1);
    quad_fma(&(*acc)[10], a2, b2);
    quad_fma(&(*acc)[11], a2, b3);
    quad_fma(&(*acc)[12], a3, b0);
    quad_fma(&(*acc)[13], a3, b1);
    quad_fma(&(*acc)[14], a3, b2);
    quad_fma(&(*acc)[15], a3, b3);
    ka += sa;
    kb += sb;
  }
}

// A 4 x 4 quadrant at rows m .., columns q .., plus bias quad bq.
fn store_quad(m: u32, q: u32, v: array<vec4<f32>, 4>, bq: vec4<f32>) {
  for (var r = 0u; r < 4u; r++) { store4(m + r, q, v[r] + bq); }
}

// The 16 x 16 block, plus bias quads bq[j] (columns q + 4j ..).
fn store16(m: u32, q: u32, acc: ptr<function, Acc16>, bq: array<vec4<f32>, 4>) {
  store_quad(m, q, (*acc)[0], bq[0]);
  store_quad(m, q + 4u, (*acc)[1], bq[1]);
  store_quad(m, q + 8u, (*acc)[2], bq[2]);
  store_quad(m, q + 12u, (*acc)[3], bq[3]);
  store_quad(m + 4u, q, (*acc)[4], bq[0]);
  store_quad(m + 4u, q + 4u, (*acc)[5], bq[1]);
  store_quad(m + 4u, q + 8u, (*acc)[6], bq[2]);
  store_quad(m + 4u, q + 12u, (*acc)[7], bq[3]);
  store_quad(m + 8u, q, (*acc)[8], bq[0]);
  store_quad(m + 8u, q + 4u, (*acc)[9], bq[1]);
  store_quad(m + 8u, q + 8u, (*acc)[10], bq[2]);
  store_quad(m + 8u, q + 12u, (*acc)[11], bq[3]);
  store_quad(m + 12u, q, (*acc)[12], bq[0]);
  store_quad(m + 12u, q + 4u, (*acc)[13], bq[1]);
  store_quad(m + 12u, q + 8u, (*acc)[14], bq[2]);
  store_quad(m + 12u, q + 12u, (*acc)[15], bq[3]);
}

@compute @workgroup_size(WGX, WGY)
fn matmul_direct4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m = wid.y * 16u * WGY + 16u * lid.y;
  let q = wid.x * 16u * WGX + 16u * lid.x;
  var acc: Acc16;
  direct4_tile(m, q, &acc);
  store16(m, q, &acc, array<vec4<f32>, 4>());
}

@compute @workgroup_size(WGX, WGY)
fn matmul_direct4_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m = wid.y * 16u * WGY + 16u * lid.y;
  let q = wid.x * 16u * WGX + 16u * lid.x;
  var acc: Acc16;
  direct4_tile(m, q, &acc);
  var bq: array<vec4<f32>, 4>;
  if (q < p.P) { bq[0] = vec4<f32>(bias[q], bias[q + 1u], bias[q + 2u], bias[q + 3u]); }
  if (q + 4u < p.P) { bq[1] = vec4<f32>(bias[q + 4u], bias[q + 5u], bias[q + 6u], bias[q + 7u]); }
  if (q + 8u < p.P) { bq[2] = vec4<f32>(bias[q + 8u], bias[q + 9u], bias[q + 10u], bias[q + 11u]); }
  if (q + 12u < p.P) { bq[3] = vec4<f32>(bias[q + 12u], bias[q + 13u], bias[q + 14u], bias[q + 15u]); }
  store16(m, q, &acc, bq);
}

@group(0) @binding(0) var<storage, read_write> dbias: array<f32>; // (O) +=
@group(0) @binding(1) var<storage, read> bdout: array<f32>;       // (N, O)
@group(0) @binding(2) var<uniform> bp: Params;                    // M = N rows, P = O columns

// One invocation per output column o, summing the N rows in order.
@compute @workgroup_size(WG)
fn matmul_backward_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = flat_invocation(wid, nwg, lid);
  if (o >= bp.P) { return; }
  var s = 0.0;
  for (var n = 0u; n < bp.M; n++) { s += bdout[n * bp.P + o]; }
  dbias[o] = dbias[o] + s;
}
