// Hand-derived labels for the three strategies that build their own sequence: LLaMA-Factory,
// torchtune and LLMBook. Each expectation is written from the framework's own strings, as the list
// of pieces it encodes one by one: [the string, its tokens as vocabulary pieces, tags]. Tags: 'T'
// trained, 'M' masked, either one letter for the whole piece or one per token. The split into
// tokens is the tokenizer's (checked against tok.encode of that string); the ids, the text and
// the labels the strategy must give are derived from the strings and tags alone.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadNodeTokenizer } from '../testkit';
import { DEFAULT_POLICY } from '../labels';
import { checkLabels } from './common';
import { detectFamily } from './family';
import { LAB_CONV } from './labConversation';
import { inferSeqlen, llamaFactory } from './llamaFactory';
import { llmbook, bookPrompt } from './llmbook';
import { torchtune } from './torchtune';
import { reason } from './reasons';
import type { ChatTokenizer, Conversation } from '../types';
import type { Strategy, StrategyInput, StrategyOptions, StrategyOutput } from './types';

type Seg = [text: string, pieces: string[], tags: string];

const toks = {} as Record<'default' | 'llama3' | 'qwen3' | 'gemma3', ChatTokenizer>;
beforeAll(async () => {
  for (const id of ['default', 'llama3', 'qwen3', 'gemma3'] as const) toks[id] = await loadNodeTokenizer(id);
});

const inputFor = (tok: ChatTokenizer, conversation: Conversation = LAB_CONV, maxLength = 1024): StrategyInput => ({ tok, family: detectFamily(tok), conversation, tools: null, maxLength, policy: DEFAULT_POLICY });

function run(s: Strategy, input: StrategyInput, options: StrategyOptions = {}): StrategyOutput {
  const all = { ...s.defaults(input.family, input.tok), ...options };
  const bad = s.validate?.(all, input) ?? null;
  if (bad) throw new Error(`option ${bad.key}: ${bad.message}`);
  const out = s.run(input, all);
  checkLabels(out.ids, out.labels);
  expect(out.reasons).toHaveLength(out.ids.length);
  return out;
}

/** The split check, then ids, text and labels against the pieces. */
function expectSegments(tok: ChatTokenizer, out: StrategyOutput, segs: Seg[]): void {
  expect(out.error).toBeNull();
  for (const [text, pieces, tags] of segs) {
    expect(tok.encode(text).map((id) => tok.tokenString(id)), JSON.stringify(text)).toEqual(pieces);
    expect(tags.length === 1 || tags.length === pieces.length, `tags of ${JSON.stringify(text)}`).toBe(true);
  }
  const ids = segs.flatMap(([text]) => tok.encode(text));
  const tags = segs.flatMap(([, pieces, t]) => pieces.map((_, k) => (t.length === 1 ? t : t[k])));
  expect(out.ids).toEqual(ids);
  expect(out.text).toBe(segs.map(([text]) => text).join(''));
  expect(out.labels).toEqual(ids.map((id, i) => (tags[i] === 'T' ? id : -100)));
}

const tokenTexts = (tok: ChatTokenizer, out: StrategyOutput) => out.ids.map((id) => tok.tokenString(id));

// ---------------------------------------------------------------------------------------------
// LLaMA-Factory: message 0 is prefix + system + user (each slot string encoded alone); the
// assistant slot is the target. Pieces of the 'default' ChatML tokenizer, Llama 3 and Qwen3.
const CHATML_SYS: Seg = ['<|im_start|>system\nYou are terse.<|im_end|>\n', ['<|im_start|>', 'system', 'Ċ', 'You', 'Ġare', 'Ġter', 'se', '.', '<|im_end|>', 'Ċ'], 'M'];
const chatmlUser1 = (tags = 'M'): Seg => ['<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n', ['<|im_start|>', 'user', 'Ċ', 'What', 'Ġis', 'Ġ2', '+', '2', '?', '<|im_end|>', 'Ċ', '<|im_start|>', 'assistant', 'Ċ'], tags];
const chatmlUser2 = (tags = 'M'): Seg => ['<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n', ['<|im_start|>', 'user', 'Ċ', 'And', 'Ġ3', '+', '3', '?', '<|im_end|>', 'Ċ', '<|im_start|>', 'assistant', 'Ċ'], tags];
const chatmlFour = (tags = 'T'): Seg => ['Four.<|im_end|>\n', ['F', 'our', '.', '<|im_end|>', 'Ċ'], tags];
const chatmlSix = (tags = 'T'): Seg => ['Six.<|im_end|>\n', ['S', 'ix', '.', '<|im_end|>', 'Ċ'], tags];

