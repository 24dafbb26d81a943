// Hand-checked label vectors. For one fixed conversation we write down, by hand, what each chat
// template renders, piece by piece, and which role each piece has (T template, S system, U user,
// A<n> assistant turn n content, E<n> end-of-turn token of assistant turn n). The test checks the
// pieces join to the real rendering, tokenizes each piece on its own, checks the concatenated
// piece tokens equal the tokenization of the whole chat (so no token crosses a piece boundary),
// and derives the expected labels per policy from the piece tags alone.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodeTokenizer } from './testkit';
import { tokenizeConversation } from './attribution';
import { DEFAULT_POLICY, NOTHING_TO_TRAIN, computeLabels } from './labels';
import { checkContext } from './context';
import { attributeChars } from './spans';
import type { ChatTokenizer, Conversation, MaskPolicy, TokenizerId } from './types';

const CONV: Conversation = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: ' Hi there\n' },
  { role: 'assistant', content: 'Hello! 👋' },
  { role: 'user', content: 'Name a colour.' },
  { role: 'assistant', content: 'Blue.' },
];

type Tag = 'T' | 'S' | 'U' | 'A0' | 'A1' | 'E0' | 'E1';
type Piece = [string, Tag];

// ChatML as written in public/models/playground-base/tokenizer_config.json: content verbatim.
const CHATML: Piece[] = [
  ['<|im_start|>', 'T'], ['system\n', 'T'], ['Be brief.', 'S'], ['<|im_end|>', 'T'], ['\n', 'T'],
  ['<|im_start|>', 'T'], ['user\n', 'T'], [' Hi there\n', 'U'], ['<|im_end|>', 'T'], ['\n', 'T'],
  ['<|im_start|>', 'T'], ['assistant\n', 'T'], ['Hello! 👋', 'A0'], ['<|im_end|>', 'E0'], ['\n', 'T'],
  ['<|im_start|>', 'T'], ['user\n', 'T'], ['Name a colour.', 'U'], ['<|im_end|>', 'T'], ['\n', 'T'],
  ['<|im_start|>', 'T'], ['assistant\n', 'T'], ['Blue.', 'A1'], ['<|im_end|>', 'E1'], ['\n', 'T'],
];

// Qwen3: same ChatML shape, but the final assistant turn gets an empty think block (markup).
const QWEN3: Piece[] = [
  ...CHATML.slice(0, 22),
  ['<think>', 'T'], ['\n\n', 'T'], ['</think>', 'T'], ['\n\n', 'T'],
  ['Blue.', 'A1'], ['<|im_end|>', 'E1'], ['\n', 'T'],
];

// Llama 3: BOS, headers, trimmed content, <|eot_id|>, and an assistant header always appended.
const LLAMA3: Piece[] = [
  ['<|begin_of_text|>', 'T'],
  ['<|start_header_id|>', 'T'], ['system', 'T'], ['<|end_header_id|>', 'T'], ['\n\n', 'T'], ['Be brief.', 'S'], ['<|eot_id|>', 'T'],
  ['<|start_header_id|>', 'T'], ['user', 'T'], ['<|end_header_id|>', 'T'], ['\n\n', 'T'], ['Hi there', 'U'], ['<|eot_id|>', 'T'],
  ['<|start_header_id|>', 'T'], ['assistant', 'T'], ['<|end_header_id|>', 'T'], ['\n\n', 'T'], ['Hello! 👋', 'A0'], ['<|eot_id|>', 'E0'],
  ['<|start_header_id|>', 'T'], ['user', 'T'], ['<|end_header_id|>', 'T'], ['\n\n', 'T'], ['Name a colour.', 'U'], ['<|eot_id|>', 'T'],
  ['<|start_header_id|>', 'T'], ['assistant', 'T'], ['<|end_header_id|>', 'T'], ['\n\n', 'T'], ['Blue.', 'A1'], ['<|eot_id|>', 'E1'],
  ['<|start_header_id|>', 'T'], ['assistant', 'T'], ['<|end_header_id|>', 'T'], ['\n\n', 'T'],
];

// The three templates these vectors were derived by hand from (the other families: families.test.ts).
const PIECES: Record<'default' | 'llama3' | 'qwen3', Piece[]> = { default: CHATML, qwen3: QWEN3, llama3: LLAMA3 };

const policy = (p: Partial<MaskPolicy>): MaskPolicy => ({ ...DEFAULT_POLICY, ...p });
const ALL_ROLES = { system: true, user: true, assistant: true, template: true };

