// Row reductions without subgroups: a tree in workgroup memory (log2(WG) barrier rounds).
// src/gpu/kernel.ts prepends this after common.wgsl when the device lacks `subgroups` or the engine
// forces the fallback; reduce_subgroups.wgsl defines the same names. Entry points that reduce take
// `lane: Lane` as an input and pass it on; `lane.lid` is their local_invocation_index.
struct Lane {
  @builtin(local_invocation_index) lid: u32,
}

// Scratch for workgroup reductions (only entry points that call these allocate it).
var<workgroup> red: array<f32, WG>;

// Sum of `v` over the workgroup; every invocation gets the total. Call in uniform control flow.
fn workgroup_sum(lane: Lane, v: f32) -> f32 {
  let lid = lane.lid;
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

// Max of `v` over the workgroup; every invocation gets it. Call in uniform control flow.
fn workgroup_max(lane: Lane, v: f32) -> f32 {
  let lid = lane.lid;
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let m = red[0];
  workgroupBarrier();
  return m;
}
