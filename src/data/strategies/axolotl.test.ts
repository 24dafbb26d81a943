// axolotl chat_template (v0.18.0) on LAB_CONV, labels written by hand from the documented algorithm
// (axolotlChatTemplate.ts's header) and the templates' text. Every token is [vocabulary piece, tag]:
// T markup, C<k> content of message k, E<k> the end token the template writes after message k, P2
// (Qwen3 only) the markup where find_turn's span for message 2 lands (see QWEN3). The piece split is
// the tokenizer's (checked against tok.encode); each case lists the tags that train.
//
// Tokenizers: default = ChatML with eos_token <|endoftext|>, which the template never writes, so
// with axolotl's default eot_tokens ([eos_token]) no end token is found: nothing but content trains.
// llama3 = eos_token <|end_of_text|>, also absent (turns end <|eot_id|>): the same. qwen3 = eos_token
// <|im_end|>, the turn closer itself. "closer" cases set eot_tokens to the template's turn closer.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadNodeTokenizer } from '../testkit';
import { DEFAULT_POLICY } from '../labels';
import { checkLabels } from './common';
import { detectFamily } from './family';
import { LAB_CONV } from './labConversation';
import { axolotlChatTemplate as axolotl } from './axolotlChatTemplate';
import type { ChatTokenizer, Conversation } from '../types';
import type { StrategyOptions, StrategyOutput } from './types';

type Tok = 'default' | 'llama3' | 'qwen3';
type Tag = 'T' | `C${number}` | `E${number}` | 'P2';
type Row = [piece: string, tag: Tag];

const imOpen = (role: string, tag: Tag = 'T'): Row[] => [['<|im_start|>', tag], [role, tag], ['Ċ', 'T']];
const content = (k: number, ...pieces: string[]): Row[] => pieces.map((p) => [p, `C${k}`]);

// ChatML: "<|im_start|>{role}\n{content}<|im_end|>\n" per message.
const DEFAULT: Row[] = [
  ...imOpen('system'), ...content(0, 'You', 'Ġare', 'Ġter', 'se', '.'), ['<|im_end|>', 'E0'], ['Ċ', 'T'],
  ...imOpen('user'), ...content(1, 'What', 'Ġis', 'Ġ2', '+', '2', '?'), ['<|im_end|>', 'E1'], ['Ċ', 'T'],
  ...imOpen('assistant'), ...content(2, 'F', 'our', '.'), ['<|im_end|>', 'E2'], ['Ċ', 'T'],
  ...imOpen('user'), ...content(3, 'And', 'Ġ3', '+', '3', '?'), ['<|im_end|>', 'E3'], ['Ċ', 'T'],
  ...imOpen('assistant'), ...content(4, 'S', 'ix', '.'), ['<|im_end|>', 'E4'], ['Ċ', 'T'],
];

// @lenml's Llama 3: BOS, "<|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>", and
// an assistant header always appended. Every cut rendering find_turn makes also ends with that header,
// so both differences (front and back) fall on the content: spans are exact.
const header = (role: string): Row[] => [['<|start_header_id|>', 'T'], [role, 'T'], ['<|end_header_id|>', 'T'], ['ĊĊ', 'T']];
const LLAMA3: Row[] = [
  ['<|begin_of_text|>', 'T'],
  ...header('system'), ...content(0, 'You', 'Ġare', 'Ġterse', '.'), ['<|eot_id|>', 'E0'],
  ...header('user'), ...content(1, 'What', 'Ġis', 'Ġ', '2', '+', '2', '?'), ['<|eot_id|>', 'E1'],
  ...header('assistant'), ...content(2, 'Four', '.'), ['<|eot_id|>', 'E2'],
  ...header('user'), ...content(3, 'And', 'Ġ', '3', '+', '3', '?'), ['<|eot_id|>', 'E3'],
  ...header('assistant'), ...content(4, 'Six', '.'), ['<|eot_id|>', 'E4'],
  ...header('assistant'),
];

