// One persistence table, one migration path, one validator per shape (persist.ts, validate.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PERSISTED, RECORDS, migrate, readPersisted } from './persist';
import { DEFAULT_SETTINGS, defaultRuns } from './defaults';
import { validPolicy, validRecord, validRuns, validSettings } from './validate';
import { decodeShare, encodeShare } from './share';
import { defaultOptimizer } from '../spec/optimizer';

/** Records exactly as the first version's two persistence modules wrote them (keys input-and-settings/v1, training/v1). */
const TODAY = {
  'input-and-settings': {
    text: '[{"role":"user","content":"hi"}]',
    sampleIndex: 2,
    settings: {
      tokenizerId: 'qwen3',
      contextLengths: { default: null, llama3: 512, qwen3: null },
      policy: { mode: 'full', assistantTurns: 'last', trainEndOfTurn: false, roles: { system: false, user: true, assistant: true, template: true }, promptLossWeight: 0.25 },
    },
  },
  training: {
    optimizer: { ...defaultOptimizer(3_819_776), steps: 12 },
    runs: defaultRuns(),
    record: null,
  },
};
/** The policy switches added since the first version, at their defaults (what an old save restores to). */
const LATER_DEFAULTS = { trainReasoning: true, trainToolCalls: true, trainToolResults: false };

describe('persistence', () => {
  it('every persisted field lives in a known record', () => {
    for (const [k, v] of Object.entries(PERSISTED)) expect(Object.keys(RECORDS), k).toContain(v.record);
  });

  it("restores today's records field for field", () => {
    const r = readPersisted(TODAY, DEFAULT_SETTINGS);
    expect(r.bad).toBe(0);
    expect(r.patch.text).toBe(TODAY['input-and-settings'].text);
    expect(r.patch.sampleIndex).toBe(2);
    // Fields added since (splitSpecialTokens, the reasoning and tool switches) take their defaults.
    const { settings } = TODAY['input-and-settings'];
    // Tokenizers added to the menu later (Gemma 3, Llama 3.1, DeepSeek-V3) take their default context length.
    expect(r.patch.settings).toEqual({
      ...settings, contextLengths: { ...DEFAULT_SETTINGS.contextLengths, ...settings.contextLengths },
      policy: { ...settings.policy, ...LATER_DEFAULTS }, splitSpecialTokens: false, lab: DEFAULT_SETTINGS.lab, ownTemplate: null, customTokenizer: null,
    });
    expect(r.patch.optimizer?.steps).toBe(12);
    expect(r.patch.optimizerFor).toBeNull();
    expect(r.patch.runs).toEqual(defaultRuns());
    expect(r.record).toBeNull();
  });

  it('a damaged field keeps its default and is counted; the others are restored', () => {
    const damaged = {
      'input-and-settings': { ...TODAY['input-and-settings'], sampleIndex: -3, settings: { ...TODAY['input-and-settings'].settings, tokenizerId: '__proto__', contextLengths: { llama3: 'big' } } },
      training: { ...TODAY.training, runs: [{ id: 1 }], optimizer: { lr: -1 } },
    };
    const r = readPersisted(damaged, DEFAULT_SETTINGS);
    expect(r.patch.text).toBe(TODAY['input-and-settings'].text);
    expect(r.patch.sampleIndex).toBeUndefined();
    expect(r.patch.settings?.tokenizerId).toBe('default');
    expect(r.patch.settings?.contextLengths.llama3).toBeNull();
    expect(r.patch.settings?.policy).toEqual({ ...TODAY['input-and-settings'].settings.policy, ...LATER_DEFAULTS });
    expect(r.patch.runs).toBeUndefined();
    expect(r.patch.optimizer).toBeUndefined();
    // sampleIndex, tokenizerId, contextLengths.llama3, runs, optimizer
    expect(r.bad).toBe(5);
  });

  it('settings saved before splitSpecialTokens existed stay valid and take its default; a wrong value is counted', () => {
    const { splitSpecialTokens: _omitted, ...old } = DEFAULT_SETTINGS;
    expect(validSettings(old, DEFAULT_SETTINGS)).toEqual({ settings: DEFAULT_SETTINGS, bad: 0 });
    expect(validSettings({ ...old, splitSpecialTokens: true }, DEFAULT_SETTINGS)?.settings.splitSpecialTokens).toBe(true);
    expect(validSettings({ ...old, splitSpecialTokens: 'yes' }, DEFAULT_SETTINGS)).toEqual({ settings: DEFAULT_SETTINGS, bad: 1 });
  });

  it('migration: the current version passes through; unknown versions have no path', () => {
    const rec = { a: 1 };
    expect(migrate('training', RECORDS.training, rec)).toBe(rec);
    expect(migrate('training', RECORDS.training + 1, rec)).toBeNull();
    expect(migrate('training', 0, rec)).toBeNull();
  });

  it('validators never throw and never let a prototype key through', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => {
        validSettings(v, DEFAULT_SETTINGS);
        validRuns(v);
        validRecord(v);
        validPolicy(v);
      }),
      { numRuns: 300 },
    );
    const polluted = JSON.parse('{"mode":"full","assistantTurns":"all","trainEndOfTurn":true,"promptLossWeight":0,"roles":{"__proto__":{"system":true,"user":true,"assistant":true,"template":true}}}');
    expect(validPolicy(polluted)).toBeNull();
  });

  it('the reasoning and tool switches: absent takes the default, a set one is kept, a wrong type refuses the policy', () => {
    const old = TODAY['input-and-settings'].settings.policy;
    expect(validPolicy(old)).toEqual({ ...old, ...LATER_DEFAULTS });
    const set = { ...old, trainReasoning: false, trainToolCalls: false, trainToolResults: true };
    expect(validPolicy(set)).toEqual(set);
    expect(validPolicy({ ...old, trainToolResults: 'yes' })).toBeNull();
    expect(validPolicy({ ...old, trainReasoning: null })).toBeNull();
    // An inherited name is not a switch: only own properties are read.
    expect(validPolicy(Object.assign(Object.create({ trainToolResults: true }), old))).toEqual({ ...old, ...LATER_DEFAULTS });
    const runs = defaultRuns();
    expect(runs.every((r) => r.policy.trainReasoning && r.policy.trainToolCalls && !r.policy.trainToolResults)).toBe(true);
    expect(validRuns(JSON.parse(JSON.stringify(runs)))).toEqual(runs);
  });

  it('share links read through the same validators: a damaged field is refused, not applied', async () => {
    const good = { text: 'x', sampleIndex: 0, settings: DEFAULT_SETTINGS, optimizer: defaultOptimizer(1), runs: defaultRuns() };
    expect(await decodeShare(await encodeShare(good))).toEqual(good);
    const bad = { ...good, runs: [{ ...good.runs[0], policy: { ...good.runs[0].policy, promptLossWeight: 7 } }] };
    await expect(decodeShare(await encodeShare(bad))).rejects.toThrow(/damaged/);
  });
});

