// The marker-search strategies (unsloth's train_on_responses_only, TRL's
// DataCollatorForCompletionOnlyLM ≤ 0.19) on LAB_CONV, with labels written by hand.
//
// Each tokenizer's rendering is listed below token by token as [vocabulary piece, tag], from the
// template's text (the test checks the split against tok.encode). Tags: T other template markup,
// S system content, U user content, Q a token of a user-turn header (the instruction marker), R a
// token of an assistant-turn header (the response marker), A<n> assistant turn n's content, E<n>
// its end-of-turn token, N<n> the newline after it, K1 the empty think block Qwen3 writes into the
// last turn, G the assistant header the @lenml Llama-3 template always appends at the end.
//
// The expected labels of each case are a set of tags, derived from the documented algorithm:
// - unsloth: after each response marker, train up to the next instruction marker or to the end of
//   the sequence (the last token included).
// - TRL without instruction_template: only what follows the LAST response marker trains.
// - TRL with instruction_template: mask [0, first response end) and [instruction start, response
//   end) for each next pair; the rest trains; pad-id positions are -100 first.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadNodeTokenizer } from '../testkit';
import { DEFAULT_POLICY } from '../labels';
import { LAB_CONV } from './labConversation';
import { detectFamily } from './family';
import { checkLabels, IGNORE_INDEX } from './common';
import { reason } from './reasons';
import { unslothResponsesOnly } from './unslothResponsesOnly';
import { trlCompletionCollator } from './trlCompletionCollator';
import type { ChatTokenizer, Conversation } from '../types';
import type { StrategyInput, StrategyOptions } from './types';

type Tag = 'T' | 'S' | 'U' | 'Q' | 'R' | 'A0' | 'E0' | 'N0' | 'A1' | 'E1' | 'N1' | 'K1' | 'G';
type Row = [piece: string, tag: Tag];

const chatmlHeader = (role: string, tag: Tag): Row[] => [['<|im_start|>', tag], [role, tag], ['Ċ', tag]];
const llamaHeader = (role: string, tag: Tag): Row[] => [['<|start_header_id|>', tag], [role, tag], ['<|end_header_id|>', tag], ['ĊĊ', tag]];

// playground-base (ChatML): "<|im_start|>{role}\n{content}<|im_end|>\n" for every message.
const DEFAULT: Row[] = [
  ...chatmlHeader('system', 'T'), ['You', 'S'], ['Ġare', 'S'], ['Ġter', 'S'], ['se', 'S'], ['.', 'S'], ['<|im_end|>', 'T'], ['Ċ', 'T'],
  ...chatmlHeader('user', 'Q'), ['What', 'U'], ['Ġis', 'U'], ['Ġ2', 'U'], ['+', 'U'], ['2', 'U'], ['?', 'U'], ['<|im_end|>', 'T'], ['Ċ', 'T'],
  ...chatmlHeader('assistant', 'R'), ['F', 'A0'], ['our', 'A0'], ['.', 'A0'], ['<|im_end|>', 'E0'], ['Ċ', 'N0'],
  ...chatmlHeader('user', 'Q'), ['And', 'U'], ['Ġ3', 'U'], ['+', 'U'], ['3', 'U'], ['?', 'U'], ['<|im_end|>', 'T'], ['Ċ', 'T'],
  ...chatmlHeader('assistant', 'R'), ['S', 'A1'], ['ix', 'A1'], ['.', 'A1'], ['<|im_end|>', 'E1'], ['Ċ', 'N1'],
];

// Qwen3: ChatML, and the last assistant turn (only) gets "<think>\n\n</think>\n\n" before its content.
const QWEN3: Row[] = [
  ...chatmlHeader('system', 'T'), ['You', 'S'], ['Ġare', 'S'], ['Ġterse', 'S'], ['.', 'S'], ['<|im_end|>', 'T'], ['Ċ', 'T'],
  ...chatmlHeader('user', 'Q'), ['What', 'U'], ['Ġis', 'U'], ['Ġ', 'U'], ['2', 'U'], ['+', 'U'], ['2', 'U'], ['?', 'U'], ['<|im_end|>', 'T'], ['Ċ', 'T'],
  ...chatmlHeader('assistant', 'R'), ['Four', 'A0'], ['.', 'A0'], ['<|im_end|>', 'E0'], ['Ċ', 'N0'],
  ...chatmlHeader('user', 'Q'), ['And', 'U'], ['Ġ', 'U'], ['3', 'U'], ['+', 'U'], ['3', 'U'], ['?', 'U'], ['<|im_end|>', 'T'], ['Ċ', 'T'],
  ...chatmlHeader('assistant', 'R'), ['<think>', 'K1'], ['ĊĊ', 'K1'], ['</think>', 'K1'], ['ĊĊ', 'K1'], ['Six', 'A1'], ['.', 'A1'], ['<|im_end|>', 'E1'], ['Ċ', 'N1'],
];

