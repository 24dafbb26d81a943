// Attention of NQ new query tokens against a key/value cache (generation; forward only).
//   q (NQ, NH, hs): the new tokens' queries after RoPE.   k, v (NQ, NKV, hs): their keys (after
//   RoPE) and values.   positions (NQ): each new token's position (< Tmax, checked on the CPU), or
//   -1 for a padding row (prefill's last chunk), which stores nothing and outputs 0.
//   kcache, vcache (Tmax, NKV, hs): row s holds the key/value of the token at position s.
// attention_decode_append stores row r's k, v at row positions[r] of the caches; attention_decode
// then computes, per query row r at position p and head h (kv head h / (NH/NKV), scale 1/sqrt(hs)),
//   out[r, h] = softmax_s(q[r, h] . kcache[s] * scale) . vcache[s]  over s = 0..p:
// row p of attention.wgsl's causal attention for a one-document sequence. Appending every row
// before attending makes a chunk of consecutive tokens attend to each other causally.
// scores (NQ * NH, Tmax) is scratch holding one row's exponentials per (r, h).

struct Params {
  NQ: u32,    // query rows
  NH: u32,
  NKV: u32,
  hs: u32,
  Tmax: u32,  // rows of the cache
  scale: f32, // 1/sqrt(hs)
}

@group(0) @binding(0) var<storage, read_write> kcache: array<f32>; // (Tmax, NKV, hs)
@group(0) @binding(1) var<storage, read_write> vcache: array<f32>; // (Tmax, NKV, hs)
@group(0) @binding(2) var<storage, read> k: array<f32>;            // (NQ, NKV, hs)
@group(0) @binding(3) var<storage, read> v: array<f32>;            // (NQ, NKV, hs)
@group(0) @binding(4) var<storage, read> positions: array<i32>;    // (NQ)
@group(0) @binding(5) var<uniform> p: Params;

// One invocation per element of (NQ, NKV, hs).
@compute @workgroup_size(WG)
fn attention_decode_append(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  let row = p.NKV * p.hs;
  if (i >= p.NQ * row) { return; }
  let r = i / row;
  let pos = positions[r];
  if (pos < 0) { return; } // padding row
  let at = u32(min(pos, i32(p.Tmax) - 1)) * row + i % row;
  kcache[at] = k[i];
  vcache[at] = v[i];
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;    // (NQ, NH, hs)
@group(0) @binding(1) var<storage, read_write> scores: array<f32>; // (NQ * NH, Tmax) scratch
@group(0) @binding(2) var<storage, read> q: array<f32>;            // (NQ, NH, hs)
@group(0) @binding(3) var<storage, read> kc: array<f32>;           // (Tmax, NKV, hs)
@group(0) @binding(4) var<storage, read> vc: array<f32>;           // (Tmax, NKV, hs)
@group(0) @binding(5) var<storage, read> qpos: array<i32>;         // (NQ)
@group(0) @binding(6) var<uniform> pd: Params;

// One workgroup per (query row r, head h), g = r * NH + h: invocations stride over the keys
// (scores), then over the head's dims (out). Barriers stay in uniform control flow: a padding row
// runs every loop zero times.
@compute @workgroup_size(WG)
fn attention_decode(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  let g = min(flat_workgroup(wid, nwg), pd.NQ * pd.NH - 1u); // the grid may round up past NQ * NH
  let r = g / pd.NH;
  let h = g % pd.NH;
  let kvh = h / (pd.NH / pd.NKV);
  let row = pd.NKV * pd.hs;
  let pos = qpos[r];
  let len = select(0u, u32(min(pos, i32(pd.Tmax) - 1)) + 1u, pos >= 0); // keys 0..pos
  let qo = g * pd.hs;
  let so = g * pd.Tmax;
  var mx = -3.0e38;
  for (var s = lid; s < len; s += WG) {
    let ko = s * row + kvh * pd.hs;
    var dot = 0.0;
    for (var d = 0u; d < pd.hs; d++) { dot += q[qo + d] * kc[ko + d]; }
    let score = dot * pd.scale;
    scores[so + s] = score;
    mx = max(mx, score);
  }
  mx = workgroup_max(lane, mx);
  var sum = 0.0;
  for (var s = lid; s < len; s += WG) {
    let e = exp(scores[so + s] - mx);
    scores[so + s] = e;
    sum += e;
  }
  sum = workgroup_sum(lane, sum); // >= 1 for a real row: the maximum's own term is exp(0)
  storageBarrier(); // every invocation's exponentials are visible before the weighted sum
  for (var d = lid; d < pd.hs; d += WG) {
    var acc = 0.0;
    for (var s = 0u; s < len; s++) { acc += scores[so + s] * vc[s * row + kvh * pd.hs + d]; }
    out[qo + d] = select(0.0, acc / sum, len > 0u);
  }
}
