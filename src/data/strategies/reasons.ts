// The reason behind one label, in a few fixed phrasings, so every strategy words the same rule the
// same way (the token view's tooltip and the chips' data-reason show them). Each phrasing is a
// message (src/spec/message.ts, codes lab.reason.*): a strategy keeps its English text (tests and
// the framework-facing notes read it), and said() remembers the message behind each text so the
// row can carry both (toRow in index.ts: LabRow.reasonMsgs / noteMsgs, shown in the page's language).
import type { TokenRole } from '../types';
import { englishOf, msg, uncoded, type Message } from '../../spec/message';

/** English text → the message it was said from, for the run in progress (cleared by forgetSaid). */
const SAID = new Map<string, Message>();
/** code + params → English text: a reason is said once per token, its words are rendered once. */
const WORDS = new Map<string, string>();

/** The English text of m, remembered with m (see messageOfSaid). */
export function said(m: Message): string {
  const key = m.params ? `${m.code}\u0001${JSON.stringify(m.params)}` : m.code;
  let s = WORDS.get(key);
  if (s === undefined) {
    s = englishOf(m);
    WORDS.set(key, s);
    SAID.set(s, m);
  }
  return s;
}

/** The message a text was said from (a text no one said, a framework's own words: uncoded). */
export const messageOfSaid = (s: string): Message => SAID.get(s) ?? uncoded(s);

/** Forgets what was said (each strategy run starts afresh, so the tables stay small). */
export function forgetSaid(): void {
  SAID.clear();
  WORDS.clear();
}

/** A why: a message, or a string that stays as is (an option as the framework spells it). */
export type Why = string | Message;
const whyOf = (w: Why): Message => (typeof w === 'string' ? uncoded(w) : w);

const role = (r: TokenRole) => msg(`lab.role.${r}`);
const to = (trained: boolean) => (trained ? msg('lab.to.trained') : msg('lab.to.masked'));

export const reason = {
  /** The token's role decided it (trained or not, per the strategy's role rule). */
  role: (ro: TokenRole, trained: boolean) => said(msg('lab.reason.role', { role: role(ro), to: to(trained) })),
  markup: () => said(msg('lab.reason.markup')),
  endOfTurn: (trained: boolean, why: Why = '') =>
    why ? said(msg('lab.reason.endOfTurnWhy', { to: to(trained), why: whyOf(why) })) : said(msg('lab.reason.endOfTurn', { to: to(trained) })),
  turnNotSelected: (what: Why) => said(msg('lab.reason.turnNotSelected', { what: whyOf(what) })),
  inGeneration: () => said(msg('lab.reason.inGeneration')),
  outsideGeneration: () => said(msg('lab.reason.outsideGeneration')),
  /** p = token position where the marker starts. */
  markerFound: (marker: string, p: number, trained: boolean) => trained ? said(msg('lab.reason.afterMarker', { marker, p })) : said(msg('lab.reason.upToMarker', { marker, p })),
  markerNotFound: (marker: string) => said(msg('lab.reason.markerNotFound', { marker })),
  /** Before the first response marker / between an instruction marker and a response marker. */
  beforeMarker: (marker: Why) => said(msg('lab.reason.beforeMarker', { marker: whyOf(marker) })),
  insideSource: (n: number) => said(msg('lab.reason.insideSource', { n })),
  afterSource: (n: number) => said(msg('lab.reason.afterSource', { n })),
  prompt: (trained: boolean, why: Why) => said(msg('lab.reason.prompt', { to: to(trained), why: whyOf(why) })),
  completion: () => said(msg('lab.reason.completion')),
  truncated: (maxLength: number) => said(msg('lab.reason.truncated', { maxLength })),
  padding: (why: Why) => said(msg('lab.reason.padding', { why: whyOf(why) })),
  override: (o: 'train' | 'mask') => said(msg('lab.reason.override', { to: to(o === 'train') })),
  trainAll: () => said(msg('lab.reason.trainAll')),
  /** The framework's own error text, as it raises it. */
  error: (message: string) => said(msg('lab.reason.error', { message: messageOfSaid(message) })),
  /** No marker of this kind after the token: nothing reopens training (unsloth's search ran out). */
  noMarkerAfter: (marker: string) => said(msg('lab.reason.noMarkerAfter', { marker })),
  /** TRL's collator: fewer response than instruction markers, so it masks from the last instruction marker (at p) on. */
  unpairedInstruction: (p: number) => said(msg('lab.reason.unpairedInstruction', { p })),
  /** The token's id is the pad token's id, and the collator masks every such id (transformers' DataCollatorForLanguageModeling). */
  sharesPadId: (pad: number) => said(msg('lab.reason.sharesPadId', { pad })),
  /** A per-message field the framework reads (axolotl's message_field_training) decided the message. */
  messageField: (field: string, value: string, trained: boolean) => said(msg('lab.reason.messageField', { field, value, to: to(trained) })),
  /** Character ranges of a message's content, each with a train flag (axolotl's message_field_training_detail). */
  charRange: (field: string, trained: boolean) => trained ? said(msg('lab.reason.inRange', { field })) : said(msg('lab.reason.notInRange', { field })),
  /** The framework found message m's tokens on a rendering that stops after m, and that rendering writes the
   *  message `shift` tokens away from where the full one has it (Qwen3's empty think block). */
  spanShifted: (m: number, shift: number, trained: boolean) => trained ? said(msg('lab.reason.spanShiftedTrained', { m, shift })) : said(msg('lab.reason.spanShiftedMasked', { m, shift })),
  /** The framework leaves the whole sample out of training. */
  dropped: (why: Why) => said(msg('lab.reason.dropped', { why: whyOf(why) })),
  /** LLaMA-Factory's efficient_eos: the label at this position is the eos id (the previous answer's
   *  end), not this token; the labels contract holds ids only, so the token itself shows masked. */
  efficientEos: (eos: string) => said(msg('lab.reason.efficientEos', { eos })),
  /** torchtune shifts labels inside its dataset, so position 0 is no target. */
  firstPosition: () => said(msg('lab.reason.firstPosition')),
  /** Markup a framework labels with the message it belongs to (torchtune's headers and end tokens). */
  withMessage: (part: Why, ro: TokenRole, trained: boolean) => said(msg('lab.reason.withMessage', { part: whyOf(part), role: role(ro), to: to(trained) })),
  endOfSequence: (trained: boolean, why: Why) => said(msg('lab.reason.endOfSequence', { to: to(trained), why: whyOf(why) })),
  /** torchtune's truncate(): the last kept position becomes eos, masked. */
  forcedEos: (maxLength: number) => said(msg('lab.reason.forcedEos', { maxLength })),
  /** transformers' return_assistant_tokens_mask stops at a block whose first character no token covers (it breaks out of its loop). */
  generationAfterLost: () => said(msg('lab.reason.generationAfterLost')),
  /** transformers' return_assistant_tokens_mask: a block's last character in no token (or in token 0) → it trains to the end of the sequence. */
  generationToEnd: () => said(msg('lab.reason.generationToEnd')),
};