// Qwen3: an assistant message after the last user message gets "<think>\n\n</think>\n\n" when it is
// the last message. In the full conversation that is message 4 only. find_turn(2) renders messages
// 0..2, where message 2 IS last: "…<|im_start|>assistant\n<think>\n\n</think>\n\nFour.<|im_end|>\n".
// Tokens 0..23 are those of the full rendering; then <think> ĊĊ </think> ĊĊ (24..27), Four . (28, 29),
// <|im_end|> Ċ. Against the dummy the front differs at 28 and the back at 29: span [28, 30). In the
// full rendering 28, 29 are message 3's "<|im_start|>", "user" (P2): they train, Four . (24, 25) do
// not. The first <|im_end|> at or after 30 is message 3's at 37: 7 > 3 tokens away, so message 2's
// own <|im_end|> (26) is never found. Messages 0, 1, 3 and 4 render the same cut or not: exact.
const QWEN3: Row[] = [
  ...imOpen('system'), ...content(0, 'You', 'Ġare', 'Ġterse', '.'), ['<|im_end|>', 'E0'], ['Ċ', 'T'],
  ...imOpen('user'), ...content(1, 'What', 'Ġis', 'Ġ', '2', '+', '2', '?'), ['<|im_end|>', 'E1'], ['Ċ', 'T'],
  ...imOpen('assistant'), ...content(2, 'Four', '.'), ['<|im_end|>', 'E2'], ['Ċ', 'T'],
  ...imOpen('user', 'P2'), ...content(3, 'And', 'Ġ', '3', '+', '3', '?'), ['<|im_end|>', 'E3'], ['Ċ', 'T'],
  ...imOpen('assistant'), ['<think>', 'T'], ['ĊĊ', 'T'], ['</think>', 'T'], ['ĊĊ', 'T'], ...content(4, 'Six', '.'), ['<|im_end|>', 'E4'], ['Ċ', 'T'],
];

const ROWS: Record<Tok, Row[]> = { default: DEFAULT, llama3: LLAMA3, qwen3: QWEN3 };
const CLOSER: Record<Tok, string> = { default: '<|im_end|>', llama3: '<|eot_id|>', qwen3: '<|im_end|>' };
const TOKS = Object.keys(ROWS) as Tok[];

const toks = {} as Record<Tok, ChatTokenizer>;
beforeAll(async () => {
  for (const t of TOKS) toks[t] = await loadNodeTokenizer(t);
});

function runAxolotl(tok: ChatTokenizer, conversation: Conversation, options: StrategyOptions = {}, maxLength = 4096): StrategyOutput {
  const input = { tok, family: detectFamily(tok), conversation, tools: null, maxLength, policy: DEFAULT_POLICY };
  return axolotl.run(input, { ...axolotl.defaults(input.family, tok), ...options });
}

const tags = (s: string): Set<Tag> => new Set(s.split(' ') as Tag[]);
const expected = (t: Tok, ids: number[], trains: Set<Tag>) => ROWS[t].map(([, tag], i) => (trains.has(tag) ? ids[i] : -100));

describe.each(TOKS)('%s: the rendering is the hand-written pieces', (t) => {
  it('tok.encode(render(LAB_CONV)) splits into the rows', () => {
    const tok = toks[t];
    const out = runAxolotl(tok, LAB_CONV);
    expect(out.ids).toEqual(tok.encode(tok.render(LAB_CONV)));
    expect(out.ids.map((id) => tok.tokenString(id))).toEqual(ROWS[t].map((r) => r[0]));
  });
});

