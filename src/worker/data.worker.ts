// Data worker: pasted text → parse → chat template → tokens + roles → labels → context check.
// Runs off the main thread so a 1 MB paste never freezes typing. Protocol: dataProtocol.ts over
// protocol.ts. It is the page's only tokenizer: it labels the shown sample for the token view, prepares
// every sample for training (`prepare`), and renders the prompts answers continue (`prompt`), so
// each tokenizer is parsed once per page and the labels training gets are the labels shown.
//
// Caching, cheapest change first:
//   settings only (mask policy, overrides, context length) → labels recomputed, tokens not resent;
//   sample index or tokenizer → tokenization redone, parse reused;
//   text → everything.
// Label requests are coalesced: when several arrive while one runs, only the newest is processed
// and the others fail as superseded.
import {
  TOKENIZERS,
  checkContext,
  computeLabels,
  encodeChat,
  loadTokenizer,
  parseChatInput,
  tokenizeConversation,
  type ChatTokenizer,
  type Conversation,
  type InputError,
  type ParseResult,
  type TokenizedSample,
  type TokenizerId,
  type TokenizerSource,
} from '../data';
import { FileNotFoundError, fetchModelFile, resolveModelSource } from '../model/hub';
import { CHAT_TEMPLATE_FILES, chooseChatTemplate } from '../model/chatTemplate';
import {
  FLAG_END_OF_TURN,
  FLAG_STRADDLES,
  FLAG_TYPED_SPECIAL,
  ROLE_CODES,
  resolveContextLength,
  type DataProtocol,
  type LabReply,
  type LabRequest,
  type TokenizerInfo,
  type TokenizerInfoRequest,
  type FailStage,
  type LabelColumns,
  type LabelFailure,
  type LabelReply,
  type LabelRequest,
  type ModelTokenizer,
  type ParseInfo,
  type PreparedData,
  type PrepareRequest,
  type PromptReply,
  type PromptRequest,
  type TokenColumns,
  type TokenTable,
} from './dataProtocol';
import { HandlerError, SUPERSEDED, Transfer, serve, type HandlerContext } from './protocol';
import { CodedError, messageOfError, msg, type Message } from '../spec/message';
import { MAX_LAB_ROWS, detectFamily, runStrategy, type LabRow } from '../data/strategies';
import { alignRows } from '../data/strategies/align';
import { preflightHandlers } from './preflight';
import { renderProblem, syntaxProblem } from '../data/templateCheck';
import { withTemplate } from '../data/tokenizer';
import { keptIndices, keptSequence } from '../data/preflight/findings';

import { checkOverrides, packedBuffers, packSamples, policiesFor, prepareSample, setStrategyRun } from './trainPlan';

interface LoadedTokenizer {
  tok: ChatTokenizer;
  /** tokenizer_config.json's model_max_length when it is a real limit (HF writes 1e30 for "none"). */
  modelMaxLength: number | null;
}

/** Above this HF's tokenizer_config means "no limit stated" (it writes int(1e30)). */
const NO_LIMIT_SENTINEL = 1e12;

/** By tokenizerKey(). */
const tokenizers = new Map<string, Promise<LoadedTokenizer>>();
let parsed: { text: string; result: ParseResult } | null = null;
interface Tokenized {
  text: string;
  sampleIndex: number;
  tokenizerKey: string;
  split: boolean;
  sample: TokenizedSample;
  columns: TokenColumns;
}
let tokenized: Tokenized | null = null;
/** Tokenizations are numbered; the number is the key that ties labels to their tokens. */
let tokenizationCount = 0;
/** Key of the tokenization last sent to the main thread, which keeps the last columns it
 *  received even from replies it otherwise ignores, so a repeat can be omitted. */
let sentKey: string | null = null;

async function fetchJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new CodedError(msg('data.httpFailed', { url, status: res.status, statusText: res.statusText }));
  return res.json();
}

/** 'default' with a loaded model names that model's files, 'custom' a tokenizer loaded on its own
 *  (its files, as `model` names them); otherwise the fixed TOKENIZERS entry. */
const tokenizerKey = (id: TokenizerId, model: ModelTokenizer | null) =>
  (id === 'default' || id === 'custom') && model ? `${id === 'custom' ? 'custom' : 'model'}:${model.source}${model.chatTemplateName ? `#${model.chatTemplateName}` : ''}` : id;

