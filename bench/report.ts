/** The benchmark result as a markdown report (README section and bench/results.md). */
import { isError, PEERS, SIDE_NAMES, type BenchResult, type SideResult } from './common';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const f = (x: number, d = 1) => x.toFixed(d);

function caseTable(r: BenchResult): string {
  const rows = [
    '| case | model | B×T | engine | tokens/s | ms/step | first step ms | start-up ms | loss first → last | GPU memory |',
    '|---|---|---|---|---:|---:|---:|---:|---|---:|',
  ];
  for (const c of r.cases) {
    const model = `L${c.config.num_hidden_layers} C${c.config.hidden_size} V${c.config.vocab_size} (${(c.parameters / 1e6).toFixed(1)} M)`;
    const line = (engine: string, x: SideResult | { error: string }, mem: string) =>
      isError(x)
        ? `| ${c.name} | ${model} | ${c.B}×${c.T} | ${engine} | ${x.error === 'not run' ? 'not run' : `failed: ${x.error.replace(/\|/g, '/')}`} | | | | | |`
        : `| ${c.name} | ${model} | ${c.B}×${c.T} | ${engine} | ${f(x.tokensPerSec, 0)} | ${f(x.stepMs)} | ${f(x.firstStepMs, 0)} | ${f(x.startupMs, 0)} | ${f(x.losses[0], 4)} → ${f(x.losses[x.losses.length - 1], 4)} | ${mem} |`;
    rows.push(line(!isError(c.ours) && c.ours.f16Weights ? 'ours (WGSL, f16 weights)' : SIDE_NAMES.ours, c.ours, isError(c.ours) ? '' : `${mib(c.ours.memory.total)} (size table)`));
    rows.push(line(SIDE_NAMES.tfjs, c.tfjs, isError(c.tfjs) || c.tfjs.gpuBytesAllocated === undefined ? '' : `${mib(c.tfjs.gpuBytesAllocated)} (TF.js buffer pool, grows over cases)`));
    rows.push(line(SIDE_NAMES.jax, c.jax, ''));
    rows.push(line(SIDE_NAMES.jaxwasm, c.jaxwasm, 'none (runs on the CPU)'));
    for (const peer of PEERS) {
      const q = c.ratios[peer];
      if (!q) continue;
      rows.push(`| ${c.name} | | | **ours ÷ ${SIDE_NAMES[peer]}** | **${f(q.total, 2)}×** | per round: ${q.perRound.map((x) => `${f(x, 2)}×`).join(', ')} | | | | |`);
    }
  }
  return rows.join('\n');
}

function baselineText(r: BenchResult): string {
  const b = r.baselineCheck;
  if (!b) return 'Baseline check not run (ours or every peer left out).';
  const lines = [
    `Baseline check on a micro model (same weights and batch) against our engine: loss ours ${b.oursLoss.toFixed(6)}, losses over ${b.oursLosses.length} AdamW steps ${b.oursLosses.map((x) => x.toFixed(6)).join(', ')}.`,
    '',
    '| peer | step-0 loss | losses over the AdamW steps | worst loss Δ (relative) | worst gradient Δ (of its largest entry) | parameters after the steps | verdict |',
    '|---|---:|---|---:|---|---|---|',
  ];
  for (const p of b.peers) {
    lines.push(`| ${SIDE_NAMES[p.side]} | ${p.loss.toFixed(6)} | ${p.losses.map((x) => x.toFixed(6)).join(', ')} | ${p.lossRelative.toExponential(1)} | ${(100 * p.relative).toFixed(3)}% (${p.worstTensor}) | within ${p.paramDiff.toExponential(1)} (moved up to ${p.paramMoved.toExponential(1)}) | ${p.ok ? 'same training step' : '**MISMATCH: the comparison is not valid**'} |`);
  }
  lines.push('', 'Agreement: losses to 6 significant digits (|Δ| ≤ 5e-6·|ours|), every gradient within 0.1% of its largest entry. Parameters after Adam steps differ more than the losses: Adam divides by √v, so entries whose gradient is all but zero (unused embedding rows) move by ±lr on either side from f32 noise alone.');
  return lines.join('\n');
}

