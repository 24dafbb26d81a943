// TRL SFTConfig(assistant_only_loss=True) on a conversational ("messages") example, as TRL v1.9.0
// does it (trl/trainer/sft_trainer.py: SFTTrainer.__init__ and _prepare_dataset's tokenize_fn,
// trl/chat_template_utils.py), with the mask computed as transformers' apply_chat_template(...,
// return_assistant_tokens_mask=True) computes it (PreTrainedTokenizerBase.apply_chat_template and
// utils/chat_template_utils.py's AssistantTracker / _render_with_assistant_indices).
//
// 1. The template. Option `template`: 'stock' = the tokenizer's own; 'tagged' = this lab's
//    generation-tagged copy of it (taggedTemplates.ts), which a TRL user passes as
//    SFTConfig(chat_template_path=…). TRL ≥ 1.1, given a template with no {% generation %} tag,
//    swaps in a training template of its own when the template is byte-identical to one it ships
//    (Gemma 3's here: KNOWN_TRL_TEMPLATES) and otherwise raises ValueError at SFTTrainer init. TRL
//    0.24–1.0 used the template as it was: the mask is all zero and tokenize_fn raises RuntimeError;
//    before 0.24 the example silently trained on nothing.
// 2. The mask. The generation blocks' character spans in the rendering; for each, start_token =
//    char_to_token(start), end_token = char_to_token(end - 1) (char_to_token: the FIRST token whose
//    character offsets contain the position); a start in no token stops the loop for this and every
//    later block (`break`), and an end in no token, or in token 0 (Python's falsy 0), trains to the
//    end of the sequence. A token's offsets cover every character it has a byte of (tokenSpans'
//    cover), so a block ending inside a character split over two byte-level tokens stops at the
//    first of them.
// 3. labels = input_ids where the mask is 1, else -100; a mask with no 1 raises TRL's RuntimeError.
//    Then right truncation to max_length (truncation_mode="keep_start"), and TRL drops an example
//    left with no trained token.
// TRL also checks, once at init, that the template's mask ends on an end-of-turn (added) token;
// when it does not, it warns, and the row notes it.
import type { ChatTokenizer, Conversation } from '../types';
import { tokenSpans } from '../offsets';
import { IGNORE_INDEX, raised, truncateRight } from './common';
import { reason, said } from './reasons';
import { TAGGED_TEMPLATES, hasGenerationMarkers, renderGenerationSpans, sameRendering } from './taggedTemplates';
import type { Strategy, StrategyOptions, StrategyOutput } from './types';
import { msg, worded } from '../../spec/message';

export const NO_ASSISTANT_TOKENS =
  "RuntimeError: You're using `assistant_only_loss=True`, but at least one example has no assistant tokens. This usually means the tokenizer's chat template doesn't generate assistant masks — it may be missing the `{% generation %}` keyword. Please check the template and ensure it's correctly configured to support assistant masking.";
export const NOT_TRAINING_COMPATIBLE =
  'ValueError: The chat template is not training-compatible (missing prefix-preservation or `{% generation %}` markers) and patching is not supported for this template. Please manually modify the chat template for training.';
export const NO_GENERATION_KEYWORD = 'return_assistant_tokens_mask==True but chat template does not contain `{% generation %}` keyword.';
export const STOP_TOKEN_NOT_TRAINED = "The chat template does not include the assistant turn's end-of-turn token in the loss mask; the model may not learn to stop.";

/** The templates TRL v1.9.0 recognises (trl/chat_templates/<name>.jinja, compared whole): length and
 *  FNV-1a hash of the UTF-16 code units, so the lab can tell without carrying their text. */
