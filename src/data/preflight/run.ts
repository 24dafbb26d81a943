// The dataset preflight: parse the text, lint every sample (findings.ts), and sum it up: totals,
// histograms, greedy packing, broken lines. The data worker runs it for the page, scripts/preflight.ts
// in Node; both get progress, and the page can cancel.
//
// Contract: a sample never crashes the run (a template that rejects it, or a strategy that raises,
// is that sample's nothing-to-train finding); a text that does not parse at all throws, with the
// parse error's line and column. Every number in the report is finite (an empty sample's share is 0).
import { validatePolicy } from '../labels';
import { parseChatInput } from '../parse';
import { detectFamily, strategyById, type LabRow } from '../strategies';
import type { ChatTokenizer, ParseResult } from '../types';
import { lintSample } from './findings';
import { FINDING_IDS, type FindingId, type Histogram, type PreflightReport, type PreflightSettings, type PreflightTotals, type SampleReport } from './types';
import { CodedError, msg, uncoded } from '../../spec/message';

export interface PreflightArgs {
  text: string;
  tok: ChatTokenizer;
  settings: PreflightSettings;
  onProgress?(done: number, total: number): void;
  /** Polled between samples; true stops the run with Error('cancelled'). */
  cancelled?(): boolean;
  /** Each sample's chosen-strategy row, as it is linted (the CLI's pre-tokenized export). */
  onSample?(index: number, row: LabRow): void;
  /** Samples between two yields to the event loop (default 25). */
  yieldEvery?: number;
  /** parseChatInput(text), when the caller has parsed it already (the worker checks the page's limits first). */
  parsed?: ParseResult;
}

export const LENGTH_BINS = 20;
export const SHARE_BINS = 10;
const DEFAULT_YIELD_EVERY = 25;

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

function location(e: { message: string; line?: number; column?: number }): string {
  if (e.line === undefined || /\bline \d+/i.test(e.message)) return e.message;
  return `${e.message} (line ${e.line}${e.column !== undefined ? `, column ${e.column}` : ''})`;
}

/** Bin b holds values in [edges[b], edges[b + 1]); the last bin also holds its upper edge. */
function histogram(values: readonly number[], edges: number[]): Histogram {
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (const v of values) {
    let b = counts.length - 1;
    while (b > 0 && v < edges[b]) b--;
    counts[b]++;
  }
  return { edges, counts };
}

/** LENGTH_BINS bins of one integer width from 0, the last one ending at or above the longest sample. */
export function lengthHistogram(tokens: readonly number[]): Histogram {
  const max = tokens.reduce((m, t) => Math.max(m, t), 0);
  const width = Math.max(1, Math.ceil(max / LENGTH_BINS));
  return histogram(tokens, Array.from({ length: LENGTH_BINS + 1 }, (_, b) => b * width));
}

export function shareHistogram(shares: readonly number[]): Histogram {
  return histogram(shares, Array.from({ length: SHARE_BINS + 1 }, (_, b) => b / SHARE_BINS));
}

/** Greedy first-fit (in dataset order) of each length, cut to maxLength, into sequences of maxLength:
 *  a segment tree over the sequences' free space finds the first one with room in O(log n). */
export function packFirstFit(lengths: readonly number[], maxLength: number): PreflightTotals['packing'] {
  const items = lengths.map((l) => Math.min(l, maxLength)).filter((l) => l > 0);
  if (items.length === 0) return { sequences: 0, samplesPerSequence: 0, fill: 0 };
  let size = 1;
  while (size < items.length) size *= 2;
  const free = new Float64Array(2 * size).fill(maxLength); // (2·size,) max free space under each node
  let sequences = 0;
  let used = 0;
  for (const l of items) {
    let node = 1;
    while (node < size) node = free[2 * node] >= l ? 2 * node : 2 * node + 1;
    const seq = node - size;
    if (seq + 1 > sequences) sequences = seq + 1;
    free[node] -= l;
    for (let p = node >> 1; p >= 1; p >>= 1) free[p] = Math.max(free[2 * p], free[2 * p + 1]);
    used += l;
  }
  return { sequences, samplesPerSequence: items.length / sequences, fill: used / (sequences * maxLength) };
}

