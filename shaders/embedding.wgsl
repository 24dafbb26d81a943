// Token embedding: forward gathers rows of wte, backward scatter-adds into dwte (+=).
// Backward is race-free without float atomics: one invocation owns one channel c and walks all N
// positions in order, so no two invocations write the same dwte element and the sum order is fixed.

struct Params {
  N: u32, // rows (B*T)
  C: u32, // channels
  V: u32, // vocabulary rows of wte
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (N, C)
@group(0) @binding(1) var<storage, read> ids: array<i32>;        // (N)
@group(0) @binding(2) var<storage, read> wte: array<f32>;        // (V, C)
@group(0) @binding(3) var<uniform> p: Params;

// One invocation per (n, c). Ids are validated on the CPU; an out-of-range id reads zeros.
@compute @workgroup_size(WG)
fn embedding_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  let c = i % p.C;
  let id = ids[n];
  var x = 0.0;
  if (id >= 0 && u32(id) < p.V) { x = wte[u32(id) * p.C + c]; }
  out[i] = x;
}

@group(0) @binding(0) var<storage, read_write> dwte: array<f32>; // (V, C) +=
@group(0) @binding(1) var<storage, read> dout: array<f32>;       // (N, C)
@group(0) @binding(2) var<storage, read> bids: array<i32>;       // (N)
@group(0) @binding(3) var<uniform> bp: Params;

// One invocation per channel c.
@compute @workgroup_size(WG)
fn embedding_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = flat_invocation(wid, nwg, lid);
  if (c >= bp.C) { return; }
  for (var n = 0u; n < bp.N; n++) {
    let id = bids[n];
    if (id >= 0 && u32(id) < bp.V) {
      let j = u32(id) * bp.C + c;
      dwte[j] = dwte[j] + dout[n * bp.C + c];
    }
  }
}