function matmulTable(r: BenchResult): string {
  if (!r.matmul) return 'Matmul micro-benchmark not run.';
  const rows = [
    `Matmul micro-benchmark: C = A @ B, (n, n) f32, ${r.matmul.sizes.map((n) => `${n}²`).join(', ')}; one product per timed call, each side waiting for it (ours: queue.onSubmittedWorkDone; TF.js: one element read back; jax-js: blockUntilReady), median of 3 after one untimed (compiling) product, sides alternating. Ours is the engine's forward kernel (A @ Bᵀ, B stored (out, in)), tile shape as the engine picks it on this adapter.`,
    '',
    '| n | engine | ms | GFLOP/s | note |',
    '|---:|---|---:|---:|---|',
  ];
  for (const x of r.matmul.rows) {
    rows.push(isError(x) ? `| ${x.n} | ${SIDE_NAMES[x.side]} | failed: ${x.error.replace(/\|/g, '/')} | | |` : `| ${x.n} | ${SIDE_NAMES[x.side]} | ${f(x.ms)} | ${f(x.gflops, 2)} | ${x.detail ?? ''} |`);
  }
  return rows.join('\n');
}

function kernelTables(r: BenchResult): string {
  const out: string[] = [];
  for (const c of r.cases) {
    if (isError(c.ours) || !c.ours.profile) continue;
    const p = c.ours.profile;
    out.push(`**${c.name}**: one profiled step, ${f(p.totalMs)} ms of GPU time in ${p.kernels.reduce((a, k) => a + k.calls, 0)} dispatches; matmuls ${f(p.matmul.gflops, 2)} GFLOP/s, ${f(100 * p.matmul.share, 0)}% of the step${c.ours.matmulTiles ? `; matmul: ${c.ours.matmulTiles}` : ''}.`, '');
    out.push('| kernel [place] | calls | ms/step | share | GFLOP/s |', '|---|---:|---:|---:|---:|');
    for (const k of p.kernels) out.push(`| ${k.kernel} | ${k.calls} | ${f(k.ms, 2)} | ${f(100 * k.share)}% | ${k.gflops === undefined ? '' : f(k.gflops, 2)} |`);
    out.push('');
    const t = c.ours.autotune;
    out.push(`Matmul autotune (${f(t.ms, 0)} ms) on forward + dx + dw of (${t.shape.N}, ${t.shape.I}) @ (${t.shape.I}, ${t.shape.O}):`, '');
    out.push('| kernel | ms | GFLOP/s |', '|---|---:|---:|');
    for (const x of t.timings) out.push(`| ${x.tiles} | ${f(x.ms, 2)} | ${f(x.gflops, 2)} |`);
    out.push('');
  }
  return out.join('\n');
}

export function markdownReport(r: BenchResult): string {
  const a = r.adapter;
  const adapter = `${a.vendor} ${a.architecture}${a.description ? ` (${a.description})` : ''}`;
  return [
    `Adapter: **${adapter}**${a.isFallbackAdapter ? ' — a CPU fallback adapter (SwiftShader), not a GPU: absolute numbers say little about GPUs' : ''}. Sizes: \`${r.scale}\`. Subgroup sizes ${a.subgroupMinSize ?? '?'}–${a.subgroupMaxSize ?? '?'}; shader-f16 ${a.features.includes('shader-f16') ? 'available' : 'not available'}; timestamp-query ${a.features.includes('timestamp-query') ? 'available' : 'not available'}.`,
    `Run ${r.date} in ${r.userAgent}.`,
    '',
    baselineText(r),
    '',
    r.cases.some((c) => Object.keys(c.ratios).length > 0)
      ? `Tokens/s counts every position of the B×T batch per optimizer step (forward, backward, AdamW, grad-norm clipping): all timed tokens over all timed wall time, in rounds that alternate among the sides (so load from other processes falls on all), up to 3 steps in flight on every side; ms/step is the median round. All start from the same weights and batch, so the first losses must agree. jax-js: one jit-compiled step (valueAndGrad + AdamW), its first step includes tracing and compiling; its Wasm backend ran ${r.crossOriginIsolated ? 'multi-threaded (page cross-origin isolated, SharedArrayBuffer)' : 'single-threaded (page not cross-origin isolated)'}.`
      : 'Tokens/s counts every position of the B×T batch per optimizer step (forward, backward, AdamW, grad-norm clipping): all timed tokens over all timed wall time, up to 3 steps in flight; ms/step is the median round.',
    '',
    caseTable(r),
    '',
    matmulTable(r),
    '',
    kernelTables(r),
    `Loss-path memory from the size table for the ${r.cases[r.cases.length - 1]?.name ?? ''} model at larger vocabularies: the (N, V) logits + dlogits an unfused head holds, and what the fused head (one (N, VC) chunk buffer + the (B, V) last-token logits) saves:`,
    '',
    '| V | B×T | VC (chunk) | logits + dlogits unfused | saved by the fused head |',
    '|---:|---|---:|---:|---:|',
    ...r.memoryNotes.map((m) => `| ${m.vocab} | ${m.B}×${m.T} | ${m.vocabChunk} | ${mib(m.logitsBytes)} | ${mib(m.savedBytes)} |`),
    '',
  ].join('\n');
}
