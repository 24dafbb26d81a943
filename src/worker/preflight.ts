// The data worker's preflight requests (dataProtocol.ts): lint a whole dataset with
// src/data/preflight, keep it for exports and for opening one sample, cancel a run in progress.
// The run yields between samples (run.ts), so the view's label requests still get answers while a
// big dataset is checked, and a cancel request is seen.
import { runPreflight } from '../data/preflight/run';
import { keptSequence } from '../data/preflight/findings';
import { datasetFiles, exportPlan, pretokenizedLine, pretokenizedParquet, reportJson, reportMarkdown, type TokenRow } from '../data/preflight/export';
import { PAGE_LIMITS, type PreflightReport, type PreflightSettings } from '../data/preflight/types';
import { parseChatInput } from '../data/parse';
import { detectFamily, runStrategy } from '../data/strategies';
import type { ChatTokenizer, MaskPolicy, ParseResult } from '../data/types';
import type { ExportWhat, PreflightExportReply, PreflightExportRequest, PreflightReply, PreflightRequest } from './dataProtocol';
import type { HandlerContext } from './protocol';
import { CodedError, englishOf, msg, uncoded, type Message } from '../spec/message';

/** The note of a pre-tokenized export, in English and as a message. */
function pretokenizedNotes(label: string, max: number): { notes: string[]; noteMsgs: Message[] } {
  const m = msg('export.plan.pretokenized', { label, max });
  return { notes: [englishOf(m)], noteMsgs: [m] };
}

interface Kept {
  handle: number;
  text: string;
  parsed: Extract<ParseResult, { ok: true }>;
  tok: ChatTokenizer;
  settings: PreflightSettings;
  report: PreflightReport;
  /** Line starts of text, built when a sample's own line is first asked for. */
  lineStarts: number[] | null;
}

let kept: Kept | null = null;
let handles = 0;
/** The handle of the run in progress, and whether it was asked to stop. */
let running: { handle: number; cancel: boolean } | null = null;

const utf8 = new TextEncoder();
const TYPES: Record<ExportWhat, string> = {
  pretokenized: 'application/jsonl', parquet: 'application/vnd.apache.parquet', 'report-json': 'application/json', 'report-md': 'text/markdown',
  trl: 'text/yaml', axolotl: 'text/yaml', llamafactory: 'application/json', torchtune: 'text/yaml',
};

export interface PreflightDeps {
  tokenizer(req: PreflightRequest, ctx: HandlerContext<{ done: number; total: number; status?: Message }>): Promise<{ tok: ChatTokenizer; maxLength: number }>;
}