// Llama 3 (@lenml): BOS, "<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>", no
// newline after <|eot_id|>, and the assistant header appended at the end even without a generation prompt.
const LLAMA3: Row[] = [
  ['<|begin_of_text|>', 'T'], ...llamaHeader('system', 'T'), ['You', 'S'], ['Ġare', 'S'], ['Ġterse', 'S'], ['.', 'S'], ['<|eot_id|>', 'T'],
  ...llamaHeader('user', 'Q'), ['What', 'U'], ['Ġis', 'U'], ['Ġ', 'U'], ['2', 'U'], ['+', 'U'], ['2', 'U'], ['?', 'U'], ['<|eot_id|>', 'T'],
  ...llamaHeader('assistant', 'R'), ['Four', 'A0'], ['.', 'A0'], ['<|eot_id|>', 'E0'],
  ...llamaHeader('user', 'Q'), ['And', 'U'], ['Ġ', 'U'], ['3', 'U'], ['+', 'U'], ['3', 'U'], ['?', 'U'], ['<|eot_id|>', 'T'],
  ...llamaHeader('assistant', 'R'), ['Six', 'A1'], ['.', 'A1'], ['<|eot_id|>', 'E1'],
  ...llamaHeader('assistant', 'G'),
];

type TokId = 'default' | 'qwen3' | 'llama3';
const ROWS: Record<TokId, Row[]> = { default: DEFAULT, qwen3: QWEN3, llama3: LLAMA3 };
const IDS = Object.keys(ROWS) as TokId[];

// The expected trained tags, per tokenizer, by the rules in the header.
const EXPECTED: Record<TokId, { unsloth: Tag[]; trlLast: Tag[]; trlPaired: Tag[] }> = {
  // Both turns' content, end token and newline: each span runs up to the next user header; the last to the end.
  default: { unsloth: ['A0', 'E0', 'N0', 'A1', 'E1', 'N1'], trlLast: ['A1', 'E1', 'N1'], trlPaired: ['A0', 'E0', 'N0', 'A1', 'E1', 'N1'] },
  // As ChatML, and the last turn's empty think block follows its marker, so it trains.
  qwen3: { unsloth: ['A0', 'E0', 'N0', 'K1', 'A1', 'E1', 'N1'], trlLast: ['K1', 'A1', 'E1', 'N1'], trlPaired: ['A0', 'E0', 'N0', 'K1', 'A1', 'E1', 'N1'] },
  // unsloth: the second span runs to the end, over the appended header (it is never searched as a
  // marker: it lies inside the span). TRL without instruction_template: the last response match
  // IS the appended header, nothing follows it, nothing trains. TRL paired: 3 responses, 2
  // instructions, the appended header trains after the second pair.
  llama3: { unsloth: ['A0', 'E0', 'A1', 'E1', 'G'], trlLast: [], trlPaired: ['A0', 'E0', 'A1', 'E1', 'G'] },
};

const toks = {} as Record<TokId | 'gemma3', ChatTokenizer>;
beforeAll(async () => {
  for (const id of [...IDS, 'gemma3'] as const) toks[id] = await loadNodeTokenizer(id);
});

function inputFor(tok: ChatTokenizer, conversation: Conversation = LAB_CONV, maxLength = 4096): StrategyInput {
  return { tok, family: detectFamily(tok), conversation, tools: null, maxLength, policy: DEFAULT_POLICY };
}

const expectedLabels = (ids: readonly number[], rows: readonly Row[], trained: readonly Tag[]) => ids.map((id, i) => (trained.includes(rows[i][1]) ? id : IGNORE_INDEX));
/** Positions of the tokens of each run of `tag` (where each marker starts). */
function runStarts(rows: readonly Row[], tag: Tag): number[] {
  return rows.flatMap(([, t], i) => (t === tag && (i === 0 || rows[i - 1][1] !== tag) ? [i] : []));
}

