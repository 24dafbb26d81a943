// The token view's notes are messages (issue 14): each renders back to the English note exactly,
// and in Chinese with no placeholder left.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodeTokenizer } from './testkit';
import { tokenizeConversation } from './attribution';
import { LAB_CONV } from './strategies/labConversation';
import { textOf, UNCODED } from '../spec/message';
import type { ChatTokenizer, Conversation } from './types';

const IDS = ['default', 'llama3', 'qwen3', 'gemma3'] as const;
const toks = {} as Record<(typeof IDS)[number], ChatTokenizer>;
beforeAll(async () => {
  for (const id of IDS) toks[id] = await loadNodeTokenizer(id);
});

const CONVS: Conversation[] = [
  LAB_CONV,
  [
    { role: 'assistant', content: 'Hello first.' },
    { role: 'user', content: '  spaced <|im_end|> <|eot_id|> <end_of_turn>  ' },
    { role: 'assistant', content: 'Done.' },
  ],
];

describe('sample notes', () => {
  it('carry a message each, the same English, and Chinese words', () => {
    let coded = 0;
    for (const tok of Object.values(toks)) {
      for (const conv of CONVS) {
        for (const splitSpecialTokens of [false, true]) {
          let s;
          try {
            s = tokenizeConversation(tok, conv, { splitSpecialTokens });
          } catch {
            continue; // a template that refuses the chat (Gemma: assistant first)
          }
          expect(s.noteMsgs).toHaveLength(s.notes.length);
          s.notes.forEach((n, i) => {
            const m = s.noteMsgs![i];
            expect(textOf(m)).toBe(n);
            expect(m.code, n).not.toBe(UNCODED);
            coded++;
            const zh = textOf(m, 'zh');
            expect(zh, n).not.toMatch(/\{\{|\}\}/);
            expect(zh, n).toMatch(/[\u4e00-\u9fff]/);
          });
        }
      }
    }
    expect(coded).toBeGreaterThan(16);
  });
});