// Which tags train (weight 1) under each policy, written from the policy definitions.
const CASES: { name: string; policy: MaskPolicy; trains: Tag[]; promptWeight?: number }[] = [
  { name: 'response-only, all turns, + end-of-turn (default)', policy: DEFAULT_POLICY, trains: ['A0', 'E0', 'A1', 'E1'] },
  { name: 'response-only, last turn only', policy: policy({ assistantTurns: 'last' }), trains: ['A1', 'E1'] },
  { name: 'response-only, no end-of-turn', policy: policy({ trainEndOfTurn: false }), trains: ['A0', 'A1'] },
  { name: 'full, every role', policy: policy({ mode: 'full', roles: ALL_ROLES }), trains: ['T', 'S', 'U', 'A0', 'E0', 'A1', 'E1'] },
  {
    name: 'full, user + assistant only, no end-of-turn',
    policy: policy({ mode: 'full', roles: { system: false, user: true, assistant: true, template: false }, trainEndOfTurn: false }),
    trains: ['U', 'A0', 'A1'],
  },
  {
    name: 'full, system + template, last turn',
    policy: policy({ mode: 'full', roles: { system: true, user: false, assistant: true, template: true }, assistantTurns: 'last' }),
    trains: ['T', 'S', 'A1', 'E1'],
  },
  { name: 'response-only with prompt weight 0.25', policy: policy({ promptLossWeight: 0.25 }), trains: ['A0', 'E0', 'A1', 'E1'], promptWeight: 0.25 },
  { name: 'response-only, role checkboxes ignored', policy: policy({ roles: ALL_ROLES }), trains: ['A0', 'E0', 'A1', 'E1'] },
];

const toks = {} as Record<TokenizerId, ChatTokenizer>;
beforeAll(async () => {
  for (const id of ['default', 'llama3', 'qwen3'] as const) toks[id] = await loadNodeTokenizer(id);
});

/** Expected ids and tags per token from the hand-written pieces. */
function expectedTokens(tok: ChatTokenizer, pieces: Piece[]): { ids: number[]; tags: Tag[] } {
  const ids: number[] = [];
  const tags: Tag[] = [];
  for (const [text, tag] of pieces) {
    for (const id of tok.encode(text)) {
      ids.push(id);
      tags.push(tag);
    }
  }
  return { ids, tags };
}

describe.each(['default', 'llama3', 'qwen3'] as const)('%s template: hand-checked labels', (id) => {
  it('the hand-written pieces are the rendering, and tokenize the same piece by piece', () => {
    const tok = toks[id];
    expect(PIECES[id].map((p) => p[0]).join('')).toBe(tok.render(CONV));
    const { ids } = expectedTokens(tok, PIECES[id]);
    expect(tokenizeConversation(tok, CONV).tokens.map((t) => t.id)).toEqual(ids);
  });

  it('per-token roles, turns and end-of-turn flags', () => {
    const tok = toks[id];
    const { tags } = expectedTokens(tok, PIECES[id]);
    const s = tokenizeConversation(tok, CONV);
    const roleOfTag = (t: Tag) => ({ T: 'template', S: 'system', U: 'user' })[t as 'T'] ?? 'assistant';
    expect(s.tokens.map((t) => t.role)).toEqual(tags.map(roleOfTag));
    expect(s.tokens.map((t) => t.turnIndex)).toEqual(tags.map((t) => (t.length === 2 ? Number(t[1]) : null)));
    expect(s.tokens.map((t) => t.isEndOfTurn)).toEqual(tags.map((t) => t[0] === 'E'));
    expect(s.tokens.some((t) => t.straddles)).toBe(false);
  });

  it.each(CASES)('$name', ({ policy: pol, trains, promptWeight }) => {
    const tok = toks[id];
    const { ids, tags } = expectedTokens(tok, PIECES[id]);
    const w = promptWeight ?? 0;
    const expLabels = tags.map((t, i) => (trains.includes(t) || w > 0 ? ids[i] : -100));
    const expWeights = tags.map((t) => (trains.includes(t) ? 1 : w));
    const r = computeLabels(tokenizeConversation(tok, CONV), pol);
    expect(Array.from(r.labels)).toEqual(expLabels);
    expect(Array.from(r.weights)).toEqual(expWeights);
    expect(r.trained).toBe(tags.filter((t) => trains.includes(t)).length);
    expect(r.masked).toBe(w > 0 ? 0 : tags.length - r.trained);
  });

  it('manual overrides win over the policy', () => {
    const tok = toks[id];
    const { ids, tags } = expectedTokens(tok, PIECES[id]);
    const firstA0 = tags.indexOf('A0');
    const firstT = tags.indexOf('T');
    const r = computeLabels(tokenizeConversation(tok, CONV), policy({ overrides: { [firstA0]: 'mask', [firstT]: 'train' } }));
    expect(r.labels[firstA0]).toBe(-100);
    expect(r.weights[firstA0]).toBe(0);
    expect(r.labels[firstT]).toBe(ids[firstT]);
    expect(r.weights[firstT]).toBe(1);
  });
});