const LLAMA3_BOS: Seg = ['<|begin_of_text|>', ['<|begin_of_text|>'], 'M'];
const llama3Sys = (tags = 'M'): Seg => ['<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>', ['<|start_header_id|>', 'system', '<|end_header_id|>', 'ĊĊ', 'You', 'Ġare', 'Ġterse', '.', '<|eot_id|>'], tags];
const llama3User1 = (tags = 'M'): Seg => [
  '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  ['<|start_header_id|>', 'user', '<|end_header_id|>', 'ĊĊ', 'What', 'Ġis', 'Ġ', '2', '+', '2', '?', '<|eot_id|>', '<|start_header_id|>', 'assistant', '<|end_header_id|>', 'ĊĊ'],
  tags,
];
const llama3User2 = (tags = 'M'): Seg => [
  '<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  ['<|start_header_id|>', 'user', '<|end_header_id|>', 'ĊĊ', 'And', 'Ġ', '3', '+', '3', '?', '<|eot_id|>', '<|start_header_id|>', 'assistant', '<|end_header_id|>', 'ĊĊ'],
  tags,
];

const QWEN_SYS: Seg = ['<|im_start|>system\nYou are terse.<|im_end|>\n', ['<|im_start|>', 'system', 'Ċ', 'You', 'Ġare', 'Ġterse', '.', '<|im_end|>', 'Ċ'], 'M'];
const QWEN_USER1: Seg = ['<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n', ['<|im_start|>', 'user', 'Ċ', 'What', 'Ġis', 'Ġ', '2', '+', '2', '?', '<|im_end|>', 'Ċ', '<|im_start|>', 'assistant', 'Ċ'], 'M'];
const QWEN_USER2: Seg = ['<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n', ['<|im_start|>', 'user', 'Ċ', 'And', 'Ġ', '3', '+', '3', '?', '<|im_end|>', 'Ċ', '<|im_start|>', 'assistant', 'Ċ'], 'M'];
const qwenThought = (tags = 'T'): Seg => ['<think>\n\n</think>\n\n', ['<think>', 'ĊĊ', '</think>', 'ĊĊ'], tags];
const qwenFour = (tags = 'T'): Seg => ['Four.<|im_end|>\n', ['Four', '.', '<|im_end|>', 'Ċ'], tags];
const qwenSix = (tags = 'T'): Seg => ['Six.<|im_end|>\n', ['Six', '.', '<|im_end|>', 'Ċ'], tags];

