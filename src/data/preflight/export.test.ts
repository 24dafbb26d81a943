import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parquetReadObjects } from 'hyparquet';
import { loadNodeTokenizer } from '../testkit';
import { tokenizeConversation } from '../attribution';
import { computeLabels, DEFAULT_POLICY } from '../labels';
import { parseChatInput } from '../parse';
import { EXAMPLES } from '../examples';
import { detectFamily, runStrategy } from '../strategies';
import type { ChatFamily, StrategyOptions } from '../strategies';
import type { ChatTokenizer, Conversation, MaskPolicy, ToolList } from '../types';
import { datasetFiles, exportPlan, pretokenizedJsonl, pretokenizedLine, pretokenizedParquet, reportJson, reportMarkdown, type ExportContext, type ExportMask, type ToolExport } from './export';
import { checkConfig, checkOptions, TRL_SFT_CONFIG, type ToolId } from './toolOptions';
import type { PreflightReport } from './types';
import { textOf } from '../../spec/message';

interface Sample {
  conv: Conversation;
  tools: ToolList | null;
}

/** The built-in examples a template renders (the Llama 3 / Qwen3 templates reject the tool-call one). */
function examples(tok: ChatTokenizer): Sample[] {
  const out: Sample[] = [];
  for (const ex of EXAMPLES) {
    const p = parseChatInput(ex.text);
    if (!p.ok) continue;
    p.samples.forEach((conv, i) => {
      const tools = p.tools?.[i] ?? null;
      try {
        tok.render(conv, false, tools);
        out.push({ conv, tools });
      } catch {
        // not renderable by this template: not a sample for it
      }
    });
  }
  return out;
}

const tokenizers: Record<'default' | 'llama3' | 'qwen3', ChatTokenizer> = {} as never;
beforeAll(async () => {
  tokenizers.default = await loadNodeTokenizer('default');
  tokenizers.llama3 = await loadNodeTokenizer('llama3');
  tokenizers.qwen3 = await loadNodeTokenizer('qwen3');
});

function ctxFor(tok: ChatTokenizer, extra: Partial<ExportContext> = {}): ExportContext {
  return { family: detectFamily(tok), tokenizerLabel: tok.label, chatTemplate: tok.chatTemplate, maxLength: 4096, ...extra };
}

const byTool = (plans: ToolExport[], tool: ToolId) => {
  const p = plans.find((x) => x.tool === tool);
  if (!p) throw new Error(`no plan for ${tool}`);
  return p;
};

function configOf(plan: ToolExport): Record<string, unknown> {
  const f = plan.files.find((x) => x.check && x.check !== 'llamafactory-dataset-info');
  if (!f) throw new Error(`${plan.tool}: no config file`);
  return parseYaml(f.text) as Record<string, unknown>;
}

const policy = (p: Partial<MaskPolicy>): ExportMask => ({ kind: 'policy', policy: { ...DEFAULT_POLICY, ...p } });

