/**
 * The training worker: acquires the GPU, loads the model, trains every run side by side
 * (trainSession.ts: one Engine per run on one device) on the samples the data worker prepared,
 * and answers heatmap, answer and export requests. Protocol: trainProtocol.ts over protocol.ts.
 * Nothing here blocks the page: the main thread only receives small step events and the arrays
 * it asked for. It holds no tokenizer: the labels it trains on are the ones the token view shows
 * (computed once, in the data worker), and answers are decoded with the data worker's token table.
 *
 * Loading another model: the one in use stays until the new one has loaded completely (so a
 * failed download, an unsupported architecture or a model too large for the GPU change nothing);
 * a newer load, or cancelLoad, aborts the download in progress.
 */
import { acquireDevice, type Gpu } from '../gpu/device';
import type { LoadedModel as LoaderModel } from '../model/loader';
import { loadForTraining } from '../model/trainLoad';
import { checkMemory, mib } from '../model/memoryCheck';
import { exportFineTuned } from '../model/export';
import { exportLoraRun } from '../model/peftExport';
import { decoderBytes } from '../engine/generation';
import { defaultF16Weights } from '../engine/trainer';
import { IGNORE_INDEX } from '../spec/loss';
import { optimizerProblems } from '../spec/optimizer';
import { CodedError, englishOf, joined, messageOfError, msg, uncoded, type Message } from '../spec/message';
import type { TokenTable } from './dataProtocol';
import type { TrainingState } from '../engine/trainer';
import { forgetCheckpoint, forgetOthers, loadCheckpoint, saveCheckpoint } from './checkpoints';
import { Transfer, serve, type RequestOf } from './protocol';
import { loraLayout, pickSnapshotSteps, sessionBytes, sessionShape, TrainingSession } from './trainSession';
import { runSequence, unpackSamples } from './trainPlan';
import { MAX_ANSWER_TOKENS, type Answer, type HeatmapData, type LoadedModel, type TrainBroadcast, type TrainProtocol } from './trainProtocol';

type Req<K extends keyof TrainProtocol & string> = RequestOf<TrainProtocol, K>;

/** The stop meter is measured at about this many steps of a training (each is one forward pass per run). */
const METER_POINTS = 25;
/** The held-out loss is measured at about this many steps (each is a forward pass per run over the held-out samples). */
const HELD_OUT_POINTS = 20;
/** Weight snapshots kept for the heatmap, over all runs together. */
const SNAPSHOT_BUDGET_BYTES = 256 * 2 ** 20;
const MAX_SNAPSHOTS = 8;

interface Model {
  /** What the loader returned: config, base weights, config.json and tokenizer files (export copies them). */
  lm: LoaderModel;
  loaded: LoadedModel;
}

let gpuPromise: Promise<Gpu> | null = null;
let model: Model | null = null;
let session: TrainingSession | null = null;
let training: Promise<unknown> | null = null;
/** What the running session was prepared with: the token table and stop ids for answers. */
let vocab: TokenTable | null = null;
let stopIds: number[] = [];
/** The running training's id (its saved weights), and the runs whose saved weights were forgotten. */
let trainingId: string | null = null;
const forgotten = new Set<number>();

/** A checkpoint every tenth of the steps: a reload or a lost device costs at most that much. */
const checkpointEvery = (steps: number) => Math.max(1, Math.ceil(steps / 10));
/** A start is building its engines; a stop that arrives meanwhile ends the run at once. */
let starting = false;
let stopWhenStarted = false;
/** The load in progress (a newer load or cancelLoad aborts it). */
let loading: AbortController | null = null;

const rpc = serve<TrainProtocol, TrainBroadcast>({
  gpu: async () => (await gpu()).adapter,
  load,
  cancelLoad: () => void loading?.abort(),
  start: async (m, ctx) => {
    starting = true;
    stopWhenStarted = false;
    let run: { done: Promise<TrainProtocol['start']['res']> };
    try {
      run = await start(m, (e) => ctx.emit(e));
    } finally {
      starting = false;
    }
    if (stopWhenStarted) session?.stop();
    return run.done;
  },
  pause: () => session?.pause(),
  resume: () => session?.resume(),
  stop: () => {
    if (session) session.stop();
    else stopWhenStarted = starting;
  },
  reset,
  forget: async (m) => {
    if (m.training === trainingId && m.run !== null) forgotten.add(m.run);
    const meta = await forgetCheckpoint(m.training, m.run);
    return { bytes: meta?.bytes ?? 0 };
  },
  loseDevice: async () => (await gpu()).device.destroy(),
  evaluate: heatmap,
  generate: answers,
  export: exportRun,
});

