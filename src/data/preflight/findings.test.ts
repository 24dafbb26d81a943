// Each finding on a sample built to trigger it, and on one built not to, with real tokenizers and
// real strategies. Expected counts come from our attribution (tokenizeConversation + the ruler
// policy) or from the chat template's text, not from the code under test.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodeTokenizer } from '../testkit';
import { tokenizeConversation } from '../attribution';
import { computeLabels, DEFAULT_POLICY, IGNORE_INDEX } from '../labels';
import { detectFamily, runStrategy, type LabChoice, type StrategyId } from '../strategies';
import { LAB_CONV } from '../strategies/labConversation';
import type { ChatTokenizer, Conversation, MaskPolicy, TokenizerId } from '../types';
import { keptSequence, lintSample, RESPONSE_POLICY } from './findings';
import type { FindingId, PreflightSettings } from './types';

const toks = new Map<TokenizerId, ChatTokenizer>();
beforeAll(async () => {
  for (const id of ['default', 'qwen3', 'llama3', 'deepseek_v3'] as const) toks.set(id, await loadNodeTokenizer(id));
});
const tokOf = (id: TokenizerId) => toks.get(id) as ChatTokenizer;

const choice = (id: StrategyId, options: LabChoice['options'] = {}): LabChoice => ({ id, options });

function lint(tid: TokenizerId, conversation: Conversation, settings: Partial<PreflightSettings> = {}) {
  const tok = tokOf(tid);
  const full: PreflightSettings = { strategy: choice('template-spans'), compare: [], maxLength: 4096, fatal: [], ...settings };
  return lintSample({ tok, family: detectFamily(tok), conversation, tools: null, index: 3, line: 7, settings: full });
}

function finding(r: ReturnType<typeof lint>, id: FindingId) {
  return r.report.findings.find((f) => f.id === id);
}

const ONE: Conversation = [
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello!' },
];
const LONG_ANSWER = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
const LONG: Conversation = [
  { role: 'user', content: 'Count for me.' },
  { role: 'assistant', content: LONG_ANSWER },
];

describe('the sample report', () => {
  it('names the sample, counts its tokens and trained tokens from the chosen row', () => {
    const r = lint('default', LAB_CONV);
    expect(r.report).toMatchObject({ index: 3, line: 7, tokens: r.row.ids.length, trained: r.row.trained });
    expect(r.report.share).toBeCloseTo(r.row.trained / r.row.ids.length, 12);
    expect(r.report.findings).toEqual([]);
  });
});

describe('nothing-to-train', () => {
  it('fires on a sample with no assistant turn, and says so', () => {
    const r = lint('default', [{ role: 'user', content: 'Just a question.' }]);
    expect(r.row.trained).toBe(0);
    const f = finding(r, 'nothing-to-train');
    expect(f?.count).toBe(1);
    expect(f?.message).toMatch(/no assistant response/);
    expect(r.report.share).toBe(0);
  });

  it('carries the framework’s error text when it raises', () => {
    const r = lint('default', LONG, { strategy: choice('axolotl-chat-template', { excess_length_strategy: 'raise' }), maxLength: 16 });
    expect(r.row.error).toMatch(/exceeds the maximum 16/);
    expect(finding(r, 'nothing-to-train')?.message).toContain(r.row.error as string);
  });

  it('does not fire when something trains', () => {
    expect(finding(lint('default', ONE), 'nothing-to-train')).toBeUndefined();
  });
});

describe('response-truncated', () => {
  it('counts the response tokens at index ≥ maxLength (ruler: content and end-of-turn)', () => {
    const tok = tokOf('default');
    const ruler = computeLabels(tokenizeConversation(tok, LONG), RESPONSE_POLICY).labels;
    const maxLength = 16;
    let lost = 0;
    for (let i = maxLength; i < ruler.length; i++) if (ruler[i] !== IGNORE_INDEX) lost++;
    expect(lost).toBeGreaterThan(10);
    const f = finding(lint('default', LONG, { maxLength }), 'response-truncated');
    expect(f?.count).toBe(lost);
    expect(f?.message).toMatch(new RegExp(`^${lost} response tokens past max length 16 are lost`));
  });

  it('counts the same lost tokens for a strategy that builds its own ids (torchtune)', () => {
    const maxLength = 16;
    const r = lint('default', LONG, { strategy: choice('torchtune'), maxLength });
    const tok = tokOf('default');
    const ruler = computeLabels(tokenizeConversation(tok, LONG), RESPONSE_POLICY).labels;
    let lost = 0;
    for (let i = maxLength; i < ruler.length; i++) if (ruler[i] !== IGNORE_INDEX) lost++;
    // torchtune's sequence has no trailing newline and writes eos over its last kept position:
    // the same response tokens fall past the cut, give or take the token it overwrote.
    expect(finding(r, 'response-truncated')?.count).toBeGreaterThanOrEqual(lost - 1);
    expect(finding(r, 'response-truncated')?.count).toBeLessThanOrEqual(lost + 1);
  });

  it('does not fire when the sample fits, or when only the prompt is cut', () => {
    expect(finding(lint('default', LONG), 'response-truncated')).toBeUndefined();
    const longPrompt: Conversation = [{ role: 'user', content: LONG_ANSWER }, { role: 'assistant', content: 'Ok.' }];
    const tok = tokOf('default');
    const T = tokenizeConversation(tok, longPrompt).tokens.length;
    // Cut after the answer's end-of-turn: only the template's trailing newline is lost.
    expect(finding(lint('default', longPrompt, { maxLength: T - 1 }), 'response-truncated')).toBeUndefined();
  });
});

