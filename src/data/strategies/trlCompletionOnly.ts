// TRL completion_only_loss on a conversational prompt-completion example, as TRL v1.9.0 tokenizes it
// (trl/trainer/sft_trainer.py, _prepare_dataset's tokenize_fn, "prompt-completion case"; the same
// steps since v0.24, when the prompt got add_generation_prompt=True).
//
// The lab's sample becomes the example: prompt = every message before the LAST assistant message,
// completion = [that message]; messages after it are not part of it. Then, with the tokenizer's own
// template (completion_only_loss swaps no template):
//   prompt_ids            = apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
//   prompt_completion_ids = apply_chat_template(prompt + completion, tokenize=True)
//   completion_mask       = [0] * len(prompt_ids) + [1] * (len(prompt_completion_ids) - len(prompt_ids))
// The mask comes from the prompt's LENGTH alone: when prompt_ids is not a prefix of the full ids
// (a template that renders earlier turns differently, a BPE merge across the boundary) TRL only logs
// a warning and masks the first len(prompt_ids) tokens anyway. Everything the template writes after
// the prompt trains: the completion's end-of-turn, the newline after it, and whatever the template
// appends at the end (Qwen3's think block, the Llama 3 template's trailing assistant header).
// labels = input_ids where the mask is 1; right truncation to max_length (keep_start); an example
// with no trained label left is dropped.
import type { Conversation } from '../types';
import { IGNORE_INDEX, raised } from './common';
import { reason, said } from './reasons';
import { truncateAsTrl } from './trlAssistantOnly';
import type { Strategy } from './types';
import { msg } from '../../spec/message';

export const PROMPT_MISMATCH =
  'Mismatch between tokenized prompt and the start of tokenized prompt+completion. This may be due to unexpected tokenizer behavior, whitespace issues, or special token handling. Verify that the tokenizer is processing text consistently.';

/** The prompt-completion example the lab makes of a conversation; completion is [] without an assistant message. */
export function splitPromptCompletion(conv: Conversation): { prompt: Conversation; completion: Conversation; after: number } {
  const last = conv.map((m) => m.role).lastIndexOf('assistant');
  if (last < 0) return { prompt: conv, completion: [], after: 0 };
  return { prompt: conv.slice(0, last), completion: [conv[last]], after: conv.length - last - 1 };
}

export const trlCompletionOnly: Strategy = {
  id: 'trl-completion-only',
  label: 'TRL completion_only_loss',
  source: 'TRL 1.9.0, trl/trainer/sft_trainer.py (completion_only_loss on a conversational prompt-completion example)',
  options: [],
  defaults: () => ({}),
  run({ tok, conversation, tools, maxLength }) {
    const { prompt, completion, after } = splitPromptCompletion(conversation);
    const notes: string[] = [];
    const promptIds = tok.encode(tok.render(prompt, true, tools));
    const text = tok.render([...prompt, ...completion], false, tools);
    const ids = tok.encode(text);
    const isPrefix = promptIds.length <= ids.length && promptIds.every((id, i) => ids[i] === id);
    if (!isPrefix) notes.push(said(msg('lab.note.trlWarns', { text: PROMPT_MISMATCH })));
    if (completion.length === 0) {
      return raised(text, ids, said(msg('lab.note.noCompletion')), notes);
    }
    if (after > 0) notes.push(said(msg('lab.note.afterLastAssistant', { n: after })));
    const n = promptIds.length;
    const why = reason.prompt(false, msg('lab.why.firstTokens', { n }));
    const labels = ids.map((id, i) => (i < n ? IGNORE_INDEX : id));
    const reasons = ids.map((_, i) => (i < n ? why : reason.completion()));
    return truncateAsTrl({ text, ids, labels, reasons, notes, error: null }, maxLength);
  },
};