/** The device; after a loss the next call acquires a new one (the runs come back from their checkpoint). */
function gpu(): Promise<Gpu> {
  if (!gpuPromise) {
    const p = acquireDevice();
    gpuPromise = p;
    p.then(
      (g) => {
        void g.device.lost.then((info) => {
          if (gpuPromise === p) gpuPromise = null;
          // The engines lived on that device: drop them (their state is in the last checkpoint).
          session?.stop();
          session = null;
          const lost = info.message ? msg('train.deviceLostWhy', { reason: String(info.reason), detail: info.message }) : msg('train.deviceLost', { reason: String(info.reason) });
          rpc.broadcast({ kind: 'deviceLost', message: englishOf(lost), msg: lost });
        });
      },
      () => {
        if (gpuPromise === p) gpuPromise = null; // the `gpu` request reports it; try again next time
      },
    );
  }
  return gpuPromise;
}

async function load(m: Req<'load'>, ctx: { emit(e: TrainProtocol['load']['event']): void }): Promise<LoadedModel> {
  loading?.abort();
  const abort = new AbortController();
  loading = abort;
  const cancelled = () => new CodedError(msg('train.loadCancelled', { url: m.source.url }));
  try {
    const g = await gpu().catch(() => null); // the `gpu` request reports a failure; the model still loads
    const next = await loadForTraining(m.source.url, g?.adapter.limits ?? null, abort.signal, (p) => ctx.emit(p)).catch((err: unknown) => {
      throw abort.signal.aborted ? cancelled() : err;
    });
    if (abort.signal.aborted) throw cancelled();
    // Runs were built on the old model's weights: they go with it (the page asked before loading).
    await reset();
    model = { lm: next.lm, loaded: next.summary };
    return next.summary;
  } finally {
    if (loading === abort) loading = null;
  }
}

function need<T>(v: T | null, what: Message): T {
  if (v === null) throw new CodedError(what);
  return v;
}

