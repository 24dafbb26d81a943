// torchtune's chat SFT path, followed at pytorch/torchtune bd2a0fc (version.txt 0.7.0):
// data/_messages.py OpenAIToMessages, mask_messages and validate_messages; datasets/_sft.py
// SFTTransform; data/_utils.py truncate; models/llama3/_tokenizer.py Llama3Tokenizer; and
// models/qwen2_5/_tokenizer.py Qwen2_5Tokenizer (Qwen3Tokenizer subclasses it; Qwen2's is the same
// for system/user/assistant turns).
//
// `masking_strategy` sets each message's `masked` flag (mask_messages). A system message is always
// masked. 'train_on_assistant' (the default) masks every message that is not the assistant's.
// 'train_on_all' masks nothing else. 'train_on_last' keeps only the last assistant message.
// Then the model tokenizer's tokenize_messages builds the sequence message by message with its own
// strings. Every token of a message (header, content, end token) takes that message's mask, so
// the assistant header is trained along with the answer:
//   Llama 3: <|begin_of_text|> (masked), then per message `<|start_header_id|>` role
//     `<|end_header_id|>` "\n\n", content.strip(), <|eot_id|>. At the end comes <|end_of_text|>
//     (eos, masked). tiktoken encodes the content with no special tokens allowed, so a typed
//     "<|eot_id|>" stays plain text.
//   Qwen 2.5 / Qwen 3 (ChatML; also used for the 'chatml' family): no BOS. Per message
//     `<|im_start|>` role "\n", content (NFC, special tokens matched), `<|im_end|>` "\n". The last
//     message has no footer when it is the assistant's. Then eos `<|im_end|>`, which takes the last
//     message's mask: the final answer trains `<|im_end|>`, the earlier ones `<|im_end|>` and "\n".
//     No empty think block is written.
// Truncation (max_seq_len = input.maxLength): the first max_seq_len tokens are kept, and
// truncate() writes eos over the last one (masked) unless it already is eos.
// labels = np.where(mask, -100, tokens). Since 2025-04 SFTTransform also shifts them by one, so
// position 0 is never a target; this row keeps HF's unshifted convention and masks position 0.
// Tokens past max_seq_len stay in the row after the kept ones, masked, with the truncation reason.
import { raised, textSpans } from './common';
import { reason, said } from './reasons';
import { append, finish, newSequence } from './sequence';
import type { ChatMessage, ChatTokenizer, TokenRole } from '../types';
import type { ChatFamily, Strategy, StrategyInput, StrategyOptions, StrategyOutput } from './types';
import { msg, worded, type Message } from '../../spec/message';

export const MASKING_STRATEGIES = ['train_on_assistant', 'train_on_all', 'train_on_last'] as const;
type MaskingStrategy = (typeof MASKING_STRATEGIES)[number];

interface TtMessage {
  role: string;
  content: string;
  masked: boolean;
}

/** mask_messages, walking from the last message back. */
export function maskMessages(conv: readonly ChatMessage[], strategy: MaskingStrategy): TtMessage[] {
  let markedLast = false;
  const out = conv.map((m) => ({ role: m.role as string, content: m.content, masked: true }));
  for (let i = out.length - 1; i >= 0; i--) {
    const m = out[i];
    if (m.role === 'system') m.masked = true;
    else if (strategy === 'train_on_last') {
      m.masked = !(m.role === 'assistant' && !markedLast);
      if (!m.masked) markedLast = true;
    } else if (strategy === 'train_on_all') m.masked = false;
    else m.masked = m.role !== 'assistant';
  }
  return out;
}

/** validate_messages (OpenAIToMessages never marks a message as a tool call, so a tool result
 *  always fails its "must follow an ipython message" rule). */
function validateMessages(messages: readonly TtMessage[]): string | null {
  if (messages.length < 2) return `messages must be at least length 2, but got ${messages.length} messages`;
  let last = 'assistant';
  for (const [i, m] of messages.entries()) {
    if (m.role === 'assistant' && !['user', 'tool', 'ipython'].includes(last)) return `assistant message before expected user, tool or ipython message at index ${i} in messages`;
    if (m.role === 'user' && last === 'user') return `two consecutive user messages at index ${i} and ${i - 1} in messages`;
    if (m.role === 'system' && i > 0) return `system message at index ${i} in messages, but system messages must come first`;
    if (m.role === 'tool' || m.role === 'ipython') return `tool or ipython message at index ${i} must follow an ipython message`;
    last = m.role;
  }
  return null;
}

