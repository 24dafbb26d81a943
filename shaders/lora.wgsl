// LoRA (src/spec/lora.ts, PEFT's Linear): a low-rank update on top of a frozen projection.
//   forward   u (N, r) = x A^T;                    out (N, O) += s · u B^T
//   backward  du (N, r) = s · dout B;  dB (O, r) += s · dout^T u;  dA (r, I) += du^T x;  dx (N, I) += du A
// x (N, I), A (r, I), B (O, r), s = alpha / r. The frozen projection's own forward and dx are
// matmul.wgsl's; it writes out (and dx) first, these products add to them.
//
// All six are one strided product  c (M, P) (= or +=) scale · a (M, K) @ b (K, P), one output per
// invocation: a(m, k) at m*a_m + k*a_k, b(k, p) at k*b_k + p*b_p (the transposes are strides).
// r is small (4..64), so every product is a thin one next to the frozen matmul: the two with
// K = N (dB, dA) loop over the tokens, the rest over r or a model width.

// Output edge of a workgroup's tile (src/engine/ops/lora.ts sets it, and sizes the grid from it).
override TILE: u32 = 8u;

struct Params {
  M: u32,
  P: u32,
  K: u32,
  a_m: u32,
  a_k: u32,
  b_k: u32,
  b_p: u32,
  accumulate: u32, // 1: c +=, 0: c =
  scale: f32,
}

@group(0) @binding(0) var<storage, read_write> c: array<f32>; // (M, P)
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(TILE, TILE)
fn lora_product(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  let row = gid.y;
  if (row >= p.M || col >= p.P) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) {
    s += a[row * p.a_m + k * p.a_k] * b[k * p.b_k + col * p.b_p];
  }
  let i = row * p.P + col;
  var v = p.scale * s;
  if (p.accumulate == 1u) { v += c[i]; }
  c[i] = v;
}