describe('LLaMA-Factory (supervised, its own templates)', () => {
  it('default tokenizer, template chatml: every source masked, every target (answer + <|im_end|>\\n) trained', () => {
    const out = run(llamaFactory, inputFor(toks.default));
    expectSegments(toks.default, out, [CHATML_SYS, chatmlUser1(), chatmlFour(), chatmlUser2(), chatmlSix()]);
  });

  it('llama3 tokenizer, template llama3: {bos_token} prefix, the user slot opens the assistant header', () => {
    const out = run(llamaFactory, inputFor(toks.llama3));
    expectSegments(toks.llama3, out, [LLAMA3_BOS, llama3Sys(), llama3User1(), ['Four.<|eot_id|>', ['Four', '.', '<|eot_id|>'], 'T'], llama3User2(), ['Six.<|eot_id|>', ['Six', '.', '<|eot_id|>'], 'T']]);
    expect(out.reasons[out.ids.length - 1]).toBe(reason.endOfTurn(true));
  });

  it('qwen3 tokenizer, template qwen3 (ReasoningTemplate, enable_thinking): the empty thought is prepended to every target, trained', () => {
    const out = run(llamaFactory, inputFor(toks.qwen3));
    expectSegments(toks.qwen3, out, [QWEN_SYS, QWEN_USER1, qwenThought(), qwenFour(), QWEN_USER2, qwenThought(), qwenSix()]);
    expect(out.notes.join('\n')).toMatch(/empty thought .* 2 answer\(s\) in the target/);
  });

  it('qwen3, enable_thinking off: the empty thought ends each source, masked', () => {
    const out = run(llamaFactory, inputFor(toks.qwen3), { enable_thinking: false });
    expectSegments(toks.qwen3, out, [QWEN_SYS, QWEN_USER1, qwenThought('M'), qwenFour(), QWEN_USER2, qwenThought('M'), qwenSix()]);
  });

  it('mask_history: only the last turn’s target is trained', () => {
    const out = run(llamaFactory, inputFor(toks.default), { mask_history: true });
    expectSegments(toks.default, out, [CHATML_SYS, chatmlUser1(), chatmlFour('M'), chatmlUser2(), chatmlSix()]);
    expect(out.reasons[CHATML_SYS[1].length + chatmlUser1()[1].length]).toBe(reason.turnNotSelected('mask_history: the last turn only'));
  });

  it('mask_history on qwen3: history thoughts discarded, so the empty thought goes on the last turn only', () => {
    const out = run(llamaFactory, inputFor(toks.qwen3), { mask_history: true });
    expectSegments(toks.qwen3, out, [QWEN_SYS, QWEN_USER1, qwenFour('M'), QWEN_USER2, qwenThought(), qwenSix()]);
  });

  it('train_on_prompt: sources trained too', () => {
    const out = run(llamaFactory, inputFor(toks.llama3), { train_on_prompt: true });
    expectSegments(toks.llama3, out, [['<|begin_of_text|>', ['<|begin_of_text|>'], 'T'], llama3Sys('T'), llama3User1('T'), ['Four.<|eot_id|>', ['Four', '.', '<|eot_id|>'], 'T'], llama3User2('T'), ['Six.<|eot_id|>', ['Six', '.', '<|eot_id|>'], 'T']]);
    expect(out.reasons[0]).toBe(reason.prompt(true, 'train_on_prompt'));
  });

  it('options LLaMA-Factory refuses: mask_history with train_on_prompt; a template of another family', () => {
    const input = inputFor(toks.default);
    expect(llamaFactory.validate?.({ ...llamaFactory.defaults('chatml', toks.default), mask_history: true, train_on_prompt: true }, input)?.key).toBe('mask_history');
    expect(llamaFactory.validate?.({ ...llamaFactory.defaults('chatml', toks.default), template: 'llama3' }, input)?.message).toMatch(/pick one of chatml, qwen/);
  });

  describe('efficient_eos (template gemma2 on the Gemma 3 tokenizer; llama3, qwen3 and chatml do not use it)', () => {
    // gemma2: no eos slot after an answer; the system prompt is folded into the first user turn.
    const user1: Seg = ['<start_of_turn>user\nYou are terse.\n\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n', ['<start_of_turn>', 'user', '\n', 'You', '▁are', '▁terse', '.', '\n\n', 'What', '▁is', '▁', '2', '+', '2', '?', '<end_of_turn>', '\n', '<start_of_turn>', 'model', '\n'], 'M'];
    const four: Seg = ['Four.<end_of_turn>\n', ['Four', '.', '<end_of_turn>', '\n'], 'T'];
    const user2: Seg = ['<start_of_turn>user\nAnd 3+3?<end_of_turn>\n<start_of_turn>model\n', ['<start_of_turn>', 'user', '\n', 'And', '▁', '3', '+', '3', '?', '<end_of_turn>', '\n', '<start_of_turn>', 'model', '\n'], 'M'];
    const six: Seg = ['Six.<end_of_turn>\n', ['Six', '.', '<end_of_turn>', '\n'], 'T'];
    // The Gemma 3 file's eos_token is <end_of_turn>: that is the eos LLaMA-Factory appends and labels.
    const eos: Seg = ['<end_of_turn>', ['<end_of_turn>'], 'T'];

    it('the eos label moves onto the next source’s first position, and one eos is appended, trained', () => {
      const tok = toks.gemma3;
      const out = run(llamaFactory, inputFor(tok), { template: 'gemma2' });
      expectSegments(tok, out, [['<bos>', ['<bos>'], 'M'], user1, four, user2, six, eos]);
      const p = 1 + user1[1].length + four[1].length; // the second source's <start_of_turn>
      expect(out.reasons[p]).toBe(reason.efficientEos('<end_of_turn>'));
      expect(out.reasons[1]).toBe(reason.prompt(false, 'source of turn 1 of 2'));
      expect(out.notes.join('\n')).toMatch(/efficient_eos: .*first position of 1 later source/);
      expect(out.reasons[out.ids.length - 1]).toBe(reason.endOfTurn(true, 'efficient_eos: one eos appended at the end'));
    });

    it('train_on_prompt is refused with an efficient_eos template', () => {
      const input = inputFor(toks.gemma3);
      expect(llamaFactory.validate?.({ ...llamaFactory.defaults('gemma', toks.gemma3), template: 'gemma2', train_on_prompt: true }, input)?.key).toBe('train_on_prompt');
    });

    it('with mask_history the eos label lands on the first source’s <bos> (turn_idx ≠ 0 counts from the last pair)', () => {
      const out = run(llamaFactory, inputFor(toks.gemma3), { template: 'gemma2', mask_history: true });
      expect(out.reasons[0]).toBe(reason.efficientEos('<end_of_turn>'));
      const p = 1 + user1[1].length + four[1].length;
      expect(out.reasons[p]).toBe(reason.prompt(false, 'source of turn 2 of 2'));
    });
  });

  describe('cutoff_len (infer_seqlen)', () => {
    it('infer_seqlen splits the budget as processor_utils does', () => {
      expect(inferSeqlen(23, 5, 30)).toEqual([23, 5]); // target fits twice: the source takes the rest
      expect(inferSeqlen(13, 5, 2)).toEqual([2, 0]); // both long: int(2 · 5/18) = 0 for the target
      expect(inferSeqlen(23, 5, 12)).toEqual([7, 5]); // the target fits twice (10 < 12): source gets 12 − 5
      expect(inferSeqlen(4, 100, 20)).toEqual([4, 16]); // short source: the target gets the rest
      expect(inferSeqlen(50, 50, 20)).toEqual([10, 10]);
    });

    it('cutoff 30 on the default tokenizer: pair 1 fits (29 tokens), pair 2 keeps 1 source token and no target', () => {
      const out = run(llamaFactory, inputFor(toks.default, LAB_CONV, 30));
      const n1 = CHATML_SYS[1].length + chatmlUser1()[1].length; // 24
      expect(n1 + 5).toBe(29);
      expectSegments(toks.default, out, [CHATML_SYS, chatmlUser1(), chatmlFour(), chatmlUser2('M'), chatmlSix('M')]);
      const cut = out.reasons.map((r, i) => (r === reason.truncated(30) ? i : -1)).filter((i) => i >= 0);
      // infer_seqlen(13, 5, 1) = (1, 0): of pair 2 only its <|im_start|> is kept.
      expect(cut).toEqual(Array.from({ length: 12 + 5 }, (_, k) => n1 + 5 + 1 + k));
    });

    it('cutoff 30 with mask_history: the last pair is budgeted first, so the first pair’s source is cut to 7', () => {
      const out = run(llamaFactory, inputFor(toks.default, LAB_CONV, 30), { mask_history: true });
      const cut = out.reasons.map((r, i) => (r === reason.truncated(30) ? i : -1)).filter((i) => i >= 0);
      expect(cut).toEqual(Array.from({ length: 24 - 7 }, (_, k) => 7 + k));
      expect(tokenTexts(toks.default, out).filter((_, i) => out.labels[i] !== -100)).toEqual(['S', 'ix', '.', '<|im_end|>', 'Ċ']);
    });
  });

  it('no template for the family, and a sample LLaMA-Factory skips', () => {
    const unknown = { ...inputFor(toks.default), family: 'unknown' as const };
    expect(llamaFactory.run(unknown, llamaFactory.defaults('unknown', toks.default)).error).toBe('LLaMA-Factory has no template for this model family');
    const out = llamaFactory.run(inputFor(toks.default, LAB_CONV.slice(0, 4)), llamaFactory.defaults('chatml', toks.default));
    expect(out.error).toMatch(/invalid message count/);
  });
});