const TOKEN_ROLE: Record<string, TokenRole> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant', tool: 'tool' };
const roleOf = (m: TtMessage): TokenRole => (Object.hasOwn(TOKEN_ROLE, m.role) ? TOKEN_ROLE[m.role] : 'user');

function messageReason(m: TtMessage, strategy: MaskingStrategy): string {
  const trained = !m.masked;
  if (m.role === 'system') return reason.role('system', false);
  if (m.role === 'assistant' && !trained && strategy === 'train_on_last') return reason.turnNotSelected(msg('lab.why.trainOnLast'));
  return reason.role(roleOf(m), trained);
}

interface Built {
  text: string;
  ids: number[];
  mask: boolean[];
  reasons: string[];
}

const special = (tok: ChatTokenizer, text: string): number => {
  const ids = tok.encode(text);
  if (ids.length !== 1) throw new Error(`torchtune's ${text} is not one token in this tokenizer`);
  return ids[0];
};

function push(b: Built, text: string, ids: readonly number[], masked: boolean, why: string): void {
  b.text += text;
  for (const id of ids) {
    b.ids.push(id);
    b.mask.push(masked);
    b.reasons.push(why);
  }
}

/** Llama3Tokenizer.tokenize_messages (add_end_tokens=True), before truncation. */
function llama3Messages(tok: ChatTokenizer, messages: readonly TtMessage[], strategy: MaskingStrategy): { built: Built; eos: number } {
  const b: Built = { text: '', ids: [], mask: [], reasons: [] };
  const eos = special(tok, '<|end_of_text|>');
  push(b, '<|begin_of_text|>', [special(tok, '<|begin_of_text|>')], true, reason.markup());
  for (const m of messages) {
    const role = roleOf(m);
    const header = reason.withMessage(msg('lab.why.header'), role, !m.masked);
    push(b, '<|start_header_id|>', [special(tok, '<|start_header_id|>')], m.masked, header);
    push(b, m.role.trim(), tok.encodePlain(m.role.trim()), m.masked, header);
    push(b, '<|end_header_id|>', [special(tok, '<|end_header_id|>')], m.masked, header);
    push(b, '\n\n', tok.encode('\n\n'), m.masked, header);
    const body = m.content.trim();
    push(b, body, tok.encodePlain(body), m.masked, messageReason(m, strategy));
    push(b, '<|eot_id|>', [special(tok, '<|eot_id|>')], m.masked, reason.endOfTurn(!m.masked, msg('lab.why.labelledWithMessage')));
  }
  push(b, '<|end_of_text|>', [eos], true, reason.endOfSequence(false, msg('lab.why.bosEosMasked')));
  return { built: b, eos };
}

/** Qwen2_5Tokenizer.tokenize_messages (add_end_tokens=True), before truncation. */
function qwenMessages(tok: ChatTokenizer, messages: readonly TtMessage[], strategy: MaskingStrategy): { built: Built; eos: number } {
  const b: Built = { text: '', ids: [], mask: [], reasons: [] };
  const imStart = special(tok, '<|im_start|>');
  const imEnd = special(tok, '<|im_end|>');
  messages.forEach((m, i) => {
    const role = roleOf(m);
    const header = reason.withMessage(msg('lab.why.header'), role, !m.masked);
    push(b, '<|im_start|>', [imStart], m.masked, header);
    push(b, `${m.role}\n`, tok.encode(`${m.role}\n`), m.masked, header);
    const body = m.content.normalize('NFC');
    push(b, body, tok.encode(body), m.masked, messageReason(m, strategy));
    if (m.role !== 'assistant' || i !== messages.length - 1) {
      push(b, '<|im_end|>', [imEnd], m.masked, reason.endOfTurn(!m.masked, msg('lab.why.labelledWithMessage')));
      push(b, '\n', tok.encode('\n'), m.masked, reason.withMessage(msg('lab.why.newlineAfter', { token: '<|im_end|>' }), role, !m.masked));
    }
  });
  const lastMasked = b.mask[b.mask.length - 1];
  push(b, '<|im_end|>', [imEnd], lastMasked, reason.endOfSequence(!lastMasked, msg('lab.why.eosTakesMask')));
  return { built: b, eos: imEnd };
}