describe('pre-tokenized rows', () => {
  it('JSONL lines round-trip to computeLabels, cut to maxLength', () => {
    const tok = tokenizers.default;
    const samples = examples(tok).slice(0, 5);
    for (const maxLength of [16, 4096]) {
      const rows = samples.map(({ conv, tools }) => {
        const sample = tokenizeConversation(tok, conv, { tools });
        return { ids: sample.tokens.map((t) => t.id), labels: computeLabels(sample, DEFAULT_POLICY).labels };
      });
      const lines = pretokenizedJsonl(rows, maxLength).trimEnd().split('\n');
      expect(lines).toHaveLength(rows.length);
      lines.forEach((line, i) => {
        const row = JSON.parse(line) as { input_ids: number[]; labels: number[]; attention_mask: number[] };
        const n = Math.min(rows[i].ids.length, maxLength);
        expect(row.input_ids).toEqual(rows[i].ids.slice(0, n));
        expect(row.labels).toEqual(Array.from(rows[i].labels.slice(0, n)));
        expect(row.attention_mask).toEqual(new Array(n).fill(1));
        expect(Object.keys(row)).toEqual(['input_ids', 'labels', 'attention_mask']);
      });
    }
  });

  it('rejects rows a trainer would misread', () => {
    expect(() => pretokenizedLine([1, 2], [1], 8)).toThrow(/differ in length/);
    expect(() => pretokenizedLine([1, 2], [1, 3], 8)).toThrow(/token 1/);
    expect(() => pretokenizedLine([1], [1], 0)).toThrow(/positive integer/);
  });

  it('Parquet: PAR1 framing, list<int32> columns that read back as the rows', async () => {
    const rows = [
      { ids: [5, 6, 7, 8], labels: [-100, -100, 7, 8] },
      { ids: [9, 10], labels: [-100, 10] },
    ];
    const bytes = pretokenizedParquet(rows, 3);
    const magic = (b: Uint8Array) => new TextDecoder().decode(b);
    expect(magic(bytes.subarray(0, 4))).toBe('PAR1');
    expect(magic(bytes.subarray(bytes.length - 4))).toBe('PAR1');
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const read = await parquetReadObjects({ file });
    expect(read).toEqual([
      { input_ids: [5, 6, 7], labels: [-100, -100, 7], attention_mask: [1, 1, 1] },
      { input_ids: [9, 10], labels: [-100, 10], attention_mask: [1, 1] },
    ]);
  });
});