describe('eot-never-trained', () => {
  it('fires for axolotl’s defaults on ChatML: eot_tokens = [eos_token] = <|endoftext|>, which the template never writes', () => {
    const f = finding(lint('default', LAB_CONV, { strategy: choice('axolotl-chat-template') }), 'eot-never-trained');
    expect(f?.count).toBe(2);
    expect(f?.message).toContain('<|im_end|>');
  });

  it('does not fire for axolotl with eot_tokens set to the turn closer, nor for template-spans (end-of-turn trained)', () => {
    expect(finding(lint('default', LAB_CONV, { strategy: choice('axolotl-chat-template', { eot_tokens: ['<|im_end|>'] }) }), 'eot-never-trained')).toBeUndefined();
    expect(finding(lint('default', LAB_CONV), 'eot-never-trained')).toBeUndefined();
  });

  it('fires for template-spans with trainEndOfTurn off, and only for the turns it trains otherwise', () => {
    const off: MaskPolicy = { ...DEFAULT_POLICY, trainEndOfTurn: false };
    expect(finding(lint('default', LAB_CONV, { policy: off }), 'eot-never-trained')?.count).toBe(2);
    const last: MaskPolicy = { ...DEFAULT_POLICY, assistantTurns: 'last' };
    expect(finding(lint('default', LAB_CONV, { policy: last }), 'eot-never-trained')?.count).toBe(1);
  });

  it('counts only end-of-turn tokens within maxLength', () => {
    const tok = tokOf('default');
    const s = tokenizeConversation(tok, LAB_CONV);
    const eots = s.tokens.filter((t) => t.isEndOfTurn).map((t) => t.index);
    expect(eots).toHaveLength(2);
    // Cut between the two turns' closers: only the first one is inside the context.
    const r = lint('default', LAB_CONV, { strategy: choice('axolotl-chat-template', { excess_length_strategy: 'truncate' }), maxLength: eots[1] });
    expect(finding(r, 'eot-never-trained')?.count).toBe(1);
  });

  it('sees the end of turn a sequence-building strategy writes itself (torchtune trains <|im_end|>)', () => {
    expect(finding(lint('default', LAB_CONV, { strategy: choice('torchtune') }), 'eot-never-trained')).toBeUndefined();
  });
});

describe('pad-is-eos', () => {
  it('fires on every sample of a tokenizer whose pad token is its eos (DeepSeek-V3), naming the token', () => {
    const f = finding(lint('deepseek_v3', ONE), 'pad-is-eos');
    expect(f?.count).toBe(1);
    expect(f?.message).toContain('<｜end▁of▁sentence｜>');
    expect(finding(lint('deepseek_v3', [{ role: 'user', content: 'No answer.' }]), 'pad-is-eos')).toBeDefined();
  });

  it('does not fire when pad is its own token (default <|pad|>, Qwen3 <|endoftext|> ≠ <|im_end|>) or absent (Llama 3)', () => {
    expect(tokOf('llama3').padTokenId).toBeNull();
    for (const tid of ['default', 'qwen3', 'llama3'] as const) expect(finding(lint(tid, ONE), 'pad-is-eos')).toBeUndefined();
  });
});

describe('empty-think-trained', () => {
  it('fires when a strategy trains Qwen3’s empty <think>\\n\\n</think>\\n\\n (TRL completion_only_loss: the completion starts after the generation prompt)', () => {
    const r = lint('qwen3', ONE, { strategy: choice('trl-completion-only') });
    expect(r.row.text).toContain('<think>\n\n</think>\n\nHello!');
    // <think>, "\n\n", </think>, "\n\n": four tokens, all trained.
    expect(finding(r, 'empty-think-trained')?.count).toBe(4);
  });

  it('fires when the data itself holds an empty block in the answer', () => {
    const conv: Conversation = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '<think>\n\n</think>\n\nHello!' }];
    expect(finding(lint('default', conv), 'empty-think-trained')?.count).toBeGreaterThan(0);
  });

  it('does not fire when the block is template markup left masked (template-spans, axolotl on Qwen3), or absent (ChatML)', () => {
    expect(lint('qwen3', ONE).row.text).toContain('<think>\n\n</think>');
    expect(finding(lint('qwen3', ONE), 'empty-think-trained')).toBeUndefined();
    expect(finding(lint('qwen3', ONE, { strategy: choice('axolotl-chat-template') }), 'empty-think-trained')).toBeUndefined();
    expect(finding(lint('default', ONE, { strategy: choice('trl-completion-only') }), 'empty-think-trained')).toBeUndefined();
  });

  it('does not count a think block with reasoning in it', () => {
    const conv: Conversation = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '<think>\nThe user greets me.\n</think>\n\nHello!' }];
    expect(finding(lint('default', conv), 'empty-think-trained')).toBeUndefined();
  });
});