const NO_TOKENIZER: Partial<Record<ChatFamily, Message>> = {
  gemma: msg('lab.error.ttNoGemma'),
  deepseek: msg('lab.error.ttNoDeepseek'),
  unknown: msg('lab.error.ttNoTokenizer'),
};

export const torchtune: Strategy = {
  id: 'torchtune',
  label: 'torchtune (chat SFT)',
  source: 'torchtune 0.7.0 (bd2a0fc), data/_messages.py mask_messages + models/{llama3,qwen2_5}/_tokenizer.py tokenize_messages',
  options: [
    {
      key: 'masking_strategy',
      label: 'masking_strategy',
      kind: 'choice',
      choices: MASKING_STRATEGIES,
      help: 'masking_strategy: train_on_all (system still masked), train_on_assistant (default), or train_on_last (the last assistant message only).',
    },
  ],
  defaults: () => ({ masking_strategy: 'train_on_assistant' }),
  validate(options) {
    return (MASKING_STRATEGIES as readonly string[]).includes(String(options.masking_strategy)) ? null : { key: 'masking_strategy', ...worded(msg('strategy.oneOfNoStop', { key: 'masking_strategy', choices: MASKING_STRATEGIES.join(', ') })) };
  },
  run: (input, options) => runTorchtune(input, options),
};

function runTorchtune({ tok, family, conversation, maxLength }: StrategyInput, options: StrategyOptions): StrategyOutput {
  const unsupported = NO_TOKENIZER[family];
  if (unsupported) return raised('', [], said(unsupported));
  const strategy = String(options.masking_strategy) as MaskingStrategy;
  const messages = maskMessages(conversation, strategy);
  const invalid = validateMessages(messages);
  if (invalid) return raised('', [], invalid);
  const notes: string[] = [];
  const { built, eos } = family === 'llama3' ? llama3Messages(tok, messages, strategy) : qwenMessages(tok, messages, strategy);
  if (family === 'llama3' && conversation.some((m) => m.content !== m.content.trim())) notes.push(said(msg('lab.note.llama3Strips')));
  if (conversation.some((m) => m.fields && Object.keys(m.fields).length > 0)) notes.push(said(msg('lab.note.ttRoleContentOnly')));

  // truncate(): keep max_seq_len tokens, write eos over the last one and mask it.
  const seq = newSequence();
  const T = built.ids.length;
  const keep = Math.min(T, maxLength);
  const label = (i: number) => !built.mask[i] && i > 0;
  const why = (i: number) => (i === 0 && !built.mask[0] ? reason.firstPosition() : built.reasons[i]);
  if (T <= maxLength) {
    append(seq, '', built.ids, label, why);
    seq.text = built.text;
    return finish(seq, notes);
  }
  // Each token's text, to place the forced eos between them.
  const spans = textSpans(tok, built.text, built.ids);
  const pieces = built.ids.map((_, i) => spans.text.slice(spans.starts[i], spans.ends[i]));
  const head = built.ids.slice(0, keep - 1);
  for (let i = 0; i < head.length; i++) append(seq, pieces[i], [head[i]], label(i), why(i));
  append(seq, tok.addedTokenContent(eos) ?? '', [eos], false, reason.forcedEos(maxLength));
  const replaced = built.ids[keep - 1] !== eos;
  for (let i = replaced ? keep - 1 : keep; i < T; i++) append(seq, pieces[i], [built.ids[i]], false, reason.truncated(maxLength));
  notes.push(replaced ? said(msg('lab.note.maxSeqLenBecomes', { max: maxLength, n: T - maxLength })) : said(msg('lab.note.maxSeqLenStays', { max: maxLength, n: T - maxLength })));
  return finish(seq, notes);
}