/** The folder behind tokenizerId 'custom' (the request's customTokenizer), else the loaded model's. */
const whose = (req: { tokenizerId: TokenizerId; modelTokenizer: ModelTokenizer | null; customTokenizer?: ModelTokenizer | null }): ModelTokenizer | null =>
  req.tokenizerId === 'custom' ? (req.customTokenizer ?? null) : req.modelTokenizer;

/** Which chat template a folder's files gave, by tokenizerKey (the tokenizer-only loader shows it). */
const templateChoice = new Map<string, { names: string[]; name: string | null; file: string }>();

function tokenizerSource(id: TokenizerId, model: ModelTokenizer | null): { src: TokenizerSource; fetch: (url: string) => Promise<unknown> } | null {
  if ((id === 'default' || id === 'custom') && model) {
    // Through the model loader's fetch: a Hub model's files are in its Cache Storage by the time
    // the model has loaded, so they are not downloaded twice.
    const loc = resolveModelSource(model.source);
    const files: Record<string, string> = { [`${loc.baseUrl}tokenizer.json`]: 'tokenizer.json', [`${loc.baseUrl}tokenizer_config.json`]: 'tokenizer_config.json' };
    const src: TokenizerSource = { id, label: model.label, tokenizerUrl: `${loc.baseUrl}tokenizer.json`, configUrl: `${loc.baseUrl}tokenizer_config.json` };
    const text = async (file: string): Promise<string> => new TextDecoder().decode(await fetchModelFile(loc, file));
    const optional = (file: string): Promise<string | null> => text(file).catch((e: unknown) => (e instanceof FileNotFoundError ? null : Promise.reject(e)));
    const fetch = async (url: string): Promise<unknown> => {
      const json: unknown = JSON.parse(await text(files[url]));
      if (files[url] !== 'tokenizer_config.json' || json === null || typeof json !== 'object' || Array.isArray(json)) return json;
      // The template as transformers picks it: chat_template.jinja, chat_template.json, then this file's own.
      const [jinja, templateJson] = await Promise.all(CHAT_TEMPLATE_FILES.map(optional));
      const config = json as Record<string, unknown>;
      let parsed: unknown = null;
      try {
        parsed = templateJson === null ? null : JSON.parse(templateJson);
      } catch (e) {
        throw new CodedError(msg('data.chatTemplateJson', { file: `${model.label}/chat_template.json`, detail: e instanceof Error ? e.message : String(e) }));
      }
      const chosen = chooseChatTemplate({ jinja, json: parsed, config }, model.label, model.chatTemplateName);
      templateChoice.set(tokenizerKey(id, model), chosen ? { names: chosen.names, name: chosen.name, file: chosen.file } : { names: [], name: null, file: 'none' });
      return chosen === null ? config : { ...config, chat_template: chosen.template };
    };
    return { src, fetch };
  }
  if (id === 'custom') return null;
  const src = TOKENIZERS.find((s) => s.id === id);
  return src ? { src, fetch: fetchJson } : null;
}

function getTokenizer(id: TokenizerId, model: ModelTokenizer | null): Promise<LoadedTokenizer> {
  const key = tokenizerKey(id, model);
  let p = tokenizers.get(key);
  if (!p) {
    // One loaded model at a time: an earlier model's tokenizer (tens of MB parsed) is not needed again soon.
    for (const kind of ['model:', 'custom:']) if (key.startsWith(kind)) for (const k of tokenizers.keys()) if (k.startsWith(kind)) tokenizers.delete(k);
    const found = tokenizerSource(id, model);
    if (!found) return Promise.reject(new Error(`unknown tokenizer "${id}"`));
    const { src } = found;
    let modelMaxLength: number | null = null;
    // Capture model_max_length from the config while the data module reads it.
    const fetchAndPeek = async (url: string) => {
      const json = await found.fetch(url);
      if (url === src.configUrl && json !== null && typeof json === 'object') {
        const m = (json as { model_max_length?: unknown }).model_max_length;
        if (typeof m === 'number' && m > 0 && m < NO_LIMIT_SENTINEL) modelMaxLength = m;
      }
      return json;
    };
    p = loadTokenizer(src, fetchAndPeek).then((tok) => ({ tok, modelMaxLength }));
    // A failed load (e.g. a missing file) must be retried next time, not cached forever.
    p.catch(() => tokenizers.delete(key));
    tokenizers.set(key, p);
  }
  return p;
}

