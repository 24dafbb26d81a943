/**
 * The engine side of the worker protocol, independent of the worker global so Node tests drive it
 * directly: `createEngineHost(post, acquire)` returns the message handler worker.ts installs.
 */
import type { Gpu } from '../gpu/device';
import { memoryEstimate } from './layout';
import { Engine, type EngineStepReport } from './trainer';
import { Decoder } from './generation';
import { generate, resolveOptions } from '../model/generate';
import type { FromEngine, ProgressEvent, ToEngine, TrainSettings } from './protocol';

export type Post = (msg: FromEngine, transfer?: Transferable[]) => void;

/** Steps submitted ahead of the one whose report is awaited (the GPU never idles between steps). */
const RUN_AHEAD = 2;

export function progressEvent(r: EngineStepReport): ProgressEvent {
  return {
    type: 'progress', step: r.step, status: r.status, message: r.message, objective: r.loss,
    promptLoss: r.promptCount > 0 ? r.promptLossSum / r.promptCount : null,
    responseLoss: r.responseCount > 0 ? r.responseLossSum / r.responseCount : null,
    trainedTokens: r.trainedCount, trainedWeight: r.trainedWeight, gradNorm: r.gradNorm, clipFactor: r.clipFactor,
    optimizerStep: r.optimizerStep, ms: r.ms,
  };
}

export function createEngineHost(post: Post, acquire: () => Promise<Gpu>): (msg: ToEngine) => Promise<void> {
  let gpu: Gpu | null = null;
  let engine: Engine | null = null;
  let settings: TrainSettings | null = null;
  let paused = false;
  let stopRequested = false;
  let resume: (() => void) | null = null;
  /** A run is submitting steps (possibly paused). */
  let running = false;
  /** The KV-cache decoder on the engine's weights, kept between generations (rebuilt when too short). */
  let decoder: Decoder | null = null;
  /** Aborts the generation in progress. */
  let generation: AbortController | null = null;

  const dropDecoder = () => {
    generation?.abort();
    decoder?.destroy();
    decoder = null;
  };

  const need = (): { engine: Engine; settings: TrainSettings } => {
    if (!engine || !settings) throw new Error('The engine is not initialised yet: send "init" first.');
    return { engine, settings };
  };

  const run = async (id: number, steps: number, plan: Extract<ToEngine, { type: 'run' }>['plan']) => {
    const { engine: e } = need();
    if (plan.length === 0) throw new Error('run: the plan has no steps (no batches to train on).');
    stopRequested = false;
    paused = false;
    running = true;
    const inflight: Promise<void>[] = [];
    let submitted = 0;
    try {
      for (; submitted < steps; submitted++) {
        if (paused) await new Promise<void>((r) => (resume = r));
        if (stopRequested) break;
        inflight.push(e.trainStep(plan[submitted % plan.length], need().settings).then((r) => post(progressEvent(r))));
        if (inflight.length > RUN_AHEAD) await inflight.shift();
      }
      await Promise.all(inflight);
    } finally {
      running = false;
    }
    post({ type: 'runDone', id, steps: submitted, reason: stopRequested ? 'stopped' : 'completed' });
  };

  return async (msg: ToEngine) => {
    try {
      switch (msg.type) {
        case 'init': {
          gpu ??= await acquire();
          dropDecoder();
          engine?.destroy();
          engine = null;
          engine = await Engine.create({ gpu, config: msg.config, B: msg.B, T: msg.T, microBatches: msg.microBatches, weights: msg.weights });
          settings = msg.settings;
          void gpu.device.lost.then((info) => post({ type: 'error', message: `The GPU device was lost (${info.reason}): ${info.message}. Reload the page to start again.` }));
          post({ type: 'ready', id: msg.id, adapter: gpu.adapter, memory: memoryEstimate(msg.config, msg.B, msg.T, msg.microBatches, engine.layout.vocabChunk, engine.f16Weights), B: msg.B, T: msg.T, microBatches: msg.microBatches });
          return;
        }
        case 'setSettings':
          settings = { ...need().settings, ...msg.settings };
          post({ type: 'ok', id: msg.id });
          return;
        case 'trainStep': {
          const { engine: e, settings: s } = need();
          post(progressEvent(await e.trainStep(msg.microBatches, s)));
          post({ type: 'ok', id: msg.id });
          return;
        }
        case 'run':
          try {
            await run(msg.id, msg.steps, msg.plan);
          } catch (err) {
            post({ type: 'runDone', id: msg.id, steps: 0, reason: 'error' });
            throw err;
          }
          return;
        case 'pause':
          paused = true;
          post({ type: 'ok', id: msg.id });
          return;
        case 'resume':
          paused = false;
          resume?.();
          resume = null;
          post({ type: 'ok', id: msg.id });
          return;
        case 'stop':
          stopRequested = true;
          paused = false;
          resume?.();
          resume = null;
          post({ type: 'ok', id: msg.id });
          return;
        case 'getWeights': {
          const weights = await need().engine.getParameters();
          post({ type: 'weights', id: msg.id, weights }, Object.values(weights).map((w) => w.buffer));
          return;
        }
        case 'setWeights':
          need().engine.setParameters(msg.weights);
          await need().engine.flush();
          post({ type: 'ok', id: msg.id });
          return;
        case 'evaluate': {
          const ev = await need().engine.evaluate(msg.batch, msg.mode, msg.allLogits, msg.embedGrads);
          const transfer = [ev.losses.buffer, ev.dlogitNorms.buffer, ev.lastLogits.buffer, ...(ev.logits ? [ev.logits.buffer] : []), ...(ev.dembedNorms ? [ev.dembedNorms.buffer] : [])];
          post({ type: 'evaluation', id: msg.id, ...ev }, transfer);
          return;
        }
        case 'generate': {
          const { engine: e } = need();
          if (running && !paused) throw new Error('A training run is in progress: pause or stop it before generating (the run keeps changing the weights).');
          if (generation) throw new Error('A generation is already running: wait for "generated", or send "stopGeneration".');
          const maxNew = resolveOptions(msg.options).maxNewTokens;
          const want = Math.min(e.config.max_position_embeddings, msg.maxContext ?? msg.prompt.length + maxNew);
          if (!decoder || decoder.maxContext < want) {
            decoder?.destroy();
            decoder = null;
            decoder = await Decoder.create(e, { maxContext: want });
          }
          const abort = new AbortController();
          generation = abort;
          try {
            const result = await generate(decoder, msg.prompt, msg.options, (t) => post({ type: 'token', id: msg.id, token: t.id, index: t.index, logprob: t.logprob }), abort.signal);
            post({ type: 'generated', id: msg.id, ...result });
          } finally {
            generation = null;
          }
          return;
        }
        case 'stopGeneration':
          generation?.abort();
          post({ type: 'ok', id: msg.id });
          return;
        case 'dispose':
          dropDecoder();
          engine?.destroy();
          engine = null;
          post({ type: 'ok', id: msg.id });
          return;
      }
    } catch (err) {
      post({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) });
    }
  };
}