// ---------------------------------------------------------------------------------------------
// torchtune: tokenize_messages, each message's header, content and end tokens with its mask.
const qHeader = (role: string, tags: string): Seg[] => [['<|im_start|>', ['<|im_start|>'], tags], [`${role}\n`, [role, 'Ċ'], tags]];
const imEnd = (tags: string): Seg[] => [['<|im_end|>', ['<|im_end|>'], tags], ['\n', ['Ċ'], tags]];
const l3Header = (role: string, tags: string): Seg[] => [['<|start_header_id|>', ['<|start_header_id|>'], tags], [role, [role], tags], ['<|end_header_id|>', ['<|end_header_id|>'], tags], ['\n\n', ['ĊĊ'], tags]];
const eot = (tags: string): Seg => ['<|eot_id|>', ['<|eot_id|>'], tags];

/** Llama3Tokenizer on LAB_CONV, with each message's tag (system, user, assistant, user, assistant). */
const llama3Tt = (tags: [string, string, string, string, string]): Seg[] => [
  ['<|begin_of_text|>', ['<|begin_of_text|>'], 'M'],
  ...l3Header('system', tags[0]), ['You are terse.', ['You', 'Ġare', 'Ġterse', '.'], tags[0]], eot(tags[0]),
  ...l3Header('user', tags[1]), ['What is 2+2?', ['What', 'Ġis', 'Ġ', '2', '+', '2', '?'], tags[1]], eot(tags[1]),
  ...l3Header('assistant', tags[2]), ['Four.', ['Four', '.'], tags[2]], eot(tags[2]),
  ...l3Header('user', tags[3]), ['And 3+3?', ['And', 'Ġ', '3', '+', '3', '?'], tags[3]], eot(tags[3]),
  ...l3Header('assistant', tags[4]), ['Six.', ['Six', '.'], tags[4]], eot(tags[4]),
  ['<|end_of_text|>', ['<|end_of_text|>'], 'M'],
];