describe.each(IDS)('%s: hand-derived labels on LAB_CONV', (id) => {
  const rows = ROWS[id];

  it('the listed pieces are the tokenizer’s split of the rendering', () => {
    const tok = toks[id];
    const ids = tok.encode(tok.render(LAB_CONV, false, null));
    expect(ids.map((t) => tok.tokenString(t))).toEqual(rows.map(([p]) => p));
  });

  it('unsloth train_on_responses_only with the family’s default markers', () => {
    const tok = toks[id];
    const s = unslothResponsesOnly;
    const opts = s.defaults(detectFamily(tok), tok);
    const out = s.run(inputFor(tok), opts);
    expect(out.error).toBeNull();
    expect(out.labels).toEqual(expectedLabels(out.ids, rows, EXPECTED[id].unsloth));
    const [r0] = runStarts(rows, 'R');
    const firstA0 = rows.findIndex(([, t]) => t === 'A0');
    expect(out.reasons[firstA0]).toBe(reason.markerFound('response', r0, true));
    expect(out.reasons[r0]).toBe(reason.markerFound('response', r0, false));
    expect(out.reasons[0]).toBe(reason.beforeMarker('response'));
  });

  it('TRL collator, no instruction_template: only after the last response match', () => {
    const tok = toks[id];
    const out = trlCompletionCollator.run(inputFor(tok), { ...trlCompletionCollator.defaults(detectFamily(tok), tok), instruction_template: '' });
    expect(out.labels).toEqual(expectedLabels(out.ids, rows, EXPECTED[id].trlLast));
    expect(out.notes.some((n) => n.includes('Could not find'))).toBe(false);
  });

  it('TRL collator with the family’s instruction_template', () => {
    const tok = toks[id];
    const out = trlCompletionCollator.run(inputFor(tok), trlCompletionCollator.defaults(detectFamily(tok), tok));
    expect(out.labels).toEqual(expectedLabels(out.ids, rows, EXPECTED[id].trlPaired));
    expect(out.error).toBeNull();
  });

  it('notes show each marker alone and in context, the same tokens here', () => {
    const tok = toks[id];
    const out = unslothResponsesOnly.run(inputFor(tok), unslothResponsesOnly.defaults(detectFamily(tok), tok));
    const [r0] = runStarts(rows, 'R');
    const note = out.notes.find((n) => n.startsWith('response marker'));
    expect(note).toContain(`alone: [${out.ids.slice(r0, r0 + (id === 'llama3' ? 4 : 3)).join(', ')}]`);
    expect(note).toContain('(same tokens)');
  });
});

