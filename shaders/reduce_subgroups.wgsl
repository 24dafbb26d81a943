// Row reductions with subgroups (src/gpu/kernel.ts prepends `enable subgroups;`, common.wgsl, then
// this file, when the device has the feature): subgroupAdd/subgroupMax inside each subgroup, one
// partial per subgroup in workgroup memory, one barrier, then every invocation combines the
// partials in slot order (the same order everywhere, so every invocation gets the same bits).
// Same names and contract as reduce_workgroup.wgsl.
//
// No subgroup size is assumed: it is read from the builtin (SwiftShader 4, NVIDIA 32, AMD 32/64).
// Subgroup k is taken to hold local indices [k*size, (k+1)*size), which is how Dawn's backends lay
// out a 1-D workgroup; `red` has WG slots, enough for a subgroup size of 1. A subgroup larger than
// WG is one partly filled subgroup and one slot.
struct Lane {
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sid: u32,
  @builtin(subgroup_size) size: u32,
}

// One partial per subgroup: (ceil(WG / subgroup size)) slots used.
var<workgroup> red: array<f32, WG>;

// Sum of `v` over the workgroup; every invocation gets the total. Call in uniform control flow
// (subgroup builtins and the barrier both require it).
fn workgroup_sum(lane: Lane, v: f32) -> f32 {
  let part = subgroupAdd(v);
  if (lane.sid == 0u) { red[lane.lid / lane.size] = part; }
  workgroupBarrier();
  var total = 0.0;
  for (var k = 0u; k < (WG + lane.size - 1u) / lane.size; k++) { total += red[k]; }
  workgroupBarrier(); // `red` is reused by the next reduction
  return total;
}

// Max of `v` over the workgroup; every invocation gets it. Call in uniform control flow.
fn workgroup_max(lane: Lane, v: f32) -> f32 {
  let part = subgroupMax(v);
  if (lane.sid == 0u) { red[lane.lid / lane.size] = part; }
  workgroupBarrier();
  var m = red[0];
  for (var k = 1u; k < (WG + lane.size - 1u) / lane.size; k++) { m = max(m, red[k]); }
  workgroupBarrier();
  return m;
}
