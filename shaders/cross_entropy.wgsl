// Fused masked, weighted softmax cross-entropy with the Hugging Face shift inside (one pass over
// each logits row; one workgroup per row n = b*T + t).
//   losses[n]  = -log softmax(logits[n])[ids[n+1]] for t < T-1 (the "ruler" loss, trained or not),
//                0 at t = T-1 (predicts nothing).
//   dlogits[n] = weights[n+1] * seqScale[b] * (softmax(logits[n]) - onehot(labels[n+1])) where
//                labels[n+1] != -100, else exactly 0 (also at t = T-1).
// The CPU checks before upload that a trained label equals the next input id (HF convention) and
// that ids lie in [0, V). Reductions of `losses` (objective, prompt/response sums) are
// loss_reductions.wgsl.

struct Params {
  B: u32,
  T: u32,
  V: u32,
}

@group(0) @binding(0) var<storage, read_write> losses: array<f32>;  // (N)
@group(0) @binding(1) var<storage, read_write> dlogits: array<f32>; // (N, V)
@group(0) @binding(2) var<storage, read> logits: array<f32>;        // (N, V)
@group(0) @binding(3) var<storage, read> ids: array<i32>;           // (N)
@group(0) @binding(4) var<storage, read> labels: array<i32>;        // (N)
@group(0) @binding(5) var<storage, read> weights: array<f32>;       // (N)
@group(0) @binding(6) var<storage, read> seqScale: array<f32>;      // (B)
@group(0) @binding(7) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn cross_entropy_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = flat_workgroup(wid, nwg);
  if (n >= p.B * p.T) { return; }
  let b = n / p.T;
  let t = n % p.T;
  let row = n * p.V;
  if (t == p.T - 1u) {
    if (lid == 0u) { losses[n] = 0.0; }
    for (var i = lid; i < p.V; i += WG) { dlogits[row + i] = 0.0; }
    return;
  }
  var mx = -3.0e38;
  for (var i = lid; i < p.V; i += WG) { mx = max(mx, logits[row + i]); }
  mx = workgroup_max(lid, mx);
  var se = 0.0;
  for (var i = lid; i < p.V; i += WG) { se += exp(logits[row + i] - mx); }
  let lse = mx + log(workgroup_sum(lid, se));
  let tgt = u32(clamp(ids[n + 1u], 0, i32(p.V) - 1));
  if (lid == 0u) { losses[n] = lse - logits[row + tgt]; }
  let label = labels[n + 1u];
  if (label == IGNORE_INDEX) {
    for (var i = lid; i < p.V; i += WG) { dlogits[row + i] = 0.0; }
    return;
  }
  let scale = weights[n + 1u] * seqScale[b];
  for (var i = lid; i < p.V; i += WG) {
    let onehot = select(0.0, 1.0, i32(i) == label);
    dlogits[row + i] = scale * (exp(logits[row + i] - lse) - onehot);
  }
}

@group(0) @binding(0) var<storage, read_write> norms: array<f32>; // (N)
@group(0) @binding(1) var<storage, read> ndlogits: array<f32>;    // (N, V)
@group(0) @binding(2) var<uniform> np: Params;

// ||dlogits[n, :]||_2 per position: how hard each position pulls on the weights (the heatmap).
// One workgroup per row.
@compute @workgroup_size(WG)
fn cross_entropy_dlogit_norms(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = flat_workgroup(wid, nwg);
  if (n >= np.B * np.T) { return; }
  var ss = 0.0;
  for (var i = lid; i < np.V; i += WG) {
    let d = ndlogits[n * np.V + i];
    ss += d * d;
  }
  let total = workgroup_sum(lid, ss);
  if (lid == 0u) { norms[n] = sqrt(total); }
}
