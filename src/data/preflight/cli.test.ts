// The command-line preflight (scripts/preflight.ts), spawned with tsx on the committed fixture
// e2e/fixtures/preflight/known-200.jsonl (scripts/make-preflight-fixture.ts says which line holds
// which finding) with the 'default' ChatML tokenizer at --max-length 64.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNodeTokenizer } from '../testkit';
import { parseChatInput } from '../parse';
import { detectFamily, runStrategy, type StrategyId } from '../strategies';
import { DEFAULT_POLICY } from '../labels';
import type { ChatTokenizer } from '../types';
import { fixtureLine } from '../../../scripts/make-preflight-fixture';
import { runPreflight } from './run';
import { reportJson } from './export';
import type { FindingId, PreflightReport } from './types';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURE = join(ROOT, 'e2e/fixtures/preflight/known-200.jsonl');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const BROKEN = [50, 150];

/** Samples each finding hits, by construction of the fixture (see make-preflight-fixture.ts). */
const EXPECTED: Record<'template-spans' | 'axolotl-chat-template', Record<FindingId, number>> = {
  // compared with axolotl's defaults, which never train <|im_end|> and drop the 8 long samples.
  'template-spans': { 'nothing-to-train': 10, 'response-truncated': 8, 'eot-never-trained': 0, 'pad-is-eos': 0, 'empty-think-trained': 5, 'typed-special-tokens': 7, 'strategies-disagree': 188 },
  // compared with template-spans; the 8 long samples are dropped (nothing to train, so no eot finding).
  'axolotl-chat-template': { 'nothing-to-train': 18, 'response-truncated': 8, 'eot-never-trained': 180, 'pad-is-eos': 0, 'empty-think-trained': 5, 'typed-special-tokens': 7, 'strategies-disagree': 188 },
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  out: string;
}