const KNOWN_TRL_TEMPLATES: readonly [name: string, length: number, fnv1a: number][] = [
  ['cohere', 1318, 0xab7abb19],
  ['cohere2', 3239, 0x75b65dae],
  ['deepseekv3', 2575, 0x5f2e9581],
  ['gemma', 591, 0x0c8febf3],
  ['gemma3', 1532, 0x7ed4e53d],
  ['glm4moe', 3242, 0x160a8949],
  ['gptoss', 16714, 0x22c2e304],
  ['idefics3', 408, 0x0defe09a],
  ['llama3', 389, 0x8dd2058e],
  ['llava_next', 663, 0x3cc1ea2d],
  ['nemotron_3_nano', 10504, 0x7fa54a59],
  ['nemotron_3_super', 10771, 0x55504c06],
  ['nemotron_3_ultra', 10152, 0x5406c46b],
  ['phi3', 407, 0xdd2b9dbd],
  ['phi3_5', 430, 0x63734528],
  ['qwen2_5', 2507, 0x6aca5d55],
  ['qwen2_5_vl', 1017, 0x61244108],
  ['qwen3', 4168, 0x1bae85c9],
  ['qwen3_instruct_2507', 2630, 0x4f91638b],
  ['qwen3_vl', 5292, 0x7f6f9a91],
  ['qwen3_5_nothink', 7755, 0x464c3d77],
  ['qwen3_5_think', 7756, 0x13dff0a0],
  ['qwen3_6', 7764, 0x8580c994],
];

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** The name of the TRL template `template` is, or null. */
export function knownTrlTemplate(template: string): string | null {
  const h = fnv1a(template);
  return KNOWN_TRL_TEMPLATES.find(([, n, f]) => n === template.length && f === h)?.[0] ?? null;
}

export interface AssistantMask {
  /** (T,) 1 = inside a generation block as transformers maps it. */
  mask: Uint8Array;
  /** (T,) why, in reasons.ts' words. */
  reasons: string[];
}

/** transformers' return_assistant_tokens_mask for `ids` (the tokens of `text`) and the blocks' spans. */
export function assistantTokensMask(tok: ChatTokenizer, text: string, ids: number[], spans: readonly [number, number][]): AssistantMask {
  const T = ids.length;
  const mask = new Uint8Array(T);
  const why: string[] = new Array(T).fill(reason.outsideGeneration());
  const offsets = tokenSpans(tok, text, ids);
  const charToToken = (pos: number): number | null => {
    const i = offsets.findIndex((o) => pos >= o.coverStart && pos < o.coverEnd);
    return i < 0 ? null : i;
  };
  for (const [start, end] of spans) {
    // Python indexes code points: end - 1 is the block's last character, whole.
    const last = end - (end >= 2 && /[\udc00-\udfff]/.test(text[end - 1]) ? 2 : 1);
    if (last < 0) throw new Error('OverflowError: an empty {% generation %} block at the very start of the rendering makes transformers call char_to_token(-1).');
    const startToken = charToToken(start);
    if (startToken === null) {
      for (let t = 0; t < T; t++) if (!mask[t] && offsets[t].coverEnd > start) why[t] = reason.generationAfterLost();
      break;
    }
    const endToken = charToToken(last);
    const stop = endToken ? endToken + 1 : T;
    for (let t = startToken; t < stop; t++) {
      mask[t] = 1;
      why[t] = endToken ? reason.inGeneration() : reason.generationToEnd();
    }
  }
  return { mask, reasons: why };
}

/** TRL's is_chat_template_stop_token_trained: on [user, assistant, user] "dummy" turns, the last
 *  masked token that is not whitespace must be an added token (the end-of-turn). */
export function stopTokenTrained(tok: ChatTokenizer, template: string): boolean {
  const probe: Conversation = [
    { role: 'user', content: 'dummy' },
    { role: 'assistant', content: 'dummy' },
    { role: 'user', content: 'dummy' },
  ];
  let text: string;
  let spans: [number, number][];
  try {
    ({ text, spans } = renderGenerationSpans(tok, template, probe, null));
  } catch {
    return false;
  }
  const ids = tok.encode(text);
  const { mask } = assistantTokensMask(tok, text, ids, spans);
  const dec = new TextDecoder();
  for (let t = ids.length - 1; t >= 0; t--) {
    if (!mask[t] || dec.decode(tok.tokenBytes(ids[t])).trim() === '') continue;
    return tok.addedTokenContent(ids[t]) !== null;
  }
  return false;
}

