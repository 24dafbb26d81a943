// TRL's two SFT masks on LAB_CONV, labelled by hand from the templates' text, for the ChatML
// (default), Llama 3 and Qwen3 tokenizers; then TRL's outcomes on the templates it cannot use, the
// tagged templates' byte-identity proof, transformers' span edges, and a property: on random chats
// the tagged template's {% generation %} mask equals the playground's own template-spans labels.
//
// Each row below is [vocabulary piece, tag]: the piece split is the tokenizer's (checked against
// tok.encode of the rendering); the tag says which strategy trains the token, from the documented
// rules alone:
// - assistant_only_loss with the tagged template trains what sits inside {% generation %}: each
//   assistant answer and its end-of-turn token (Qwen3: the final turn's think block too);
// - completion_only_loss trains every token after the prompt rendered with add_generation_prompt,
//   i.e. everything the template writes from the last answer on.
// Tags: '.' neither, 'A' assistant-only only, 'C' completion-only only, 'B' both.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadNodeTokenizer } from '../testkit';
import { DEFAULT_POLICY } from '../labels';
import { tokenSpans } from '../offsets';
import type { BundledTokenizerId as TokenizerId, ChatTokenizer, Conversation, MessageRole } from '../types';
import { checkLabels } from './common';
import { detectFamily } from './family';
import { LAB_CONV } from './labConversation';
import { reason } from './reasons';
import { TAGGED_TEMPLATES, renderGenerationSpans, sameRendering } from './taggedTemplates';
import { templateSpans } from './templateSpans';
import { NOT_TRAINING_COMPATIBLE, NO_ASSISTANT_TOKENS, STOP_TOKEN_NOT_TRAINED, assistantTokensMask, trlAssistantOnly } from './trlAssistantOnly';
import { PROMPT_MISMATCH, trlCompletionOnly } from './trlCompletionOnly';
import type { StrategyInput, StrategyOutput } from './types';

type Tag = '.' | 'A' | 'C' | 'B';
type Row = [piece: string, tag: Tag];
const masked = (...pieces: string[]): Row[] => pieces.map((p) => [p, '.']);
const tagged = (tag: Tag, ...pieces: string[]): Row[] => pieces.map((p) => [p, tag]);

// ChatML: "<|im_start|>{role}\n{content}<|im_end|>\n" per message. The generation block is
// "{content}<|im_end|>"; the prompt ends "<|im_start|>assistant\n", so the completion is
// "Six.<|im_end|>\n", the final newline included.
const CHATML: Row[] = [
  ...masked('<|im_start|>', 'system', 'Ċ', 'You', 'Ġare', 'Ġter', 'se', '.', '<|im_end|>', 'Ċ'),
  ...masked('<|im_start|>', 'user', 'Ċ', 'What', 'Ġis', 'Ġ2', '+', '2', '?', '<|im_end|>', 'Ċ'),
  ...masked('<|im_start|>', 'assistant', 'Ċ'), ...tagged('A', 'F', 'our', '.', '<|im_end|>'), ...masked('Ċ'),
  ...masked('<|im_start|>', 'user', 'Ċ', 'And', 'Ġ3', '+', '3', '?', '<|im_end|>', 'Ċ'),
  ...masked('<|im_start|>', 'assistant', 'Ċ'), ...tagged('B', 'S', 'ix', '.', '<|im_end|>'), ...tagged('C', 'Ċ'),
];

// Llama 3 (@lenml): BOS, "<|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>",
// and the assistant header always appended at the end, with or without add_generation_prompt. The
// block is "{content}<|eot_id|>"; the completion is "Six.<|eot_id|>" plus that trailing header.
const hdr = (role: string, tag: Tag = '.'): Row[] => tagged(tag, '<|start_header_id|>', role, '<|end_header_id|>', 'ĊĊ');
const LLAMA3: Row[] = [
  ...masked('<|begin_of_text|>'), ...hdr('system'), ...masked('You', 'Ġare', 'Ġterse', '.', '<|eot_id|>'),
  ...hdr('user'), ...masked('What', 'Ġis', 'Ġ', '2', '+', '2', '?', '<|eot_id|>'),
  ...hdr('assistant'), ...tagged('A', 'Four', '.', '<|eot_id|>'),
  ...hdr('user'), ...masked('And', 'Ġ', '3', '+', '3', '?', '<|eot_id|>'),
  ...hdr('assistant'), ...tagged('B', 'Six', '.', '<|eot_id|>'),
  ...hdr('assistant', 'C'),
];