/** Qwen2_5Tokenizer on LAB_CONV: no footer after the last (assistant) message; eos takes its tag. */
const qwenTt = (tok: 'default' | 'qwen3', tags: [string, string, string, string, string]): Seg[] => {
  const q = tok === 'qwen3';
  return [
    ...qHeader('system', tags[0]), ['You are terse.', q ? ['You', 'Ġare', 'Ġterse', '.'] : ['You', 'Ġare', 'Ġter', 'se', '.'], tags[0]], ...imEnd(tags[0]),
    ...qHeader('user', tags[1]), ['What is 2+2?', q ? ['What', 'Ġis', 'Ġ', '2', '+', '2', '?'] : ['What', 'Ġis', 'Ġ2', '+', '2', '?'], tags[1]], ...imEnd(tags[1]),
    ...qHeader('assistant', tags[2]), ['Four.', q ? ['Four', '.'] : ['F', 'our', '.'], tags[2]], ...imEnd(tags[2]),
    ...qHeader('user', tags[3]), ['And 3+3?', q ? ['And', 'Ġ', '3', '+', '3', '?'] : ['And', 'Ġ3', '+', '3', '?'], tags[3]], ...imEnd(tags[3]),
    ...qHeader('assistant', tags[4]), ['Six.', q ? ['Six', '.'] : ['S', 'ix', '.'], tags[4]],
    ['<|im_end|>', ['<|im_end|>'], tags[4]],
  ];
};

