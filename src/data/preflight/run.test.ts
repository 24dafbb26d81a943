// runPreflight over small JSONL datasets: totals, histograms and packing checked against sums and a
// naive first-fit written here, broken and blank lines, names by line, progress, cancel, and a
// template that rejects a sample.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodeTokenizer } from '../testkit';
import type { ChatTokenizer } from '../types';
import { packFirstFit, runPreflight } from './run';
import type { PreflightReport, PreflightSettings } from './types';

let tok: ChatTokenizer;
beforeAll(async () => {
  tok = await loadNodeTokenizer('default');
});

const SETTINGS: PreflightSettings = { strategy: { id: 'template-spans', options: {} }, compare: [], maxLength: 64, fatal: ['nothing-to-train'] };

const line = (messages: { role: string; content: string }[]) => JSON.stringify({ messages });
const chat = (q: string, a: string) => line([{ role: 'user', content: q }, { role: 'assistant', content: a }]);
const LONG = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');

const DATASET = [
  chat('Hi', 'Hello!'),
  line([{ role: 'user', content: 'No answer here.' }]),
  chat('Count.', LONG),
  chat('Does <|im_end|> end it?', 'Yes.'),
  chat('2+2?', 'Four.'),
].join('\n');

/** Every number in the report is finite (no NaN, no Infinity). */
function finiteNumbers(v: unknown, path = 'report'): string[] {
  if (typeof v === 'number') return Number.isFinite(v) ? [] : [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => finiteNumbers(x, `${path}[${i}]`));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => finiteNumbers(x, `${path}.${k}`));
  return [];
}

/** First-fit by scanning every open sequence (the reference for the segment tree). */
function naiveFirstFit(lengths: number[], maxLength: number) {
  const free: number[] = [];
  let used = 0;
  let n = 0;
  for (const raw of lengths) {
    const l = Math.min(raw, maxLength);
    if (l === 0) continue;
    n++;
    used += l;
    const k = free.findIndex((f) => f >= l);
    if (k < 0) free.push(maxLength - l);
    else free[k] -= l;
  }
  return free.length === 0 ? { sequences: 0, samplesPerSequence: 0, fill: 0 } : { sequences: free.length, samplesPerSequence: n / free.length, fill: used / (free.length * maxLength) };
}