// The trained tags per case, derived from the algorithm (header of axolotlChatTemplate.ts).
const CASES: { name: string; options: (t: Tok) => StrategyOptions; trains: Record<Tok, string> }[] = [
  {
    name: 'defaults: roles_to_train [assistant], train_on_eos turn, eot_tokens [eos_token]',
    options: () => ({}),
    trains: { default: 'C2 C4', llama3: 'C2 C4', qwen3: 'P2 C4 E4' },
  },
  {
    name: 'eot_tokens [closer]: train_on_eot follows train_on_eos (turn)',
    options: (t) => ({ eot_tokens: [CLOSER[t]] }),
    trains: { default: 'C2 E2 C4 E4', llama3: 'C2 E2 C4 E4', qwen3: 'P2 C4 E4' },
  },
  {
    name: 'train_on_eos last: only the last end token found',
    options: (t) => ({ eot_tokens: [CLOSER[t]], train_on_eos: 'last' }),
    trains: { default: 'C2 C4 E4', llama3: 'C2 C4 E4', qwen3: 'P2 C4 E4' },
  },
  {
    name: 'train_on_eos none: no end token trains',
    options: (t) => ({ eot_tokens: [CLOSER[t]], train_on_eos: 'none' }),
    trains: { default: 'C2 C4', llama3: 'C2 C4', qwen3: 'P2 C4' },
  },
  {
    name: 'train_on_eos all: every message is located, every end token found trains',
    options: (t) => ({ eot_tokens: [CLOSER[t]], train_on_eos: 'all' }),
    trains: { default: 'C2 C4 E0 E1 E2 E3 E4', llama3: 'C2 C4 E0 E1 E2 E3 E4', qwen3: 'P2 C4 E0 E1 E3 E4' },
  },
  {
    name: 'roles_to_train [assistant, user]',
    options: (t) => ({ eot_tokens: [CLOSER[t]], roles_to_train: ['assistant', 'user'] }),
    trains: { default: 'C1 E1 C2 E2 C3 E3 C4 E4', llama3: 'C1 E1 C2 E2 C3 E3 C4 E4', qwen3: 'C1 E1 P2 C3 E3 C4 E4' },
  },
  {
    name: 'roles_to_train [gpt] maps to assistant',
    options: (t) => ({ eot_tokens: [CLOSER[t]], roles_to_train: ['gpt'] }),
    trains: { default: 'C2 E2 C4 E4', llama3: 'C2 E2 C4 E4', qwen3: 'P2 C4 E4' },
  },
  {
    name: 'train_on_inputs: every message, the system prompt too',
    options: (t) => ({ eot_tokens: [CLOSER[t]], train_on_inputs: true }),
    trains: { default: 'C0 E0 C1 E1 C2 E2 C3 E3 C4 E4', llama3: 'C0 E0 C1 E1 C2 E2 C3 E3 C4 E4', qwen3: 'C0 E0 C1 E1 P2 C3 E3 C4 E4' },
  },
  {
    name: 'roles_to_train [] and train_on_eos all: only end tokens',
    options: (t) => ({ eot_tokens: [CLOSER[t]], roles_to_train: [], train_on_eos: 'all' }),
    trains: { default: 'E0 E1 E2 E3 E4', llama3: 'E0 E1 E2 E3 E4', qwen3: 'E0 E1 E3 E4' },
  },
];

describe.each(TOKS)('%s: hand-derived labels on LAB_CONV', (t) => {
  it.each(CASES)('$name', ({ options, trains }) => {
    const tok = toks[t];
    const out = runAxolotl(tok, LAB_CONV, options(t));
    expect(out.error).toBeNull();
    expect(out.labels).toEqual(expected(t, out.ids, tags(trains[t])));
    expect(out.reasons).toHaveLength(out.ids.length);
  });
});

