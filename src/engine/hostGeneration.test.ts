/**
 * Generation through the worker protocol (createEngineHost, as worker.ts installs it): 'generate'
 * streams 'token' events and answers 'generated'; the tokens are the greedy path the Float64
 * reference computes; 'stopGeneration' ends it early; generating while a run steps is refused,
 * while the run is paused it is allowed.
 */
import { describe, expect, it } from 'vitest';
import { MICRO_CONFIG } from './config';
import { packBatch } from '../reference/batch';
import { randomModel } from '../reference/testkit';
import { forward, tensorView } from '../reference/model';
import { hostHarness } from './hostHarness';
import { DEFAULT_TRAIN_SETTINGS } from './trainer';
import { argmax } from '../model/generate';

describe('engine worker protocol: generate', () => {
  it('streams tokens, answers generated, stops on request, refuses during a run', async () => {
    const h = hostHarness();
    expect(await h.start({ type: 'generate', prompt: [1, 2], options: {} }).answer).toMatchObject({ type: 'error', message: expect.stringMatching(/not initialised/) });

    const ref = randomModel(MICRO_CONFIG, 21);
    const weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
    expect((await h.start({ type: 'init', config: MICRO_CONFIG, weights, B: 1, T: 8, microBatches: 1, settings: { ...DEFAULT_TRAIN_SETTINGS, lr: 1e-2 } }).answer).type).toBe('ready');

    const prompt = [3, 14, 15, 9, 26];
    const g = h.start({ type: 'generate', prompt, options: { maxNewTokens: 7 } });
    const done = await g.answer;
    expect(done).toMatchObject({ type: 'generated', reason: 'max_new_tokens', promptTokens: 5 });
    if (done.type !== 'generated') return;
    const tokens = h.got.filter((m) => m.type === 'token' && m.id === g.id);
    expect(tokens.map((m) => (m.type === 'token' ? [m.index, m.token] : []))).toEqual(done.tokens.map((t, i) => [i, t]));
    // The greedy path of the Float64 reference.
    const ids = [...prompt];
    for (let i = 0; i < 7; i++) {
      const T = ids.length, V = MICRO_CONFIG.vocab_size;
      ids.push(argmax(forward(ref, Int32Array.from(ids), new Int32Array(T), Int32Array.from(ids.keys()), 1, T).subarray((T - 1) * V)));
    }
    expect(done.tokens).toEqual(ids.slice(prompt.length));

    // stopGeneration after the second token: answered 'ok', the generation ends 'aborted'.
    const long = h.start({ type: 'generate', prompt, options: { maxNewTokens: 50, temperature: 1, seed: 1 } });
    await h.next((m) => m.type === 'token' && m.id === long.id && m.index === 1);
    expect(await h.start({ type: 'stopGeneration' }).answer).toMatchObject({ type: 'ok' });
    const stopped = await long.answer;
    expect(stopped).toMatchObject({ type: 'generated', reason: 'aborted' });
    if (stopped.type === 'generated') expect(stopped.tokens.length).toBeLessThan(50);

    // During a run: refused while stepping, allowed while paused.
    const batch = packBatch([{ ids: [1, 2, 3, 4, 5, 6, 7, 8] }], 8);
    const run = h.start({ type: 'run', steps: 1000, plan: [[batch]] });
    await h.next((m) => m.type === 'progress' && m.step === 2);
    expect(await h.start({ type: 'generate', prompt, options: { maxNewTokens: 2 } }).answer)
      .toMatchObject({ type: 'error', message: expect.stringMatching(/A training run is in progress: pause or stop it before generating/) });
    await h.start({ type: 'pause' }).answer;
    expect(await h.start({ type: 'generate', prompt, options: { maxNewTokens: 2 } }).answer).toMatchObject({ type: 'generated', tokens: [expect.any(Number), expect.any(Number)] });
    await h.start({ type: 'stop' }).answer;
    expect(await run.answer).toMatchObject({ type: 'runDone', reason: 'stopped' });
    expect(await h.start({ type: 'generate', prompt: Array(64).fill(1), options: {} }).answer)
      .toMatchObject({ type: 'error', message: expect.stringMatching(/The prompt has 64 tokens, but the model's context holds 64/) });
    expect(await h.start({ type: 'dispose' }).answer).toMatchObject({ type: 'ok' });
  });
});