describe('end-of-turn, eos and pad are distinct where the tokenizer says so', () => {
  it('ids found from each template', () => {
    const d = toks.default;
    expect(d.tokenString(d.endOfTurnTokenIds[0])).toBe('<|im_end|>');
    expect(d.tokenString(d.eosTokenId)).toBe('<|endoftext|>');
    expect(d.padTokenId === null ? null : d.tokenString(d.padTokenId)).toBe('<|pad|>');
    expect(toks.llama3.endOfTurnTokenIds).toEqual([128009]); // <|eot_id|>
    expect(toks.llama3.eosTokenId).toBe(128001); // <|end_of_text|>
    expect(toks.llama3.padTokenId).toBeNull();
    expect(toks.qwen3.endOfTurnTokenIds).toEqual([151645]); // <|im_end|>
    expect(toks.qwen3.padTokenId).toBe(151643); // <|endoftext|>
    for (const t of Object.values(toks)) expect(t.warnings).toEqual([]);
  });
});

describe('content-diff method selection', () => {
  it('plain chats use the one-rendering skeleton; a Qwen3 reasoning turn falls back to per-message diffs', () => {
    for (const tok of Object.values(toks)) expect(attributeChars((c) => tok.render(c), CONV, tok.render(CONV)).method).toBe('skeleton');
    const reasoning: Conversation = [
      { role: 'user', content: 'Sum 2 and 3.' },
      { role: 'assistant', content: '<think>\n2 plus 3 is 5.\n</think>\n\n5' },
    ];
    const q = toks.qwen3;
    expect(attributeChars((c) => q.render(c), reasoning, q.render(reasoning)).method).toBe('per-message');
  });
});

describe('Qwen3 and Llama-3 template traps', () => {
  const SHORT: Conversation = [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello!' },
  ];
  it('Qwen3: the empty think block on the final turn is template, and is reported', () => {
    const s = tokenizeConversation(toks.qwen3, SHORT);
    expect(s.rendered).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>\n');
    const trained = computeLabels(s, DEFAULT_POLICY);
    const trainedText = s.tokens.filter((_, i) => trained.weights[i] === 1).map((t) => t.text).join('');
    expect(trainedText).toBe('Hello!<|im_end|>');
    expect(s.notes.join('\n')).toMatch(/empty reasoning block "<think>\\n\\n<\/think>\\n\\n"/);
  });
  it('Qwen3: the same turn earlier in a longer chat has no think block; the rewrite is detected', () => {
    const s = tokenizeConversation(toks.qwen3, [...SHORT, { role: 'user', content: 'Bye' }, { role: 'assistant', content: 'Bye!' }]);
    expect(s.rendered.startsWith('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n')).toBe(true);
    const r = computeLabels(s, DEFAULT_POLICY);
    expect(s.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('')).toBe('Hello!<|im_end|>Bye!<|im_end|>');
    expect(s.notes.join('\n')).toMatch(/rewrites earlier turns: messages 0–1 rendered alone differ/);
  });
  it('Qwen3: reasoning content keeps reasoning, </think> and answer as assistant; the <think> opener is template', () => {
    const s = tokenizeConversation(toks.qwen3, [
      { role: 'user', content: 'Sum 2 and 3.' },
      { role: 'assistant', content: '<think>\n2 plus 3 is 5.\n</think>\n\n5' },
    ]);
    const r = computeLabels(s, DEFAULT_POLICY);
    expect(s.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('')).toBe('2 plus 3 is 5.\n</think>\n\n5<|im_end|>');
  });
  it("Qwen3 in transformers.js: lstrip('\\n') strips every leading whitespace (Python strips only newlines)", () => {
    // Known divergence of @huggingface/jinja from Python Jinja: str.lstrip/rstrip/strip ignore their
    // argument. Python renders "\n\n  Hi" as "  Hi" here; transformers.js renders "Hi". If this
    // test fails, the library was fixed and the Qwen3 oracle in properties.test.ts must follow.
    const s = tokenizeConversation(toks.qwen3, [
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: '\n\n  Hi' },
    ]);
    expect(s.rendered.endsWith('</think>\n\nHi<|im_end|>\n')).toBe(true);
    expect(s.notes.join('\n')).toMatch(/did not copy 4 leading\/trailing/);
  });
  it('Llama-3: trimmed content and the appended assistant header are handled and reported', () => {
    const s = tokenizeConversation(toks.llama3, [
      { role: 'user', content: '  Hi  ' },
      { role: 'assistant', content: '\n Hello! \n' },
    ]);
    const r = computeLabels(s, DEFAULT_POLICY);
    expect(s.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('')).toBe('Hello!<|eot_id|>');
    const notes = s.notes.join('\n');
    expect(notes).toMatch(/always appends the assistant header/);
    expect(notes).toMatch(/Assistant turn 0 \(message 1\): the template did not copy 4 leading\/trailing/);
  });
});