/** Build the session and start training; resolves once it runs, with the promise of its end (boxed: a promise would be awaited through). */
async function start(m: Req<'start'>, emit: (e: TrainProtocol['start']['event']) => void): Promise<{ done: Promise<TrainProtocol['start']['res']> }> {
  const md = need(model, msg('train.modelNotLoadedWait'));
  const g = await gpu();
  await reset();
  const problems = optimizerProblems(m.optimizer);
  if (problems.length) throw new CodedError(msg('train.optimizerSettings', { detail: joined(problems) }));
  const config = md.lm.config;
  const prepared = unpackSamples(m.data.samples);
  const runs = m.runs;
  if (prepared.length === 0) throw new CodedError(msg('data.prepareNoSample'));
  if (m.data.contextLength > config.max_position_embeddings) {
    throw new CodedError(msg('train.pastPositions', { n: m.data.contextLength, max: config.max_position_embeddings }));
  }
  const { B, T } = sessionShape(prepared, m.optimizer.batchSize);
  // Refuse before allocating: every buffer must fit the adapter's binding limit (checkMemory, the
  // engine's own size table); the total is what all runs, the scratch engine and answers need.
  const genContext = Math.min(config.max_position_embeddings, T + MAX_ANSWER_TOKENS);
  const f16Weights = defaultF16Weights(g.adapter);
  const memoryBytes = sessionBytes(config, runs, B, T, f16Weights, m.trainings) + decoderBytes(config, genContext).total;
  // The buffers of the largest kind of run must fit: full fine-tuning if any run does it, else LoRA.
  const trainings = Array.from({ length: runs }, (_, r) => m.trainings?.[r]);
  const lora = trainings.every((t) => t?.mode === 'lora') ? loraLayout(trainings[0]) : null;
  const fit = checkMemory(config, B, T, 1, g.adapter.limits, { generationContext: genContext, f16Weights, lora });
  if (!fit.ok) {
    throw new CodedError(msg('train.doesNotFit', { count: runs, name: md.loaded.name, B, T, total: mib(memoryBytes), detail: fit.msg ?? uncoded(fit.problems.join('; ')) }));
  }
  const snapshotCount = Math.min(MAX_SNAPSHOTS, Math.floor(SNAPSHOT_BUDGET_BYTES / (md.loaded.bytes * runs)));
  const from = m.resume?.step ?? 0;
  const snapshotSteps = pickSnapshotSteps(m.optimizer.steps, snapshotCount).filter((k) => k > from);
  let resume: { step: number; states: (TrainingState | null)[] } | undefined;
  forgotten.clear();
  if (m.resume) {
    const saved = await loadCheckpoint(m.resume.id, m.resume.step).catch((err: unknown) => {
      throw new CodedError(msg('train.savedUnreadable', { detail: messageOfError(err) }));
    });
    resume = { step: saved.meta.step, states: saved.states };
    saved.meta.forgotten.forEach((r) => forgotten.add(r));
  } else {
    // A new training: the saved weights of earlier ones go (the page asked before discarding them).
    await forgetOthers(null).catch(() => undefined);
  }
  trainingId = m.training;
  session = await TrainingSession.create({
    gpu: g, config, base: md.lm.weights, runs, samples: prepared, optimizer: m.optimizer, padId: m.data.padId, snapshotSteps,
    meter: m.data.stopMeter ? { ...m.data.stopMeter, every: Math.max(1, Math.ceil(m.optimizer.steps / METER_POINTS)) } : undefined,
    lossModes: m.lossModes, trainings: m.trainings, heldOutEvery: Math.max(1, Math.ceil(m.optimizer.steps / HELD_OUT_POINTS)),
    resume, checkpointEvery: checkpointEvery(m.optimizer.steps),
  }).catch((err) => {
    throw new CodedError(msg('train.buildFailed', { detail: messageOfError(err), total: mib(memoryBytes) }));
  });
  vocab = m.data.vocab;
  stopIds = [...new Set([...md.loaded.stopIds, ...m.data.stopIds])];
  // Position 0 predicts nothing: a token's label counts from position 1 (the HF shift).
  const held = new Set(session.heldOut);
  const trainedPerRun = Array.from({ length: runs }, (_, r) => prepared.reduce((n, s, i) => (held.has(i) ? n : n + runSequence(s, r).labels.slice(1).filter((l) => l !== IGNORE_INDEX).length), 0));
  emit({
    kind: 'started',
    info: { samples: prepared.length, cutSamples: prepared.filter((s) => s.fullLength > s.ids.length).length, B, T, memoryBytes, snapshotSteps, trainedPerRun, heldOut: [...session.heldOut] },
  });
  const s = session;
  const id = m.training;
  const save = async (step: number, states: TrainingState[]) => {
    try {
      const meta = await saveCheckpoint(id, step, states, [...forgotten]);
      emit({ kind: 'checkpoint', step, bytes: meta.bytes });
    } catch (err) {
      emit({ kind: 'checkpointFailed', step, message: messageOf(err), msg: messageOfError(err) });
    }
  };
  const trained = m.hold
    ? Promise.resolve<'completed' | 'stopped'>(s.completed >= m.optimizer.steps ? 'completed' : 'stopped')
    : s.train((e) => emit({ kind: 'step', ...e }), (step) => emit({ kind: 'snapshot', step }), save, (run, step, p) => emit({ kind: 'stopMeter', run, step, p }), (run, step, loss) => emit({ kind: 'heldOut', run, step, loss }));
  const done = trained
    .then(
      (reason) => ({ reason, steps: s.completed }),
      (err) => ({ reason: 'error' as const, steps: s.completed, message: messageOf(err), msg: messageOfError(err) }),
    )
    .finally(() => {
      if (training === done) training = null;
    });
  training = done;
  return { done };
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

async function exportRun(m: Req<'export'>) {
  const md = need(model, msg('train.modelNotLoaded'));
  const s = need(session, msg('train.noWeights'));
  if (s.isTraining && !s.isPaused) throw new CodedError(msg('train.weightsChanging'));
  notForgotten(m.run);
  if (m.adapter) {
    const a = await s.adapter(m.run);
    if (!a) throw new CodedError(msg('train.noAdapter', { n: m.run + 1 }));
    return exportLoraRun(md.lm, { lora: a.lora, getAdapter: async () => a.tensors, getParameters: () => s.weights(m.run) }, { metadata: { ...m.metadata, steps: String(s.completed) } });
  }
  const weights = await s.weights(m.run);
  return exportFineTuned({ ...md.lm, sideFiles: jsonSideFiles(md.lm.sideFiles) }, weights, { ...m.metadata, steps: String(s.completed) });
}

async function reset(): Promise<void> {
  session?.stop();
  await training;
  session?.dispose();
  session = null;
}

/** Runs whose saved weights were forgotten hold the base weights: nothing to show for them. */
function notForgotten(run: number): void {
  if (forgotten.has(run)) throw new CodedError(msg('train.forgotten', { n: run + 1 }));
}

async function heatmap(m: Req<'evaluate'>): Promise<Transfer<HeatmapData>> {
  const s = need(session, msg('train.nothingToEvaluate'));
  notForgotten(m.run);
  const sample = runSequence(s.sample(m.sample), m.run);
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
  const next = s.reported(m.run, ev.step + 1);
  const objective = next && { step: ev.step + 1, value: next.objective, status: next.status, batchIsSample: next.samples.length === 1 && next.samples[0] === m.sample };
  const table = vocab;
  const pieces = Array.from(sample.ids, (id) => (table ? decode(table, [id]) : String(id)));
  const data: HeatmapData = {
    run: m.run, step: ev.step, sample: m.sample, ids: sample.ids.slice(), labels: sample.labels.slice(), loss, dlogit, dembed,
    weights: sample.weights.slice(), pieces, lossMode: s.lossMode(m.run), objective,
  };
  return new Transfer(data, [data.ids.buffer, data.labels.buffer, loss.buffer, dlogit.buffer, dembed.buffer, data.weights.buffer]);
}

/** Text of `ids` from the data worker's token table (a byte-level piece may be half a character). */
function decode(table: TokenTable, ids: readonly number[]): string {
  const parts = ids.map((id) => table.bytes.subarray(table.offsets[id], table.offsets[id + 1]));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(bytes);
}

async function answers(m: Req<'generate'>, ctx: { emit(e: TrainProtocol['generate']['event']): void }): Promise<Answer[]> {
  const s = need(session, msg('train.noRunsYet'));
  const table = need(vocab, msg('train.noRunsYet'));
  const prompt = Array.from(m.prompt);
  const stop = new Set(stopIds);
  const maxNew = Math.min(MAX_ANSWER_TOKENS, Math.max(1, Math.trunc(m.maxNewTokens)));
  // Generation reads the runs' live weights: hold training (after the steps in flight) meanwhile.
  const hold = s.isTraining && !s.isPaused;
  if (hold) s.pause();
  const out: Answer[] = [];
  try {
    for (const which of ['base' as const, ...Array.from({ length: s.runs }, (_, r) => r).filter((r) => !forgotten.has(r))]) {
      const run = which === 'base' ? -1 : which;
      const t0 = performance.now();
      const ids: number[] = [];
      const g = await s.generate(which, prompt, maxNew, stop, m.sampling, (t) => {
        ids.push(t.id);
        if (!stop.has(t.id)) ctx.emit({ run, text: decode(table, ids) });
      });
      const stopped = g.reason === 'end_of_turn';
      out.push({
        run,
        text: decode(table, stopped ? g.tokens.slice(0, -1) : g.tokens),
        tokens: g.tokens.length,
        ms: performance.now() - t0,
        stoppedBy: stopped ? 'stop token' : 'length',
      });
    }
  } finally {
    if (hold) s.resume();
  }
  return out;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
