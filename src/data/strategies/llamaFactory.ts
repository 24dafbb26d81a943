// LLaMA-Factory's supervised (SFT) preprocessing, followed at hiyouga/LLaMA-Factory ff6d4d1
// (VERSION 0.9.6.dev0): src/llamafactory/data/processor/supervised.py
// SupervisedDatasetProcessor._encode_data_example, template.py (Template._encode, encode_multiturn,
// ReasoningTemplate, Llama2Template, register_template), processor_utils.py infer_seqlen, and
// converter.py SharegptDatasetConverter (the OpenAI-tag sharegpt format).
//
// It never renders the tokenizer's Jinja template. Each `template` (register_template) is a set
// of slot strings: format_prefix, format_system, format_user (which also opens the assistant
// turn), format_assistant, format_observation. `_encode` builds one id list per message:
// message 0 gets prefix + system + user. Every string slot is encoded on its own
// (add_special_tokens=False), and {bos_token}/{eos_token} slots are single ids. encode_multiturn
// pairs these lists into (source, target) per turn. Then, per pair:
//   - source labels are -100; with `train_on_prompt` they are the ids. With `efficient_eos` (the
//     template writes no eos after an answer), every source after the first gets the eos id as
//     its first label, and one eos is appended at the very end, trained.
//   - target labels are the ids; with `mask_history`, only the last turn's. It walks the pairs
//     last-first (turn_idx 0 is the last pair) and prepends them, so efficient_eos's label goes
//     on the sources of every pair but the last.
//   - `cutoff_len` (input.maxLength): pairs are taken in that order until the budget runs out. Each
//     pair's budget is split between source and target by infer_seqlen, and both are cut from
//     the right.
// Reasoning templates (qwen3): with enable_thinking, an answer with no <think>/</think> gets the
// empty "<think>\n\n</think>\n\n" prepended to its target (trained), in every turn. Without it,
// the empty block goes on the end of its source (masked). mask_history without
// preserve_thinking drops history thoughts and adds the empty block to the last turn only.
// Options raise as LLaMA-Factory does: mask_history with train_on_prompt, and train_on_prompt with
// an efficient_eos template.
//
// In this row: tokens cut by cutoff_len stay where they were, masked, with the truncation reason
// (LLaMA-Factory drops them). The efficient_eos label sits on a token that is not eos, and the
// labels contract (types.ts) holds only ids[i] or -100. So that position shows -100 with its own
// reason, and a note says LLaMA-Factory trains eos there.
import { IGNORE_INDEX, raised } from './common';
import { reason, said } from './reasons';
import { append, finish, newSequence, type Sequence } from './sequence';
import type { ChatMessage, ChatTokenizer } from '../types';
import type { ChatFamily, Strategy, StrategyInput, StrategyOptions, StrategyOutput } from './types';
import { msg, worded } from '../../spec/message';

type Slot = string | { token: 'bos' | 'eos' };
const BOS: Slot = { token: 'bos' };
const EOS: Slot = { token: 'eos' };

interface LfTemplate {
  prefix: Slot[];
  user: Slot[];
  assistant: Slot[];
  system: Slot[];
  observation: Slot[];
  defaultSystem: string;
  stopWords: string[];
  efficientEos: boolean;
  replaceEos: boolean;
  /** Template, ReasoningTemplate (adds thoughts), Llama2Template (system folded into the first user turn). */
  kind: 'plain' | 'reasoning' | 'llama2';
}

/** register_template's defaults: a bare "{{content}}" user/system, an assistant that ends with
 *  eos unless efficient_eos, observation as the user's. */
function register(t: Partial<LfTemplate> & { user?: Slot[] }): LfTemplate {
  const efficientEos = t.efficientEos ?? false;
  const user = t.user ?? ['{{content}}'];
  return {
    prefix: t.prefix ?? [],
    user,
    assistant: t.assistant ?? (efficientEos ? ['{{content}}'] : ['{{content}}', EOS]),
    system: t.system ?? ['{{content}}'],
    observation: t.observation ?? user,
    defaultSystem: t.defaultSystem ?? '',
    stopWords: t.stopWords ?? [],
    efficientEos,
    replaceEos: t.replaceEos ?? false,
    kind: t.kind ?? 'plain',
  };
}

