// Attention of ONE new query token against a key/value cache (generation; forward only).
//   q (NH, hs): the new token's query after RoPE.   k, v (NKV, hs): its key (after RoPE) and value.
//   kcache, vcache (Tmax, NKV, hs): row s holds the key/value of the token at position s.
//   positions (1): the new token's position `pos` (< Tmax; checked on the CPU).
// attention_decode_append stores k, v in row pos; attention_decode then computes, per query head h
// (kv head h / (NH/NKV), scale 1/sqrt(hs)), out[h] = softmax_s(q[h].kcache[s] * scale) . vcache[s]
// over s = 0..pos: the row `pos` of attention.wgsl's causal attention for a one-document sequence.
// scores (NH, Tmax) is scratch holding the exponentials of one head's row.

struct Params {
  NH: u32,
  NKV: u32,
  hs: u32,
  Tmax: u32,  // rows of the cache
  scale: f32, // 1/sqrt(hs)
}

@group(0) @binding(0) var<storage, read_write> kcache: array<f32>; // (Tmax, NKV, hs)
@group(0) @binding(1) var<storage, read_write> vcache: array<f32>; // (Tmax, NKV, hs)
@group(0) @binding(2) var<storage, read> k: array<f32>;            // (NKV, hs)
@group(0) @binding(3) var<storage, read> v: array<f32>;            // (NKV, hs)
@group(0) @binding(4) var<storage, read> positions: array<i32>;    // (1)
@group(0) @binding(5) var<uniform> p: Params;

// One invocation per element of (NKV, hs).
@compute @workgroup_size(WG)
fn attention_decode_append(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  let row = p.NKV * p.hs;
  if (i >= row) { return; }
  let pos = u32(clamp(positions[0], 0, i32(p.Tmax) - 1));
  kcache[pos * row + i] = k[i];
  vcache[pos * row + i] = v[i];
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;    // (NH, hs)
@group(0) @binding(1) var<storage, read_write> scores: array<f32>; // (NH, Tmax) scratch
@group(0) @binding(2) var<storage, read> q: array<f32>;            // (NH, hs)
@group(0) @binding(3) var<storage, read> kc: array<f32>;           // (Tmax, NKV, hs)
@group(0) @binding(4) var<storage, read> vc: array<f32>;           // (Tmax, NKV, hs)
@group(0) @binding(5) var<storage, read> qpos: array<i32>;         // (1)
@group(0) @binding(6) var<uniform> pd: Params;

// One workgroup per query head: invocations stride over the keys (scores), then over head dims (out).
@compute @workgroup_size(WG)
fn attention_decode(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wid.x;
  let kvh = h / (pd.NH / pd.NKV);
  let row = pd.NKV * pd.hs;
  let len = u32(clamp(qpos[0], 0, i32(pd.Tmax) - 1)) + 1u; // keys 0..pos
  let qo = h * pd.hs;
  let so = h * pd.Tmax;
  var mx = -3.0e38;
  for (var s = lid; s < len; s += WG) {
    let ko = s * row + kvh * pd.hs;
    var dot = 0.0;
    for (var d = 0u; d < pd.hs; d++) { dot += q[qo + d] * kc[ko + d]; }
    let score = dot * pd.scale;
    scores[so + s] = score;
    mx = max(mx, score);
  }
  mx = workgroup_max(lid, mx);
  var sum = 0.0;
  for (var s = lid; s < len; s += WG) {
    let e = exp(scores[so + s] - mx);
    scores[so + s] = e;
    sum += e;
  }
  sum = workgroup_sum(lid, sum); // >= 1: the maximum's own term is exp(0)
  storageBarrier(); // every invocation's exponentials are visible before the weighted sum
  for (var d = lid; d < pd.hs; d += WG) {
    var acc = 0.0;
    for (var s = 0u; s < len; s++) { acc += scores[so + s] * vc[s * row + kvh * pd.hs + d]; }
    out[qo + d] = acc / sum;
  }
}