// Qwen3: ChatML, and the final assistant turn (after the last user message) gets an empty think
// block "<think>\n\n</think>\n\n" before its answer; "Four." has none. The block holds the think
// block, the answer and "<|im_end|>"; the prompt ends "<|im_start|>assistant\n".
const QWEN3: Row[] = [
  ...masked('<|im_start|>', 'system', 'Ċ', 'You', 'Ġare', 'Ġterse', '.', '<|im_end|>', 'Ċ'),
  ...masked('<|im_start|>', 'user', 'Ċ', 'What', 'Ġis', 'Ġ', '2', '+', '2', '?', '<|im_end|>', 'Ċ'),
  ...masked('<|im_start|>', 'assistant', 'Ċ'), ...tagged('A', 'Four', '.', '<|im_end|>'), ...masked('Ċ'),
  ...masked('<|im_start|>', 'user', 'Ċ', 'And', 'Ġ', '3', '+', '3', '?', '<|im_end|>', 'Ċ'),
  ...masked('<|im_start|>', 'assistant', 'Ċ'), ...tagged('B', '<think>', 'ĊĊ', '</think>', 'ĊĊ', 'Six', '.', '<|im_end|>'), ...tagged('C', 'Ċ'),
];

const HAND: [TokenizerId, Row[]][] = [['default', CHATML], ['llama3', LLAMA3], ['qwen3', QWEN3]];
const IDS: TokenizerId[] = ['default', 'llama3', 'qwen3', 'gemma3', 'llama3_1', 'deepseek_v3'];
const toks = {} as Record<TokenizerId, ChatTokenizer>;

beforeAll(async () => {
  for (const id of IDS) toks[id] = await loadNodeTokenizer(id);
});

function input(tok: ChatTokenizer, conversation: Conversation = LAB_CONV, maxLength = 4096): StrategyInput {
  return { tok, family: detectFamily(tok), conversation, tools: null, maxLength, policy: { ...DEFAULT_POLICY, trainEndOfTurn: true } };
}

const trainedPieces = (tok: ChatTokenizer, out: StrategyOutput) => out.ids.filter((_, i) => out.labels[i] !== -100).map((id) => tok.tokenString(id));

describe.each(HAND)('TRL on LAB_CONV, %s tokenizer (labelled by hand)', (id, rows) => {
  it('the piece split is the tokenizer’s', () => {
    const tok = toks[id];
    expect(tok.encode(tok.render(LAB_CONV)).map((t) => tok.tokenString(t))).toEqual(rows.map((r) => r[0]));
  });

  it('assistant_only_loss with the tagged template trains the generation blocks', () => {
    const tok = toks[id];
    const ids = tok.encode(tok.render(LAB_CONV));
    const out = trlAssistantOnly.run(input(tok), { template: 'tagged' });
    expect(out.error).toBeNull();
    expect(out.ids).toEqual(ids);
    expect(out.labels).toEqual(rows.map(([, tag], i) => (tag === 'A' || tag === 'B' ? ids[i] : -100)));
    expect(out.reasons).toEqual(rows.map(([, tag]) => (tag === 'A' || tag === 'B' ? reason.inGeneration() : reason.outsideGeneration())));
    expect(out.notes.join('\n')).toMatch(/byte-identical/);
    expect(out.notes.join('\n')).not.toContain(STOP_TOKEN_NOT_TRAINED);
  });

  it('completion_only_loss trains everything after the prompt', () => {
    const tok = toks[id];
    const ids = tok.encode(tok.render(LAB_CONV));
    const out = trlCompletionOnly.run(input(tok), {});
    expect(out.error).toBeNull();
    expect(out.notes).toEqual([]);
    expect(out.ids).toEqual(ids);
    expect(out.labels).toEqual(rows.map(([, tag], i) => (tag === 'C' || tag === 'B' ? ids[i] : -100)));
    expect(out.reasons.filter((r) => r === reason.completion()).length).toBe(rows.filter(([, t]) => t === 'C' || t === 'B').length);
  });

  it('the stock template (no {% generation %}) gives an all-zero mask, and TRL 1.9 refuses it', () => {
    const tok = toks[id];
    const out = trlAssistantOnly.run(input(tok), { template: 'stock' });
    expect(out.labels.every((l) => l === -100)).toBe(true);
    expect(out.ids).toEqual(tok.encode(tok.render(LAB_CONV)));
    expect(out.error).toBe(`SFTTrainer raises ${NOT_TRAINING_COMPATIBLE}`);
    const notes = out.notes.join('\n');
    expect(notes).toContain('assistant mask for this template is all zero');
    expect(notes).toContain(NO_ASSISTANT_TOKENS);
    expect(notes).toMatch(/before 0\.24.*silently/);
  });

  it.each<[string, Conversation]>([
    ['LAB_CONV', LAB_CONV],
    ['leading spaces and trailing newlines', [
      { role: 'system', content: ' Be brief.\n' },
      { role: 'user', content: '  Hi there\n\n' },
      { role: 'assistant', content: ' Hello!\n' },
      { role: 'user', content: '\nAgain?' },
      { role: 'assistant', content: '\n Yes. \n' },
    ]],
  ])('the tagged template renders %s byte-identical to the stock one', (_, conv) => {
    const tok = toks[id];
    const t = TAGGED_TEMPLATES[detectFamily(tok)] as string;
    expect(sameRendering(tok, t, conv, null)).toEqual({ identical: true });
    expect(sameRendering(tok, t, conv, null, true)).toEqual({ identical: true });
    expect(renderGenerationSpans(tok, t, conv, null).text).toBe(tok.render(conv));
  });
});