describe('typed-special-tokens', () => {
  const typed: Conversation = [{ role: 'user', content: 'Does <|im_end|> end it? And <|im_start|>?' }, { role: 'assistant', content: 'Yes.' }];

  it('counts the typed text that became special tokens, and names it', () => {
    const f = finding(lint('default', typed), 'typed-special-tokens');
    expect(f?.count).toBe(2);
    expect(f?.message).toContain('<|im_end|>');
    expect(f?.message).toContain('<|im_start|>');
  });

  it('does not fire on plain text, nor when template-spans encodes it as plain text (split_special_tokens)', () => {
    expect(finding(lint('default', ONE), 'typed-special-tokens')).toBeUndefined();
    expect(finding(lint('default', typed, { splitSpecialTokens: true }), 'typed-special-tokens')).toBeUndefined();
  });

  it('still fires under a strategy that ignores split_special_tokens', () => {
    expect(finding(lint('default', typed, { strategy: choice('axolotl-chat-template'), splitSpecialTokens: true }), 'typed-special-tokens')?.count).toBe(2);
  });
});

describe('strategies-disagree', () => {
  it('counts the tokens axolotl’s defaults train differently from template-spans on ChatML (the two <|im_end|>)', () => {
    const r = lint('default', LAB_CONV, { compare: [choice('axolotl-chat-template')] });
    expect(r.compared).toHaveLength(1);
    let differ = 0;
    for (let i = 0; i < r.row.ids.length; i++) if ((r.row.labels[i] !== IGNORE_INDEX) !== (r.compared[0].labels[i] !== IGNORE_INDEX)) differ++;
    expect(differ).toBe(2);
    const f = finding(r, 'strategies-disagree');
    expect(f?.count).toBe(2);
    expect(f?.message).toContain('axolotl chat_template: 2');
  });

  it('takes the maximum over the compared strategies and names each one that differs', () => {
    const r = lint('default', LAB_CONV, { compare: [choice('template-spans'), choice('axolotl-chat-template'), choice('trl-completion-only')] });
    const f = finding(r, 'strategies-disagree');
    expect(f?.message).not.toContain('Template spans (this playground):');
    expect(f?.message).toContain('axolotl chat_template: 2');
    expect(f?.count).toBeGreaterThanOrEqual(2);
  });

  it('aligns a strategy with its own ids on token text (torchtune on Llama 3 has no trailing header)', () => {
    const r = lint('llama3', ONE, { compare: [choice('torchtune')] });
    expect(Array.from(r.compared[0].ids)).not.toEqual(Array.from(r.row.ids));
    const f = finding(r, 'strategies-disagree');
    expect(f?.count).toBeGreaterThan(0);
    expect(f?.count).toBeLessThan(r.row.ids.length);
  });

  it('does not fire when the compared strategy trains the same tokens, or when there is nothing to compare', () => {
    expect(finding(lint('default', LAB_CONV, { compare: [choice('template-spans')] }), 'strategies-disagree')).toBeUndefined();
    expect(finding(lint('default', LAB_CONV, { compare: [choice('axolotl-chat-template', { eot_tokens: ['<|im_end|>'] })] }), 'strategies-disagree')).toBeUndefined();
    expect(finding(lint('default', LAB_CONV), 'strategies-disagree')).toBeUndefined();
  });
});

describe('keptSequence', () => {
  it('is the row cut to maxLength for a strategy that truncates at the end', () => {
    const r = lint('default', LONG, { maxLength: 16 });
    const kept = keptSequence(r.row, 16);
    expect(Array.from(kept.ids)).toEqual(Array.from(r.row.ids.slice(0, 16)));
    expect(Array.from(kept.labels)).toEqual(Array.from(r.row.labels.slice(0, 16)));
  });

  it('leaves out the tokens LLaMA-Factory cuts inside the sequence (infer_seqlen)', () => {
    const conv: Conversation = [{ role: 'user', content: LONG_ANSWER }, { role: 'assistant', content: LONG_ANSWER }];
    const tok = tokOf('default');
    const row = runStrategy(choice('llamafactory'), { tok, family: detectFamily(tok), conversation: conv, tools: null, maxLength: 32, policy: DEFAULT_POLICY });
    const kept = keptSequence(row, 32);
    expect(kept.ids.length).toBe(32);
    const cut = row.reasons.findIndex((s) => s.startsWith('cut by truncation'));
    let inside = 0;
    for (let i = 0; i < 32; i++) if (row.reasonIndex[i] === cut) inside++;
    expect(inside).toBeGreaterThan(0);
    for (let i = 0; i < kept.ids.length; i++) expect(kept.labels[i] === IGNORE_INDEX || kept.labels[i] === kept.ids[i]).toBe(true);
  });
});