describe('runPreflight', () => {
  let report: PreflightReport;
  beforeAll(async () => {
    report = await runPreflight({ text: DATASET, tok, settings: SETTINGS });
  });

  it('lints every sample, named by its line', () => {
    expect(report.samples.map((s) => s.line)).toEqual([1, 2, 3, 4, 5]);
    expect(report.samples.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
    expect(report.samples.map((s) => s.findings.map((f) => f.id))).toEqual([[], ['nothing-to-train'], ['response-truncated'], ['typed-special-tokens'], []]);
    expect(report).toMatchObject({ tokenizer: tok.label, maxLength: 64, fatal: ['nothing-to-train'], brokenLines: [], brokenTotal: 0, compared: [] });
    expect(report.strategy.id).toBe('template-spans');
    expect(report.format).toMatch(/JSONL/);
  });

  it('sums tokens, trained tokens and findings per sample; counts fatal samples', () => {
    const t = report.totals;
    expect(t.samples).toBe(5);
    expect(t.tokens).toBe(report.samples.reduce((a, s) => a + s.tokens, 0));
    expect(t.trainedTokens).toBe(report.samples.reduce((a, s) => a + s.trained, 0));
    expect(t.findings).toEqual({ 'nothing-to-train': 1, 'response-truncated': 1, 'eot-never-trained': 0, 'pad-is-eos': 0, 'empty-think-trained': 0, 'typed-special-tokens': 1, 'strategies-disagree': 0 });
    expect(t.fatalSamples).toBe(1);
  });

  it('bins lengths into 20 bins from 0 and shares into 10 over [0, 1]', () => {
    const { length, share } = report.histograms;
    expect(length.counts).toHaveLength(20);
    expect(length.edges).toHaveLength(21);
    expect(length.edges[0]).toBe(0);
    expect(length.edges[20]).toBeGreaterThanOrEqual(Math.max(...report.samples.map((s) => s.tokens)));
    expect(length.counts.reduce((a, b) => a + b, 0)).toBe(5);
    expect(share.edges).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(share.counts.reduce((a, b) => a + b, 0)).toBe(5);
    expect(share.counts[0]).toBeGreaterThanOrEqual(1); // the sample with nothing to train
    for (const s of report.samples) {
      const b = share.edges.findIndex((e, i) => s.share >= e && (s.share < share.edges[i + 1] || i === 9));
      expect(share.counts[b]).toBeGreaterThan(0);
    }
  });

  it('packs first-fit, each sample cut to maxLength', () => {
    expect(report.totals.packing).toEqual(naiveFirstFit(report.samples.map((s) => s.tokens), 64));
    expect(report.totals.packing.fill).toBeGreaterThan(0);
    expect(report.totals.packing.fill).toBeLessThanOrEqual(1);
  });

  it('has no NaN or Infinity anywhere, and survives JSON', () => {
    expect(finiteNumbers(report)).toEqual([]);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});

describe('packFirstFit', () => {
  it('agrees with a naive first-fit on many lengths', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const maxLength of [1, 7, 64, 1000]) {
      const lengths = Array.from({ length: 300 }, () => Math.floor(rand() * maxLength * 1.5));
      expect(packFirstFit(lengths, maxLength)).toEqual(naiveFirstFit(lengths, maxLength));
    }
    expect(packFirstFit([], 64)).toEqual({ sequences: 0, samplesPerSequence: 0, fill: 0 });
    expect(packFirstFit([0, 0], 64)).toEqual({ sequences: 0, samplesPerSequence: 0, fill: 0 });
  });
});

describe('broken and blank lines', () => {
  const text = ['', chat('a', 'b'), '{"messages": [', '', chat('c', 'd'), '{"messages": 3}', chat('e', 'f')].join('\n');

  it('reports broken lines with line and column, lints the others, and names samples by their lines', async () => {
    const r = await runPreflight({ text, tok, settings: SETTINGS });
    expect(r.samples.map((s) => s.line)).toEqual([2, 5, 7]);
    expect(r.brokenTotal).toBe(2);
    expect(r.brokenLines.map((e) => e.line)).toEqual([3, 6]);
    for (const e of r.brokenLines) {
      expect(e.column).toBeGreaterThan(0);
      expect(e.message).toMatch(new RegExp(`[Ll]ine ${e.line}`));
    }
    expect(r.totals.samples).toBe(3);
  });

  it('throws with the line and column when nothing parses', async () => {
    await expect(runPreflight({ text: '{"messages": [\n{bad', tok, settings: SETTINGS })).rejects.toThrow(/line 2, column 2/);
  });
});

describe('progress, cancel, onSample', () => {
  const text = Array.from({ length: 10 }, (_, i) => chat(`q${i}`, `a${i}`)).join('\n');

  it('calls onProgress at the start, every yieldEvery samples and at the end; onSample once per sample', async () => {
    const progress: [number, number][] = [];
    const seen: number[] = [];
    await runPreflight({ text, tok, settings: SETTINGS, yieldEvery: 3, onProgress: (d, t) => progress.push([d, t]), onSample: (i) => seen.push(i) });
    expect(progress).toEqual([[0, 10], [3, 10], [6, 10], [9, 10], [10, 10]]);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('yields to the event loop between batches (a timer set before the run fires during it)', async () => {
    let fired = -1;
    let done = 0;
    setTimeout(() => (fired = done), 0);
    await runPreflight({ text, tok, settings: SETTINGS, yieldEvery: 2, onSample: () => done++ });
    expect(fired).toBeGreaterThan(0);
    expect(fired).toBeLessThan(10);
  });

  it('stops with Error("cancelled") when cancelled() turns true', async () => {
    let calls = 0;
    let linted = 0;
    const run = runPreflight({ text, tok, settings: SETTINGS, cancelled: () => ++calls > 4, onSample: () => linted++ });
    await expect(run).rejects.toThrow('cancelled');
    expect(linted).toBe(4);
  });
});

describe('samples a framework or template rejects', () => {
  it('become nothing-to-train findings with the error, and the run goes on', async () => {
    const gemma = await loadNodeTokenizer('gemma3');
    const text = [chat('Hi', 'Hello'), line([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }]), chat('Bye', 'Bye')].join('\n');
    const r = await runPreflight({ text, tok: gemma, settings: SETTINGS });
    expect(r.samples).toHaveLength(3);
    const bad = r.samples[1].findings.find((f) => f.id === 'nothing-to-train');
    expect(bad?.message).toMatch(/roles must alternate/);
    expect(r.samples[0].findings.map((f) => f.id)).toEqual([]);
  });

  it('an option a strategy rejects gives 0-token samples: share 0, no NaN', async () => {
    const settings: PreflightSettings = { ...SETTINGS, strategy: { id: 'axolotl-chat-template', options: { train_on_eos: 'sometimes' } } };
    const r = await runPreflight({ text: chat('Hi', 'Hello'), tok, settings });
    expect(r.samples[0]).toMatchObject({ tokens: 0, trained: 0, share: 0 });
    expect(r.samples[0].findings[0].message).toMatch(/train_on_eos must be one of/);
    expect(finiteNumbers(r)).toEqual([]);
    expect(r.totals.packing).toEqual({ sequences: 0, samplesPerSequence: 0, fill: 0 });
  });

  it('an unknown strategy id is refused before any sample', async () => {
    const settings = { ...SETTINGS, strategy: { id: 'nope', options: {} } } as unknown as PreflightSettings;
    await expect(runPreflight({ text: chat('a', 'b'), tok, settings })).rejects.toThrow(/unknown masking strategy "nope"/);
  });
});