describe('torchtune (masking_strategy, then the model tokenizer’s tokenize_messages)', () => {
  it('llama3, train_on_assistant (default): assistant header, content and <|eot_id|> trained; BOS and <|end_of_text|> masked', () => {
    const out = run(torchtune, inputFor(toks.llama3));
    expectSegments(toks.llama3, out, llama3Tt(['M', 'M', 'T', 'M', 'T']));
    expect(out.reasons[out.ids.length - 1]).toBe(reason.endOfSequence(false, 'bos and eos are always masked'));
  });

  it('default (ChatML, Qwen2.5 rules), train_on_assistant: the last answer has no footer, its eos <|im_end|> is trained', () => {
    const out = run(torchtune, inputFor(toks.default));
    expectSegments(toks.default, out, qwenTt('default', ['M', 'M', 'T', 'M', 'T']));
  });

  it('qwen3, train_on_assistant: no empty think block is written', () => {
    const out = run(torchtune, inputFor(toks.qwen3));
    expectSegments(toks.qwen3, out, qwenTt('qwen3', ['M', 'M', 'T', 'M', 'T']));
  });

  it('train_on_last: only the last assistant message (and the eos after it)', () => {
    const out = run(torchtune, inputFor(toks.qwen3), { masking_strategy: 'train_on_last' });
    expectSegments(toks.qwen3, out, qwenTt('qwen3', ['M', 'M', 'M', 'M', 'T']));
    const four = out.ids.indexOf(toks.qwen3.encode('Four')[0]);
    expect(out.reasons[four]).toBe(reason.turnNotSelected('train_on_last: the last assistant message only'));
    const l3 = run(torchtune, inputFor(toks.llama3), { masking_strategy: 'train_on_last' });
    expectSegments(toks.llama3, l3, llama3Tt(['M', 'M', 'M', 'M', 'T']));
  });

  it('train_on_all: the system message stays masked', () => {
    const out = run(torchtune, inputFor(toks.llama3), { masking_strategy: 'train_on_all' });
    expectSegments(toks.llama3, out, llama3Tt(['M', 'T', 'T', 'T', 'T']));
  });

  it('train_on_all with no system message: position 0 is no target once labels are shifted', () => {
    const out = run(torchtune, inputFor(toks.qwen3, LAB_CONV.slice(1)), { masking_strategy: 'train_on_all' });
    const segs = qwenTt('qwen3', ['M', 'T', 'T', 'T', 'T']).slice(5);
    segs[0] = ['<|im_start|>', ['<|im_start|>'], 'M'];
    expectSegments(toks.qwen3, out, segs);
    expect(out.reasons[0]).toBe(reason.firstPosition());
  });

  it('max_seq_len 28 on llama3: the 28th token (“.” of “Four.”) becomes <|end_of_text|>, masked; the cut tokens follow', () => {
    const full = run(torchtune, inputFor(toks.llama3));
    const out = run(torchtune, inputFor(toks.llama3, LAB_CONV, 28));
    expect(tokenTexts(toks.llama3, full).slice(25, 29)).toEqual(['ĊĊ', 'Four', '.', '<|eot_id|>']);
    expect(out.ids.slice(0, 27)).toEqual(full.ids.slice(0, 27));
    expect(out.labels.slice(0, 27)).toEqual(full.labels.slice(0, 27));
    expect(toks.llama3.tokenString(out.ids[27])).toBe('<|end_of_text|>');
    expect(out.labels[27]).toBe(-100);
    expect(out.reasons[27]).toBe(reason.forcedEos(28));
    expect(out.ids.slice(28)).toEqual(full.ids.slice(27));
    expect(out.labels.slice(28).every((l) => l === -100)).toBe(true);
    expect(out.reasons.slice(28).every((r) => r === reason.truncated(28))).toBe(true);
  });

  it('families torchtune has no tokenizer for, and messages validate_messages rejects', () => {
    expect(torchtune.run(inputFor(toks.gemma3), torchtune.defaults('gemma', toks.gemma3)).error).toMatch(/^torchtune has no tokenizer for this model family/);
    const tool: Conversation = [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'tool', content: 'c' }, { role: 'assistant', content: 'd' }];
    expect(torchtune.run(inputFor(toks.qwen3, tool), { masking_strategy: 'train_on_assistant' }).error).toBe('tool or ipython message at index 2 must follow an ipython message');
    const twoUsers: Conversation = [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }, { role: 'assistant', content: 'c' }];
    expect(torchtune.run(inputFor(toks.qwen3, twoUsers), { masking_strategy: 'train_on_assistant' }).error).toMatch(/two consecutive user messages/);
  });
});

