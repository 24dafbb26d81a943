// Every reason and note of the lab's rows is a message: rendered in English it is the row's text
// exactly, and it renders in Chinese with no placeholder left (issue 14). A framework's own words
// (its warnings and errors) stay uncoded, as the framework wrote them.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodeTokenizer } from '../testkit';
import { DEFAULT_POLICY } from '../labels';
import { detectFamily } from './family';
import { LAB_CONV } from './labConversation';
import { STRATEGIES, runStrategy } from './index';
import { reason } from './reasons';
import { textOf, UNCODED } from '../../spec/message';
import type { ChatTokenizer } from '../types';

const toks = {} as Record<'default' | 'llama3' | 'qwen3' | 'gemma3', ChatTokenizer>;
beforeAll(async () => {
  for (const id of ['default', 'llama3', 'qwen3', 'gemma3'] as const) toks[id] = await loadNodeTokenizer(id);
});

describe('lab reasons and notes', () => {
  it('carry a message for every reason and note, the same English, and Chinese words', () => {
    let coded = 0;
    for (const tok of Object.values(toks)) {
      for (const maxLength of [1024, 24]) {
        const input = { tok, family: detectFamily(tok), conversation: LAB_CONV, tools: null, maxLength, policy: DEFAULT_POLICY };
        for (const s of STRATEGIES) {
          const row = runStrategy({ id: s.id, options: {} }, input);
          expect(row.reasonMsgs).toHaveLength(row.reasons.length);
          expect(row.noteMsgs).toHaveLength(row.notes.length);
          const pairs = [...row.reasons.map((r, k) => [r, row.reasonMsgs![k]] as const), ...row.notes.map((n, k) => [n, row.noteMsgs![k]] as const)];
          for (const [text, m] of pairs) {
            expect(textOf(m), `${s.id} ${text}`).toBe(text);
            if (m.code === UNCODED) continue;
            coded++;
            const zh = textOf(m, 'zh');
            expect(zh, `${s.id} ${text}`).not.toMatch(/\{\{|\}\}/);
            expect(zh, `${s.id} ${text}`).toMatch(/[\u4e00-\u9fff]/);
          }
          // Every reason is ours (a framework's error is framed by ours: "the framework raises: …").
          expect(row.reasonMsgs!.filter((m) => m.code === UNCODED).map((m) => textOf(m))).toEqual([]);
        }
      }
    }
    expect(coded).toBeGreaterThan(50);
  });

  it("gives the lab's own row error its message, and the reasons under it", () => {
    const conversation = [{ role: 'user' as const, content: 'Hello?' }];
    const row = runStrategy({ id: 'llmbook', options: {} }, { tok: toks.default, family: detectFamily(toks.default), conversation, tools: null, maxLength: 1024, policy: DEFAULT_POLICY });
    expect(row.error).toBe('LLMBook trains an output: this sample has no assistant message');
    expect(textOf(row.errorMsg!, 'zh')).toBe('LLMBook 训练的是输出：这个样本没有 assistant 消息');
  });

  it('renders a reason with a nested why in Chinese', () => {
    const row = runStrategy({ id: 'template-spans', options: {} }, { tok: toks.default, family: detectFamily(toks.default), conversation: LAB_CONV, tools: null, maxLength: 1024, policy: DEFAULT_POLICY });
    const k = row.reasons.indexOf(reason.role('user', false));
    expect(k).toBeGreaterThanOrEqual(0);
    expect(textOf(row.reasonMsgs![k], 'zh')).toBe('角色：user → 屏蔽');
  });
});