function toColumns(key: string, sample: TokenizedSample, loaded: LoadedTokenizer): TokenColumns {
  const T = sample.tokens.length;
  const ids = new Int32Array(T);
  const starts = new Int32Array(T);
  const ends = new Int32Array(T);
  const roles = new Uint8Array(T);
  const roleMasks = new Uint8Array(T);
  const flags = new Uint8Array(T);
  const messages = new Int32Array(T);
  let joined = '';
  for (let i = 0; i < T; i++) {
    const t = sample.tokens[i];
    ids[i] = t.id;
    starts[i] = t.start;
    ends[i] = t.end;
    roles[i] = ROLE_CODES.indexOf(t.role);
    let mask = 0;
    for (const r of t.roles) mask |= 1 << ROLE_CODES.indexOf(r);
    roleMasks[i] = mask;
    flags[i] = (t.straddles ? FLAG_STRADDLES : 0) | (t.isEndOfTurn ? FLAG_END_OF_TURN : 0) | (t.typedSpecial ? FLAG_TYPED_SPECIAL : 0);
    messages[i] = t.messageIndex ?? -1;
    joined += t.text;
  }
  return {
    key,
    rendered: sample.rendered,
    ids,
    starts,
    ends,
    roles,
    roleMasks,
    flags,
    messages,
    attribution: sample.attribution,
    notes: sample.notes,
    ...(sample.noteMsgs ? { noteMsgs: sample.noteMsgs } : {}),
    roundTrip: joined === sample.rendered,
    tokenizerLabel: loaded.tok.label,
    modelMaxLength: loaded.modelMaxLength,
    chatTemplate: loaded.tok.chatTemplate,
  };
}