describe('what TRL does where the lab has no tagged template', () => {
  it('Gemma 3’s stock template is one TRL 1.9 ships, so TRL swaps in its own training template', () => {
    const out = trlAssistantOnly.run(input(toks.gemma3), { template: 'stock' });
    expect(out.error).toMatch(/recognises this template as its gemma3\.jinja/);
    expect(out.labels.every((l) => l === -100)).toBe(true);
  });

  it.each<TokenizerId>(['gemma3', 'deepseek_v3'])('%s: "tagged" is an option error naming the template', (id) => {
    const bad = trlAssistantOnly.validate?.({ template: 'tagged' }, input(toks[id]));
    expect(bad?.key).toBe('template');
    expect(bad?.message).toContain(`${toks[id].label}'s chat template`);
    expect(bad?.message).toContain('has no generation-tagged training template here');
  });

  it('Llama 3.1 is in the llama3 family but its template is another: the proof fails and the row says where', () => {
    const tok = toks.llama3_1;
    expect(detectFamily(tok)).toBe('llama3');
    const proof = sameRendering(tok, TAGGED_TEMPLATES.llama3 as string, LAB_CONV, null);
    expect(proof.identical).toBe(false);
    const out = trlAssistantOnly.run(input(tok), { template: 'tagged' });
    expect(out.error).toContain(`renders this conversation differently from ${tok.label}'s own template from character ${proof.diff?.at}`);
    expect(out.labels.every((l) => l === -100)).toBe(true);
  });
});

describe('transformers’ return_assistant_tokens_mask at span edges', () => {
  it('a block whose first character is in no token stops the loop: later blocks are not trained', () => {
    const tok = toks.default;
    const text = tok.render(LAB_CONV);
    const ids = tok.encode(text);
    const four = text.indexOf('Four.');
    const six = text.indexOf('Six.');
    const { mask, reasons } = assistantTokensMask(tok, text, ids, [[four, four + 5], [text.length, text.length], [six, six + 4]]);
    const trained = ids.filter((_, i) => mask[i]).map((t) => tok.tokenString(t));
    expect(trained).toEqual(['F', 'our', '.']);
    expect(reasons[ids.length - 1]).toBe(reason.outsideGeneration());
  });

  it('a block ending in token 0 trains the whole sequence (`end_token + 1 if end_token else len(input_ids)`)', () => {
    const tok = toks.default;
    const template = "{% for m in messages %}{% if loop.first %}{% generation %}<|im_start|>{% endgeneration %}{% else %}<|im_start|>{% endif %}{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";
    const out = trlAssistantOnly.run(input({ ...tok, chatTemplate: template }), { template: 'stock' });
    expect(out.error).toBeNull();
    expect(out.labels).toEqual(out.ids);
    expect(out.reasons.every((r) => r === reason.generationToEnd())).toBe(true);
  });

  it('a template whose blocks leave the end-of-turn token out: TRL warns the model may not learn to stop', () => {
    const tok = toks.default;
    const template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}{% endgeneration %}{% else %}{{ m['content'] }}{% endif %}<|im_end|>\n{% endfor %}";
    const out = trlAssistantOnly.run(input({ ...tok, chatTemplate: template }), { template: 'stock' });
    expect(trainedPieces(tok, out)).toEqual(['F', 'our', '.', 'S', 'ix', '.']);
    expect(out.notes).toContain(`TRL warns: ${STOP_TOKEN_NOT_TRAINED}`);
  });

  it('blocks that train nothing raise TRL’s RuntimeError', () => {
    const tok = toks.default;
    const template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if false %}{% generation %}x{% endgeneration %}{% endif %}";
    const out = trlAssistantOnly.run(input({ ...tok, chatTemplate: template }), { template: 'stock' });
    expect(out.error).toBe(NO_ASSISTANT_TOKENS);
    expect(out.labels.every((l) => l === -100)).toBe(true);
  });
});

describe('truncation (max_length, keep_start)', () => {
  it('cuts on the right; a cut before any trained token makes TRL drop the example', () => {
    const tok = toks.default;
    const cut = trlAssistantOnly.run(input(tok, LAB_CONV, 30), { template: 'tagged' });
    expect(trainedPieces(tok, cut)).toEqual(['F', 'our', '.', '<|im_end|>']);
    expect(cut.reasons[30]).toBe(reason.truncated(30));
    const none = trlCompletionOnly.run(input(tok, LAB_CONV, 30), {});
    expect(none.labels.every((l) => l === -100)).toBe(true);
    expect(none.notes.join('\n')).toMatch(/TRL drops this example/);
  });
});