describe('users’ reported cases', () => {
  // A plain-text format: "### Human: …" opens a user turn, " ### Assistant: …" (after a space) a reply.
  const plain = (tok: ChatTokenizer): ChatTokenizer => ({
    ...tok,
    render: (conv) =>
      conv.map((m) => (m.role === 'system' ? `${m.content}\n` : m.role === 'user' ? `### Human: ${m.content}` : ` ### Assistant: ${m.content}\n`)).join(''),
  });

  it('a marker that tokenizes differently in context is missed (Llama 3: " ###" is one token)', () => {
    const tok = plain(toks.llama3);
    const text = tok.render(LAB_CONV);
    expect(text).toContain(' ### Assistant: Four.');
    const marker = tok.encode('### Assistant:');
    const ids = tok.encode(text);
    // the characters are there, the ids are not: "###" alone vs "Ġ###" after the space
    expect(marker.map((t) => tok.tokenString(t))).toEqual(['###', 'ĠAssistant', ':']);
    expect(ids.map((t) => tok.tokenString(t))).toContain('Ġ###');
    expect(ids.some((_, j) => marker.every((m, t) => ids[j + t] === m))).toBe(false);

    const unsloth = unslothResponsesOnly.run(inputFor(tok), { instruction_part: '### Human:', response_part: '### Assistant:' });
    expect(unsloth.labels.every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(unsloth.error).toMatch(/The response marker '### Assistant:' was not found in any sample/);
    expect(unsloth.reasons.every((r) => r === reason.markerNotFound('response'))).toBe(true);
    const note = unsloth.notes.find((n) => n.startsWith('response marker'));
    expect(note).toMatch(/alone: \[14711, 22103, 25\] "###" " Assistant" ":"; in context at char \d+, tokens \d+–\d+: \[17010, 22103, 25\] " ###" " Assistant" ":" \(different tokens/);

    const trl = trlCompletionCollator.run(inputFor(tok), { response_template: '### Assistant:', instruction_template: '### Human:' });
    expect(trl.labels.every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(trl.error).toBeNull();
    expect(trl.notes.some((n) => n.startsWith('UserWarning: Could not find response key `### Assistant:` in the following instance: You are terse.'))).toBe(true);
  });

  it('the same marker with its leading space is found', () => {
    const tok = plain(toks.llama3);
    const ids = tok.encode(tok.render(LAB_CONV));
    // "You are terse.\n" "### Human: What is 2+2?" " ### Assistant: Four.\n" "### Human: And 3+3?" " ### Assistant: Six.\n"
    const pieces = ids.map((t) => tok.tokenString(t));
    expect(pieces).toEqual([
      'You', 'Ġare', 'Ġterse', '.Ċ',
      '###', 'ĠHuman', ':', 'ĠWhat', 'Ġis', 'Ġ', '2', '+', '2', '?',
      'Ġ###', 'ĠAssistant', ':', 'ĠFour', '.Ċ',
      '###', 'ĠHuman', ':', 'ĠAnd', 'Ġ', '3', '+', '3', '?',
      'Ġ###', 'ĠAssistant', ':', 'ĠSix', '.Ċ',
    ]);
    // after each " ### Assistant:" up to the next "### Human:" / the end
    const trained = new Set([17, 18, 31, 32]);
    const want = ids.map((t, i) => (trained.has(i) ? t : IGNORE_INDEX));
    const unsloth = unslothResponsesOnly.run(inputFor(tok), { instruction_part: '### Human:', response_part: ' ### Assistant:' });
    expect(unsloth.labels).toEqual(want);
    const trl = trlCompletionCollator.run(inputFor(tok), { response_template: ' ### Assistant:', instruction_template: '### Human:' });
    expect(trl.labels).toEqual(want);
  });

  it('a marker that is not there: unsloth raises, TRL warns, every label -100', () => {
    const tok = toks.default;
    const unsloth = unslothResponsesOnly.run(inputFor(tok), { instruction_part: '<|im_start|>user\n', response_part: '<|im_start|>model\n' });
    expect(unsloth.labels.every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(unsloth.error).toBe(
      "Unsloth: train_on_responses_only masked every label to -100 in train_dataset, so there is nothing to train on. The response marker '<|im_start|>model\\n' was not found in any sample - check that instruction_part and response_part match your chat template.",
    );
    expect(unsloth.notes.find((n) => n.startsWith('response marker'))).toContain('these characters do not occur in the rendered sample');
    const trl = trlCompletionCollator.run(inputFor(tok), { response_template: '<|im_start|>model\n', instruction_template: '' });
    expect(trl.labels.every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(trl.reasons.every((r) => r === reason.markerNotFound('response'))).toBe(true);
    expect(trl.notes.some((n) => n.includes('Could not find response key'))).toBe(true);
    expect(trl.notes.some((n) => n.includes('NaN'))).toBe(true);
  });

  it('TRL: pad == eos masks every EOS; unsloth (DataCollatorForSeq2Seq) does not', () => {
    // Qwen3's eos is <|im_end|>, the end of every turn; a user sets pad_token = eos_token.
    const tok: ChatTokenizer = { ...toks.qwen3, padTokenId: toks.qwen3.eosTokenId };
    const rows = QWEN3;
    const trl = trlCompletionCollator.run(inputFor(tok), trlCompletionCollator.defaults('qwen3', tok));
    expect(trl.labels).toEqual(expectedLabels(trl.ids, rows, ['A0', 'N0', 'K1', 'A1', 'N1']));
    const e0 = rows.findIndex(([, t]) => t === 'E0');
    expect(trl.reasons[e0]).toBe(reason.sharesPadId(tok.eosTokenId));
    expect(trl.notes.some((n) => n.startsWith('UserWarning: The pad_token_id and eos_token_id values of this tokenizer are identical.'))).toBe(true);
    expect(trl.notes.some((n) => n.includes('the model never learns to stop'))).toBe(true);
    const unsloth = unslothResponsesOnly.run(inputFor(tok), unslothResponsesOnly.defaults('qwen3', tok));
    expect(unsloth.labels).toEqual(expectedLabels(unsloth.ids, rows, EXPECTED.qwen3.unsloth));
  });

  it('TRL: pad = the end-of-turn id on ChatML (eos is another token) masks <|im_end|> too', () => {
    const base = toks.default;
    const tok: ChatTokenizer = { ...base, padTokenId: base.endOfTurnTokenIds[0] };
    expect(tok.padTokenId).not.toBe(tok.eosTokenId);
    const trl = trlCompletionCollator.run(inputFor(tok), trlCompletionCollator.defaults('chatml', tok));
    expect(trl.labels).toEqual(expectedLabels(trl.ids, DEFAULT, ['A0', 'N0', 'A1', 'N1']));
    // TRL's own warning compares pad with eos only
    expect(trl.notes.some((n) => n.includes('pad_token_id and eos_token_id'))).toBe(false);
  });

  it('TRL without instruction_template: last match only, on a three-reply chat', () => {
    const tok = toks.default;
    const conv: Conversation = [...LAB_CONV, { role: 'user', content: 'Go on.' }, { role: 'assistant', content: 'Done.' }];
    const out = trlCompletionCollator.run(inputFor(tok, conv), { response_template: '<|im_start|>assistant\n', instruction_template: '' });
    const text = tok.render(conv);
    const last = text.lastIndexOf('<|im_start|>assistant\n') + '<|im_start|>assistant\n'.length;
    // trained: exactly the tokens of "Done.<|im_end|>\n"
    const trainedText = out.ids.filter((_, i) => out.labels[i] !== IGNORE_INDEX).map((t) => new TextDecoder().decode(tok.tokenBytes(t))).join('');
    expect(trainedText).toBe(text.slice(last));
    expect(trainedText).toBe('Done.<|im_end|>\n');
    expect(out.notes.some((n) => n.startsWith('No instruction_template: the last of 3 response-marker matches'))).toBe(true);
  });

  it('truncation before the search: the last kept token trains (unsloth), the cut reply trains from its marker (TRL)', () => {
    const tok = toks.default;
    // keep up to "And 3+" (the second user turn's first tokens): DEFAULT positions 0..34
    const cut = DEFAULT.findIndex(([p, t], i) => t === 'U' && p === '+' && i > 30) + 1;
    const unsloth = unslothResponsesOnly.run(inputFor(tok, LAB_CONV, cut), unslothResponsesOnly.defaults('chatml', tok));
    const ids = unsloth.ids;
    expect(ids.length).toBe(DEFAULT.length);
    expect(unsloth.labels).toEqual(expectedLabels(ids, DEFAULT, ['A0', 'E0', 'N0']));
    expect(unsloth.reasons[cut]).toBe(reason.truncated(cut));
    // TRL, no instruction_template: the last match in the kept ids is the first reply's marker, so
    // the second user turn's kept tokens train too (Q and U up to the cut)
    const trl = trlCompletionCollator.run(inputFor(tok, LAB_CONV, cut), { response_template: '<|im_start|>assistant\n', instruction_template: '' });
    const firstA0 = DEFAULT.findIndex(([, t]) => t === 'A0');
    expect(trl.labels).toEqual(ids.map((t, i) => (i >= firstA0 && i < cut ? t : IGNORE_INDEX)));
  });

  it('unsloth: truncation that cuts every response raises the truncation error', () => {
    const tok = toks.default;
    const out = unslothResponsesOnly.run(inputFor(tok, LAB_CONV, 12), unslothResponsesOnly.defaults('chatml', tok));
    expect(out.labels.every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(out.error).toMatch(/^Unsloth: train_on_responses_only masked all\/most labels to -100\. The most likely cause is truncation: max_length=12 cut off/);
  });

  it('unsloth last_response_only trains only the last span', () => {
    const tok = toks.default;
    const out = unslothResponsesOnly.run(inputFor(tok), { ...unslothResponsesOnly.defaults('chatml', tok), last_response_only: true });
    expect(out.labels).toEqual(expectedLabels(out.ids, DEFAULT, ['A1', 'E1', 'N1']));
    const firstA0 = DEFAULT.findIndex(([, t]) => t === 'A0');
    expect(out.reasons[firstA0]).toBe(reason.turnNotSelected('last_response_only=True'));
  });

  it('Gemma defaults are "<start_of_turn>user\\n" / "<start_of_turn>model\\n" and find both replies', () => {
    const tok = toks.gemma3;
    expect(unslothResponsesOnly.defaults(detectFamily(tok), tok)).toMatchObject({ instruction_part: '<start_of_turn>user\n', response_part: '<start_of_turn>model\n' });
    const out = unslothResponsesOnly.run(inputFor(tok), unslothResponsesOnly.defaults(detectFamily(tok), tok));
    const trained = out.ids.filter((_, i) => out.labels[i] !== IGNORE_INDEX).map((t) => tok.tokenString(t));
    expect(trained).toEqual(['Four', '.', '<end_of_turn>', '\n', 'Six', '.', '<end_of_turn>', '\n']);
  });
});

describe('validate', () => {
  it('an empty marker is reported on its field', () => {
    const input = inputFor(toks.default);
    expect(unslothResponsesOnly.validate?.({ instruction_part: '', response_part: '<|im_start|>assistant\n' }, input)).toMatchObject({
      key: 'instruction_part',
      message: expect.stringContaining('instruction_part is empty'),
    });
    expect(trlCompletionCollator.validate?.({ response_template: '', instruction_template: '' }, input)?.key).toBe('response_template');
    // an empty instruction_template means "none"
    expect(trlCompletionCollator.validate?.({ response_template: '<|im_start|>assistant\n', instruction_template: '' }, input)).toBeNull();
  });

  it('a marker longer than the sample is reported on its field', () => {
    const input = inputFor(toks.default, [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }]);
    const long = 'x'.repeat(200);
    const bad = unslothResponsesOnly.validate?.({ instruction_part: '<|im_start|>user\n', response_part: long }, input);
    expect(bad?.key).toBe('response_part');
    expect(bad?.message).toMatch(/longer than the whole sample .* so it can never be found/);
    expect(trlCompletionCollator.validate?.({ response_template: '<|im_start|>assistant\n', instruction_template: long }, input)?.key).toBe('instruction_template');
  });

  it('the defaults pass for each tokenizer', () => {
    for (const id of IDS) {
      const tok = toks[id];
      const input = inputFor(tok);
      expect(unslothResponsesOnly.validate?.(unslothResponsesOnly.defaults(input.family, tok), input)).toBeNull();
      expect(trlCompletionCollator.validate?.(trlCompletionCollator.defaults(input.family, tok), input)).toBeNull();
    }
  });
});

describe('property: random conversations', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('<|im_start|>assistant\n', '<|im_start|>user\n', '<|im_end|>', '### Assistant:', ' ', '\n', '👋', '<think>'),
  );
  const message = fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: text });
  const conv = fc.array(message, { minLength: 1, maxLength: 6 }) as fc.Arbitrary<Conversation>;
  const marker = fc.oneof(fc.constant(null), text);

  it.each(['default', 'qwen3'] as const)('%s: labels are the id or -100, never NaN, one reason per token', (id) => {
    const tok = toks[id];
    fc.assert(
      fc.property(conv, marker, marker, fc.integer({ min: 1, max: 80 }), fc.boolean(), (c, m1, m2, maxLength, padIsEos) => {
        const t: ChatTokenizer = padIsEos ? { ...tok, padTokenId: tok.endOfTurnTokenIds[0] } : tok;
        const input = inputFor(t, c, maxLength);
        let rendered: string;
        try {
          rendered = t.render(c, false, null);
        } catch {
          return; // the template rejects the conversation; run would report it
        }
        for (const s of [unslothResponsesOnly, trlCompletionCollator]) {
          const options: StrategyOptions = { ...s.defaults(input.family, t) };
          const keys = s.options.filter((o) => o.kind === 'text').map((o) => o.key);
          if (m1 !== null) options[keys[0]] = m1;
          if (m2 !== null) options[keys[1]] = m2;
          if (s.validate?.(options, input)) continue;
          const out = s.run(input, options);
          expect(out.ids).toEqual(t.encode(rendered));
          checkLabels(out.ids, out.labels);
          expect(out.labels.some((l) => Number.isNaN(l))).toBe(false);
          expect(out.reasons).toHaveLength(out.ids.length);
          for (let i = maxLength; i < out.ids.length; i++) expect(out.labels[i]).toBe(IGNORE_INDEX);
          if (out.error !== null) expect(out.labels.every((l) => l === IGNORE_INDEX)).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });
});
