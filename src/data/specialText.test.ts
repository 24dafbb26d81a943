// Special-token text typed inside a message: by default it becomes the special token (as in
// transformers) and is flagged; with splitSpecialTokens it is encoded as plain characters. The
// proof for the plain path: its ids hold no special token and decode back to the same text.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodeTokenizer } from './testkit';
import { encodeChat, tokenizeConversation } from './attribution';
import { DEFAULT_POLICY, computeLabels } from './labels';
import type { ChatTokenizer, Conversation } from './types';

const IDS = ['default', 'llama3', 'qwen3'] as const;
const toks = {} as Record<(typeof IDS)[number], ChatTokenizer>;
beforeAll(async () => {
  for (const id of IDS) toks[id] = await loadNodeTokenizer(id);
});

const utf8 = new TextDecoder();
const decode = (tok: ChatTokenizer, ids: number[]) => {
  const parts = ids.map((id) => tok.tokenBytes(id));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return utf8.decode(all);
};

/** Special-token texts of each tokenizer's own template, typed as text. */
const TYPED: Record<(typeof IDS)[number], string[]> = {
  default: ['<|im_start|>', '<|im_end|>', '<|endoftext|>'],
  llama3: ['<|eot_id|>', '<|start_header_id|>', '<|begin_of_text|>'],
  qwen3: ['<|im_start|>', '<|im_end|>', '<|endoftext|>'],
};

describe.each(IDS)('%s tokenizer', (id) => {
  it('encodePlain: special-token text gives no special id and decodes back to the same text', () => {
    const tok = toks[id];
    for (const s of TYPED[id]) {
      expect(tok.specialTexts).toContain(s);
      const normal = tok.encode(s);
      expect(normal.some((t) => tok.isSpecial(t)), `${s} is matched by encode()`).toBe(true);
      for (const text of [s, `Say ${s} now`, `${s}${s}\n${s}`]) {
        const ids = tok.encodePlain(text);
        expect(ids.filter((t) => tok.isSpecial(t) || tok.addedTokenContent(t) !== null), text).toEqual([]);
        expect(decode(tok, ids)).toBe(text);
      }
    }
  });

  it('typed special text: flagged and noted by default; plain text with splitSpecialTokens, and labels stay -100 or the id', () => {
    const tok = toks[id];
    const [a, b] = TYPED[id];
    const conv: Conversation = [
      { role: 'user', content: `Print the marker ${a} please` },
      { role: 'assistant', content: `Here: ${b} and ${a} as text.` },
    ];
    const read = tokenizeConversation(tok, conv);
    const flagged = read.tokens.filter((t) => t.typedSpecial);
    expect(flagged.map((t) => [t.text, t.role])).toEqual([
      [a, 'user'],
      [b, 'assistant'],
      [a, 'assistant'],
    ]);
    expect(read.notes.join('\n')).toContain(`Message 0 (user): the text ${JSON.stringify(a)} is read as the special token`);

    const plain = tokenizeConversation(tok, conv, { splitSpecialTokens: true });
    expect(plain.rendered).toBe(read.rendered);
    expect(plain.tokens.map((t) => t.text).join('')).toBe(plain.rendered);
    expect(plain.tokens.filter((t) => t.typedSpecial)).toEqual([]);
    // No special id inside any message's content; the template's own special tokens are still there.
    const inContent = plain.tokens.filter((t) => t.role !== 'template' && !t.isEndOfTurn);
    expect(inContent.filter((t) => tok.isSpecial(t.id))).toEqual([]);
    expect(plain.tokens.filter((t) => tok.isSpecial(t.id)).length).toBe(read.tokens.filter((t) => tok.isSpecial(t.id)).length - 3);
    expect(plain.notes.join('\n')).toContain(`the text ${JSON.stringify(a)} is encoded as plain text`);
    // The assistant's typed text is trained as characters, with the end-of-turn token after it.
    const lr = computeLabels(plain, DEFAULT_POLICY);
    plain.tokens.forEach((t, i) => expect([t.id, -100]).toContain(lr.labels[i]));
    expect(plain.tokens.filter((t) => t.isEndOfTurn).length).toBe(1);
  });

  it('encodeChat (the answers\' prompt, with the generation prompt) encodes typed text the same way', () => {
    const tok = toks[id];
    const [a] = TYPED[id];
    const conv: Conversation = [{ role: 'user', content: `Repeat ${a} twice` }];
    const render = (c: Conversation) => tok.render(c, true);
    const read = encodeChat(tok, conv, render);
    expect(read.ids).toEqual(tok.encode(render(conv)));
    const plain = encodeChat(tok, conv, render, { splitSpecialTokens: true });
    expect(decode(tok, plain.ids)).toBe(plain.rendered);
    expect(plain.ids.filter((t) => tok.isSpecial(t)).length).toBe(read.ids.filter((t) => tok.isSpecial(t)).length - 1);
  });

  it('without typed special text, splitSpecialTokens changes nothing', () => {
    const tok = toks[id];
    const conv: Conversation = [
      { role: 'user', content: 'Hi <| there |>' },
      { role: 'assistant', content: 'Hello!' },
    ];
    expect(tokenizeConversation(tok, conv, { splitSpecialTokens: true }).tokens).toEqual(tokenizeConversation(tok, conv).tokens);
  });
});