describe('straddling tokens', () => {
  it('a BPE token merging template and assistant characters straddles and trains in response-only mode', () => {
    // "assistant\n" (template) + "\n\nHello" (content): the pre-tokenizer keeps "\n\n\n" together.
    const conv: Conversation = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '\n\nHello' },
      { role: 'user', content: 'Ok' },
    ];
    for (const tok of [toks.default, toks.qwen3]) {
      const s = tokenizeConversation(tok, conv);
      const contentStart = s.rendered.indexOf('assistant\n') + 'assistant\n'.length;
      const t = s.tokens.find((x) => x.start < contentStart && x.end > contentStart);
      expect(t, tok.label).toBeDefined();
      expect(t?.straddles).toBe(true);
      expect(t?.roles).toEqual(['template', 'assistant']);
      expect(t?.role).toBe('assistant');
      const r = computeLabels(s, DEFAULT_POLICY);
      expect(r.weights[t?.index as number]).toBe(1);
    }
  });
  it('NFC (Qwen3): a combining mark after template markup stays with the content, not glued to the markup', () => {
    const s = tokenizeConversation(toks.qwen3, [
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: '\u0301hello' },
    ]);
    const tail = s.tokens.slice(-5).map((t) => [t.text, t.role, t.straddles]);
    expect(tail).toEqual([
      ['\n\n', 'template', false],
      ['\u0301', 'assistant', false],
      ['hello', 'assistant', false],
      ['<|im_end|>', 'assistant', false],
      ['\n', 'template', false],
    ]);
  });
  it('a multi-byte character split over tokens: texts still concatenate exactly', () => {
    const tok = toks.default; // 4096-token vocabulary: rare characters fall back to byte tokens
    const s = tokenizeConversation(tok, [
      { role: 'user', content: '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ꙮ' },
      { role: 'assistant', content: 'ꙮ𝔘' },
    ]);
    expect(s.tokens.map((t) => t.text).join('')).toBe(s.rendered);
    const partial = s.tokens.filter((t) => t.text === '');
    expect(partial.length).toBeGreaterThan(0);
    const r = computeLabels(s, DEFAULT_POLICY);
    const trainedBytes = s.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('');
    expect(trainedBytes).toBe('ꙮ𝔘<|im_end|>');
    // the byte pieces of the assistant's characters are assistant tokens, not template
    for (const t of partial) expect(t.roles.length).toBe(1);
  });
});

describe('policy edge cases', () => {
  it('nothing to train is reported with the exact message', () => {
    const s = tokenizeConversation(toks.default, [{ role: 'user', content: 'Only a question?' }]);
    const r = computeLabels(s, DEFAULT_POLICY);
    expect(r.nothingToTrain).toBe(true);
    expect(r.message).toBe(NOTHING_TO_TRAIN);
    expect(NOTHING_TO_TRAIN).toBe('nothing to train: every label is -100');
    expect(r.masked).toBe(s.tokens.length);
  });
  it('prompt loss weight must lie in [0, 1]', () => {
    const s = tokenizeConversation(toks.default, CONV);
    expect(() => computeLabels(s, policy({ promptLossWeight: 1.5 }))).toThrow(/between 0 and 1/);
    expect(() => computeLabels(s, policy({ promptLossWeight: Number.NaN }))).toThrow(/between 0 and 1/);
  });
  it('context check: cut position and whether the cut removes trained tokens', () => {
    const tok = toks.default;
    const s = tokenizeConversation(tok, CONV);
    const r = computeLabels(s, DEFAULT_POLICY);
    const T = s.tokens.length;
    expect(checkContext(s, r, T)).toMatchObject({ cutAt: null, removesResponse: false, message: null });
    const firstTrained = r.weights.indexOf(1);
    const keepPromptOnly = checkContext(s, r, firstTrained);
    expect(keepPromptOnly.cutAt).toBe(firstTrained);
    expect(keepPromptOnly.removesResponse).toBe(true);
    expect(keepPromptOnly.trainedRemoved).toBe(r.trained);
    expect(keepPromptOnly.message).toMatch(/removes all \d+ trained tokens: nothing left to train/);
    const cutLastTurn = checkContext(s, r, T - 3); // drops "Blue." tail, <|im_end|>, "\n"
    expect(cutLastTurn.removesResponse).toBe(true);
    expect(cutLastTurn.trainedRemoved).toBe(2);
    const cutTemplateOnly = checkContext(s, r, T - 1); // drops only the final "\n"
    expect(cutTemplateOnly).toMatchObject({ cutAt: T - 1, removesResponse: false, trainedRemoved: 0 });
    expect(() => checkContext(s, r, 0)).toThrow(/positive whole number/);
  });
});
