// Causal, per-document, grouped-query attention with stored softmax probabilities.
//   q (B,T,NH,hs), k/v (B,T,NKV,hs), out (B,T,NH,hs), att (B,NH,T,T), docIds (B*T).
// Query head h reads kv head h / (NH/NKV); scale 1/sqrt(hs). Query t may attend key s iff
// s <= t AND docIds[b,s] == docIds[b,t] AND docIds[b,t] >= 0 (docIds -1 = padding: att row 0, out 0).
// Masked entries of att are exactly 0. Backward (dq, dk, dv overwrite):
//   datt[t,s] = dout[t].v[s];  dpre[t,s] = scale * att[t,s] * (datt[t,s] - sum_s' att[t,s'] datt[t,s'])
//   dq[t] = sum_s dpre[t,s] k[s];  dk[s] = sum_{h in group, t} dpre[t,s] q[t];  dv[s] = sum_{h, t} att[t,s] dout[t]
// Each backward kernel gives every output element to one invocation (no atomics): scores writes
// dpre (B,NH,T,T scratch) row by row, then dq and dk/dv read it.

struct Params {
  B: u32,
  T: u32,
  NH: u32,
  NKV: u32,
  hs: u32,
  scale: f32, // 1/sqrt(hs)
}

fn allowed(docT: i32, docS: i32, s: u32, t: u32) -> bool {
  return s <= t && docT >= 0 && docS == docT;
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (B, T, NH, hs)
@group(0) @binding(1) var<storage, read_write> att: array<f32>; // (B, NH, T, T)
@group(0) @binding(2) var<storage, read> q: array<f32>;         // (B, T, NH, hs)
@group(0) @binding(3) var<storage, read> k: array<f32>;         // (B, T, NKV, hs)
@group(0) @binding(4) var<storage, read> v: array<f32>;         // (B, T, NKV, hs)
@group(0) @binding(5) var<storage, read> docIds: array<i32>;    // (B*T)
@group(0) @binding(6) var<uniform> p: Params;

// One invocation per query row (b, h, t), i = (b*NH + h)*T + t.
@compute @workgroup_size(WG)
fn attention_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= p.B * p.NH * p.T) { return; }
  let t = i % p.T;
  let h = (i / p.T) % p.NH;
  let b = i / (p.T * p.NH);
  let kvh = h / (p.NH / p.NKV);
  let arow = i * p.T;
  let qo = ((b * p.T + t) * p.NH + h) * p.hs;
  let docT = docIds[b * p.T + t];
  var mx = -3.0e38;
  for (var s = 0u; s < p.T; s++) {
    if (!allowed(docT, docIds[b * p.T + s], s, t)) { att[arow + s] = 0.0; continue; }
    let ko = ((b * p.T + s) * p.NKV + kvh) * p.hs;
    var dot = 0.0;
    for (var d = 0u; d < p.hs; d++) { dot += q[qo + d] * k[ko + d]; }
    let score = dot * p.scale;
    att[arow + s] = score;
    mx = max(mx, score);
  }
  for (var d = 0u; d < p.hs; d++) { out[qo + d] = 0.0; }
  if (docT < 0) { return; } // padding query: attends to nothing
  var sum = 0.0;
  for (var s = 0u; s <= t; s++) {
    if (!allowed(docT, docIds[b * p.T + s], s, t)) { continue; }
    let e = exp(att[arow + s] - mx);
    att[arow + s] = e;
    sum += e;
  }
  // s = t is always allowed for a real token, so sum >= 1.
  for (var s = 0u; s <= t; s++) {
    if (!allowed(docT, docIds[b * p.T + s], s, t)) { continue; }
    let pr = att[arow + s] / sum;
    att[arow + s] = pr;
    let vo = ((b * p.T + s) * p.NKV + kvh) * p.hs;
    for (var d = 0u; d < p.hs; d++) { out[qo + d] += pr * v[vo + d]; }
  }
}

