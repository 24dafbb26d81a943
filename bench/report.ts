/** The benchmark result as a markdown report (README section and bench/results.md). */
import { isError, type BenchResult, type CaseResult } from './common';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const f = (x: number, d = 1) => x.toFixed(d);

function caseTable(r: BenchResult): string {
  const rows = [
    '| case | model | B×T | engine | tokens/s | ms/step | first step ms | start-up ms | loss first → last | GPU memory |',
    '|---|---|---|---|---:|---:|---:|---:|---|---:|',
  ];
  for (const c of r.cases) {
    const model = `L${c.config.num_hidden_layers} C${c.config.hidden_size} V${c.config.vocab_size} (${(c.parameters / 1e6).toFixed(1)} M)`;
    const line = (engine: string, x: CaseResult['ours'] | CaseResult['tfjs'], mem: string) =>
      isError(x)
        ? `| ${c.name} | ${model} | ${c.B}×${c.T} | ${engine} | ${x.error === 'not run' ? 'not run' : `failed: ${x.error.replace(/\|/g, '/')}`} | | | | | |`
        : `| ${c.name} | ${model} | ${c.B}×${c.T} | ${engine} | ${f(x.tokensPerSec, 0)} | ${f(x.stepMs)} | ${f(x.firstStepMs, 0)} | ${f(x.startupMs, 0)} | ${f(x.losses[0], 4)} → ${f(x.losses[x.losses.length - 1], 4)} | ${mem} |`;
    rows.push(line(!isError(c.ours) && c.ours.f16Weights ? 'ours (WGSL, f16 weights)' : 'ours (WGSL)', c.ours, isError(c.ours) ? '' : `${mib(c.ours.memory.total)} (size table)`));
    rows.push(line('TF.js webgpu', c.tfjs, isError(c.tfjs) || c.tfjs.gpuBytesAllocated === undefined ? '' : `${mib(c.tfjs.gpuBytesAllocated)} (TF.js buffer pool, grows over cases)`));
    rows.push(`| ${c.name} | | | **ours ÷ TF.js** | **${c.speedup === undefined ? 'n/a' : `${f(c.speedup, 2)}×`}** | ${c.roundSpeedups ? `per round: ${c.roundSpeedups.map((x) => `${f(x, 2)}×`).join(', ')}` : ''} | | | | |`);
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
    r.baselineCheck
      ? `Baseline check on a micro model (same weights and batch): loss ours ${r.baselineCheck.oursLoss.toFixed(6)}, TF.js ${r.baselineCheck.tfjsLoss.toFixed(6)}; every gradient agrees to ${(100 * r.baselineCheck.relative).toFixed(3)}% of its largest entry (worst: ${r.baselineCheck.worstTensor}); losses over ${r.baselineCheck.oursLosses.length} AdamW steps ours ${r.baselineCheck.oursLosses.map((x) => x.toFixed(5)).join(', ')} / TF.js ${r.baselineCheck.tfjsLosses.map((x) => x.toFixed(5)).join(', ')}, parameters then within ${r.baselineCheck.paramDiff.toExponential(1)} (moved up to ${r.baselineCheck.paramMoved.toExponential(1)}) — ${r.baselineCheck.ok ? 'the baseline computes the same training step' : '**MISMATCH: the comparison is not valid**'}.`
      : 'Baseline check not run (one side only).',
    '',
    r.cases.some((c) => !isError(c.ours) && !isError(c.tfjs))
      ? 'Tokens/s counts every position of the B×T batch per optimizer step (forward, backward, AdamW, grad-norm clipping): all timed tokens over all timed wall time, in rounds that alternate between the two sides (so load from other processes falls on both), up to 3 steps in flight on both sides; ms/step is the median round. Both start from the same weights and batch, so the first losses must agree.'
      : 'Tokens/s counts every position of the B×T batch per optimizer step (forward, backward, AdamW, grad-norm clipping): all timed tokens over all timed wall time, up to 3 steps in flight; ms/step is the median round.',
    '',
    caseTable(r),
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
