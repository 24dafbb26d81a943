// Data worker: pasted text → parse → chat template → tokens + roles → labels → context check.
// Runs off the main thread so a 1 MB paste never freezes typing. Protocol: see protocol.ts.
//
// Caching, cheapest change first:
//   settings only (mask policy, overrides, context length) → labels recomputed, tokens not resent;
//   sample index or tokenizer → tokenization redone, parse reused;
//   text → everything.
// Requests are coalesced: when several arrive while one step runs, only the newest is processed.
import {
  TOKENIZERS,
  checkContext,
  computeLabels,
  loadTokenizer,
  parseChatInput,
  tokenizeConversation,
  type ChatTokenizer,
  type ParseResult,
  type TokenizedSample,
  type TokenizerId,
  type TokenizerSource,
} from '../data';
import { fetchModelFile, resolveModelSource } from '../model/hub';
import {
  FLAG_END_OF_TURN,
  FLAG_STRADDLES,
  ROLE_CODES,
  resolveContextLength,
  type FailStage,
  type LabelColumns,
  type ModelTokenizer,
  type ParseInfo,
  type RunRequest,
  type TokenColumns,
  type WorkerReply,
} from './dataProtocol';

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
  sample: TokenizedSample;
  columns: TokenColumns;
}
let tokenized: Tokenized | null = null;
/** Tokenizations are numbered; the number is the key that ties labels to their tokens. */
let tokenizationCount = 0;
/** Key of the tokenization last sent to the main thread, which keeps the last columns it
 *  received even from replies it otherwise ignores, so a repeat can be omitted. */
let sentKey: string | null = null;

const post = (reply: WorkerReply, transfer: Transferable[] = []) =>
  (self as unknown as Worker).postMessage(reply, transfer);

async function fetchJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not load ${url}: HTTP ${res.status} ${res.statusText}`);
  return res.json();
}

/** 'default' with a loaded model names that model's files; otherwise the fixed TOKENIZERS entry. */
const tokenizerKey = (id: TokenizerId, model: ModelTokenizer | null) => (id === 'default' && model ? `model:${model.source}` : id);

function tokenizerSource(id: TokenizerId, model: ModelTokenizer | null): { src: TokenizerSource; fetch: (url: string) => Promise<unknown> } | null {
  if (id === 'default' && model) {
    // Through the model loader's fetch: a Hub model's files are in its Cache Storage by the time
    // the model has loaded, so they are not downloaded twice.
    const loc = resolveModelSource(model.source);
    const files: Record<string, string> = { [`${loc.baseUrl}tokenizer.json`]: 'tokenizer.json', [`${loc.baseUrl}tokenizer_config.json`]: 'tokenizer_config.json' };
    const src: TokenizerSource = { id, label: model.label, tokenizerUrl: `${loc.baseUrl}tokenizer.json`, configUrl: `${loc.baseUrl}tokenizer_config.json` };
    return { src, fetch: async (url) => JSON.parse(new TextDecoder().decode(await fetchModelFile(loc, files[url]))) };
  }
  const src = TOKENIZERS.find((s) => s.id === id);
  return src ? { src, fetch: fetchJson } : null;
}

function getTokenizer(id: TokenizerId, model: ModelTokenizer | null): Promise<LoadedTokenizer> {
  const key = tokenizerKey(id, model);
  let p = tokenizers.get(key);
  if (!p) {
    // One loaded model at a time: an earlier model's tokenizer (tens of MB parsed) is not needed again soon.
    if (key.startsWith('model:')) for (const k of tokenizers.keys()) if (k.startsWith('model:')) tokenizers.delete(k);
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
    flags[i] = (t.straddles ? FLAG_STRADDLES : 0) | (t.isEndOfTurn ? FLAG_END_OF_TURN : 0);
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
    roundTrip: joined === sample.rendered,
    tokenizerLabel: loaded.tok.label,
    modelMaxLength: loaded.modelMaxLength,
  };
}

class StepError extends Error {
  constructor(
    readonly stage: FailStage,
    message: string,
    readonly where: { line?: number; column?: number; sample?: number } = {},
  ) {
    super(message);
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

let pending: RunRequest | null = null;
let running = false;

async function run(req: RunRequest): Promise<void> {
  const t0 = performance.now();
  // 1. Parse (cached by text).
  if (!parsed || parsed.text !== req.text) {
    parsed = { text: req.text, result: parseChatInput(req.text) };
  }
  const pr = parsed.result;
  if (!pr.ok) {
    post({ kind: 'error', seq: req.seq, stage: 'parse', error: pr.error, parse: null });
    return;
  }
  const sampleCount = pr.samples.length;
  const sampleIndex = Math.min(Math.max(0, req.sampleIndex), Math.max(0, sampleCount - 1));
  const parse: ParseInfo = { format: pr.format, formatLabel: pr.formatLabel, sampleCount, sampleIndex };
  try {
    if (sampleCount === 0) {
      throw new StepError('sample', 'The input parsed, but it holds no chat sample. Paste at least one message.');
    }
    // 2. Tokenizer (cached per id; first use downloads 1–11 MB, so say so).
    const key = tokenizerKey(req.tokenizerId, req.modelTokenizer);
    const srcLabel = tokenizerSource(req.tokenizerId, req.modelTokenizer)?.src.label ?? req.tokenizerId;
    let loaded: LoadedTokenizer;
    try {
      if (!tokenizers.has(key)) post({ kind: 'status', seq: req.seq, message: `Loading the ${srcLabel} tokenizer…` });
      loaded = await getTokenizer(req.tokenizerId, req.modelTokenizer);
    } catch (err) {
      throw new StepError('tokenizer', `Could not load the ${srcLabel} tokenizer: ${messageOf(err)}. Pick another tokenizer or check that its files are served.`);
    }
    // 3. Template + tokenize + attribute (cached by text, sample, tokenizer).
    const same =
      tokenized !== null &&
      tokenized.text === req.text &&
      tokenized.sampleIndex === sampleIndex &&
      tokenized.tokenizerKey === key;
    if (!tokenized || !same) {
      let sample: TokenizedSample;
      try {
        sample = tokenizeConversation(loaded.tok, pr.samples[sampleIndex]);
      } catch (err) {
        throw new StepError('template', `Sample ${sampleIndex + 1}: ${messageOf(err)}`, { sample: sampleIndex });
      }
      const columns = toColumns(`t${++tokenizationCount}`, sample, loaded);
      tokenized = { text: req.text, sampleIndex, tokenizerKey: key, sample, columns };
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
      throw new StepError('labels', messageOf(err));
    }
    // Labels are fresh arrays per request: transfer them. Token columns are cached here, so they
    // are cloned (once per tokenization), not transferred.
    const tokens = sentKey === columnsKey ? null : tokenized.columns;
    sentKey = columnsKey;
    post(
      { kind: 'result', seq: req.seq, parse, tokens, labels, ms: performance.now() - t0 },
      [labels.labels.buffer, labels.weights.buffer],
    );
  } catch (err) {
    const stage: FailStage = err instanceof StepError ? err.stage : 'template';
    const where = err instanceof StepError ? err.where : {};
    post({ kind: 'error', seq: req.seq, stage, error: { message: messageOf(err), ...where }, parse });
  }
}

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    while (pending) {
      const req = pending;
      pending = null;
      await run(req);
    }
  } finally {
    running = false;
  }
}

self.onmessage = (ev: MessageEvent<RunRequest>) => {
  pending = ev.data;
  void drain();
};