const IM_USER = '<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n';
const IM_ASSISTANT = '{{content}}<|im_end|>\n';
const IM_SYSTEM = '<|im_start|>system\n{{content}}<|im_end|>\n';
const QWEN_TOOL = '<|im_start|>user\n<tool_response>\n{{content}}\n</tool_response><|im_end|>\n<|im_start|>assistant\n';
const GEMMA: Partial<LfTemplate> = {
  user: ['<start_of_turn>user\n{{content}}<end_of_turn>\n<start_of_turn>model\n'],
  assistant: ['{{content}}<end_of_turn>\n'],
  system: ['{{content}}\n\n'],
  observation: ['<start_of_turn>tool\n{{content}}<end_of_turn>\n<start_of_turn>model\n'],
  prefix: [BOS],
  kind: 'llama2',
};
const QWEN3: Partial<LfTemplate> = { user: [IM_USER], assistant: [IM_ASSISTANT], system: [IM_SYSTEM], observation: [QWEN_TOOL], stopWords: ['<|im_end|>'], replaceEos: true };

const TEMPLATES: ReadonlyMap<string, LfTemplate> = new Map([
  ['chatml', register({ user: [IM_USER], assistant: [IM_ASSISTANT], system: [IM_SYSTEM], observation: ['<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n'], stopWords: ['<|im_end|>', '<|im_start|>'], replaceEos: true })],
  ['qwen', register({ ...QWEN3, defaultSystem: 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' })],
  ['qwen3', register({ ...QWEN3, kind: 'reasoning' })],
  ['qwen3_nothink', register(QWEN3)],
  [
    'llama3',
    register({
      user: ['<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'],
      assistant: ['{{content}}<|eot_id|>'],
      system: ['<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>'],
      observation: ['<|start_header_id|>ipython<|end_header_id|>\n\n{{content}}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'],
      prefix: [BOS],
      stopWords: ['<|eot_id|>', '<|eom_id|>'],
      replaceEos: true,
    }),
  ],
  ['gemma3', register({ ...GEMMA, stopWords: ['<end_of_turn>'], replaceEos: true })],
  ['gemma', register({ ...GEMMA, stopWords: ['<end_of_turn>'], replaceEos: true })],
  ['gemma2', register({ ...GEMMA, stopWords: ['<eos>', '<end_of_turn>'], efficientEos: true })],
  ['deepseek3', register({ user: ['<｜User｜>{{content}}<｜Assistant｜>'], prefix: [BOS] })],
]);

/** The templates whose strings a family's tokenizer holds as tokens; the first is the default. */
const FAMILY_TEMPLATES: Record<ChatFamily, readonly string[]> = {
  chatml: ['chatml', 'qwen'],
  qwen3: ['qwen3', 'qwen3_nothink', 'qwen'],
  llama3: ['llama3'],
  gemma: ['gemma3', 'gemma', 'gemma2'],
  deepseek: ['deepseek3'],
  unknown: [],
};

/** template.py's default thought_words, and add_thought() of an empty thought. */
const THOUGHT_OPEN = '<think>\n';
const THOUGHT_CLOSE = '\n</think>\n\n';
const EMPTY_THOUGHT = THOUGHT_OPEN + THOUGHT_CLOSE;

/** remove_thought: every open…close block out, then leading newlines. */
const removeThought = (content: string): string => content.replace(/<think>\n[\s\S]*?\n<\/think>\n\n/g, '').replace(/^\n+/, '');
const hasThought = (content: string): boolean => content.includes(THOUGHT_OPEN.trim()) || content.includes(THOUGHT_CLOSE.trim());

/** infer_seqlen: how much of a (source, target) pair fits `cutoff`. */
export function inferSeqlen(sourceLen: number, targetLen: number, cutoff: number): [number, number] {
  let maxTarget: number;
  if (targetLen * 2 < cutoff) maxTarget = cutoff;
  else if (sourceLen * 2 < cutoff) maxTarget = cutoff - sourceLen;
  else maxTarget = Math.floor(cutoff * (targetLen / (sourceLen + targetLen)));
  const newTarget = Math.min(maxTarget, targetLen);
  const newSource = Math.min(Math.max(cutoff - newTarget, 0), sourceLen);
  return [newSource, newTarget];
}

/** One encoded slot: its text and ids; `thought` marks the empty thought ids. */
interface Part {
  text: string;
  ids: number[];
  thought?: boolean;
}

interface Turn {
  role: 'user' | 'assistant' | 'observation';
  content: string;
}

/** SharegptDatasetConverter with OpenAI tags: a leading system message is the system; then user
 *  (or tool) and assistant must alternate and end on the assistant. */
function convert(conv: readonly ChatMessage[]): { system: string; turns: Turn[] } | string {
  let messages = conv;
  let system = '';
  if (messages[0]?.role === 'system') {
    system = messages[0].content;
    messages = messages.slice(1);
  }
  const turns: Turn[] = [];
  for (const [i, m] of messages.entries()) {
    const ok = i % 2 === 0 ? m.role === 'user' || m.role === 'tool' : m.role === 'assistant';
    if (!ok) return `invalid role tag: message ${i + (conv.length - messages.length)} is "${m.role}" where ${i % 2 === 0 ? 'user or tool' : 'assistant'} is expected; the example is skipped`;
    turns.push({ role: m.role === 'assistant' ? 'assistant' : m.role === 'tool' ? 'observation' : 'user', content: m.content });
  }
  if (turns.length === 0 || turns.length % 2 !== 0) return 'invalid message count (the conversation must end on an assistant message); the example is skipped';
  return { system, turns };
}

function slotsToParts(tok: ChatTokenizer, slots: readonly Slot[], content: string | null, special: { bos: number | null; eos: number }): Part[] {
  const parts: Part[] = [];
  for (const slot of slots) {
    if (typeof slot === 'string') {
      const text = content === null ? slot : slot.replace('{{content}}', () => content);
      if (text.length > 0) parts.push({ text, ids: tok.encode(text) });
    } else {
      const id = slot.token === 'bos' ? special.bos : special.eos;
      if (id !== null) parts.push({ text: tok.addedTokenContent(id) ?? tok.tokenString(id), ids: [id] });
    }
  }
  return parts;
}

/** Template._encode (or Llama2Template's): one part list per message. */
function encodeMessages(tok: ChatTokenizer, t: LfTemplate, turns: readonly Turn[], system: string, special: { bos: number | null; eos: number }): Part[][] {
  const sys = system || t.defaultSystem;
  return turns.map((m, i) => {
    const parts: Part[] = [];
    let userPrefix = '';
    if (i === 0) {
      parts.push(...slotsToParts(tok, t.prefix, null, special));
      if (sys && t.kind === 'llama2') userPrefix = String(t.system[0]).replace('{{content}}', () => sys);
      else if (sys) parts.push(...slotsToParts(tok, t.system, sys, special));
    }
    const slots = m.role === 'assistant' ? t.assistant : m.role === 'observation' ? t.observation : t.user;
    parts.push(...slotsToParts(tok, slots, userPrefix + m.content, special));
    return parts;
  });
}

const count = (parts: readonly Part[]) => parts.reduce((n, p) => n + p.ids.length, 0);

export const llamaFactory: Strategy = {
  id: 'llamafactory',
  label: 'LLaMA-Factory (supervised)',
  source: 'LLaMA-Factory 0.9.6.dev0 (ff6d4d1), src/llamafactory/data/processor/supervised.py _encode_data_example with data/template.py',
  options: [
    { key: 'template', label: 'template', kind: 'choice', choices: [...TEMPLATES.keys()], help: 'template: which registered chat template builds the prompt (its own strings, not the tokenizer’s Jinja template).' },
    { key: 'train_on_prompt', label: 'train_on_prompt', kind: 'flag', help: 'train_on_prompt: disable the mask on the prompt (each turn’s source).' },
    { key: 'mask_history', label: 'mask_history', kind: 'flag', help: 'mask_history: mask the history and train on the last turn only.' },
    { key: 'enable_thinking', label: 'enable_thinking', kind: 'flag', help: 'enable_thinking: reasoning templates add an empty thought to answers without one, in the target (trained); off, in the prompt.' },
    { key: 'preserve_thinking', label: 'preserve_thinking', kind: 'flag', help: 'preserve_thinking: keep the thoughts of history turns when mask_history is on.' },
  ],
  defaults: (family) => ({ template: FAMILY_TEMPLATES[family][0] ?? '', train_on_prompt: false, mask_history: false, enable_thinking: true, preserve_thinking: false }),
  validate(options, { family }) {
    const name = String(options.template);
    const t = TEMPLATES.get(name);
    const allowed = FAMILY_TEMPLATES[family];
    if (allowed.length > 0 && (!t || !allowed.includes(name))) return { key: 'template', ...worded(msg('strategy.lfTemplate', { name, allowed: allowed.join(', ') })) };
    if (options.mask_history === true && options.train_on_prompt === true) return { key: 'mask_history', ...worded(msg('strategy.lfMaskHistory')) };
    if (t?.efficientEos && options.train_on_prompt === true) return { key: 'train_on_prompt', ...worded(msg('strategy.lfEfficientEos', { name })) };
    return null;
  },
  run: (input, options) => runLlamaFactory(input, options),
};

function runLlamaFactory({ tok, family, conversation, tools, maxLength }: StrategyInput, options: StrategyOptions): StrategyOutput {
  const t = TEMPLATES.get(String(options.template));
  if (FAMILY_TEMPLATES[family].length === 0 || !t) return raised('', [], said(msg('lab.error.lfNoTemplate')));
  const converted = convert(conversation);
  if (typeof converted === 'string') return raised('', [], converted);
  const trainOnPrompt = options.train_on_prompt === true;
  const maskHistory = options.mask_history === true;
  const enableThinking = options.enable_thinking !== false;
  const notes: string[] = [];

  // fix_special_tokens: replace_eos makes the first stop word the eos token.
  const eos = t.replaceEos ? tok.encode(t.stopWords[0])[0] : tok.eosTokenId;
  const eosText = tok.addedTokenContent(eos) ?? tok.tokenString(eos);
  const bos = tok.bosText === null ? null : (tok.encode(tok.bosText)[0] ?? null);
  const special = { bos, eos };

  // ReasoningTemplate.encode_multiturn: thoughts out of history (or of every turn), then empty ones added.
  const turns = converted.turns.map((m) => ({ ...m }));
  const discardHistoryCot = t.kind === 'reasoning' && maskHistory && options.preserve_thinking !== true;
  if (t.kind === 'reasoning') {
    for (let i = 1; i < turns.length; i += 2) {
      if (!enableThinking || (discardHistoryCot && i < turns.length - 2)) turns[i].content = removeThought(turns[i].content);
    }
  }
  const encoded = encodeMessages(tok, t, turns, converted.system, special);
  if (t.kind === 'reasoning') {
    const thought: Part = { text: EMPTY_THOUGHT, ids: tok.encode(EMPTY_THOUGHT), thought: true };
    const pairStarts = discardHistoryCot ? [turns.length - 2] : turns.flatMap((_, i) => (i % 2 === 0 ? [i] : []));
    let added = 0;
    for (const i of pairStarts) {
      if (hasThought(turns[i + 1].content)) continue;
      if (enableThinking) encoded[i + 1] = [thought, ...encoded[i + 1]];
      else encoded[i] = [...encoded[i], thought];
      added++;
    }
    if (added > 0) notes.push(enableThinking ? said(msg('lab.note.emptyThoughtTarget', { n: added })) : said(msg('lab.note.emptyThoughtPrompt', { n: added })));
  }
  const pairs: [Part[], Part[]][] = [];
  for (let i = 0; i < encoded.length; i += 2) pairs.push([encoded[i], encoded[i + 1]]);

  // _encode_data_example: budget and labels per pair, in processing order (last-first with mask_history).
  const order = pairs.map((_, k) => k);
  if (maskHistory) order.reverse();
  const kept = pairs.map(() => [0, 0]);
  const turnIdx = pairs.map(() => -1);
  let total = t.efficientEos ? 1 : 0;
  for (const [ti, k] of order.entries()) {
    if (total >= maxLength) break;
    const [sl, tl] = inferSeqlen(count(pairs[k][0]), count(pairs[k][1]), maxLength - total);
    kept[k] = [sl, tl];
    turnIdx[k] = ti;
    total += sl + tl;
  }

  const seq: Sequence = newSequence();
  const stopIds = new Set([eos, ...t.stopWords.flatMap((w) => tok.encode(w)), ...tok.endOfTurnTokenIds]);
  let cut = 0;
  let movedEos = 0;
  pairs.forEach(([source, target], k) => {
    const ti = turnIdx[k];
    const label = msg('lab.why.sourceOfTurn', { k: k + 1, n: pairs.length });
    let j = 0; // token index inside the source
    for (const part of source) {
      append(seq, part.text, part.ids, (q) => j + q < kept[k][0] && trainOnPrompt, (q) => {
        const at = j + q;
        if (at >= kept[k][0]) return reason.truncated(maxLength);
        if (trainOnPrompt) return reason.prompt(true, 'train_on_prompt');
        if (t.efficientEos && ti !== 0 && at === 0) return reason.efficientEos(eosText);
        return reason.prompt(false, label);
      });
      j += part.ids.length;
    }
    if (t.efficientEos && ti > 0 && kept[k][0] > 0) movedEos++;
    j = 0;
    let closed = false;
    for (const part of target) {
      append(seq, part.text, part.ids, (q) => j + q < kept[k][1] && !(maskHistory && ti !== 0), (q) => {
        const at = j + q;
        const id = part.ids[q];
        if (at >= kept[k][1]) return reason.truncated(maxLength);
        if (maskHistory && ti !== 0) return reason.turnNotSelected(msg('lab.why.maskHistory'));
        if (part.thought) return reason.role('template', true);
        if (!closed && stopIds.has(id)) {
          closed = true;
          return reason.endOfTurn(true);
        }
        return closed ? reason.role('template', true) : reason.completion();
      });
      j += part.ids.length;
    }
    cut += count(source) - kept[k][0] + count(target) - kept[k][1];
  });
  if (t.efficientEos) {
    append(seq, eosText, [eos], true, reason.endOfTurn(true, msg('lab.why.efficientEosEnd')));
    notes.push(said(msg('lab.note.efficientEos', { eos: eosText, n: movedEos })));
    if (maskHistory && pairs.length > 1) notes.push(said(msg('lab.note.maskHistoryEos')));
  }
  if (cut > 0) notes.push(said(msg('lab.note.cutoffLen', { max: maxLength, n: cut })));
  if (tools && tools.length > 0) notes.push(said(msg('lab.note.toolsNotWritten')));
  if (conversation.some((m) => m.fields && Object.keys(m.fields).length > 0)) notes.push(said(msg('lab.note.lfRoleContentOnly')));
  if (seq.labels.every((l) => l === IGNORE_INDEX)) notes.push(said(msg('lab.note.noTokenTrained')));
  return finish(seq, notes);
}