@group(0) @binding(0) var<storage, read_write> dpre: array<f32>; // (B, NH, T, T) scratch
@group(0) @binding(1) var<storage, read> sdout: array<f32>;      // (B, T, NH, hs)
@group(0) @binding(2) var<storage, read> sv: array<f32>;         // (B, T, NKV, hs)
@group(0) @binding(3) var<storage, read> satt: array<f32>;       // (B, NH, T, T)
@group(0) @binding(4) var<storage, read> sdocIds: array<i32>;    // (B*T)
@group(0) @binding(5) var<uniform> sp: Params;

// One invocation per query row (b, h, t): dpre[b,h,t,s] for s <= t (0 where masked).
@compute @workgroup_size(WG)
fn attention_backward_scores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= sp.B * sp.NH * sp.T) { return; }
  let t = i % sp.T;
  let h = (i / sp.T) % sp.NH;
  let b = i / (sp.T * sp.NH);
  let kvh = h / (sp.NH / sp.NKV);
  let arow = i * sp.T;
  let qo = ((b * sp.T + t) * sp.NH + h) * sp.hs;
  let docT = sdocIds[b * sp.T + t];
  var rowDot = 0.0;
  for (var s = 0u; s <= t; s++) {
    if (!allowed(docT, sdocIds[b * sp.T + s], s, t)) { dpre[arow + s] = 0.0; continue; }
    let vo = ((b * sp.T + s) * sp.NKV + kvh) * sp.hs;
    var d = 0.0;
    for (var j = 0u; j < sp.hs; j++) { d += sdout[qo + j] * sv[vo + j]; }
    dpre[arow + s] = d;
    rowDot += satt[arow + s] * d;
  }
  for (var s = 0u; s <= t; s++) {
    if (!allowed(docT, sdocIds[b * sp.T + s], s, t)) { continue; }
    dpre[arow + s] = satt[arow + s] * (dpre[arow + s] - rowDot) * sp.scale;
  }
}

@group(0) @binding(0) var<storage, read_write> dq: array<f32>;   // (B, T, NH, hs) =
@group(0) @binding(1) var<storage, read> qdpre: array<f32>;      // (B, NH, T, T)
@group(0) @binding(2) var<storage, read> qk: array<f32>;         // (B, T, NKV, hs)
@group(0) @binding(3) var<uniform> qp: Params;

// One invocation per dq element (b, t, h, d).
@compute @workgroup_size(WG)
fn attention_backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= qp.B * qp.T * qp.NH * qp.hs) { return; }
  let d = i % qp.hs;
  let h = (i / qp.hs) % qp.NH;
  let t = (i / (qp.hs * qp.NH)) % qp.T;
  let b = i / (qp.hs * qp.NH * qp.T);
  let kvh = h / (qp.NH / qp.NKV);
  let arow = ((b * qp.NH + h) * qp.T + t) * qp.T;
  var acc = 0.0;
  for (var s = 0u; s <= t; s++) {
    acc += qdpre[arow + s] * qk[((b * qp.T + s) * qp.NKV + kvh) * qp.hs + d];
  }
  dq[i] = acc;
}

@group(0) @binding(0) var<storage, read_write> dk: array<f32>;   // (B, T, NKV, hs) =
@group(0) @binding(1) var<storage, read_write> dv: array<f32>;   // (B, T, NKV, hs) =
@group(0) @binding(2) var<storage, read> kdpre: array<f32>;      // (B, NH, T, T)
@group(0) @binding(3) var<storage, read> katt: array<f32>;       // (B, NH, T, T)
@group(0) @binding(4) var<storage, read> kq: array<f32>;         // (B, T, NH, hs)
@group(0) @binding(5) var<storage, read> kdout: array<f32>;      // (B, T, NH, hs)
@group(0) @binding(6) var<uniform> kp: Params;

