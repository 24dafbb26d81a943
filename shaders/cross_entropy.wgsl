// Masked, weighted softmax cross-entropy with the Hugging Face shift inside, computed over the
// vocabulary in chunks so the (N, V) logits never exist in memory (src/engine/ops/lmHead.ts runs
// the LM head matmul one chunk of vocabulary rows at a time and calls these kernels):
//   forward, per chunk v0 .. v0+vc-1:  cross_entropy_chunk_stats merges the chunk into each row's
//     running (max, sum of exp, sum of exp without the target, sum of squared exp without the
//     target) (online log-sum-exp) and picks up the target's logit when it lies in the chunk;
//   cross_entropy_finalize: lse, the ruler loss and ||dlogits|| per row;
//   backward, per chunk: cross_entropy_chunk_backward turns the chunk's logits into its dlogits
//     in place, then the head's matmul backward consumes them.
// Contract (same as src/reference/ops.ts crossEntropyForward), row n = b*T + t:
//   losses[n]  = lse(logits[n]) - logits[n, ids[n+1]] for t < T-1 (the ruler loss, trained or not), 0 at t = T-1.
//   dlogits[n] = weights[n+1] * seqScale[b] * (softmax(logits[n]) - onehot(labels[n+1])) where
//                labels[n+1] != -100, else exactly 0 (also at t = T-1).
//   norms[n]   = ||dlogits[n, :]||_2 = |scale| * sqrt(sum_{v != tgt} p_v^2 + (1 - p_tgt)^2), with
//                1 - p_tgt = (sum of exp without the target) / (sum of exp): no cancellation when
//                p_tgt is near 1.
// The CPU checks before upload that a trained label equals the next input id and ids lie in [0, V).
// Reductions of `losses` (objective, prompt/response sums) are loss_reductions.wgsl.

struct Params {
  B: u32,
  T: u32,
  V: u32,
  v0: u32,    // first vocabulary row of the chunk
  vc: u32,    // rows in the chunk (= the chunk's row stride)
  first: u32, // 1: first chunk, the running statistics start fresh
}

// Per-row running statistics, relative to the running max m: stats[n] = (m, s, s_ex, s2_ex) with
// s = sum exp(l - m), s_ex = the same without the target, s2_ex = sum exp(2 (l - m)) without it.
@group(0) @binding(0) var<storage, read_write> stats: array<vec4<f32>>; // (N)
@group(0) @binding(1) var<storage, read_write> tgtLogit: array<f32>;    // (N) the target's logit
@group(0) @binding(2) var<storage, read> logits: array<f32>;            // (N, vc)
@group(0) @binding(3) var<storage, read> ids: array<i32>;               // (N)
@group(0) @binding(4) var<uniform> p: Params;

// One workgroup per row.
@compute @workgroup_size(WG)
fn cross_entropy_chunk_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let lid = lane.lid;
  let n = flat_workgroup(wid, nwg);
  if (n >= p.B * p.T || n % p.T == p.T - 1u) { return; }
  let row = n * p.vc;
  let tgt = ids[n + 1u] - i32(p.v0); // target column inside the chunk (may lie outside it)
  var mx = -3.0e38;
  for (var j = lid; j < p.vc; j += WG) { mx = max(mx, logits[row + j]); }
  mx = workgroup_max(lane, mx);
  var prev = stats[n];
  if (p.first != 0u) { prev = vec4<f32>(mx, 0.0, 0.0, 0.0); }
  let m = max(prev.x, mx);
  var s = 0.0;
  var sEx = 0.0;
  var s2Ex = 0.0;
  for (var j = lid; j < p.vc; j += WG) {
    let e = exp(logits[row + j] - m);
    s += e;
    if (i32(j) != tgt) {
      sEx += e;
      s2Ex += e * e;
    }
  }
  s = workgroup_sum(lane, s);
  sEx = workgroup_sum(lane, sEx);
  s2Ex = workgroup_sum(lane, s2Ex);
  if (lid == 0u) {
    let r = exp(prev.x - m);
    stats[n] = vec4<f32>(m, prev.y * r + s, prev.z * r + sEx, prev.w * r * r + s2Ex);
    if (tgt >= 0 && u32(tgt) < p.vc) { tgtLogit[n] = logits[row + u32(tgt)]; }
  }
}

@group(0) @binding(0) var<storage, read_write> losses: array<f32>;  // (N)
@group(0) @binding(1) var<storage, read_write> norms: array<f32>;   // (N) ||dlogits[n, :]||
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;     // (N)
@group(0) @binding(3) var<storage, read> fstats: array<vec4<f32>>;  // (N)
@group(0) @binding(4) var<storage, read> ftgtLogit: array<f32>;       // (N)
@group(0) @binding(5) var<storage, read> flabels: array<i32>;       // (N)
@group(0) @binding(6) var<storage, read> fweights: array<f32>;      // (N)
@group(0) @binding(7) var<storage, read> fseqScale: array<f32>;     // (B)
@group(0) @binding(8) var<uniform> fp: Params;

// One invocation per row.
@compute @workgroup_size(WG)
fn cross_entropy_finalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = flat_invocation(wid, nwg, lid);
  if (n >= fp.B * fp.T) { return; }
  if (n % fp.T == fp.T - 1u) {
    losses[n] = 0.0;
    norms[n] = 0.0;
    lse[n] = 0.0;
    return;
  }
  let st = fstats[n];
  let l = st.x + log(st.y);
  lse[n] = l;
  losses[n] = l - ftgtLogit[n];
  if (flabels[n + 1u] == IGNORE_INDEX) {
    norms[n] = 0.0;
    return;
  }
  let scale = fweights[n + 1u] * fseqScale[n / fp.T];
  let notTarget = st.z / st.y;        // 1 - p_target
  let squares = st.w / (st.y * st.y); // sum over v != target of p_v^2
  norms[n] = abs(scale) * sqrt(squares + notTarget * notTarget);
}

@group(0) @binding(0) var<storage, read_write> chunk: array<f32>; // (N, vc): logits in, dlogits out
@group(0) @binding(1) var<storage, read> blse: array<f32>;        // (N)
@group(0) @binding(2) var<storage, read> blabels: array<i32>;     // (N)
@group(0) @binding(3) var<storage, read> bweights: array<f32>;    // (N)
@group(0) @binding(4) var<storage, read> bseqScale: array<f32>;   // (B)
@group(0) @binding(5) var<uniform> bp: Params;

// One invocation per element of the chunk.
@compute @workgroup_size(WG)
fn cross_entropy_chunk_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= bp.B * bp.T * bp.vc) { return; }
  let n = i / bp.vc;
  let j = i % bp.vc;
  if (n % bp.T == bp.T - 1u) {
    chunk[i] = 0.0;
    return;
  }
  let label = blabels[n + 1u];
  if (label == IGNORE_INDEX) {
    chunk[i] = 0.0;
    return;
  }
  let scale = bweights[n + 1u] * bseqScale[n / bp.T];
  let onehot = select(0.0, 1.0, i32(bp.v0 + j) == label);
  chunk[i] = scale * (exp(chunk[i] - blse[n]) - onehot);
}