function totals(samples: readonly SampleReport[], fatal: ReadonlySet<FindingId>, maxLength: number): PreflightTotals {
  const findings = Object.fromEntries(FINDING_IDS.map((id) => [id, 0])) as Record<FindingId, number>;
  let tokens = 0;
  let trainedTokens = 0;
  let fatalSamples = 0;
  for (const s of samples) {
    tokens += s.tokens;
    trainedTokens += s.trained;
    for (const f of s.findings) findings[f.id]++;
    if (s.findings.some((f) => fatal.has(f.id))) fatalSamples++;
  }
  return { samples: samples.length, tokens, trainedTokens, findings, fatalSamples, packing: packFirstFit(samples.map((s) => s.tokens), maxLength) };
}

export async function runPreflight(args: PreflightArgs): Promise<PreflightReport> {
  const { text, tok, settings, onProgress, cancelled, onSample } = args;
  const every = Math.max(1, Math.floor(args.yieldEvery ?? DEFAULT_YIELD_EVERY));
  if (!Number.isInteger(settings.maxLength) || settings.maxLength < 1) throw new Error(`max length must be a positive integer (got ${settings.maxLength}).`);
  if (settings.policy) validatePolicy(settings.policy);
  const chosen = strategyById(settings.strategy.id);
  const comparedWith = settings.compare.map((c) => strategyById(c.id));
  const t0 = performance.now();

  const parsed = args.parsed ?? parseChatInput(text);
  if (!parsed.ok) {
    const where = uncoded(location(parsed.error));
    throw new CodedError(parsed.lineErrors ? msg('preflight.datasetNoParseBroken', { where, total: parsed.lineErrors.total, lines: parsed.lineErrors.lines }) : msg('preflight.datasetNoParse', { where }));
  }
  const family = detectFamily(tok);
  const total = parsed.samples.length;
  const samples: SampleReport[] = [];
  let row: LabRow | null = null;
  onProgress?.(0, total);
  for (let i = 0; i < total; i++) {
    if (cancelled?.()) throw new Error('cancelled');
    const line = parsed.sampleLines?.[i] ?? i + 1;
    const linted = lintSample({ tok, family, conversation: parsed.samples[i], tools: parsed.tools?.[i] ?? null, index: i, line, settings });
    samples.push(linted.report);
    row ??= linted.row;
    onSample?.(i, linted.row);
    if ((i + 1) % every === 0 && i + 1 < total) {
      onProgress?.(i + 1, total);
      await tick();
    }
  }
  if (cancelled?.()) throw new Error('cancelled');
  onProgress?.(total, total);

  const fatal = new Set(settings.fatal);
  return {
    tokenizer: tok.label,
    strategy: { id: chosen.id, label: chosen.label, source: chosen.source, options: row?.options ?? { ...chosen.defaults(family, tok), ...settings.strategy.options } },
    compared: comparedWith.map((s) => ({ id: s.id, label: s.label })),
    maxLength: settings.maxLength,
    format: parsed.formatLabel,
    formatMsg: parsed.formatMsg,
    samples,
    brokenLines: (parsed.lineErrors?.errors ?? []).map((e) => ({ message: e.message, ...(e.msg ? { msg: e.msg } : {}), ...(e.line !== undefined ? { line: e.line } : {}), ...(e.column !== undefined ? { column: e.column } : {}) })),
    brokenTotal: parsed.lineErrors?.total ?? 0,
    totals: totals(samples, fatal, settings.maxLength),
    histograms: { length: lengthHistogram(samples.map((s) => s.tokens)), share: shareHistogram(samples.map((s) => s.share)) },
    fatal: [...settings.fatal],
    ms: performance.now() - t0,
  };
}
