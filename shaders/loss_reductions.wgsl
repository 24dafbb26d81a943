// Sums over one micro-batch of crossEntropyForward's losses, ADDED into `sums` so micro-batches of
// an accumulated step accumulate (the trainer clears `sums` once per step). Index (b, t) describes
// the target token ids[b, t+1]; t = T-1 is skipped. sums (8), in this order:
//   0 objective        sum over trained of weights[n+1] * seqScale[b] * losses[n]
//   1 trainedWeight    sum over trained of weights[n+1]
//   2 trainedCount     trained positions
//   3 trainedLossSum   sum over trained of weights[n+1] * losses[n]
//   4 promptLossSum    ruler loss where roles[n] == 1 (trained or not)
//   5 promptCount
//   6 responseLossSum  ruler loss where roles[n] == 2
//   7 responseCount
// trained(n) iff labels[n+1] != -100. One workgroup; each invocation strides over the rows.

const SUMS: u32 = 8u;
const ROLE_PROMPT: i32 = 1;
const ROLE_RESPONSE: i32 = 2;

struct Params {
  B: u32,
  T: u32,
}

@group(0) @binding(0) var<storage, read_write> sums: array<f32>;  // (8) +=
@group(0) @binding(1) var<storage, read> losses: array<f32>;      // (N)
@group(0) @binding(2) var<storage, read> labels: array<i32>;      // (N)
@group(0) @binding(3) var<storage, read> weights: array<f32>;     // (N)
@group(0) @binding(4) var<storage, read> seqScale: array<f32>;    // (B)
@group(0) @binding(5) var<storage, read> roles: array<i32>;       // (N)
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn loss_reductions(lane: Lane) {
  let lid = lane.lid;
  var acc: array<f32, SUMS>;
  for (var n = lid; n < p.B * p.T; n += WG) {
    let t = n % p.T;
    if (t == p.T - 1u) { continue; }
    let l = losses[n];
    if (labels[n + 1u] != IGNORE_INDEX) {
      let w = weights[n + 1u];
      acc[0] += w * seqScale[n / p.T] * l;
      acc[1] += w;
      acc[2] += 1.0;
      acc[3] += w * l;
    }
    let role = roles[n];
    if (role == ROLE_PROMPT) {
      acc[4] += l;
      acc[5] += 1.0;
    } else if (role == ROLE_RESPONSE) {
      acc[6] += l;
      acc[7] += 1.0;
    }
  }
  for (var j = 0u; j < SUMS; j++) {
    let total = workgroup_sum(lane, acc[j]);
    if (lid == 0u) { sums[j] = sums[j] + total; }
  }
}
