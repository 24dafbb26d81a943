// The reason behind one label, in a few fixed phrasings, so every strategy words the same rule the
// same way (the token view's tooltip and the chips' data-reason show them).
import type { TokenRole } from '../types';

const ROLE_WORDS: Record<TokenRole, string> = {
  system: 'system',
  user: 'user',
  assistant: 'assistant',
  reasoning: 'assistant reasoning',
  tool_call: 'assistant tool call',
  tool: 'tool result',
  template: 'template markup',
};

export const reason = {
  /** The token's role decided it (trained or not, per the strategy's role rule). */
  role: (role: TokenRole, trained: boolean) => `role: ${ROLE_WORDS[role]} → ${trained ? 'trained' : 'masked'}`,
  markup: () => 'template markup → masked',
  endOfTurn: (trained: boolean, why = '') => `end-of-turn → ${trained ? 'trained' : 'masked'}${why ? ` (${why})` : ''}`,
  turnNotSelected: (what: string) => `turn not selected (${what}) → masked`,
  inGeneration: () => 'inside a {% generation %} block → trained',
  outsideGeneration: () => 'outside every {% generation %} block → masked',
  /** p = token position where the marker starts. */
  markerFound: (marker: string, p: number, trained: boolean) => `${trained ? 'after' : 'up to the end of'} ${marker} marker found at position ${p} → ${trained ? 'trained' : 'masked'}`,
  markerNotFound: (marker: string) => `${marker} marker not found → masked`,
  /** Before the first response marker / between an instruction marker and a response marker. */
  beforeMarker: (marker: string) => `before the ${marker} marker → masked`,
  insideSource: (n: number) => `inside the source length (${n} tokens) → masked`,
  afterSource: (n: number) => `after the source length (${n} tokens) → trained`,
  prompt: (trained: boolean, why: string) => `prompt (${why}) → ${trained ? 'trained' : 'masked'}`,
  completion: () => 'completion → trained',
  truncated: (maxLength: number) => `cut by truncation (max length ${maxLength}) → dropped`,
  padding: (why: string) => `padding → masked (${why})`,
  override: (to: 'train' | 'mask') => `hand override → ${to === 'train' ? 'trained' : 'masked'}`,
  trainAll: () => 'every token trains → trained',
  error: (message: string) => `the framework raises: ${message}`,
  /** No marker of this kind after the token: nothing reopens training (unsloth's search ran out). */
  noMarkerAfter: (marker: string) => `no ${marker} marker after this point → masked`,
  /** TRL's collator: fewer response than instruction markers, so it masks from the last instruction marker (at p) on. */
  unpairedInstruction: (p: number) => `from the last instruction marker (position ${p}) on, unpaired: fewer response than instruction markers → masked`,
  /** The token's id is the pad token's id, and the collator masks every such id (transformers' DataCollatorForLanguageModeling). */
  sharesPadId: (pad: number) => `same id as the pad token (${pad}), the collator masks it as padding → masked`,
  /** A per-message field the framework reads (axolotl's message_field_training) decided the message. */
  messageField: (field: string, value: string, trained: boolean) => `message ${field}: ${value} → ${trained ? 'trained' : 'masked'}`,
  /** Character ranges of a message's content, each with a train flag (axolotl's message_field_training_detail). */
  charRange: (field: string, trained: boolean) => (trained ? `inside a ${field} range with train: true → trained` : `not inside a ${field} range with train: true → masked`),
  /** The framework found message m's tokens on a rendering that stops after m, and that rendering writes the
   *  message `shift` tokens away from where the full one has it (Qwen3's empty think block). */
  spanShifted: (m: number, shift: number, trained: boolean) =>
    trained
      ? `inside the span of message ${m} found on its prefix rendering, ${shift} tokens off in the full one → trained`
      : `message ${m}'s content, but the span found on its prefix rendering is ${shift} tokens off → masked`,
  /** The framework leaves the whole sample out of training. */
  dropped: (why: string) => `sample dropped (${why}) → masked`,
  /** LLaMA-Factory's efficient_eos: the label at this position is the eos id (the previous answer's
   *  end), not this token; the labels contract holds ids only, so the token itself shows masked. */
  efficientEos: (eos: string) => `efficient_eos: the label here is ${eos} (the end of the answer before), not this token → masked`,
  /** torchtune shifts labels inside its dataset, so position 0 is no target. */
  firstPosition: () => 'first position: no target once labels are shifted by one → masked',
  /** Markup a framework labels with the message it belongs to (torchtune's headers and end tokens). */
  withMessage: (part: string, role: TokenRole, trained: boolean) => `${part}, labelled with its ${ROLE_WORDS[role]} message → ${trained ? 'trained' : 'masked'}`,
  endOfSequence: (trained: boolean, why: string) => `end of sequence → ${trained ? 'trained' : 'masked'} (${why})`,
  /** torchtune's truncate(): the last kept position becomes eos, masked. */
  forcedEos: (maxLength: number) => `eos written over the last kept position (max length ${maxLength}) → masked`,
  /** transformers' return_assistant_tokens_mask stops at a block whose first character no token covers (it breaks out of its loop). */
  generationAfterLost: () => 'in or after a {% generation %} block whose first character is in no token (transformers stops there) → masked',
  /** transformers' return_assistant_tokens_mask: a block's last character in no token (or in token 0) → it trains to the end of the sequence. */
  generationToEnd: () => 'from a {% generation %} block whose last character maps to no token or to token 0 (transformers then trains to the end of the sequence) → trained',
};