const dirs: string[] = [];
function cli(args: string[]): Promise<Run> {
  const out = mkdtempSync(join(tmpdir(), 'preflight-cli-'));
  dirs.push(out);
  return new Promise((done, fail) => {
    const p = spawn(TSX, ['scripts/preflight.ts', ...args.map((a) => (a === '$OUT' ? out : a))], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', fail);
    p.on('close', (code) => done({ code, stdout, stderr, out }));
  });
}

const base = (strategy: StrategyId, compare: StrategyId, ...more: string[]) => [FIXTURE, '--tokenizer', 'default', '--strategy', strategy, '--compare', compare, '--max-length', '64', '--out', '$OUT', ...more];

let tok: ChatTokenizer;
let runs: Record<'spans' | 'axolotl' | 'none' | 'absent' | 'missing' | 'usage' | 'help', Run>;
beforeAll(async () => {
  tok = await loadNodeTokenizer('default');
  const [spans, axolotl, none, absent, missing, usage, help] = await Promise.all([
    cli(base('template-spans', 'axolotl-chat-template', '--fatal', 'nothing-to-train')),
    cli(base('axolotl-chat-template', 'template-spans', '--fatal', 'all')),
    cli(base('template-spans', 'axolotl-chat-template', '--fatal', 'none')),
    cli(base('template-spans', 'axolotl-chat-template', '--fatal', 'eot-never-trained,pad-is-eos')),
    cli([join(ROOT, 'e2e/fixtures/preflight/no-such-file.jsonl'), '--tokenizer', 'default', '--out', '$OUT']),
    cli([FIXTURE, '--tokenizer', 'default', '--max-length', 'sixty']),
    cli(['--help']),
  ]);
  runs = { spans, axolotl, none, absent, missing, usage, help };
}, 60_000);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const report = (r: Run): PreflightReport => JSON.parse(readFileSync(join(r.out, 'preflight-report.json'), 'utf8')) as PreflightReport;

describe('the fixture', () => {
  it('is what scripts/make-preflight-fixture.ts writes: 200 lines', () => {
    const lines = readFileSync(FIXTURE, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(200);
    expect(lines).toEqual(Array.from({ length: 200 }, (_, i) => fixtureLine(i + 1)));
  });
});

describe('npm run preflight on known-200.jsonl', () => {
  it('finds exactly the known findings, under either strategy', () => {
    expect(report(runs.spans).totals.findings).toEqual(EXPECTED['template-spans']);
    expect(report(runs.axolotl).totals.findings).toEqual(EXPECTED['axolotl-chat-template']);
    const hit = (id: FindingId) => report(runs.spans).samples.filter((s) => s.findings.some((f) => f.id === id)).map((s) => s.line);
    expect(hit('nothing-to-train')).toEqual([3, 23, 43, 63, 83, 103, 123, 143, 163, 183]);
    expect(hit('response-truncated')).toEqual([7, 32, 57, 82, 107, 132, 157, 182]);
    expect(hit('typed-special-tokens')).toEqual([11, 41, 71, 101, 131, 161, 191]);
    expect(hit('empty-think-trained')).toEqual([13, 53, 93, 133, 173]);
  });

  it('reports the broken lines with line and column, and names the 198 samples by line', () => {
    const r = report(runs.spans);
    expect(r.brokenTotal).toBe(2);
    expect(r.brokenLines.map((e) => e.line)).toEqual(BROKEN);
    for (const e of r.brokenLines) expect(e.column).toBeGreaterThan(0);
    expect(r.samples.map((s) => s.line)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1).filter((k) => !BROKEN.includes(k)));
  });

  it('writes the report runPreflight gives in-process (all but the time taken), and its Markdown', async () => {
    const text = readFileSync(FIXTURE, 'utf8');
    const here = await runPreflight({ text, tok, settings: { strategy: { id: 'template-spans', options: {} }, compare: [{ id: 'axolotl-chat-template', options: {} }], maxLength: 64, fatal: ['nothing-to-train'] } });
    const written = report(runs.spans);
    // The file holds the English text only (reportJson leaves the messages' codes out).
    expect({ ...written, ms: 0 }).toEqual(JSON.parse(reportJson({ ...here, ms: 0 })));
    expect(written.totals.fatalSamples).toBe(10);
    expect(readFileSync(join(runs.spans.out, 'preflight-report.md'), 'utf8')).toMatch(/^# Dataset preflight/);
  });

  it('prints a summary with each finding, its sample count and first lines, and the packing', () => {
    const s = runs.spans.stdout;
    expect(s).toMatch(/samples\s+198 \(2 broken lines left out: 50:\d+, 150:\d+\)/);
    expect(s).toMatch(/nothing-to-train\s+10\s+lines 3, 23, 43, 63, 83, …\s+\[fatal\]/);
    expect(s).toMatch(/empty-think-trained\s+5\s+lines 13, 53, 93, 133, 173\n/);
    expect(s).toMatch(/packing\s+\d+ sequences of 64 tokens/);
    expect(s).toMatch(/FAIL.*nothing-to-train \(10 samples\)/);
  });

  it('writes one pre-tokenized line per sample, labels id or -100, equal to runStrategy’s labels cut to 64', () => {
    const lines = readFileSync(join(runs.spans.out, 'pretokenized.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(200 - BROKEN.length);
    const rows = lines.map((l) => JSON.parse(l) as { input_ids: number[]; labels: number[]; attention_mask: number[] });
    for (const r of rows) {
      expect(r.input_ids.length).toBeLessThanOrEqual(64);
      expect(r.labels).toHaveLength(r.input_ids.length);
      expect(r.attention_mask).toEqual(r.input_ids.map(() => 1));
      r.labels.forEach((l, i) => expect(l === -100 || l === r.input_ids[i]).toBe(true));
    }
    const parsed = parseChatInput(readFileSync(FIXTURE, 'utf8'));
    if (!parsed.ok) throw new Error(parsed.error.message);
    for (const line of [1, 3, 7, 11, 13, 200]) {
      const i = (parsed.sampleLines ?? []).indexOf(line);
      const row = runStrategy({ id: 'template-spans', options: {} }, { tok, family: detectFamily(tok), conversation: parsed.samples[i], tools: null, maxLength: 64, policy: DEFAULT_POLICY });
      expect(rows[i].input_ids).toEqual(Array.from(row.ids.slice(0, 64)));
      expect(rows[i].labels).toEqual(Array.from(row.labels.slice(0, 64)));
    }
  });
});

describe('exit codes', () => {
  it('1 with a fatal finding present (and says which), 0 with --fatal none or a fatal finding absent', () => {
    expect(runs.spans.code).toBe(1);
    expect(runs.axolotl.code).toBe(1);
    expect(runs.axolotl.stdout).toMatch(/FAIL.*eot-never-trained \(180 samples\)/);
    expect(runs.none.code).toBe(0);
    expect(runs.absent.code).toBe(0);
    expect(runs.absent.stdout).toMatch(/OK\s+no fatal finding/);
  });

  it('2 on a missing file or bad usage, with a clear message; --help prints usage', () => {
    expect(runs.missing.code).toBe(2);
    expect(runs.missing.stderr).toMatch(/no-such-file\.jsonl: no such file/);
    expect(runs.usage.code).toBe(2);
    expect(runs.usage.stderr).toMatch(/--max-length sixty: give a positive whole number/);
    expect(runs.help.code).toBe(0);
    expect(runs.help.stdout).toMatch(/^Usage: npm run preflight --/);
  });
});
