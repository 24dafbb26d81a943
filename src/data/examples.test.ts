// Every built-in example × every tokenizer × the main mask policies gives sane labels.
import { beforeAll, describe, expect, it } from 'vitest';
import { NODE_SOURCES, loadNodeTokenizer } from './testkit';
import { EXAMPLES } from './examples';
import { parseChatInput } from './parse';
import { tokenizeConversation } from './attribution';
import { DEFAULT_POLICY, computeLabels } from './labels';
import { checkContext } from './context';
import type { ChatTokenizer, Conversation, MaskPolicy, TokenizerId, ToolList } from './types';

const RESPONSE_ALL = DEFAULT_POLICY;
const RESPONSE_LAST: MaskPolicy = { ...DEFAULT_POLICY, assistantTurns: 'last' };
const RESPONSE_NO_EOT: MaskPolicy = { ...DEFAULT_POLICY, trainEndOfTurn: false };
const FULL_ALL: MaskPolicy = { ...DEFAULT_POLICY, mode: 'full', roles: { system: true, user: true, assistant: true, template: true } };

const toks = {} as Record<TokenizerId, ChatTokenizer>;
beforeAll(async () => {
  for (const id of ['default', 'llama3', 'qwen3'] as const) toks[id] = await loadNodeTokenizer(id);
});

