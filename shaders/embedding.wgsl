// Token embedding: forward gathers rows of wte, backward scatter-adds into dwte (+=).
// Backward is race-free without float atomics: one invocation owns one channel c and walks all N
// positions in order, so no two invocations write the same dwte element and the sum order is fixed.
// A (V, C) table too large for one buffer is split by rows (src/engine/layout.ts): one dispatch per
// part, each bound to rows row0 … row0+rows-1 only. Forward writes the positions whose id falls in
// its rows (the parts together write every position once; the part at row 0 also writes the zeros
// of out-of-range ids); backward adds only its rows' gradients. Unsplit: row0 = 0, rows = V.

struct Params {
  N: u32,    // rows (B*T)
  C: u32,    // channels
  V: u32,    // vocabulary rows of the whole table
  row0: u32, // first vocabulary row this dispatch's wte holds
  rows: u32, // vocabulary rows it holds
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (N, C)
@group(0) @binding(1) var<storage, read> ids: array<i32>;        // (N)
@group(0) @binding(2) var<storage, read> wte: array<f32>;        // (rows, C): rows row0.. of the table
@group(0) @binding(3) var<uniform> p: Params;

// One invocation per (n, c). Ids are validated on the CPU; an out-of-range id reads zeros.
@compute @workgroup_size(WG)
fn embedding_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat_invocation(wid, nwg, lid);
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  let c = i % p.C;
  let id = ids[n];
  if (id < 0 || u32(id) >= p.V) {
    if (p.row0 == 0u) { out[i] = 0.0; }
    return;
  }
  let r = u32(id);
  if (r < p.row0 || r - p.row0 >= p.rows) { return; }
  out[i] = wte[(r - p.row0) * p.C + c];
}

@group(0) @binding(0) var<storage, read_write> dwte: array<f32>; // (rows, C) +=: rows row0.. of the table
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
    if (id >= 0 && u32(id) < bp.V && u32(id) >= bp.row0 && u32(id) - bp.row0 < bp.rows) {
      let j = (u32(id) - bp.row0) * bp.C + c;
      dwte[j] = dwte[j] + dout[n * bp.C + c];
    }
  }
}