describe('option tables', () => {
  it('reject a wrong key, a wrong value and an unknown component', () => {
    const good = { model_name_or_path: 'm', assistant_only_loss: true, max_length: 512 };
    expect(checkOptions(TRL_SFT_CONFIG, good)).toEqual([]);
    expect(checkConfig('trl-sft', { ...good, assistant_only_los: true })).toEqual(['assistant_only_los: unknown option']);
    expect(checkConfig('trl-sft', { ...good, packing_strategy: 'tight' })[0]).toMatch(/packing_strategy: "tight" is not one of/);
    expect(checkConfig('trl-sft', { ...good, datasets: [{ path: 'json', data_file: 'x' }] })).toEqual(['datasets[0].data_file: unknown option']);
    expect(checkConfig('axolotl', { datasets: [{ path: 'x', train_on_eos: 'sometimes' }] })[0]).toMatch(/train_on_eos/);
    expect(checkConfig('torchtune', { dataset: { _component_: 'torchtune.datasets.chat_dataset', masking_strategy: 'train_on_last' } })).toEqual(['dataset.masking_strategy: unknown option']);
    expect(checkConfig('torchtune', { dataset: { _component_: 'torchtune.datasets.nope' } })[0]).toMatch(/unknown component/);
    expect(checkConfig('llamafactory-dataset-info', { d: { file_name: 'a', tags: { role: 'role' } } })).toEqual(['d.tags.role: unknown option']);
    expect(checkConfig('llamafactory-train', null)).toEqual(['(top level): the file is empty']);
  });

  const masks: [string, ExportMask][] = [
    ['default policy', policy({})],
    ['last turn', policy({ assistantTurns: 'last' })],
    ['end-of-turn off', policy({ trainEndOfTurn: false })],
    ['full', policy({ mode: 'full', trainToolResults: true })],
    ['full, user only', policy({ mode: 'full', roles: { system: false, user: true, assistant: false, template: false } })],
    ['weight + overrides', policy({ promptLossWeight: 0.25, overrides: { 3: 'train' } })],
    ['trl assistant-only tagged', { kind: 'strategy', id: 'trl-assistant-only', options: { template: 'tagged' } }],
    ['trl completion-only', { kind: 'strategy', id: 'trl-completion-only', options: {} }],
    ['axolotl eos none', { kind: 'strategy', id: 'axolotl-chat-template', options: { roles_to_train: ['assistant'], train_on_eos: 'none', train_on_eot: 'unset', eot_tokens: [], excess_length_strategy: 'truncate' } }],
    ['llamafactory mask_history', { kind: 'strategy', id: 'llamafactory', options: { template: 'qwen3', train_on_prompt: false, mask_history: true, enable_thinking: true, preserve_thinking: false } }],
    ['torchtune train_on_last', { kind: 'strategy', id: 'torchtune', options: { masking_strategy: 'train_on_last' } }],
    ['torchtune train_on_all', { kind: 'strategy', id: 'torchtune', options: { masking_strategy: 'train_on_all' } }],
    ['unsloth', { kind: 'strategy', id: 'unsloth-responses-only', options: { instruction_part: '<|im_start|>user\n', response_part: '<|im_start|>assistant\n', last_response_only: false } }],
    ['llmbook', { kind: 'strategy', id: 'llmbook', options: { source: 'chat template', add_bos: false, add_eos: false } }],
  ];
  const families: ChatFamily[] = ['chatml', 'qwen3', 'llama3', 'gemma', 'unknown'];

  it('every generated config parses and uses only options from the tables', () => {
    let checked = 0;
    for (const family of families) {
      for (const [name, mask] of masks) {
        const plans = exportPlan(mask, { family, tokenizerLabel: family, chatTemplate: tokenizers.qwen3.chatTemplate, maxLength: 1024, packing: true, modelId: 'org/model' });
        expect(plans.map((p) => p.tool)).toEqual(['trl', 'axolotl', 'llamafactory', 'torchtune']);
        for (const plan of plans) {
          expect(plan.fallback === 'pretokenized' ? plan.cannotExpress.length > 0 : true, `${family} ${name} ${plan.tool}`).toBe(true);
          for (const f of plan.files) {
            if (f.name.endsWith('.json')) expect(() => JSON.parse(f.text)).not.toThrow();
            if (!f.check) continue;
            const value = f.name.endsWith('.json') ? JSON.parse(f.text) : parseYaml(f.text);
            expect(checkConfig(f.check, value), `${family} / ${name} / ${plan.tool} / ${f.name}`).toEqual([]);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(families.length * masks.length * 4);
  });

  it('every note and cannot-express item is a message: the same English, and Chinese words (issue 14)', () => {
    let said = 0;
    for (const family of families) {
      for (const [name, mask] of masks) {
        for (const plan of exportPlan(mask, { family, tokenizerLabel: family, chatTemplate: tokenizers.qwen3.chatTemplate, maxLength: 1024 })) {
          const pairs = [...plan.notes.map((n, i) => [n, plan.noteMsgs![i]] as const), ...plan.cannotExpress.map((c, i) => [c, plan.cannotExpressMsgs![i]] as const)];
          for (const [text, m] of pairs) {
            expect(textOf(m), `${family} ${name} ${plan.tool}`).toBe(text);
            expect(textOf(m, 'zh'), text).toMatch(/[\u4e00-\u9fff]/);
            expect(textOf(m, 'zh'), text).not.toMatch(/\{\{|\}\}/);
            said++;
          }
        }
      }
    }
    expect(said).toBeGreaterThan(families.length * masks.length * 4);
  });

  it('the template-spans strategy is exported as its policy', () => {
    expect(() => exportPlan({ kind: 'strategy', id: 'template-spans', options: {} }, ctxFor(tokenizers.default))).toThrow(/kind: "policy"/);
  });
});

describe('what each tool can express', () => {
  it('a fractional prompt weight: no tool and no label file carries it', () => {
    const plans = exportPlan(policy({ promptLossWeight: 0.5 }), ctxFor(tokenizers.llama3, { samples: [] }));
    for (const p of plans) expect(p.cannotExpress.some((c) => /weight 0\.5.*no label file/.test(c)), p.tool).toBe(true);
    // TRL and axolotl express the rest of the default policy on Llama 3, so the rows would not help.
    expect(byTool(plans, 'trl').fallback).toBeNull();
    expect(byTool(plans, 'axolotl').cannotExpress).toHaveLength(1);
    expect(byTool(plans, 'axolotl').fallback).toBeNull();
  });

  it('hand overrides: every tool falls back to the pre-tokenized rows', () => {
    const plans = exportPlan(policy({ overrides: { 4: 'mask', 9: 'train' } }), ctxFor(tokenizers.default, { samples: [] }));
    for (const p of plans) {
      expect(p.cannotExpress.some((c) => c.startsWith('2 hand override')), p.tool).toBe(true);
      expect(p.fallback).toBe('pretokenized');
    }
  });

  it('last assistant turn only, per tool', () => {
    const tok = tokenizers.default;
    const samples = examples(tok).map((s) => s.conv);
    const plans = exportPlan(policy({ assistantTurns: 'last' }), ctxFor(tok, { samples: samples.filter((c) => !c.some((m) => m.role === 'assistant' && m.content === '')) }));
    const trl = byTool(plans, 'trl');
    expect(trl.cannotExpress).toEqual([]);
    expect(trl.dataset.layout.kind).toBe('prompt-completion');
    expect(configOf(trl)).toMatchObject({ assistant_only_loss: true, completion_only_loss: true, chat_template_path: 'chat_template.jinja' });
    const axolotl = byTool(plans, 'axolotl');
    expect(axolotl.cannotExpress).toEqual([]);
    expect((configOf(axolotl).datasets as Record<string, unknown>[])[0]).toMatchObject({ message_field_training: 'train', roles_to_train: ['assistant'], train_on_eot: 'turn' });
    const lf = byTool(plans, 'llamafactory');
    expect(configOf(lf)).toMatchObject({ mask_history: true, train_on_prompt: false, template: 'chatml' });
    expect(lf.cannotExpress.some((c) => /newline/.test(c))).toBe(true);
    const tt = byTool(plans, 'torchtune');
    expect((configOf(tt).dataset as Record<string, unknown>)._component_).toBe('sft_last_turn.last_turn_chat_dataset');
    expect(tt.files.map((f) => f.name)).toContain('sft_last_turn.py');
    expect(tt.cannotExpress.some((c) => /header/.test(c))).toBe(true);
    // On Llama 3 LLaMA-Factory's answer slot ends at <|eot_id|>: nothing left it cannot say.
    expect(byTool(exportPlan(policy({ assistantTurns: 'last' }), ctxFor(tokenizers.llama3, { samples: [] })), 'llamafactory').cannotExpress).toEqual([]);
  });

  it('a strategy’s options go to the tool that has them: axolotl train_on_eos none', () => {
    const mask: ExportMask = { kind: 'strategy', id: 'axolotl-chat-template', options: { roles_to_train: ['assistant'], train_on_eos: 'none', train_on_eot: 'unset', excess_length_strategy: 'truncate' } };
    const plans = exportPlan(mask, ctxFor(tokenizers.default, { samples: [] }));
    const axolotl = byTool(plans, 'axolotl');
    expect(axolotl.cannotExpress).toEqual([]);
    expect(axolotl.fallback).toBeNull();
    expect((configOf(axolotl).datasets as Record<string, unknown>[])[0]).toMatchObject({ train_on_eos: 'none' });
    const trl = byTool(plans, 'trl');
    expect(trl.cannotExpress.some((c) => /end-of-turn off/.test(c))).toBe(true);
    expect(trl.fallback).toBe('pretokenized');
    // axolotl's default excess_length_strategy (drop) is a rule of its own the others cannot follow.
    const drop = exportPlan({ ...mask, options: { ...mask.options, excess_length_strategy: 'drop' } }, ctxFor(tokenizers.default, { samples: [] }));
    expect(byTool(drop, 'trl').cannotExpress.some((c) => /excess_length_strategy drop/.test(c))).toBe(true);
  });

  it('torchtune train_on_last: exact in torchtune, a foreign rule elsewhere; TRL completion-only: exact in TRL', () => {
    const tt = exportPlan({ kind: 'strategy', id: 'torchtune', options: { masking_strategy: 'train_on_last' } }, ctxFor(tokenizers.qwen3, { samples: [] }));
    expect(byTool(tt, 'torchtune').cannotExpress).toEqual([]);
    expect(byTool(tt, 'trl').cannotExpress.some((c) => /torchtune/.test(c))).toBe(true);
    const co = exportPlan({ kind: 'strategy', id: 'trl-completion-only', options: {} }, ctxFor(tokenizers.default, { samples: [] }));
    const trl = byTool(co, 'trl');
    expect(trl.cannotExpress).toEqual([]);
    expect(configOf(trl)).toMatchObject({ completion_only_loss: true });
    expect(configOf(trl).assistant_only_loss).toBeUndefined();
    expect(byTool(co, 'axolotl').cannotExpress.some((c) => /completion_only_loss/.test(c))).toBe(true);
  });

  it('Qwen3: TRL’s training template trains the final turn’s think block, which this page masks', () => {
    const trl = byTool(exportPlan(policy({}), ctxFor(tokenizers.qwen3, { samples: [] })), 'trl');
    expect(trl.cannotExpress.some((c) => /think block/.test(c))).toBe(true);
    // The lab's TRL row shows it: the tokens "<think>\n\n</think>\n\n" train there and not here.
    const tok = tokenizers.qwen3;
    const conv: Conversation = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }];
    const sample = tokenizeConversation(tok, conv);
    const ours = computeLabels(sample, DEFAULT_POLICY).labels;
    const row = runStrategy({ id: 'trl-assistant-only', options: { template: 'tagged' } }, { tok, family: 'qwen3', conversation: conv, tools: null, maxLength: 4096, policy: DEFAULT_POLICY });
    const differ = sample.tokens.filter((_, i) => (ours[i] !== -100) !== (row.labels[i] !== -100)).map((t) => t.text);
    expect(differ.join('')).toBe('<think>\n\n</think>\n\n');
  });

  it('parts only some samples exercise are listed only when the samples have them', () => {
    const tok = tokenizers.qwen3;
    const plain: Conversation[] = [[{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }]];
    const noReasoning = policy({ trainReasoning: false });
    const withNone = byTool(exportPlan(noReasoning, ctxFor(tok, { samples: plain })), 'axolotl');
    expect(withNone.cannotExpress).toEqual([]);
    const reasoning: Conversation[] = [[{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello', fields: { reasoning_content: 'greet back' } }]];
    const withSome = byTool(exportPlan(noReasoning, ctxFor(tok, { samples: reasoning })), 'axolotl');
    expect(withSome.cannotExpress.some((c) => /reasoning off/.test(c))).toBe(true);
  });
});

/** The lab's strategies are the tools' rules: where a plan claims exactness, the tool's row must equal this page's labels. */
describe('claimed-exact exports agree with the lab’s rows of the same tool', () => {
  const cases: [string, Partial<MaskPolicy>][] = [
    ['default', {}],
    ['end-of-turn off', { trainEndOfTurn: false }],
    ['last turn', { assistantTurns: 'last' }],
  ];
  for (const id of ['default', 'llama3'] as const) {
    for (const [name, p] of cases) {
      it(`${id}: ${name}`, () => {
        const tok = tokenizers[id];
        const family = detectFamily(tok);
        const samples = examples(tok).filter((s) => !s.conv.some((m) => m.role === 'assistant' && m.content === ''));
        const maskPolicy = { ...DEFAULT_POLICY, ...p };
        const plans = exportPlan({ kind: 'policy', policy: maskPolicy }, ctxFor(tok, { samples: samples.map((s) => s.conv) }));
        const axolotl = byTool(plans, 'axolotl');
        expect(axolotl.cannotExpress).toEqual([]);
        const config = configOf(axolotl);
        const ds = (config.datasets as Record<string, unknown>[])[0];
        const options: StrategyOptions = {
          roles_to_train: ds.roles_to_train as string[],
          train_on_eos: ds.train_on_eos as string,
          train_on_eot: ds.train_on_eot as string,
          eot_tokens: config.eot_tokens as string[],
          message_field_training: (ds.message_field_training as string | undefined) ?? '',
          excess_length_strategy: config.excess_length_strategy as string,
        };
        // The conversations as axolotl reads them: the exported train.jsonl, parsed back.
        const file = datasetFiles(samples.map((s) => s.conv), 'axolotl', axolotl, samples.map((s) => s.tools));
        const parsed = parseChatInput(file.text);
        if (!parsed.ok) throw new Error(parsed.error.message);
        expect(parsed.samples).toHaveLength(samples.length);
        parsed.samples.forEach((conv, i) => {
          const tools = samples[i].tools;
          const sample = tokenizeConversation(tok, samples[i].conv, { tools });
          const expected = Array.from(computeLabels(sample, maskPolicy).labels);
          const row = runStrategy({ id: 'axolotl-chat-template', options }, { tok, family, conversation: conv, tools, maxLength: 4096, policy: maskPolicy });
          expect(row.error).toBeNull();
          expect(Array.from(row.ids)).toEqual(sample.tokens.map((t) => t.id));
          expect(Array.from(row.labels), `axolotl, sample ${i}`).toEqual(expected);
        });
        if (name === 'default') {
          const trl = byTool(plans, 'trl');
          expect(trl.cannotExpress).toEqual([]);
          samples.forEach(({ conv, tools }, i) => {
            const sample = tokenizeConversation(tok, conv, { tools });
            const row = runStrategy({ id: 'trl-assistant-only', options: { template: 'tagged' } }, { tok, family, conversation: conv, tools, maxLength: 4096, policy: maskPolicy });
            expect(Array.from(row.labels), `trl, sample ${i}`).toEqual(Array.from(computeLabels(sample, maskPolicy).labels));
          });
        }
      });
    }
  }
});

describe('dataset files', () => {
  const toolUse = (() => {
    const ex = EXAMPLES.find((e) => e.id === 'tool-use');
    const p = ex && parseChatInput(ex.text);
    if (!p || !p.ok) throw new Error('tool-use example did not parse');
    return { conv: p.samples[0], tools: p.tools?.[0] ?? null };
  })();

  it('TRL prompt-completion and messages lines keep fields and tools', () => {
    const ctx = ctxFor(tokenizers.default, { samples: [] });
    const last = byTool(exportPlan(policy({ assistantTurns: 'last' }), ctx), 'trl');
    const pc = JSON.parse(datasetFiles([toolUse.conv], 'trl', last, [toolUse.tools]).text);
    expect(pc.prompt.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(pc.prompt[1]).toMatchObject({ content: null, tool_calls: [{ id: 'call_1' }] });
    expect(pc.completion).toEqual([{ role: 'assistant', content: 'It is 18 °C and sunny in Paris.' }]);
    expect(pc.tools[0].function.name).toBe('get_weather');
    const all = byTool(exportPlan(policy({}), ctx), 'trl');
    expect(JSON.parse(datasetFiles([toolUse.conv], 'trl', all).text).messages).toHaveLength(4);
    expect(() => datasetFiles([toolUse.conv], 'axolotl', all)).toThrow(/plan is for trl/);
  });

  it('LLaMA-Factory: sharegpt with OpenAI tags, function_call turns, abnormal samples left out', () => {
    const plan = byTool(exportPlan(policy({}), ctxFor(tokenizers.default)), 'llamafactory');
    const broken: Conversation = [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }, { role: 'assistant', content: 'c' }];
    const file = datasetFiles([toolUse.conv, broken], 'llamafactory', plan, [toolUse.tools, null]);
    const rows = JSON.parse(file.text);
    expect(rows).toHaveLength(1);
    expect(rows[0].messages.map((m: { role: string }) => m.role)).toEqual(['user', 'function_call', 'tool', 'assistant']);
    expect(JSON.parse(rows[0].messages[1].content)).toEqual({ name: 'get_weather', arguments: { city: 'Paris' } });
    expect(typeof rows[0].tools).toBe('string');
    expect(file.notes[0]).toMatch(/sample 2: message 2 breaks/);
    const info = JSON.parse(plan.files.find((f) => f.name === 'dataset_info.json')!.text);
    expect(info.preflight_export).toMatchObject({ file_name: file.name, formatting: 'sharegpt', tags: { role_tag: 'role', observation_tag: 'tool', function_tag: 'function_call' } });
  });

  it('torchtune: role and content only', () => {
    const plan = byTool(exportPlan(policy({}), ctxFor(tokenizers.llama3)), 'torchtune');
    const file = datasetFiles([toolUse.conv], 'torchtune', plan);
    expect(JSON.parse(file.text).messages[1]).toEqual({ role: 'assistant', content: '' });
    expect(file.notes[0]).toMatch(/only role and content/);
  });
});

describe('report exports', () => {
  const report: PreflightReport = {
    tokenizer: 'Playground base (ChatML)',
    strategy: { id: 'template-spans', label: 'Template spans (this playground)', source: 'this playground', options: { template: 'tagged' } },
    compared: [{ id: 'trl-assistant-only', label: 'TRL assistant_only_loss' }],
    maxLength: 256,
    format: 'JSONL',
    samples: [
      { index: 0, line: 1, tokens: 40, trained: 10, share: 0.25, findings: [] },
      { index: 1, line: 3, tokens: 300, trained: 0, share: 0, findings: [{ id: 'nothing-to-train', message: 'every label is -100', count: 1 }, { id: 'response-truncated', message: '44 response tokens past max length 256 are lost', count: 44 }] },
      { index: 2, line: 7, tokens: 20, trained: 0, share: 0, findings: [{ id: 'nothing-to-train', message: 'every label is -100', count: 1 }] },
    ],
    brokenLines: [{ message: 'Unexpected token | in JSON', line: 5, column: 2 }],
    brokenTotal: 1,
    totals: {
      samples: 3,
      tokens: 360,
      trainedTokens: 10,
      findings: { 'nothing-to-train': 2, 'response-truncated': 1, 'eot-never-trained': 0, 'pad-is-eos': 0, 'empty-think-trained': 0, 'typed-special-tokens': 0, 'strategies-disagree': 0 },
      fatalSamples: 2,
      packing: { sequences: 2, samplesPerSequence: 1.5, fill: 0.617 },
    },
    histograms: { length: { edges: [0, 128, 256], counts: [2, 1] }, share: { edges: [0, 0.5, 1], counts: [3, 0] } },
    fatal: ['nothing-to-train'],
    ms: 12.4,
  };

  it('JSON round-trips', () => {
    expect(JSON.parse(reportJson(report))).toEqual(report);
  });

  it('Markdown: settings, totals, findings with their first lines, packing, histograms', () => {
    const md = reportMarkdown(report);
    expect(md).toContain('- Tokenizer: Playground base (ChatML)');
    expect(md).toContain('| trained tokens | 10 (2.8%) |');
    expect(md).toContain('| Nothing to train (every label -100) (`nothing-to-train`) | 2 | yes | 3, 7 |');
    expect(md).toContain('| Response tokens cut by the context length (`response-truncated`) | 1 |  | 3 |');
    expect(md).not.toContain('eot-never-trained');
    expect(md).toContain('- `response-truncated`, line 3: 44 response tokens past max length 256 are lost');
    expect(md).toContain('| 5 | 2 | Unexpected token \\| in JSON |');
    expect(md).toContain('2 sequences, 1.50 samples per sequence, 61.7% of each sequence filled');
    expect(md).toContain('| [0, 128) | 2 |');
    expect(md).toContain('| [128, 256] | 1 |');
    expect(md).toContain('| [50.0%, 100.0%] | 0 |');
  });
});