// ---------------------------------------------------------------------------------------------
// LLMBook: label[:len(encode(source))] = -100 on encode(source + target).
describe('LLMBook (encode_src_tgt)', () => {
  it('default tokenizer, chat template: the source is the chat up to the last answer with the generation prompt', () => {
    const out = run(llmbook, inputFor(toks.default));
    const source: Seg = [
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\nFour.<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n',
      [...CHATML_SYS[1], ...chatmlUser1()[1], ...chatmlFour()[1], ...chatmlUser2()[1]],
      'M',
    ];
    expectSegments(toks.default, out, [source, chatmlSix()]);
    const n = source[1].length;
    expect(out.reasons[n - 1]).toBe(reason.insideSource(n));
    expect(out.reasons[n]).toBe(reason.afterSource(n));
    expect(out.notes.join('\n')).toMatch(/add_eos_token=True is ignored/);
    expect(out.notes.join('\n')).not.toMatch(/Boundary drift/);
  });

  it('llama3: encode adds a second <|begin_of_text|>, and @lenml’s template’s trailing assistant header is trained', () => {
    const out = run(llmbook, inputFor(toks.llama3));
    const source: Seg = [
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nFour.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
      ['<|begin_of_text|>', ...llama3Sys()[1], ...llama3User1()[1], 'Four', '.', '<|eot_id|>', ...llama3User2()[1]],
      'M',
    ];
    const target: Seg = ['Six.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n', ['Six', '.', '<|eot_id|>', '<|start_header_id|>', 'assistant', '<|end_header_id|>', 'ĊĊ'], 'T'];
    expectSegments(toks.llama3, out, [['<|begin_of_text|>', ['<|begin_of_text|>'], 'M'], source, target]);
    expect(out.notes.join('\n')).toMatch(/Two BOS tokens/);
  });

  it('qwen3: the target starts with the template’s empty think block, trained', () => {
    const out = run(llmbook, inputFor(toks.qwen3));
    const source: Seg = [
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\nFour.<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n',
      [...QWEN_SYS[1], ...QWEN_USER1[1], ...qwenFour()[1], ...QWEN_USER2[1]],
      'M',
    ];
    expectSegments(toks.qwen3, out, [source, ['<think>\n\n</think>\n\nSix.<|im_end|>\n', ['<think>', 'ĊĊ', '</think>', 'ĊĊ', 'Six', '.', '<|im_end|>', 'Ċ'], 'T']]);
  });

  it('book prompt on Gemma 3: LLMBook’s own prompt, the output stripped, <bos> added and <end_of_turn> (eos) appended', () => {
    const tok = toks.gemma3;
    const out = run(llmbook, inputFor(tok), { source: 'book prompt' });
    const s = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n### Instruction:\nAnd 3+3?\n### Output:\n';
    expect(bookPrompt('And 3+3?')).toBe(s);
    const both: Seg = [
      `${s}Six.`,
      ['Below', '▁is', '▁an', '▁instruction', '▁that', '▁describes', '▁a', '▁task', '.', '▁Write', '▁a', '▁response', '▁that', '▁appropriately', '▁completes', '▁the', '▁request', '.', '\n', '###', '▁Instruction', ':', '\n', 'And', '▁', '3', '+', '3', '?', '\n', '###', '▁Output', ':', '\n', 'Six', '.'],
      `${'M'.repeat(34)}TT`,
    ];
    expectSegments(tok, out, [['<bos>', ['<bos>'], 'M'], both, ['<end_of_turn>', ['<end_of_turn>'], 'T']]);
    expect(tok.encode(s)).toHaveLength(34);
    expect(out.notes.join('\n')).toMatch(/3 other message\(s\) are not used/);
  });

  it('boundary drift: a source ending in a space merges with the target’s first word, which is masked by accident', () => {
    // A plain "Q: …\nA: " format; the source alone ends with the token "Ġ", in context "ĠSix" holds the space.
    const render = (conv: Conversation) => conv.map((m) => (m.role === 'user' ? `Q: ${m.content}\nA: ` : `${m.content}.\n`)).join('');
    const tok = { ...toks.llama3, render };
    const conv: Conversation = [{ role: 'user', content: 'And 3+3?' }, { role: 'assistant', content: 'Six' }];
    const out = run(llmbook, { ...inputFor(tok, conv), family: 'unknown' });
    expect(tok.encode('Q: And 3+3?\nA: ').map((id) => tok.tokenString(id))).toEqual(['Q', ':', 'ĠAnd', 'Ġ', '3', '+', '3', '?Ċ', 'A', ':', 'Ġ']);
    expect(tokenTexts(tok, out)).toEqual(['Q', ':', 'ĠAnd', 'Ġ', '3', '+', '3', '?Ċ', 'A', ':', 'ĠSix', '.Ċ']);
    // len(source_id) = 11: position 10 ("ĠSix", the target's first word) is masked.
    expect(out.labels.map((l) => l !== -100)).toEqual([...Array(11).fill(false), true]);
    expect(out.reasons[10]).toBe(reason.insideSource(11));
    expect(out.reasons[11]).toBe(reason.afterSource(11));
    expect(out.notes.filter((n) => n.startsWith('Boundary drift'))).toEqual([
      'Boundary drift: token 10 " Six" holds target text (the source tokenized alone ends differently) but is inside the source length 11 → masked by accident.',
    ]);
  });

  it('model_max_length: truncation keeps the BOS and the eos, the cut tokens follow masked', () => {
    const tok = toks.gemma3;
    const out = run(llmbook, inputFor(tok, LAB_CONV, 20), { source: 'book prompt' });
    expect(out.ids).toHaveLength(1 + 36 + 1);
    expect(tok.tokenString(out.ids[19])).toBe('<end_of_turn>');
    expect(out.labels.every((l) => l === -100)).toBe(true);
    expect(out.notes.join('\n')).toMatch(/source alone fills model_max_length/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('property: any conversation, options and length give labels that are the id or -100', () => {
  const word = fc.constantFrom('a', 'Four', ' ', '  ', '\n', '👋', 'ä', '.', '<|im_end|>', '<|eot_id|>', 'Hi there');
  const text = fc.array(word, { maxLength: 6 }).map((w) => w.join(''));
  const conv = fc.tuple(fc.option(text), fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 3 })).map(([sys, pairs]): Conversation => [
    ...(sys === null ? [] : [{ role: 'system' as const, content: sys }]),
    ...pairs.flatMap(([u, a]) => [{ role: 'user' as const, content: u }, { role: 'assistant' as const, content: a }]),
  ]);
  const options = fc.record({ a: fc.boolean(), b: fc.boolean(), c: fc.boolean(), k: fc.nat(2) });
  const pick = (s: Strategy, o: { a: boolean; b: boolean; c: boolean; k: number }): StrategyOptions => {
    if (s === llamaFactory) return { mask_history: o.a, train_on_prompt: o.b && !o.a, enable_thinking: o.c };
    if (s === torchtune) return { masking_strategy: ['train_on_assistant', 'train_on_all', 'train_on_last'][o.k] };
    return { source: o.a ? 'book prompt' : 'chat template', add_bos: o.b, add_eos: o.c };
  };

  it.each(['default', 'llama3', 'qwen3'] as const)('%s', (id) => {
    const tok = toks[id];
    fc.assert(
      fc.property(conv, options, fc.integer({ min: 4, max: 160 }), (c, o, maxLength) => {
        for (const s of [llamaFactory, torchtune, llmbook]) {
          const input = inputFor(tok, c, maxLength);
          const all = { ...s.defaults(input.family, tok), ...pick(s, o) };
          if (s.validate?.(all, input)) continue;
          const out = s.run(input, all);
          checkLabels(out.ids, out.labels);
          expect(out.reasons).toHaveLength(out.ids.length);
        }
      }),
      { numRuns: 30 },
    );
  });
});