describe('masking lab settings', () => {
  it('restores rows with their options, and drops a damaged lab without losing the other settings', async () => {
    const { validSettings } = await import('./validate');
    const lab = { choices: [{ key: 'a', id: 'template-spans', options: {} }, { key: 'b', id: 'axolotl-chat-template', options: { train_on_eos: 'none', roles_to_train: ['assistant'] } }], diffOnly: true };
    expect(validSettings({ ...DEFAULT_SETTINGS, lab }, DEFAULT_SETTINGS)).toEqual({ settings: { ...DEFAULT_SETTINGS, lab }, bad: 0 });
    for (const bad of [
      { ...lab, choices: [] },
      { ...lab, choices: [...lab.choices, ...lab.choices.map((c, i) => ({ ...c, key: `x${i}` })), { key: 'y', id: 'llmbook', options: {} }, { key: 'z', id: 'llmbook', options: {} }, { key: 'w', id: 'llmbook', options: {} }] },
      { ...lab, choices: [{ key: 'a', id: 'constructor', options: {} }] },
      { ...lab, choices: [{ key: 'a', id: 'llmbook', options: { x: { nested: 1 } } }] },
      { ...lab, choices: [lab.choices[0], lab.choices[0]] },
    ]) {
      const r = validSettings({ ...DEFAULT_SETTINGS, tokenizerId: 'qwen3', lab: bad }, DEFAULT_SETTINGS);
      expect(r?.bad).toBe(1);
      expect(r?.settings.lab).toEqual(DEFAULT_SETTINGS.lab);
      expect(r?.settings.tokenizerId).toBe('qwen3');
    }
  });
});

describe('your own template and a tokenizer-only load', () => {
  it('restore as saved; a damaged one keeps its default and is counted; custom without its tokenizer falls back', async () => {
    const { validSettings } = await import('./validate');
    const customTokenizer = { source: '/models/gemma/', label: 'gemma (tokenizer only)', contextLength: 4096, chatTemplateName: 'tool_use' };
    const saved = { ...DEFAULT_SETTINGS, tokenizerId: 'custom', ownTemplate: '{{ messages[0].content }}', customTokenizer };
    expect(validSettings(saved, DEFAULT_SETTINGS)).toEqual({ settings: saved, bad: 0 });
    const damaged = validSettings({ ...saved, ownTemplate: 42, customTokenizer: { source: '', label: 'x', contextLength: 0 } }, DEFAULT_SETTINGS);
    expect(damaged?.bad).toBe(2);
    expect(damaged?.settings.ownTemplate).toBeNull();
    expect(damaged?.settings.customTokenizer).toBeNull();
    expect(damaged?.settings.tokenizerId).toBe('default');
  });
});

describe('strategy options from saved state', () => {
  it('a key named __proto__ stays plain data', async () => {
    const { validStrategyOptions } = await import('./validate');
    const o = validStrategyOptions(JSON.parse('{"__proto__": ["x"], "train_on_eos": "none"}'));
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.hasOwn(o as object, '__proto__')).toBe(true);
    expect(o?.train_on_eos).toBe('none');
  });
});