describe('notes and reasons', () => {
  it('default and llama3: the eos_token is not in the template, and axolotl says the terminator will not train', () => {
    expect(runAxolotl(toks.default, LAB_CONV).notes.join('\n')).toContain("EOS token '<|endoftext|>' not found in chat_template");
    expect(runAxolotl(toks.llama3, LAB_CONV).notes.join('\n')).toContain("EOS token '<|end_of_text|>' not found in chat_template");
    const out = runAxolotl(toks.default, LAB_CONV);
    expect(out.reasons[27]).toBe('end-of-turn → masked (<|im_end|> is neither eos_token nor one of eot_tokens)');
  });

  it('qwen3: message 2 is 4 tokens off; the reasons and a note say so', () => {
    const out = runAxolotl(toks.qwen3, LAB_CONV);
    const rows = QWEN3;
    const at = (tag: Tag) => rows.flatMap(([, g], i) => (g === tag ? [i] : []));
    expect(at('P2')[0] - at('C2')[0]).toBe(4); // <think> ĊĊ </think> ĊĊ
    expect(out.notes.join('\n')).toMatch(/Message 2: the template writes it 4 tokens later/);
    for (const i of at('P2')) expect(out.reasons[i]).toBe('inside the span of message 2 found on its prefix rendering, 4 tokens off in the full one → trained');
    for (const i of at('C2')) expect(out.reasons[i]).toBe("message 2's content, but the span found on its prefix rendering is 4 tokens off → masked");
    expect(out.reasons[at('E2')[0]]).toMatch(/^end-of-turn → masked \(train_on_eos: turn; not within 3 tokens after the span find_turn gives message 2/);
    expect(out.reasons[at('E4')[0]]).toBe('end-of-turn → trained (train_on_eot: turn)');
    expect(out.reasons[at('C4')[0]]).toBe('role: assistant → trained');
    expect(out.reasons[at('C1')[0]]).toBe('role: user → masked');
    expect(out.reasons[0]).toBe('template markup → masked');
  });

  it('train_on_eos none: each masked end token names the option', () => {
    const out = runAxolotl(toks.default, LAB_CONV, { eot_tokens: ['<|im_end|>'], train_on_eos: 'none' });
    expect(out.reasons[27]).toBe('end-of-turn → masked (train_on_eot: none)');
  });
});

describe('per-message training fields', () => {
  const withFields = (fields: Record<number, Record<string, unknown>>): Conversation => LAB_CONV.map((m, i) => (fields[i] ? { ...m, fields: fields[i] } : m));

  it('training: false on the last answer (message_field_training: training) masks it and its end token; axolotl warns', () => {
    const conv = withFields({ 4: { training: false } });
    const out = runAxolotl(toks.default, conv, { eot_tokens: ['<|im_end|>'], message_field_training: 'training' });
    expect(out.labels).toEqual(expected('default', out.ids, tags('C2 E2')));
    expect(out.reasons[42]).toBe('message training: false → masked');
    expect(out.notes.join('\n')).toContain('Last turn is not trainable');
  });

  it('training: true on a user message trains it whatever roles_to_train says', () => {
    const conv = withFields({ 1: { training: true } });
    const out = runAxolotl(toks.default, conv, { eot_tokens: ['<|im_end|>'], message_field_training: 'training' });
    expect(out.labels).toEqual(expected('default', out.ids, tags('C1 E1 C2 E2 C4 E4')));
    expect(out.reasons[13]).toBe('message training: true → trained');
  });

  it('message_field_training unset (axolotl\'s default): the field is not read, and a note says so', () => {
    const conv = withFields({ 4: { training: false } });
    const out = runAxolotl(toks.default, conv, { eot_tokens: ['<|im_end|>'] });
    expect(out.labels).toEqual(expected('default', out.ids, tags('C2 E2 C4 E4')));
    expect(out.notes.join('\n')).toMatch(/message_field_training is not set/);
  });

  it('training_detail: only the tokens inside a train: true range, offsets as axolotl adjusts them', () => {
    // "Four." alone is F(0) our(1..3) .(4). axolotl makes each end the next start - 1: F (0,0),
    // our (1,3), . (4,4). The range (0, 2): first token starting ≥ 0 is F; last ending ≤ 2 is F,
    // and "our" starts at 1 < 2, so it is taken too: adjusted (0, 3) → F, our train; "." does not.
    // The message trains (bool of a non-empty list), so its <|im_end|> trains ('turn').
    const conv = withFields({ 2: { train_detail: [{ begin_offset: 0, end_offset: 2, train: true }] } });
    const out = runAxolotl(toks.default, conv, { eot_tokens: ['<|im_end|>'], message_field_training_detail: 'train_detail' });
    const want = expected('default', out.ids, tags('C2 E2 C4 E4'));
    want[26] = -100; // the "."
    expect(out.labels).toEqual(want);
    expect(out.reasons[24]).toBe('inside a train_detail range with train: true → trained');
    expect(out.reasons[26]).toBe('not inside a train_detail range with train: true → masked');
  });
});

describe('samples axolotl trains nothing of, or cuts', () => {
  it('no assistant message: every label -100, the warning, and a note that only sample_packing drops it', () => {
    const out = runAxolotl(toks.default, LAB_CONV.slice(0, 2));
    expect(out.error).toBeNull();
    expect(out.labels.every((l) => l === -100)).toBe(true);
    const notes = out.notes.join('\n');
    expect(notes).toContain('Last turn is not trainable');
    expect(notes).toMatch(/Every label is -100: axolotl keeps the sample .* sample_packing/);
  });

  it('sequence_len: drop (default) masks the whole sample, truncate cuts it, raise raises', () => {
    const tok = toks.default;
    const dropped = runAxolotl(tok, LAB_CONV, {}, 20);
    expect(dropped.labels.every((l) => l === -100)).toBe(true);
    expect(dropped.reasons[24]).toBe('sample dropped (47 tokens > sequence_len 20) → masked');
    const cut = runAxolotl(tok, LAB_CONV, { excess_length_strategy: 'truncate' }, 26);
    const want = expected('default', cut.ids, tags('C2 C4')).map((l, i) => (i < 26 ? l : -100));
    expect(cut.labels).toEqual(want);
    expect(cut.reasons[26]).toBe('cut by truncation (max length 26) → dropped');
    const raisedOut = runAxolotl(tok, LAB_CONV, { excess_length_strategy: 'raise' }, 20);
    expect(raisedOut.error).toBe('Sequence encountered with 47 tokens, which exceeds the maximum 20.');
    expect(raisedOut.labels.every((l) => l === -100)).toBe(true);
  });
});

describe('setup errors (ChatTemplateStrategy.__init__)', () => {
  const input = (tok: ChatTokenizer) => ({ tok, family: detectFamily(tok), conversation: LAB_CONV, tools: null, maxLength: 4096, policy: DEFAULT_POLICY });
  const opts = (tok: ChatTokenizer, o: StrategyOptions) => ({ ...axolotl.defaults(detectFamily(tok), tok), ...o });

  it('eos_token inside eot_tokens with train_on_eot ≠ train_on_eos raises the conflict', () => {
    const tok = toks.qwen3;
    const o = opts(tok, { eot_tokens: ['<|im_end|>', '<think>'], train_on_eot: 'none' });
    expect(axolotl.validate?.(o, input(tok))?.key).toBe('train_on_eot');
    expect(axolotl.run(input(tok), o).error).toMatch(/^Conflict between train_on_eos and train_on_eot/);
  });

  it('eot_tokens exactly [eos_token] skips that check: train_on_eot none, train_on_eos turn still trains it', () => {
    const out = runAxolotl(toks.qwen3, LAB_CONV, { eot_tokens: ['<|im_end|>'], train_on_eot: 'none' });
    expect(out.error).toBeNull();
    expect(out.labels).toEqual(expected('qwen3', out.ids, tags('P2 C4 E4')));
  });

  it('an eot token of several tokens raises; one missing from the template is dropped with a warning', () => {
    const tok = toks.default;
    expect(axolotl.validate?.(opts(tok, { eot_tokens: ['add_generation_prompt'] }), input(tok))?.message).toMatch(/is encoded as multiple tokens/);
    const out = runAxolotl(tok, LAB_CONV, { eot_tokens: ['<|im_end|>', '<|endoftext|>'] });
    expect(out.notes.join('\n')).toContain("EOT token '<|endoftext|>' not found in chat_template");
    expect(out.labels).toEqual(expected('default', out.ids, tags('C2 E2 C4 E4')));
  });

  it('a bad choice is the option field\'s error', () => {
    const tok = toks.default;
    expect(axolotl.validate?.(opts(tok, { train_on_eos: 'sometimes' }), input(tok))).toMatchObject({ key: 'train_on_eos', message: 'train_on_eos must be one of turn, all, last, none.' });
  });
});

describe('property: random conversations and options', () => {
  const word = fc.constantFrom('hi', ' there', '2+2', '\n', 'é', '👋', '<|im_end|>', '', '  ', 'Four.');
  const message = fc.record({
    role: fc.constantFrom('system' as const, 'user' as const, 'assistant' as const),
    content: fc.array(word, { maxLength: 4 }).map((w) => w.join('')),
    training: fc.option(fc.boolean(), { nil: undefined }),
  });
  const options = fc.record({
    roles_to_train: fc.subarray(['assistant', 'user', 'system']),
    train_on_inputs: fc.boolean(),
    train_on_eos: fc.constantFrom('turn', 'all', 'last', 'none'),
    train_on_eot: fc.constantFrom('unset', 'turn', 'all', 'last', 'none'),
    eot_tokens: fc.constantFrom<string[]>([], ['<|im_end|>']),
    message_field_training: fc.constantFrom('', 'training'),
    excess_length_strategy: fc.constantFrom('drop', 'truncate', 'raise'),
  });

  it('labels are the id or -100, one reason per token, an error masks everything', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), options, fc.constantFrom<Tok>('default', 'qwen3'), fc.integer({ min: 1, max: 80 }), (msgs, o, t, maxLength) => {
        const conv: Conversation = msgs.map(({ role, content, training }) => (training === undefined ? { role, content } : { role, content, fields: { training } }));
        const out = runAxolotl(toks[t], conv, o, maxLength);
        checkLabels(out.ids, out.labels);
        expect(out.reasons).toHaveLength(out.ids.length);
        expect(out.reasons.every((r) => r.length > 0)).toBe(true);
        if (out.error !== null) expect(out.labels.every((l) => l === -100)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});
