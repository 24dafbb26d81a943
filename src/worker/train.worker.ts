/**
 * The training worker: acquires the GPU, loads the model, tokenizes the data set with the model's
 * tokenizer, trains every run side by side (trainSession.ts: one Engine per run on one device),
 * and answers heatmap, answer and export requests. Protocol: trainProtocol.ts. Nothing here blocks
 * the page: the main thread only receives small step events and the arrays it asked for.
 *
 * Loading another model: the one in use stays until the new one has loaded completely (so a
 * failed download, an unsupported architecture or a model too large for the GPU change nothing);
 * a newer load, or cancelLoad, aborts the download in progress.
 */
import { acquireDevice, type Gpu } from '../gpu/device';
import { parseChatInput } from '../data/parse';
import { loadTokenizer } from '../data/tokenizer';
import { tokenizeConversation } from '../data/attribution';
import type { ChatTokenizer, Conversation, TokenizedSample } from '../data/types';
import { loadModel, type LoadedModel as LoaderModel } from '../model/loader';
import { resolveModelSource } from '../model/hub';
import { checkMemory, mib, type MemoryLimits } from '../model/memoryCheck';
import { exportFineTuned } from '../model/export';
import { decoderBytes } from '../engine/generation';
import { defaultF16Weights } from '../engine/trainer';
import { checkOptimizer } from '../spec/optimizer';
import { checkOverrides, policiesFor, prepareSample, type PreparedSample } from './trainPlan';
import { loadFit } from '../model/trainLoad';
import { pickSnapshotSteps, sessionBytes, sessionShape, TrainingSession } from './trainSession';
import { MAX_ANSWER_TOKENS, type Answer, type FromTrainer, type HeatmapData, type LoadedModel, type ModelSource, type ToTrainer } from './trainProtocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromTrainer, transfer: Transferable[] = []) => scope.postMessage(m, transfer);
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Weight snapshots kept for the heatmap, over all runs together. */
const SNAPSHOT_BUDGET_BYTES = 256 * 2 ** 20;
const MAX_SNAPSHOTS = 8;

interface Model {
  /** What the loader returned: config, base weights, config.json and tokenizer files (export copies them). */
  lm: LoaderModel;
  tok: ChatTokenizer;
  loaded: LoadedModel;
}

let gpuPromise: Promise<Gpu> | null = null;
let model: Model | null = null;
let session: TrainingSession | null = null;
let training: Promise<void> | null = null;
let conversations: Conversation[] = [];
let prepared: PreparedSample[] = [];
/** A start is building its engines; a stop that arrives meanwhile ends the run at once. */
let starting = false;
let stopWhenStarted = false;
/** The load in progress (a newer load or cancelLoad aborts it). */
let loading: { id: number; abort: AbortController } | null = null;

function gpu(): Promise<Gpu> {
  if (!gpuPromise) {
    gpuPromise = acquireDevice();
    gpuPromise.then(
      (g) => {
        post({ type: 'gpu', ok: true, adapter: g.adapter });
        void g.device.lost.then((info) => {
          if (info.reason !== 'destroyed') post({ type: 'error', message: `The GPU device was lost (${info.reason}): ${info.message}. Reload the page to train again.` });
        });
      },
      (err) => post({ type: 'gpu', ok: false, message: messageOf(err) }),
    );
  }
  return gpuPromise;
}

/**
 * The model through src/model/loader.ts (folder URL or Hub id, Cache Storage, progress), and its
 * tokenizer from the files the loader already parsed.
 */