function samplesOf(text: string): Conversation[] {
  const r = parseChatInput(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.samples;
}

/** Each sample with its top-level tools. */
function withTools(text: string): [Conversation, ToolList | null][] {
  const r = parseChatInput(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.samples.map((c, k) => [c, r.tools?.[k] ?? null]);
}

describe('the built-in examples', () => {
  it('cover the required situations', () => {
    const byId = Object.fromEntries(EXAMPLES.map((e) => [e.id, samplesOf(e.text)]));
    expect(new Set(EXAMPLES.map((e) => e.id)).size).toBe(EXAMPLES.length);
    const assistants = (c: Conversation) => c.filter((m) => m.role === 'assistant').length;
    expect(byId['multi-turn'][0].filter((m) => m.role === 'assistant').length).toBeGreaterThanOrEqual(3);
    expect(byId['system-prompt'][0][0].role).toBe('system');
    expect(byId.reasoning[0][1].content).toMatch(/^<think>[\s\S]+<\/think>/);
    const long = byId['long-prompt'][0];
    expect(long[0].content.length).toBeGreaterThan(10 * long[1].content.length);
    expect(byId['jsonl-dataset'].length).toBe(3);
    expect(byId['tool-use'][0].map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    // Chinese chats: several assistant turns, and one with a system prompt.
    expect(assistants(byId['zh-multi-turn'][0])).toBeGreaterThanOrEqual(3);
    expect(byId['zh-system-prompt'][0][0].role).toBe('system');
    for (const id of ['zh-multi-turn', 'zh-system-prompt']) expect(byId[id][0].every((m) => /[\u4e00-\u9fff]/.test(String(m.content)))).toBe(true);
    for (const samples of Object.values(byId)) for (const c of samples) expect(assistants(c)).toBeGreaterThanOrEqual(1);
  });
});

describe.each(['default', 'llama3', 'qwen3'] as const)('%s: every example × policy', (id) => {
  it.each(EXAMPLES.map((e) => [e.id, e] as const))('%s', (_name, example) => {
    for (const [conv, tools] of withTools(example.text)) {
      const s = tokenizeConversation(toks[id], conv, { tools });
      const T = s.tokens.length;
      expect(s.tokens.map((t) => t.text).join('')).toBe(s.rendered);
      const all = computeLabels(s, RESPONSE_ALL);
      const last = computeLabels(s, RESPONSE_LAST);
      const noEot = computeLabels(s, RESPONSE_NO_EOT);
      const full = computeLabels(s, FULL_ALL);
      const turns = conv.filter((m) => m.role === 'assistant').length;

      // response-only trains the assistant's tokens only (its content, reasoning and tool calls), from every assistant turn
      expect(all.nothingToTrain).toBe(false);
      expect(all.trained).toBeGreaterThan(0);
      expect(all.perRole.assistant.trained + all.perRole.reasoning.trained + all.perRole.tool_call.trained).toBe(all.trained);
      for (const r of ['system', 'user', 'template', 'tool'] as const) expect(all.perRole[r].trained).toBe(0);
      const trainedTurns = new Set(s.tokens.filter((_, i) => all.weights[i] === 1).map((t) => t.turnIndex));
      expect(trainedTurns.size).toBe(turns);
      expect(all.trained + all.masked).toBe(T);

      // full trains everything but tool results (their own switch, off), hence more
      expect(full.trained).toBe(T - full.perRole.tool.tokens);
      expect(full.trained).toBeGreaterThan(all.trained);

      // last turn ⊆ all turns; strictly smaller with several turns
      for (let i = 0; i < T; i++) if (last.weights[i] === 1) expect(all.weights[i]).toBe(1);
      if (turns > 1) expect(last.trained).toBeLessThan(all.trained);
      else expect(last.trained).toBe(all.trained);

      // one end-of-turn token per assistant turn, and only they differ without trainEndOfTurn
      const eots = s.tokens.filter((t) => t.isEndOfTurn);
      expect(eots.length).toBe(turns);
      expect(eots.every((t) => toks[id].endOfTurnTokenIds.includes(t.id))).toBe(true);
      expect(noEot.trained).toBe(all.trained - turns);
    }
  });
});

describe('example-specific behaviour', () => {
  it('reasoning on Qwen3: the reasoning, </think> and the answer train; the template markup does not', () => {
    const conv = samplesOf(EXAMPLES.find((e) => e.id === 'reasoning')?.text ?? '')[0];
    const s = tokenizeConversation(toks.qwen3, conv);
    const r = computeLabels(s, DEFAULT_POLICY);
    const trained = s.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('');
    expect(trained).toBe(`${conv[1].content.slice('<think>\n'.length)}<|im_end|>`);
  });
  it('tool use: Qwen3 renders the tools and trains the call, not the result; the base ChatML template says it never reads the call', () => {
    const [[conv, tools]] = withTools(EXAMPLES.find((e) => e.id === 'tool-use')?.text ?? '');
    const q = tokenizeConversation(toks.qwen3, conv, { tools });
    const r = computeLabels(q, DEFAULT_POLICY);
    const trained = q.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('');
    expect(trained).toBe('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>It is 18 °C and sunny in Paris.<|im_end|>');
    expect(q.rendered).toContain('<tools>');
    const d = tokenizeConversation(toks.default, conv, { tools });
    expect(d.notes).toContain("Field 'tool_calls' of message 1 is not used by this template: the chat renders the same without it.");
  });
  it('long prompt + one-word answer on the 256-token base model: the cut removes the answer', () => {
    const conv = samplesOf(EXAMPLES.find((e) => e.id === 'long-prompt')?.text ?? '')[0];
    const s = tokenizeConversation(toks.default, conv);
    const r = computeLabels(s, DEFAULT_POLICY);
    const c = checkContext(s, r, 256);
    expect(s.tokens.length).toBeGreaterThan(256);
    expect(c.cutAt).toBe(256);
    expect(c.removesResponse).toBe(true);
    expect(c.trainedRemoved).toBe(r.trained);
  });
  it('short examples fit the base model context', () => {
    for (const id of ['short-qa', 'multi-turn', 'system-prompt', 'reasoning']) {
      const conv = samplesOf(EXAMPLES.find((e) => e.id === id)?.text ?? '')[0];
      const s = tokenizeConversation(toks.default, conv);
      expect(checkContext(s, computeLabels(s, DEFAULT_POLICY), 256).cutAt, id).toBeNull();
    }
  });
});

describe.each(Object.keys(NODE_SOURCES) as (keyof typeof NODE_SOURCES)[])('%s: the Chinese examples', (id) => {
  let tok: ChatTokenizer;
  beforeAll(async () => {
    tok = await loadNodeTokenizer(id);
  });
  it.each(EXAMPLES.filter((e) => e.id.startsWith('zh-')).map((e) => [e.id, e] as const))('%s', (_name, example) => {
    for (const [conv, tools] of withTools(example.text)) {
      const s = tokenizeConversation(tok, conv, { tools });
      // Token texts put back together are the rendered chat, character for character (no U+FFFD from a split character).
      expect(s.tokens.map((t) => t.text).join('')).toBe(s.rendered);
      expect(s.rendered).not.toContain('\uFFFD');
      const r = computeLabels(s, DEFAULT_POLICY);
      expect(r.nothingToTrain).toBe(false);
      for (let i = 0; i < s.tokens.length; i++) {
        expect(Number.isFinite(r.weights[i]), `weight ${i}`).toBe(true);
        expect(Number.isInteger(r.labels[i]), `label ${i}`).toBe(true);
      }
      // Every assistant message's Chinese text sits in trained assistant tokens; no prompt token trains.
      conv.forEach((m, k) => {
        if (m.role !== 'assistant' || typeof m.content !== 'string') return;
        const mine = s.tokens.filter((t) => t.messageIndex === k && t.role === 'assistant');
        expect(mine.length, `message ${k}`).toBeGreaterThan(0);
        expect(mine.every((t) => r.weights[t.index] === 1), `message ${k} trained`).toBe(true);
        expect(mine.map((t) => t.text).join('')).toContain(m.content.trim().slice(0, 8));
      });
      for (const t of s.tokens) if (t.role === 'user' || t.role === 'system') expect(r.weights[t.index], `token ${t.index}`).toBe(0);
    }
  });
});