/** TRL's last two steps: keep_start truncation, then the example is dropped when no label trains. */
export function truncateAsTrl(out: StrategyOutput, maxLength: number): StrategyOutput {
  const cut = truncateRight(out, maxLength);
  if (cut.error || cut.labels.some((l) => l !== IGNORE_INDEX)) return cut;
  return { ...cut, notes: [...cut.notes, said(msg('lab.note.trlDropsMasked'))] };
}

function chosenTemplate(options: StrategyOptions): 'stock' | 'tagged' {
  return options.template === 'tagged' ? 'tagged' : 'stock';
}

export const trlAssistantOnly: Strategy = {
  id: 'trl-assistant-only',
  label: 'TRL assistant_only_loss',
  source: 'TRL 1.9.0, trl/trainer/sft_trainer.py (assistant_only_loss) + transformers apply_chat_template(return_assistant_tokens_mask=True)',
  options: [
    {
      key: 'template',
      label: 'chat template',
      kind: 'choice',
      choices: ['stock', 'tagged'],
      help: "The template TRL renders with: the tokenizer's own, or a copy with {% generation %} blocks around each assistant answer (SFTConfig chat_template_path).",
    },
  ],
  defaults: () => ({ template: 'stock' }),
  validate(options, { family, tok }) {
    if (chosenTemplate(options) === 'tagged' && TAGGED_TEMPLATES[family] === undefined) {
      return { key: 'template', ...worded(msg('strategy.noTagged', { name: tok.label, family })) };
    }
    return null;
  },
  run({ tok, family, conversation, tools, maxLength }, options) {
    const which = chosenTemplate(options);
    const notes: string[] = [];
    let template = tok.chatTemplate;
    if (which === 'tagged') {
      const tagged = TAGGED_TEMPLATES[family];
      if (tagged === undefined) throw new Error(`${tok.label}'s chat template has no generation-tagged training template here.`);
      const proof = sameRendering(tok, tagged, conversation, tools);
      if (!proof.identical && proof.diff) {
        const text = tok.render(conversation, false, tools);
        const { at, stock, tagged: other } = proof.diff;
        return raised(text, tok.encode(text), `The generation-tagged training template renders this conversation differently from ${tok.label}'s own template from character ${at} (${JSON.stringify(stock)} vs ${JSON.stringify(other)}), so it is not that template plus tags; its mask would label another text.`);
      }
      notes.push(said(msg('lab.note.byteIdentical', { label: tok.label })));
      template = tagged;
    } else if (!hasGenerationMarkers(template)) {
      const text = tok.render(conversation, false, tools);
      const ids = tok.encode(text);
      const known = knownTrlTemplate(template);
      if (known !== null) {
        return raised(text, ids, `TRL 1.9 recognises this template as its ${known}.jinja and trains with its own training template instead (trl/chat_templates/${known}_training.jinja), which this lab does not carry: pick "tagged" where the family has one.`);
      }
      return raised(text, ids, `SFTTrainer raises ${NOT_TRAINING_COMPATIBLE}`, [
        `transformers warns: ${NO_GENERATION_KEYWORD} Its assistant mask for this template is all zero.`,
        `TRL 0.24–1.0 (no template patching) raise on this example instead: ${NO_ASSISTANT_TOKENS}`,
        'TRL before 0.24 raised nothing: the example trained on no token, silently.',
      ]);
    }
    if (!stopTokenTrained(tok, template)) notes.push(said(msg('lab.note.trlWarns', { text: STOP_TOKEN_NOT_TRAINED })));
    const { text, spans } = renderGenerationSpans(tok, template, conversation, tools);
    const ids = tok.encode(text);
    const { mask, reasons } = assistantTokensMask(tok, text, ids, spans);
    if (!mask.includes(1)) return raised(text, ids, NO_ASSISTANT_TOKENS, notes);
    const labels = ids.map((id, i) => (mask[i] ? id : IGNORE_INDEX));
    return truncateAsTrl({ text, ids, labels, reasons, notes, error: null }, maxLength);
  },
};