async function loadFromSource(id: number, src: ModelSource, limits: MemoryLimits | null, signal: AbortSignal): Promise<Model> {
  const loc = resolveModelSource(src.url);
  const name = loc.kind === 'hub' ? loc.repo ?? loc.source : decodeURIComponent(loc.baseUrl.replace(/\/$/, '').split('/').pop() || loc.baseUrl);
  let lastPost = 0;
  let fitNote: string | null = null;
  const lm = await loadModel(src.url, {
    signal,
    // Before the weights download: refuse a model that cannot train here (no GPU: no check, the
    // token view still uses the model's tokenizer).
    checkConfig: (info) => {
      if (!limits) return;
      const fit = loadFit(name, info.config, limits);
      if (fit.refuse) throw new Error(fit.refuse);
      fitNote = fit.note;
    },
    onProgress: (p) => {
      const now = performance.now();
      if (p.done || now - lastPost > 100) {
        lastPost = now;
        post({ type: 'loadProgress', id, file: p.file, loaded: p.received, total: p.total, bytesReceived: p.bytesReceived, cached: p.cached });
      }
    },
  });
  const tokUrl = `${lm.location.baseUrl}tokenizer.json`;
  const cfgUrl = `${lm.location.baseUrl}tokenizer_config.json`;
  const tok = await loadTokenizer(
    { id: 'default', label: name, tokenizerUrl: tokUrl, configUrl: cfgUrl },
    async (url) => (url === tokUrl ? lm.tokenizerJson : lm.tokenizerConfig),
  );
  if (tok.vocabSize > lm.config.vocab_size) {
    throw new Error(`${name}: the tokenizer has ${tok.vocabSize} tokens but the model's vocab_size is ${lm.config.vocab_size}; they do not belong together.`);
  }
  const stopIds = [...new Set([...lm.stopTokenIds, tok.eosTokenId, ...tok.endOfTurnTokenIds])];
  return {
    lm, tok,
    loaded: {
      name, source: loc.source, kind: loc.kind, url: lm.location.baseUrl, config: lm.config, params: lm.parameterCount, bytes: lm.parameterCount * 4,
      stopIds, tokenizerLabel: tok.label, notes: lm.notes, memoryNote: fitNote,
    },
  };
}

async function load(m: Extract<ToTrainer, { type: 'load' }>): Promise<void> {
  loading?.abort.abort();
  const mine = { id: m.id, abort: new AbortController() };
  loading = mine;
  try {
    const g = await gpu().catch(() => null); // a failure is reported by gpu(); the model still loads
    const next = await loadFromSource(m.id, m.source, g?.adapter.limits ?? null, mine.abort.signal).catch((err: unknown) => {
      throw mine.abort.signal.aborted ? new Error(`Loading ${m.source.url} was cancelled.`) : err;
    });
    if (mine.abort.signal.aborted) throw new Error(`Loading ${m.source.url} was cancelled.`);
    // Runs were built on the old model's weights: they go with it (the page asked before loading).
    await reset();
    conversations = [];
    prepared = [];
    model = next;
    post({ type: 'loaded', id: m.id, model: next.loaded });
  } finally {
    if (loading === mine) loading = null;
  }
}

function need<T>(v: T | null, what: string): T {
  if (v === null) throw new Error(what);
  return v;
}

