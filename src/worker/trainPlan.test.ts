/**
 * The pure parts of training and comparing: ruler roles and per-run labels on a real chat, the
 * per-step batches (same ids for every run, only labels differ), hand overrides, and the
 * learning-rate schedule. (Curves and share links: src/store/curves.test.ts.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodeTokenizer } from '../data/testkit';
import { tokenizeConversation } from '../data/attribution';
import { DEFAULT_POLICY } from '../data/labels';
import { parseChatInput } from '../data/parse';
import type { ChatTokenizer, MaskPolicy } from '../data/types';
import { IGNORE_INDEX, ROLE_PROMPT, ROLE_RESPONSE } from '../spec/loss';
import { defaultOptimizer, checkOptimizer, lrAt } from '../spec/optimizer';
import { textOf, type Message } from '../spec/message';
import { checkOverrides, dataOrder, packedBuffers, packSamples, policiesFor, prepareSample, runSequence, setStrategyRun, stepBatch, unpackSamples, type HandOverrides, type PreparedSample } from './trainPlan';

const RESPONSE_ONLY: MaskPolicy = { ...DEFAULT_POLICY, mode: 'response-only' };
const FULL: MaskPolicy = { ...DEFAULT_POLICY, mode: 'full' };
const WEIGHTED: MaskPolicy = { ...DEFAULT_POLICY, mode: 'response-only', promptLossWeight: 0.1 };

let tok: ChatTokenizer;
let sample: PreparedSample;
beforeAll(async () => {
  tok = await loadNodeTokenizer('default');
  const conv = [
    { role: 'user' as const, content: 'Name a colour.' },
    { role: 'assistant' as const, content: 'Blue.' },
    { role: 'user' as const, content: 'Another?' },
    { role: 'assistant' as const, content: 'Green.' },
  ];
  sample = prepareSample(tokenizeConversation(tok, conv), [RESPONSE_ONLY, FULL, WEIGHTED], 1000);
});

describe('prepareSample', () => {
  it('ruler roles = what response-only trains; per-run labels and weights; cut to the context', async () => {
    const L = sample.ids.length;
    for (let i = 0; i < L; i++) {
      expect(sample.roles[i] === ROLE_RESPONSE).toBe(sample.labels[0][i] !== IGNORE_INDEX);
      expect([ROLE_PROMPT, ROLE_RESPONSE]).toContain(sample.roles[i]);
      expect(sample.labels[1][i]).toBe(sample.ids[i]); // full: everything trains
      // Prompt weight 0.1: prompt tokens keep their ids at weight 0.1, responses at 1.
      expect(sample.labels[2][i]).toBe(sample.ids[i]);
      expect(sample.weights[2][i]).toBeCloseTo(sample.roles[i] === ROLE_RESPONSE ? 1 : 0.1, 6);
    }
    const response = Array.from(sample.ids).filter((_, i) => sample.roles[i] === ROLE_RESPONSE);
    // Both answers and their end-of-turn tokens: "Blue." <|im_end|> "Green." <|im_end|>.
    expect(response.filter((id) => id === 2).length).toBe(2);
    const cut = prepareSample(tokenizeConversation(tok, [{ role: 'user', content: 'Hi there, how are you?' }, { role: 'assistant', content: 'Fine.' }]), [RESPONSE_ONLY], 5);
    expect(cut.ids.length).toBe(5);
    expect(cut.fullLength).toBeGreaterThan(5);
  });

  it("each run's reasoning and tool switches reach its labels; the ruler counts reasoning and calls as response, tool results as prompt", async () => {
    const qwen = await loadNodeTokenizer('qwen3');
    const r = parseChatInput(JSON.stringify({
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
        { role: 'tool', content: '18 C' },
        { role: 'assistant', reasoning_content: 'Mild.', content: 'Sunny.' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }],
    }));
    if (!r.ok) throw new Error(r.error.message);
    const s = tokenizeConversation(qwen, r.samples[0], { tools: r.tools?.[0] });
    const p = prepareSample(s, [RESPONSE_ONLY, { ...RESPONSE_ONLY, trainReasoning: false, trainToolCalls: false, trainToolResults: true }], 10_000);
    const of = (role: string) => s.tokens.flatMap((t, i) => (t.role === role ? [i] : []));
    for (const [role, byDefault] of [['reasoning', true], ['tool_call', true], ['tool', false]] as const) {
      expect(of(role).length, role).toBeGreaterThan(0);
      for (const i of of(role)) {
        expect(p.labels[0][i] !== IGNORE_INDEX, role).toBe(byDefault);
        expect(p.labels[1][i] !== IGNORE_INDEX, role).toBe(!byDefault);
        expect(p.roles[i], role).toBe(byDefault ? ROLE_RESPONSE : ROLE_PROMPT);
      }
    }
  });

  it('stepBatch: every run gets the same ids and ruler roles, padded the same way', () => {
    const samples = [sample, sample, sample];
    const order = dataOrder(samples.length, 2, 3, 1);
    const T = sample.ids.length + 3;
    const runs = [0, 1, 2].map((r) => stepBatch(samples, order, 2, 2, T, r, 3));
    for (const b of runs.slice(1)) {
      expect(Array.from(b.ids)).toEqual(Array.from(runs[0].ids));
      expect(Array.from(b.roles!)).toEqual(Array.from(runs[0].roles!));
      expect(Array.from(b.docIds)).toEqual(Array.from(runs[0].docIds));
    }
    expect(Array.from(runs[0].labels)).not.toEqual(Array.from(runs[1].labels));
    // Padding: pad id, label -100, weight 0, docId -1.
    const pad = sample.ids.length;
    expect(runs[1].ids[pad]).toBe(3);
    expect(runs[1].labels[pad]).toBe(IGNORE_INDEX);
    expect(runs[1].weights[pad]).toBe(0);
    expect(runs[1].docIds[pad]).toBe(-1);
  });
});

describe('hand overrides reach every run', () => {
  const conv = [
    { role: 'user' as const, content: 'Name a colour.' },
    { role: 'assistant' as const, content: 'Blue.' },
  ];

  it('apply to every run on their own sample only, as absolute train / mask', () => {
    const tokens = tokenizeConversation(tok, conv);
    const base = prepareSample(tokens, [RESPONSE_ONLY, FULL, WEIGHTED], 1000);
    // One prompt token (masked by response-only) forced to train, one response token forced to -100.
    const user = base.roles.findIndex((r, i) => i > 0 && r === ROLE_PROMPT);
    const answer = base.roles.findIndex((r) => r === ROLE_RESPONSE);
    expect(base.labels[0][user]).toBe(IGNORE_INDEX);
    expect(base.labels[0][answer]).toBe(base.ids[answer]);
    const hand: HandOverrides = { sample: 1, tokens: { [user]: 'train', [answer]: 'mask' }, ids: base.ids.slice() };
    const policies = [RESPONSE_ONLY, FULL, WEIGHTED];

    const on = prepareSample(tokens, policiesFor(policies, 1, hand), 1000);
    for (let r = 0; r < policies.length; r++) {
      expect(on.labels[r][user], `run ${r}: overridden prompt token`).toBe(on.ids[user]);
      expect(on.weights[r][user]).toBe(1);
      expect(on.labels[r][answer], `run ${r}: overridden response token`).toBe(IGNORE_INDEX);
      expect(on.weights[r][answer]).toBe(0);
      // Every other token keeps the run's own label.
      for (let i = 0; i < on.ids.length; i++) {
        if (i !== user && i !== answer) expect(on.labels[r][i]).toBe(base.labels[r][i]);
      }
    }
    // Ruler roles are the same rule for every run: overrides do not move them.
    expect(Array.from(on.roles)).toEqual(Array.from(base.roles));
    // Another sample: untouched (indices mean nothing there).
    const off = prepareSample(tokens, policiesFor(policies, 0, hand), 1000);
    for (let r = 0; r < policies.length; r++) expect(Array.from(off.labels[r])).toEqual(Array.from(base.labels[r]));
    expect(policiesFor(policies, 1, null)).toEqual(policies);
    // The runs' own policies are not mutated.
    expect(RESPONSE_ONLY.overrides).toEqual({});
  });

  it('checkOverrides: refuses indices of another tokenization, naming the token', () => {
    const ids = Int32Array.from([5, 6, 7, 8]);
    const hand = (tokens: HandOverrides['tokens'], seen = ids): HandOverrides => ({ sample: 2, tokens, ids: seen });
    expect(checkOverrides(hand({ 2: 'mask' }), ids)).toBeNull();
    expect(checkOverrides(hand({}), Int32Array.from([1]))).toBeNull();
    // Same tokens up to the override, different after it: still the same token 1.
    expect(checkOverrides(hand({ 1: 'train' }), Int32Array.from([5, 6, 9]))).toBeNull();
    const said = (m: Message | null) => (m === null ? null : textOf(m));
    expect(said(checkOverrides(hand({ 3: 'train' }), Int32Array.from([5, 9, 7, 8])))).toBe(
      "sample 3 tokenizes differently for training (token 1: id 9 instead of 6 in the token view). Pick the loaded model's tokenizer in the settings, or clear the hand overrides",
    );
    expect(said(checkOverrides(hand({ 3: 'train' }), Int32Array.from([5, 6])))).toMatch(/token 2: id none instead of 7/);
    expect(said(checkOverrides(hand({ 9: 'mask' }), ids))).toBe('a hand override names token 9, but sample 3 has 4 tokens');
    expect(textOf(checkOverrides(hand({ 9: 'mask' }), ids)!, 'zh')).toBe('一个手动覆盖指向 token 9，但样本 3 只有 4 个 token');
  });
});

describe('optimizer settings', () => {
  it('warm-up, then cosine / linear / constant; defaults check out', () => {
    const o = { ...defaultOptimizer(3e6), lr: 1e-3, warmupSteps: 4, steps: 20, minLrRatio: 0.1 };
    expect(lrAt(1, o)).toBeCloseTo(2.5e-4, 12);
    expect(lrAt(4, o)).toBeCloseTo(1e-3, 12);
    expect(lrAt(20, o)).toBeCloseTo(1e-4, 12);
    expect(lrAt(12, o)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5, 12); // half-way: cos = 0
    expect(lrAt(12, { ...o, schedule: 'linear' })).toBeCloseTo(1e-4 + 0.9e-3 * 0.5, 12);
    expect(lrAt(20, { ...o, schedule: 'constant' })).toBe(1e-3);
    expect(checkOptimizer(o)).toEqual([]);
    expect(defaultOptimizer(135e6).lr).toBeLessThan(defaultOptimizer(3e6).lr);
    expect(checkOptimizer({ ...o, steps: 0, beta2: 1, lr: -1 }).length).toBe(3);
  });
});

describe('packed samples (the data worker → training worker hand-off)', () => {
  it('unpack(pack(samples)) gives back every sample, run by run, in a handful of buffers', () => {
    const s2 = { ...sample, ids: sample.ids.slice(0, 3), roles: sample.roles.slice(0, 3), labels: sample.labels.map((l) => l.slice(0, 3)), weights: sample.weights.map((w) => w.slice(0, 3)), fullLength: 9 };
    const packed = packSamples([sample, s2], 3);
    expect(packed.offsets).toEqual(Int32Array.from([0, sample.ids.length, sample.ids.length + 3]));
    const back = unpackSamples(packed);
    expect(back).toHaveLength(2);
    for (const [a, b] of [[back[0], sample], [back[1], s2]] as const) {
      expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
      expect(Array.from(a.roles)).toEqual(Array.from(b.roles));
      expect(a.fullLength).toBe(b.fullLength);
      for (let r = 0; r < 3; r++) {
        expect(Array.from(a.labels[r])).toEqual(Array.from(b.labels[r]));
        expect(Array.from(a.weights[r])).toEqual(Array.from(b.weights[r]));
      }
    }
    expect(new Set(packedBuffers(packed)).size).toBe(11);
  });

  it("a strategy run on the template's own ids shares them; one with its own ids keeps them, with the ruler roles of the tokens it aligns with", () => {
    const s = { ...sample, labels: sample.labels.slice(), weights: sample.weights.slice() };
    const L = s.ids.length;
    // Same ids, every other token trained.
    const same = { ids: s.ids.slice(), labels: Int32Array.from(s.ids, (id, i) => (i % 2 ? id : -100)) };
    setStrategyRun(s, 0, 3, same, (i) => i, 1000);
    expect(s.own).toBeUndefined();
    expect(Array.from(s.weights[0])).toEqual(Array.from(same.labels, (l) => (l === -100 ? 0 : 1)));
    // Own ids: a BOS-like token in front, then the shared ones (aligned one to the right).
    const own = { ids: Int32Array.from([7, ...s.ids]), labels: Int32Array.from([-100, ...s.ids]) };
    setStrategyRun(s, 1, 3, own, (i) => i + 1, 1000);
    const q = runSequence(s, 1);
    expect(Array.from(q.ids)).toEqual(Array.from(own.ids));
    expect(q.roles[0]).toBe(ROLE_PROMPT);
    expect(Array.from(q.roles.subarray(1))).toEqual(Array.from(s.roles));
    expect(Array.from(s.labels[1]).every((l) => l === -100)).toBe(true);
    expect(runSequence(s, 2).ids).toBe(s.ids);
    // It survives the hand-off, and the batch of run 1 is its own sequence.
    const back = unpackSamples(packSamples([s], 3))[0];
    expect(Array.from(runSequence(back, 1).ids)).toEqual(Array.from(own.ids));
    expect(back.own?.[0]).toBeNull();
    const batch = stepBatch([back], Int32Array.of(0), 1, 1, L + 1, 1, 0);
    expect(Array.from(batch.ids.subarray(0, L + 1))).toEqual(Array.from(own.ids));
  });
});