// One invocation per dk/dv element (b, s, kvh, d), summing over the group's query heads and t >= s.
@compute @workgroup_size(WG)
fn attention_backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= kp.B * kp.T * kp.NKV * kp.hs) { return; }
  let d = i % kp.hs;
  let kvh = (i / kp.hs) % kp.NKV;
  let s = (i / (kp.hs * kp.NKV)) % kp.T;
  let b = i / (kp.hs * kp.NKV * kp.T);
  let group = kp.NH / kp.NKV;
  var gk = 0.0;
  var gv = 0.0;
  for (var h = kvh * group; h < (kvh + 1u) * group; h++) {
    for (var t = s; t < kp.T; t++) {
      let a = ((b * kp.NH + h) * kp.T + t) * kp.T + s;
      let qo = ((b * kp.T + t) * kp.NH + h) * kp.hs + d;
      gk += kdpre[a] * kq[qo];
      gv += katt[a] * kdout[qo];
    }
  }
  dk[i] = gk;
  dv[i] = gv;
}

// The same four kernels with 16-byte loads and stores along the head dimension, used when hs is a
// multiple of 4 (and the tensors 16-byte aligned): dot products over hs take hs/4 vec4 steps, the
// forward accumulates each quad of out in a register (one store, not a read-modify-write per key),
// and dq / dk / dv give every invocation one quad (4 elements) instead of one element. Same sums
// in the same order per element, except that each vec4 dot adds its 4 products as dot() does.

@group(0) @binding(0) var<storage, read_write> out4: array<vec4<f32>>; // (B, T, NH, hs/4)
@group(0) @binding(2) var<storage, read> q4: array<vec4<f32>>;         // (B, T, NH, hs/4)
@group(0) @binding(3) var<storage, read> k4: array<vec4<f32>>;         // (B, T, NKV, hs/4)
@group(0) @binding(4) var<storage, read> v4: array<vec4<f32>>;         // (B, T, NKV, hs/4)

@compute @workgroup_size(WG)
fn attention_forward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= p.B * p.NH * p.T) { return; }
  let t = i % p.T;
  let h = (i / p.T) % p.NH;
  let b = i / (p.T * p.NH);
  let kvh = h / (p.NH / p.NKV);
  let arow = i * p.T;
  let hq = p.hs / 4u;
  let qo = ((b * p.T + t) * p.NH + h) * hq;
  let docT = docIds[b * p.T + t];
  var mx = -3.0e38;
  for (var s = 0u; s < p.T; s++) {
    if (!allowed(docT, docIds[b * p.T + s], s, t)) { att[arow + s] = 0.0; continue; }
    let ko = ((b * p.T + s) * p.NKV + kvh) * hq;
    var dot4 = vec4<f32>(0.0);
    for (var d = 0u; d < hq; d++) { dot4 += q4[qo + d] * k4[ko + d]; }
    let score = ((dot4.x + dot4.y) + (dot4.z + dot4.w)) * p.scale;
    att[arow + s] = score;
    mx = max(mx, score);
  }
  if (docT < 0) { // padding query: attends to nothing
    for (var d = 0u; d < hq; d++) { out4[qo + d] = vec4<f32>(0.0); }
    return;
  }
  var sum = 0.0;
  for (var s = 0u; s <= t; s++) {
    if (!allowed(docT, docIds[b * p.T + s], s, t)) { continue; }
    let e = exp(att[arow + s] - mx);
    att[arow + s] = e;
    sum += e;
  }
  // s = t is always allowed for a real token, so sum >= 1. Masked entries are exactly 0 in att.
  for (var s = 0u; s <= t; s++) { att[arow + s] = att[arow + s] / sum; }
  let vb = b * p.T * p.NKV * hq + kvh * hq;
  let vs = p.NKV * hq;
  for (var d = 0u; d < hq; d++) {
    var acc = vec4<f32>(0.0);
    for (var s = 0u; s <= t; s++) { acc += att[arow + s] * v4[vb + s * vs + d]; }
    out4[qo + d] = acc;
  }
}

@group(0) @binding(1) var<storage, read> sdout4: array<vec4<f32>>; // (B, T, NH, hs/4)
@group(0) @binding(2) var<storage, read> sv4: array<vec4<f32>>;    // (B, T, NKV, hs/4)

