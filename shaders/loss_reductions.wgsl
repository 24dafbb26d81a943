// Sums over one micro-batch of crossEntropyForward's losses, ADDED into `sums` so micro-batches of
// an accumulated step accumulate (the trainer clears `sums` once per step). Index (b, t) describes
// the target token ids[b, t+1]; t = T-1 is skipped. sums (SUMS):
//   SUM_OBJECTIVE           sum over trained of weights[n+1] * seqScale[b] * losses[n]
//   SUM_TRAINED_WEIGHT      sum over trained of weights[n+1]
//   SUM_TRAINED_COUNT       trained positions
//   SUM_TRAINED_LOSS_SUM    sum over trained of weights[n+1] * losses[n]
//   SUM_PROMPT_LOSS_SUM     ruler loss where roles[n] == ROLE_PROMPT (trained or not)
//   SUM_PROMPT_COUNT
//   SUM_RESPONSE_LOSS_SUM   ruler loss where roles[n] == ROLE_RESPONSE
//   SUM_RESPONSE_COUNT
// The indices, SUMS and the ROLE_* values are constants that src/gpu/kernel.ts prepends, generated
// from LOSS_SUMS in src/engine/ops/lossReductions.ts and from src/spec/loss.ts.
// trained(n) iff labels[n+1] != -100. One workgroup; each invocation strides over the rows.

struct Params {
  B: u32,
  T: u32,
}

@group(0) @binding(0) var<storage, read_write> sums: array<f32>;  // (SUMS) +=
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
      acc[SUM_OBJECTIVE] += w * seqScale[n / p.T] * l;
      acc[SUM_TRAINED_WEIGHT] += w;
      acc[SUM_TRAINED_COUNT] += 1.0;
      acc[SUM_TRAINED_LOSS_SUM] += w * l;
    }
    let role = roles[n];
    if (role == ROLE_PROMPT) {
      acc[SUM_PROMPT_LOSS_SUM] += l;
      acc[SUM_PROMPT_COUNT] += 1.0;
    } else if (role == ROLE_RESPONSE) {
      acc[SUM_RESPONSE_LOSS_SUM] += l;
      acc[SUM_RESPONSE_COUNT] += 1.0;
    }
  }
  for (var j = 0u; j < SUMS; j++) {
    let total = workgroup_sum(lane, acc[j]);
    if (lid == 0u) { sums[j] = sums[j] + total; }
  }
}