async function start(m: Extract<ToTrainer, { type: 'start' }>): Promise<void> {
  const md = need(model, 'The model is not loaded yet; wait for the progress bar to finish.');
  const g = await gpu();
  await reset();
  const problems = checkOptimizer(m.optimizer);
  if (problems.length) throw new Error(`Optimizer settings: ${problems.join(' ')}`);
  const parsed = parseChatInput(m.text);
  if (!parsed.ok) throw new Error(`The data does not parse: ${parsed.error.message}${parsed.error.line ? ` (line ${parsed.error.line}${parsed.error.column ? `, column ${parsed.error.column}` : ''})` : ''}. Fix the paste box first.`);
  if (parsed.samples.length === 0) throw new Error('The data holds no chat sample. Paste at least one conversation.');
  const config = md.lm.config;
  const maxLen = Math.min(m.contextLength, config.max_position_embeddings);
  conversations = parsed.samples;
  prepared = parsed.samples.map((conv, i) => {
    let sample: TokenizedSample;
    try {
      sample = tokenizeConversation(md.tok, conv);
    } catch (err) {
      throw new Error(`Sample ${i + 1}: ${messageOf(err)}`);
    }
    if (m.overrides && m.overrides.sample === i) {
      const why = checkOverrides(m.overrides, Int32Array.from(sample.tokens, (t) => t.id));
      if (why) throw new Error(`The hand overrides cannot be applied: ${why}.`);
    }
    return prepareSample(sample, policiesFor(m.policies, i, m.overrides), maxLen);
  });
  const runs = m.policies.length;
  const { B, T } = sessionShape(prepared, m.optimizer.batchSize);
  // Refuse before allocating: every buffer must fit the adapter's binding limit (checkMemory, the
  // engine's own size table); the total is what all runs, the scratch engine and answers need.
  const genContext = Math.min(config.max_position_embeddings, T + MAX_ANSWER_TOKENS);
  const f16Weights = defaultF16Weights(g.adapter);
  const memoryBytes = sessionBytes(config, runs, B, T, f16Weights) + decoderBytes(config, genContext).total;
  const fit = checkMemory(config, B, T, 1, g.adapter.limits, { generationContext: genContext, f16Weights });
  if (!fit.ok) {
    throw new Error(`${runs} run${runs === 1 ? '' : 's'} of ${md.loaded.name} at batch ${B} × ${T} tokens do not fit this GPU (${mib(memoryBytes)} in all): ${fit.message ?? fit.problems.join('; ')}`);
  }
  const snapshotCount = Math.min(MAX_SNAPSHOTS, Math.floor(SNAPSHOT_BUDGET_BYTES / (md.loaded.bytes * runs)));
  const snapshotSteps = pickSnapshotSteps(m.optimizer.steps, snapshotCount);
  session = await TrainingSession.create({
    gpu: g, config, base: md.lm.weights, runs, samples: prepared, optimizer: m.optimizer,
    padId: md.tok.padTokenId ?? md.tok.eosTokenId, snapshotSteps,
  }).catch((err) => {
    throw new Error(`${messageOf(err)} Remove a run, lower the batch size or the context length (all runs need about ${mib(memoryBytes)}).`);
  });
  const trainedPerRun = m.policies.map((_, r) => prepared.reduce((n, s) => n + s.labels[r].slice(1).filter((l) => l !== -100).length, 0));
  post({
    type: 'started', id: m.id,
    info: { samples: prepared.length, cutSamples: prepared.filter((s) => s.fullLength > s.ids.length).length, B, T, memoryBytes, snapshotSteps, trainedPerRun },
  });
  const s = session;
  training = s
    .train((e) => post({ type: 'step', ...e }), (step) => post({ type: 'snapshot', step }))
    .then(
      (reason) => post({ type: 'done', reason, steps: s.completed }),
      (err) => post({ type: 'done', reason: 'error', steps: s.completed, message: messageOf(err) }),
    )
    .finally(() => {
      training = null;
    });
}

/**
 * The side files that are what their name says: JSON objects. A dev server (Vite) or an SPA host
 * answers a missing optional file (special_tokens_map.json) with its index.html and status 200; the
 * loader keeps such bytes as they came, and an exported folder must not carry them.
 */
function jsonSideFiles(files: Record<string, Uint8Array>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const text = new TextDecoder('utf-8', { fatal: true });
  for (const [name, bytes] of Object.entries(files)) {
    if (name.endsWith('.json')) {
      try {
        const v: unknown = JSON.parse(text.decode(bytes));
        if (typeof v !== 'object' || v === null || Array.isArray(v)) continue;
      } catch {
        continue;
      }
    }
    out[name] = bytes;
  }
  return out;
}

async function exportRun(m: Extract<ToTrainer, { type: 'export' }>): Promise<void> {
  const md = need(model, 'The model is not loaded yet.');
  const s = need(session, 'There are no trained weights: train first (weights are not kept across reloads).');
  if (s.isTraining && !s.isPaused) throw new Error('The weights change every step: pause or stop the training, then download.');
  const weights = await s.weights(m.run);
  const files = exportFineTuned({ ...md.lm, sideFiles: jsonSideFiles(md.lm.sideFiles) }, weights, { ...m.metadata, steps: String(s.completed) });
  post({ type: 'exported', id: m.id, run: m.run, files });
}

async function reset(): Promise<void> {
  session?.stop();
  await training;
  session?.dispose();
  session = null;
}