@compute @workgroup_size(WG)
fn attention_backward_scores4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= sp.B * sp.NH * sp.T) { return; }
  let t = i % sp.T;
  let h = (i / sp.T) % sp.NH;
  let b = i / (sp.T * sp.NH);
  let kvh = h / (sp.NH / sp.NKV);
  let arow = i * sp.T;
  let hq = sp.hs / 4u;
  let qo = ((b * sp.T + t) * sp.NH + h) * hq;
  let docT = sdocIds[b * sp.T + t];
  var rowDot = 0.0;
  for (var s = 0u; s <= t; s++) {
    if (!allowed(docT, sdocIds[b * sp.T + s], s, t)) { dpre[arow + s] = 0.0; continue; }
    let vo = ((b * sp.T + s) * sp.NKV + kvh) * hq;
    var d4 = vec4<f32>(0.0);
    for (var j = 0u; j < hq; j++) { d4 += sdout4[qo + j] * sv4[vo + j]; }
    let d = (d4.x + d4.y) + (d4.z + d4.w);
    dpre[arow + s] = d;
    rowDot += satt[arow + s] * d;
  }
  for (var s = 0u; s <= t; s++) {
    if (!allowed(docT, sdocIds[b * sp.T + s], s, t)) { continue; }
    dpre[arow + s] = satt[arow + s] * (dpre[arow + s] - rowDot) * sp.scale;
  }
}

@group(0) @binding(0) var<storage, read_write> dq4: array<vec4<f32>>; // (B, T, NH, hs/4) =
@group(0) @binding(2) var<storage, read> qk4: array<vec4<f32>>;       // (B, T, NKV, hs/4)

// One invocation per quad of dq (b, t, h, d/4).
@compute @workgroup_size(WG)
fn attention_backward_dq4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  let hq = qp.hs / 4u;
  if (i >= qp.B * qp.T * qp.NH * hq) { return; }
  let d = i % hq;
  let h = (i / hq) % qp.NH;
  let t = (i / (hq * qp.NH)) % qp.T;
  let b = i / (hq * qp.NH * qp.T);
  let kvh = h / (qp.NH / qp.NKV);
  let arow = ((b * qp.NH + h) * qp.T + t) * qp.T;
  let kb = b * qp.T * qp.NKV * hq + kvh * hq + d;
  let ks = qp.NKV * hq;
  var acc = vec4<f32>(0.0);
  for (var s = 0u; s <= t; s++) { acc += qdpre[arow + s] * qk4[kb + s * ks]; }
  dq4[i] = acc;
}

@group(0) @binding(0) var<storage, read_write> dk4: array<vec4<f32>>; // (B, T, NKV, hs/4) =
@group(0) @binding(1) var<storage, read_write> dv4: array<vec4<f32>>; // (B, T, NKV, hs/4) =
@group(0) @binding(4) var<storage, read> kq4: array<vec4<f32>>;       // (B, T, NH, hs/4)
@group(0) @binding(5) var<storage, read> kdout4: array<vec4<f32>>;    // (B, T, NH, hs/4)

// One invocation per quad of dk/dv (b, s, kvh, d/4).
@compute @workgroup_size(WG)
fn attention_backward_dkv4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  let hq = kp.hs / 4u;
  if (i >= kp.B * kp.T * kp.NKV * hq) { return; }
  let d = i % hq;
  let kvh = (i / hq) % kp.NKV;
  let s = (i / (hq * kp.NKV)) % kp.T;
  let b = i / (hq * kp.NKV * kp.T);
  let group = kp.NH / kp.NKV;
  var gk = vec4<f32>(0.0);
  var gv = vec4<f32>(0.0);
  let qs = kp.NH * hq;
  for (var h = kvh * group; h < (kvh + 1u) * group; h++) {
    var a = ((b * kp.NH + h) * kp.T + s) * kp.T + s;
    var qo = ((b * kp.T + s) * kp.NH + h) * hq + d;
    for (var t = s; t < kp.T; t++) {
      gk += kdpre[a] * kq4[qo];
      gv += katt[a] * kdout4[qo];
      a += kp.T;
      qo += qs;
    }
  }
  dk4[i] = gk;
  dv4[i] = gv;
}