export function preflightHandlers(deps: PreflightDeps) {
  async function preflight(req: PreflightRequest, ctx: HandlerContext<{ done: number; total: number; status?: Message }>): Promise<PreflightReply> {
    const handle = ++handles;
    if (running) running.cancel = true; // a new run replaces the one in progress
    running = { handle, cancel: false };
    const mine = running;
    try {
      let text: string;
      if (req.source.kind === 'file') {
        const f = req.source.file;
        if (f.size > PAGE_LIMITS.bytes) throw new CodedError(msg('preflight.fileTooBig', { name: f.name, mb: (f.size / 2 ** 20).toFixed(1), max: PAGE_LIMITS.bytes / 2 ** 20 }));
        ctx.emit({ done: 0, total: 0, status: msg('preflight.reading', { name: f.name }) });
        text = await f.text();
      } else text = req.source.text;
      ctx.emit({ done: 0, total: 0, status: msg('preflight.parsing', { mb: (text.length / 2 ** 20).toFixed(1) }) });
      const parsed = parseChatInput(text);
      if (parsed.ok && parsed.samples.length > PAGE_LIMITS.samples) {
        throw new CodedError(msg('preflight.tooManySamples', { n: parsed.samples.length.toLocaleString(), max: PAGE_LIMITS.samples.toLocaleString(), strategy: req.strategy.id }));
      }
      const { tok, maxLength } = await deps.tokenizer(req, ctx);
      const settings: PreflightSettings = { strategy: req.strategy, compare: req.compare, maxLength, fatal: req.fatal, policy: req.policy, splitSpecialTokens: req.splitSpecialTokens };
      // Progress at least every ~250 ms of work: run.ts reports at each yield.
      let last = 0;
      const report = await runPreflight({
        text, tok, settings, yieldEvery: 10, parsed,
        cancelled: () => mine.cancel,
        onProgress: (done, total) => {
          const now = performance.now();
          if (now - last > 100 || done === total) {
            last = now;
            ctx.emit({ done, total });
          }
        },
      });
      if (!parsed.ok) throw new CodedError(msg('preflight.noParse'));
      kept = { handle, text, parsed, tok, settings, report, lineStarts: null };
      return { report, handle };
    } finally {
      if (running === mine) running = null;
    }
  }

  function need(handle: number): Kept {
    if (!kept || kept.handle !== handle) throw new CodedError(msg('preflight.reportGone'));
    return kept;
  }

  /** The chosen strategy's rows for every sample, as the report labelled them. */
  function rows(k: Kept): TokenRow[] {
    const family = detectFamily(k.tok);
    return k.parsed.samples.map((conversation, i) => {
      const input = { tok: k.tok, family, conversation, tools: k.parsed.tools?.[i] ?? null, maxLength: k.settings.maxLength, policy: { ...(k.settings.policy as MaskPolicy), overrides: {} }, splitSpecialTokens: k.settings.splitSpecialTokens };
      // What the framework keeps: LLaMA-Factory cuts inside the sequence (its cut tokens stay in the row, masked).
      return keptSequence(runStrategy(k.settings.strategy, input), k.settings.maxLength);
    });
  }

  function preflightExport(req: PreflightExportRequest): PreflightExportReply {
    const k = need(req.handle);
    const file = (name: string, text: string, what: ExportWhat) => ({ name, type: TYPES[what], bytes: utf8.encode(text) });
    const { maxLength } = k.settings;
    switch (req.what) {
      case 'pretokenized':
        return { files: [file('pretokenized.jsonl', rows(k).map((r) => pretokenizedLine(r.ids, r.labels, maxLength)).join('\n') + '\n', 'pretokenized')], cannotExpress: [], ...pretokenizedNotes(k.report.strategy.label, maxLength) };
      case 'parquet':
        return { files: [{ name: 'pretokenized.parquet', type: TYPES.parquet, bytes: pretokenizedParquet(rows(k), maxLength) }], cannotExpress: [], notes: [] };
      case 'report-json':
        return { files: [file('preflight-report.json', reportJson(k.report), 'report-json')], cannotExpress: [], notes: [] };
      case 'report-md':
        return { files: [file('preflight-report.md', reportMarkdown(k.report), 'report-md')], cannotExpress: [], notes: [] };
      default: {
        const plans = exportPlan(req.mask, { family: detectFamily(k.tok), tokenizerLabel: k.tok.label, chatTemplate: k.tok.chatTemplate, maxLength, samples: k.parsed.samples });
        const plan = plans.find((p) => p.tool === req.what);
        if (!plan) throw new CodedError(msg('preflight.noExport', { what: req.what }));
        const data = datasetFiles(k.parsed.samples, plan.tool, plan, k.parsed.tools ?? undefined);
        const files = [...plan.files.map((f) => file(f.name, f.text, req.what)), file(data.name, data.text, req.what)];
        if (plan.fallback === 'pretokenized') files.push(file('pretokenized.jsonl', rows(k).map((r) => pretokenizedLine(r.ids, r.labels, maxLength)).join('\n') + '\n', 'pretokenized'));
        return {
          files,
          cannotExpress: plan.cannotExpress,
          notes: [...plan.notes, ...data.notes],
          cannotExpressMsgs: plan.cannotExpressMsgs ?? plan.cannotExpress.map(uncoded),
          noteMsgs: [...(plan.noteMsgs ?? plan.notes.map(uncoded)), ...(data.noteMsgs ?? data.notes.map(uncoded))],
        };
      }
    }
  }

  function preflightSample(req: { handle: number; index: number }): { text: string; line: number } {
    const k = need(req.handle);
    const s = k.report.samples[req.index];
    if (!s) throw new CodedError(msg('preflight.noSample', { n: req.index + 1 }));
    if (k.parsed.format !== 'jsonl') return { text: k.text, line: s.line };
    if (!k.lineStarts) {
      k.lineStarts = [0];
      for (let i = k.text.indexOf('\n'); i >= 0; i = k.text.indexOf('\n', i + 1)) k.lineStarts.push(i + 1);
    }
    const from = k.lineStarts[s.line - 1];
    const to = s.line < k.lineStarts.length ? k.lineStarts[s.line] - 1 : k.text.length;
    return { text: k.text.slice(from, to).replace(/\r$/, ''), line: s.line };
  }

  return {
    preflight,
    preflightCancel: async (req: { handle?: number }) => {
      if (!running || (req.handle !== undefined && req.handle !== running.handle)) return false;
      running.cancel = true;
      return true;
    },
    preflightExport: async (req: PreflightExportRequest) => {
      const r = preflightExport(req);
      return r;
    },
    preflightSample: async (req: { handle: number; index: number }) => preflightSample(req),
  };
}