describe('prompt-completion edge cases', () => {
  it('no assistant message: no completion, the example trains nothing and TRL drops it', () => {
    const conv: Conversation = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hi' }];
    const out = trlCompletionOnly.run(input(toks.default, conv), {});
    expect(out.error).toMatch(/^No assistant message, so no completion/);
    expect(out.labels.every((l) => l === -100)).toBe(true);
    // The prompt with its generation prompt is longer than prompt + [] without one.
    expect(out.notes).toEqual([`TRL warns: ${PROMPT_MISMATCH}`]);
  });

  it('messages after the last assistant message are left out', () => {
    const conv: Conversation = [...LAB_CONV, { role: 'user', content: 'Thanks' }];
    const out = trlCompletionOnly.run(input(toks.default, conv), {});
    expect(out.text).toBe(toks.default.render(LAB_CONV));
    expect(out.notes).toContain('1 message(s) after the last assistant message are not part of the prompt-completion example.');
  });

  it('a prompt that is not a token prefix: TRL warns and masks the first len(prompt_ids) tokens anyway', () => {
    // Qwen3's vocabulary has "\n\n" as one token, so the prompt's final "\n" and an answer's
    // leading "\n" merge: prompt_ids is not a prefix of the full ids. (Qwen3's own template puts
    // its think block between them; the plain ChatML template, rendered here, does not.)
    const tok = { ...toks.qwen3, chatTemplate: toks.default.chatTemplate, render: (c: Conversation, g?: boolean) => toks.qwen3.renderWith(toks.default.chatTemplate, c, g) };
    const conv: Conversation = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '\nHello' }];
    const promptIds = tok.encode(tok.render(conv.slice(0, 1), true));
    const out = trlCompletionOnly.run(input(tok, conv), {});
    expect(out.ids.slice(0, promptIds.length)).not.toEqual(promptIds);
    expect(out.notes).toContain(`TRL warns: ${PROMPT_MISMATCH}`);
    expect(out.labels.slice(0, promptIds.length).every((l) => l === -100)).toBe(true);
    expect(out.labels.slice(promptIds.length)).toEqual(out.ids.slice(promptIds.length));
  });
});

// Random chats: an optional system prompt, then user and assistant turns alternating, short
// contents (spaces and newlines at either end included; no "<", so no content writes markup).
const content = fc.stringMatching(/^[ \nab.!?é]{0,8}$/);
const chat: fc.Arbitrary<Conversation> = fc
  .tuple(fc.option(content, { nil: undefined }), fc.array(content, { minLength: 1, maxLength: 5 }))
  .map(([system, turns]) => [
    ...(system === undefined ? [] : [{ role: 'system' as MessageRole, content: system }]),
    ...turns.map((c, i) => ({ role: (i % 2 === 0 ? 'user' : 'assistant') as MessageRole, content: c })),
  ]);

describe.each<TokenizerId>(['default', 'qwen3'])('random chats, %s tokenizer', (id) => {
  it('labels are ids or -100, and the tagged generation mask equals template-spans’ labels (but Qwen3’s final think block)', () => {
    const tok = toks[id];
    fc.assert(
      fc.property(chat, (conv) => {
        const trl = trlAssistantOnly.run(input(tok, conv), { template: 'tagged' });
        const comp = trlCompletionOnly.run(input(tok, conv), {});
        checkLabels(trl.ids, trl.labels);
        checkLabels(comp.ids, comp.labels);
        const ours = templateSpans.run(input(tok, conv), {});
        expect(trl.ids).toEqual(ours.ids);
        // Qwen3's template writes an empty think block into a final assistant turn: the tagged
        // template keeps it inside the generation block (the model writes it at inference, as in
        // TRL's own qwen3_training.jinja); template spans call it template markup and mask it.
        const think = '<think>\n\n</think>\n\n';
        const at = trl.text.indexOf(think);
        const spans = tokenSpans(tok, trl.text, trl.ids);
        const inThink = (i: number) => at >= 0 && spans[i].start >= at && spans[i].end <= at + think.length;
        const differ = trl.ids.flatMap((_, i) => (trl.labels[i] !== ours.labels[i] ? [i] : []));
        expect(differ).toEqual(trl.ids.flatMap((_, i) => (inThink(i) ? [i] : [])));
        for (const i of differ) expect([trl.labels[i], ours.labels[i]]).toEqual([trl.ids[i], -100]);
      }),
      { numRuns: 30 },
    );
  });
});