class StepError extends CodedError {
  constructor(
    readonly stage: FailStage,
    m: Message,
    readonly where: { line?: number; column?: number; sample?: number } = {},
    /** The user's own template failed: the position in it. */
    readonly templateAt?: { line: number; column: number },
  ) {
    super(m);
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

type Status = HandlerContext<{ status: Message }>;

function parseText(text: string): ParseResult {
  if (!parsed || parsed.text !== text) parsed = { text, result: parseChatInput(text) };
  return parsed.result;
}

/** The tokenizer, saying so when its first use has to download it. */
async function tokenizer(id: TokenizerId, model: ModelTokenizer | null, ctx: Status): Promise<LoadedTokenizer> {
  const key = tokenizerKey(id, model);
  const srcLabel = tokenizerSource(id, model)?.src.label ?? id;
  try {
    if (!tokenizers.has(key)) ctx.emit({ status: msg('data.loadingTokenizer', { name: srcLabel }) });
    return await getTokenizer(id, model);
  } catch (err) {
    throw new StepError('tokenizer', msg('data.tokenizerFailed', { name: srcLabel, detail: messageOfError(err) }));
  }
}

/** The tokenizer with the user's own template, and the cache key that says so (the last one is kept:
 *  typing in the editor makes a new one per pause, each sharing the vocabulary). A template that does
 *  not parse, or that the probe chats cannot render, fails with its line and column. */
let ownCache: { key: string; loaded: LoadedTokenizer } | null = null;
function withOwn(loaded: LoadedTokenizer, key: string, own: string | null | undefined): { loaded: LoadedTokenizer; key: string } {
  if (!own) return { loaded, key };
  let h = 0x811c9dc5;
  for (let i = 0; i < own.length; i++) h = Math.imul(h ^ own.charCodeAt(i), 0x01000193);
  const ownKey = `${key}#own:${own.length}:${(h >>> 0).toString(36)}`;
  if (ownCache?.key === ownKey) return { loaded: ownCache.loaded, key: ownKey };
  const bad = syntaxProblem(own);
  if (bad) throw new StepError('template', msg('data.ownTemplateAt', { line: bad.line, column: bad.column, detail: bad.msg }), {}, { line: bad.line, column: bad.column });
  const tok = withTemplate(loaded.tok, own);
  ownCache = { key: ownKey, loaded: { ...loaded, tok } };
  return ownCache;
}

/** A render error of the user's own template, with where it points in it. */
function ownRenderError(own: string | null | undefined, err: unknown): StepError | null {
  if (!own) return null;
  const at = renderProblem(own, messageOf(err));
  return new StepError('template', msg('data.ownTemplateAt', { line: at.line, column: at.column, detail: messageOfError(err) }), {}, { line: at.line, column: at.column });
}

/** How a sample is named to the user: its number, and its JSONL line when that differs. */
function sampleName(pr: ParseResult, index: number): Message {
  const line = pr.ok ? pr.sampleLines?.[index] : undefined;
  return line !== undefined ? msg('data.sampleAtLine', { n: index + 1, line }) : msg('data.sample', { n: index + 1 });
}

/** Sample `index` of `text` tokenized by `key`'s tokenizer (the last one is cached: the view's). */
function tokenizeSample(text: string, index: number, key: string, loaded: LoadedTokenizer, conv: Conversation, split: boolean): Tokenized {
  if (tokenized && tokenized.text === text && tokenized.sampleIndex === index && tokenized.tokenizerKey === key && tokenized.split === split) return tokenized;
  let sample: TokenizedSample;
  try {
    const pr = parseText(text);
    sample = tokenizeConversation(loaded.tok, conv, { splitSpecialTokens: split, tools: pr.ok ? (pr.tools?.[index] ?? null) : null });
  } catch (err) {
    throw new StepError('template', msg('data.sampleFailed', { sample: sampleName(parseText(text), index), detail: messageOfError(err) }), { sample: index });
  }
  return { text, sampleIndex: index, tokenizerKey: key, split, sample, columns: toColumns(`t${++tokenizationCount}`, sample, loaded) };
}

async function label(req: LabelRequest, ctx: Status): Promise<Transfer<LabelReply>> {
  const t0 = performance.now();
  // 1. Parse (cached by text).
  const pr = parseText(req.text);
  if (!pr.ok) {
    throw new HandlerError(pr.error.msg ?? pr.error.message, { stage: 'parse', error: pr.error, parse: null, ...(pr.lineErrors ? { lineErrors: pr.lineErrors } : {}) } satisfies LabelFailure);
  }
  const sampleCount = pr.samples.length;
  const sampleIndex = Math.min(Math.max(0, req.sampleIndex), Math.max(0, sampleCount - 1));
  const parse: ParseInfo = {
    format: pr.format, formatLabel: pr.formatLabel, formatMsg: pr.formatMsg, sampleCount, sampleIndex, sampleLine: pr.sampleLines?.[sampleIndex] ?? null, lineErrors: pr.lineErrors,
  };
  try {
    if (sampleCount === 0) {
      throw new StepError('sample', msg('data.noSample'));
    }
    // 2. Tokenizer (cached per id; first use downloads 1–11 MB, so say so).
    const base = await tokenizer(req.tokenizerId, whose(req), ctx);
    const { loaded, key } = withOwn(base, tokenizerKey(req.tokenizerId, whose(req)), req.ownTemplate);
    // 3. Template + tokenize + attribute (cached by text, sample, tokenizer).
    try {
      tokenized = tokenizeSample(req.text, sampleIndex, key, loaded, pr.samples[sampleIndex], req.splitSpecialTokens);
    } catch (err) {
      throw ownRenderError(req.ownTemplate, err) ?? err;
    }
    const columnsKey = tokenized.columns.key;
    // 4. Labels + context check (always: they depend on the settings).
    let labels: LabelColumns;
    try {
      const lr = computeLabels(tokenized.sample, req.policy);
      const contextLength = resolveContextLength(req.tokenizerId, req.contextLength, loaded.modelMaxLength, req.modelTokenizer);
      const context = checkContext(tokenized.sample, lr, contextLength);
      labels = { key: columnsKey, ...lr, contextLength, contextLengthIsOwn: req.contextLength !== null, context };
    } catch (err) {
      throw new StepError('labels', messageOfError(err));
    }
    // Labels are fresh arrays per request: transfer them. Token columns are cached here, so they
    // are cloned (once per tokenization), not transferred.
    const tokens = sentKey === columnsKey ? null : tokenized.columns;
    sentKey = columnsKey;
    return new Transfer({ parse, tokens, labels, ms: performance.now() - t0 }, [labels.labels.buffer, labels.weights.buffer]);
  } catch (err) {
    const stage: FailStage = err instanceof StepError ? err.stage : 'template';
    const where = err instanceof StepError ? err.where : {};
    const templateAt = err instanceof StepError ? err.templateAt : undefined;
    const m = messageOfError(err);
    throw new HandlerError(m, { stage, error: { message: messageOf(err), msg: m, ...where }, parse, ...(templateAt ? { templateAt } : {}) } satisfies LabelFailure);
  }
}

/** A parse error with its place: "… (line 3, column 5)". */
const placedError = (e: InputError): Message => {
  const detail = e.msg ?? messageOfError(new Error(e.message));
  if (!e.line) return detail;
  return e.column ? msg('data.errorAtColumn', { detail, line: e.line, column: e.column }) : msg('data.errorAtLine', { detail, line: e.line });
};

/** The training data: every sample through the same steps as the view, with each run's policy. */
async function prepare(req: PrepareRequest, ctx: Status): Promise<Transfer<PreparedData>> {
  const pr = parseText(req.text);
  if (!pr.ok) throw new CodedError(msg('data.prepareNoParse', { detail: placedError(pr.error) }));
  if (pr.samples.length === 0) throw new CodedError(msg('data.prepareNoSample'));
  const own = withOwn(await tokenizer('default', req.modelTokenizer, ctx), tokenizerKey('default', req.modelTokenizer), req.ownTemplate);
  const loaded = own.loaded;
  const { tok } = loaded;
  if (tok.vocabSize > req.vocabSize) {
    throw new CodedError(msg('data.vocabMismatch', { name: tok.label, tokens: tok.vocabSize, vocab: req.vocabSize }));
  }
  const key = own.key;
  const contextLength = resolveContextLength('default', req.contextLength, loaded.modelMaxLength, req.modelTokenizer);
  const family = detectFamily(tok);
  // Sample 0's end-of-turn tokens per run (the stop meter): the template's, or through a run's own sequence.
  let meter: Int32Array[] | null = null;
  const samples = pr.samples.map((conv, i) => {
    const { sample } = tokenizeSample(req.text, i, key, loaded, conv, req.splitSpecialTokens);
    if (req.hand && req.hand.sample === i) {
      const why = checkOverrides(req.hand, Int32Array.from(sample.tokens, (t) => t.id));
      if (why) throw new CodedError(msg('data.overrides', { why }));
    }
    const prepared = prepareSample(sample, policiesFor(req.policies, i, req.hand), contextLength);
    const eot = sample.tokens.filter((t) => t.isEndOfTurn && t.turnIndex !== null && t.index < contextLength).map((t) => t.index);
    if (i === 0) meter = req.policies.map(() => Int32Array.from(eot));
    req.strategies?.forEach((choice, r) => {
      if (!choice) return;
      const input = { tok, family, conversation: conv, tools: pr.tools?.[i] ?? null, maxLength: contextLength, policy: { ...req.policies[r], overrides: {} } };
      const row = runStrategy(choice, input);
      if (row.error) throw new CodedError(msg('data.strategyRaises', { run: String.fromCharCode(65 + r), label: row.label, sample: sampleName(pr, i), detail: row.error }));
      const a = alignRows([sample.tokens.map((t) => t.text), Array.from(row.ids, (_, k) => row.text.slice(row.starts[k], row.ends[k]))]);
      const mine = new Int32Array(sample.tokens.length).fill(-1);
      for (let c = 0; c < a.C; c++) if (a.cells[c * 2] >= 0) mine[a.cells[c * 2]] = a.cells[c * 2 + 1];
      // What the framework keeps of the row: a cut inside the sequence (LLaMA-Factory's cutoff_len) drops those tokens.
      const kept = keptSequence(row, contextLength);
      const keptIndex = keptIndices(row, contextLength);
      setStrategyRun(prepared, r, req.policies.length, kept, (k) => (mine[k] >= 0 ? keptIndex[mine[k]] : -1), contextLength);
      const own = prepared.own?.[r];
      if (i === 0 && meter && own) meter[r] = Int32Array.from(eot.map((k) => (mine[k] >= 0 ? keptIndex[mine[k]] : -1)).filter((k) => k >= 0 && k < own.ids.length));
    });
    return prepared;
  });
  const packed = packSamples(samples, req.policies.length);
  const table = tokenTable(key, tok);
  // Fresh copies of the cached token table: everything here is transferred, not cloned.
  const vocab = { bytes: table.bytes.slice(), offsets: table.offsets.slice() };
  return new Transfer(
    {
      samples: packed, contextLength, padId: tok.padTokenId ?? tok.eosTokenId, stopIds: [...new Set([tok.eosTokenId, ...tok.endOfTurnTokenIds])], vocab, tokenizerLabel: tok.label,
      stopMeter: meter && (meter as Int32Array[]).some((m) => m.length > 0) ? { sample: 0, positions: meter } : null,
    },
    [...packedBuffers(packed), vocab.bytes.buffer, vocab.offsets.buffer],
  );
}

const tables = new Map<string, TokenTable>();
function tokenTable(key: string, tok: ChatTokenizer): TokenTable {
  let t = tables.get(key);
  if (!t) {
    const parts = Array.from({ length: tok.vocabSize }, (_, id) => tok.tokenBytes(id));
    const offsets = new Int32Array(parts.length + 1);
    parts.forEach((p, i) => (offsets[i + 1] = offsets[i] + p.length));
    const bytes = new Uint8Array(offsets[parts.length]);
    parts.forEach((p, i) => bytes.set(p, offsets[i]));
    t = { bytes, offsets };
    tables.set(key, t);
  }
  return t;
}

async function prompt(req: PromptRequest): Promise<PromptReply> {
  const pr = parseText(req.text);
  if (!pr.ok) throw new CodedError(msg('data.promptNoParse', { detail: placedError(pr.error) }));
  const conv = pr.samples[req.sample];
  if (!conv) throw new CodedError(msg('data.noSuchSample', { n: req.sample + 1, count: pr.samples.length }));
  const { tok } = withOwn(await getTokenizer('default', req.modelTokenizer), tokenizerKey('default', req.modelTokenizer), req.ownTemplate).loaded;
  let last = -1;
  conv.forEach((msg, i) => {
    if (msg.role === 'assistant') last = i;
  });
  const context = last >= 0 ? conv.slice(0, last) : conv;
  if (context.length === 0) throw new CodedError(msg('data.noPrompt'));
  const tools = pr.tools?.[req.sample] ?? null;
  const { rendered: text, ids } = encodeChat(tok, context, (c) => tok.render(c, true, tools), { splitSpecialTokens: req.splitSpecialTokens });
  return { ids: Int32Array.from(ids), text, reference: last >= 0 ? conv[last].content : null };
}

/** The masking lab's rows for the shown sample: each strategy on the same conversation and tokenizer. */
async function lab(req: LabRequest, ctx: Status): Promise<Transfer<LabReply>> {
  const t0 = performance.now();
  const pr = parseText(req.text);
  if (!pr.ok) throw new CodedError(msg('data.labNoParse', { detail: placedError(pr.error) }));
  if (pr.samples.length === 0) throw new CodedError(msg('data.labNoSample'));
  if (req.choices.length === 0 || req.choices.length > MAX_LAB_ROWS) throw new CodedError(msg('data.labChoices', { max: MAX_LAB_ROWS, n: req.choices.length }));
  const index = Math.min(Math.max(0, req.sampleIndex), pr.samples.length - 1);
  const own = withOwn(await tokenizer(req.tokenizerId, whose(req), ctx), tokenizerKey(req.tokenizerId, whose(req)), req.ownTemplate);
  const loaded = own.loaded;
  const maxLength = resolveContextLength(req.tokenizerId, req.contextLength, loaded.modelMaxLength, req.modelTokenizer);
  const family = detectFamily(loaded.tok);
  // The view's own tokenization (cached when the view just labelled this sample): the template-spans
  // row reuses it, and every row's roles are read from it.
  const view = tokenizeSample(req.text, index, own.key, loaded, pr.samples[index], req.splitSpecialTokens);
  const input = {
    tok: loaded.tok, family, conversation: pr.samples[index], tools: pr.tools?.[index] ?? null, maxLength, policy: req.policy, splitSpecialTokens: req.splitSpecialTokens,
    tokenized: view.sample,
  };
  const rows: LabRow[] = req.choices.map((c) => runStrategy(c, input));
  const texts = rows.map((r) => Array.from(r.ids, (_, i) => r.text.slice(r.starts[i], r.ends[i])));
  const alignment = alignRows(texts);
  const ownTexts = view.sample.tokens.map((t) => t.text);
  const template = ROLE_CODES.indexOf('template');
  const roles = texts.map((t) => {
    const a = alignRows([ownTexts, t]);
    const out = new Uint8Array(t.length).fill(template);
    for (let c = 0; c < a.C; c++) {
      const mine = a.cells[c * 2];
      const theirs = a.cells[c * 2 + 1];
      if (mine >= 0 && theirs >= 0) out[theirs] = view.columns.roles[mine];
    }
    return out;
  });
  const buffers = rows.flatMap((r) => [r.ids.buffer, r.labels.buffer, r.starts.buffer, r.ends.buffer, r.reasonIndex.buffer]);
  return new Transfer(
    { rows, alignment, roles, family, tokenizerLabel: loaded.tok.label, contextLength: maxLength, ms: performance.now() - t0 },
    [...buffers, ...roles.map((r) => r.buffer), alignment.cells.buffer] as ArrayBuffer[],
  );
}

/**
 * `run` for the newest request only: while one runs, a newer one replaces the one waiting (which
 * fails as superseded). The view's label requests and the lab's rows each have their own.
 */
function newestOnly<Req, Res>(run: (req: Req, ctx: Status) => Promise<Res>): (req: Req, ctx: Status) => Promise<Res> {
  let waiting: { req: Req; ctx: Status; resolve(v: Res): void; reject(e: unknown): void } | null = null;
  let running = false;
  const drain = async () => {
    if (running) return;
    running = true;
    try {
      while (waiting) {
        const w = waiting;
        waiting = null;
        await run(w.req, w.ctx).then(w.resolve, w.reject);
      }
    } finally {
      running = false;
    }
  };
  return (req, ctx) =>
    new Promise<Res>((resolve, reject) => {
      waiting?.reject(new HandlerError('a newer request replaced this one', SUPERSEDED)); // never shown
      waiting = { req, ctx, resolve, reject };
      void drain();
    });
}
const labNewest = newestOnly(lab);
const labelNewest = newestOnly(label);

const preflight = preflightHandlers({
  async tokenizer(req, ctx) {
    const base = await tokenizer(req.tokenizerId, whose(req), { emit: (e) => ctx.emit({ done: 0, total: 0, status: e.status }) } as Status);
    const loaded = withOwn(base, tokenizerKey(req.tokenizerId, whose(req)), req.ownTemplate).loaded;
    return { tok: loaded.tok, maxLength: resolveContextLength(req.tokenizerId, req.contextLength, loaded.modelMaxLength, req.modelTokenizer) };
  },
});

/** A tokenizer on its own: load it (its files only) and say what it is. */
async function tokenizerInfo(req: TokenizerInfoRequest, ctx: Status): Promise<TokenizerInfo> {
  const loaded = await tokenizer('custom', req.tokenizer, ctx);
  const chosen = templateChoice.get(tokenizerKey('custom', req.tokenizer)) ?? { names: [], name: null, file: 'tokenizer_config.json' };
  return {
    label: loaded.tok.label, vocabSize: loaded.tok.vocabSize, templateNames: chosen.names, templateName: chosen.name, templateFile: chosen.file,
    modelMaxLength: loaded.modelMaxLength, warnings: loaded.tok.warnings,
  };
}

serve<DataProtocol>({
  ...preflight,
  tokenizerInfo: (req, ctx) => tokenizerInfo(req, ctx),
  lab: (req, ctx) => labNewest(req, ctx),
  label: (req, ctx) => labelNewest(req, ctx),
  prepare: (req, ctx) => prepare(req, ctx),
  prompt: (req) => prompt(req),
});