async function heatmap(m: Extract<ToTrainer, { type: 'evaluate' }>): Promise<void> {
  const s = need(session, 'There are no runs to evaluate: train first.');
  const sample = prepared[m.sample];
  if (!sample) throw new Error(`Sample ${m.sample + 1} is not in the training data (${prepared.length} samples).`);
  const ev = await s.evaluate(m.run, m.at, m.sample);
  const L = sample.ids.length;
  const loss = new Float32Array(L).fill(NaN);
  const dlogit = new Float32Array(L);
  const dembed = new Float32Array(L);
  // Position t's logits predict token t+1: token i's loss and logit gradient live at t = i-1.
  for (let i = 1; i < L; i++) {
    loss[i] = ev.losses[i - 1];
    dlogit[i] = ev.dlogitNorms[i - 1];
  }
  dembed.set(ev.dembedNorms.subarray(0, L));
  const data: HeatmapData = { run: m.run, step: ev.step, sample: m.sample, ids: sample.ids.slice(), labels: sample.labels[m.run].slice(), loss, dlogit, dembed };
  post({ type: 'heatmap', id: m.id, data }, [data.ids.buffer, data.labels.buffer, loss.buffer, dlogit.buffer, dembed.buffer]);
}

function decode(tok: ChatTokenizer, ids: readonly number[]): string {
  const parts = ids.map((id) => tok.tokenBytes(id));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(bytes);
}

async function answers(m: Extract<ToTrainer, { type: 'generate' }>): Promise<void> {
  const md = need(model, 'The model is not loaded yet.');
  const s = need(session, 'There are no runs: train first.');
  const conv = conversations[m.sample];
  if (!conv) throw new Error(`Sample ${m.sample + 1} is not in the training data.`);
  let last = -1;
  conv.forEach((msg, i) => {
    if (msg.role === 'assistant') last = i;
  });
  const context = last >= 0 ? conv.slice(0, last) : conv;
  if (context.length === 0) throw new Error('The conversation starts with the assistant: there is no prompt to answer. Add a user message first.');
  const promptText = md.tok.render(context, true);
  const prompt = md.tok.encode(promptText);
  const stop = new Set(md.loaded.stopIds);
  const maxNew = Math.min(MAX_ANSWER_TOKENS, Math.max(1, Math.trunc(m.maxNewTokens)));
  // Generation reads the runs' live weights: hold training (after the steps in flight) meanwhile.
  const hold = s.isTraining && !s.isPaused;
  if (hold) s.pause();
  const out: Answer[] = [];
  try {
    for (const which of ['base' as const, ...Array.from({ length: s.runs }, (_, r) => r)]) {
      const t0 = performance.now();
      const g = await s.generate(which, prompt, maxNew, stop);
      const stopped = g.reason === 'end_of_turn';
      out.push({
        run: which === 'base' ? -1 : which,
        text: decode(md.tok, stopped ? g.tokens.slice(0, -1) : g.tokens),
        tokens: g.tokens.length,
        ms: performance.now() - t0,
        stoppedBy: stopped ? 'stop token' : 'length',
      });
    }
  } finally {
    if (hold) s.resume();
  }
  post({ type: 'answers', id: m.id, prompt: promptText, reference: last >= 0 ? conv[last].content : null, answers: out });
}

scope.onmessage = (e: MessageEvent<ToTrainer>) => {
  const m = e.data;
  const run = async () => {
    switch (m.type) {
      case 'load':
        await load(m);
        return;
      case 'cancelLoad':
        loading?.abort.abort();
        return;
      case 'start':
        starting = true;
        stopWhenStarted = false;
        try {
          await start(m);
        } finally {
          starting = false;
        }
        if (stopWhenStarted) session?.stop();
        return;
      case 'pause':
        session?.pause();
        return;
      case 'resume':
        session?.resume();
        return;
      case 'stop':
        if (session) session.stop();
        else stopWhenStarted = starting;
        return;
      case 'reset':
        await reset();
        post({ type: 'ok', id: m.id });
        return;
      case 'evaluate':
        await heatmap(m);
        return;
      case 'generate':
        await answers(m);
        return;
      case 'export':
        await exportRun(m);
        return;
    }
  };
  run().catch((err) => post({ type: 'error', id: 'id' in m ? m.id : undefined, message: messageOf(err) }));
};
