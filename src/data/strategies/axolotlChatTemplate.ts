// axolotl's `type: chat_template` dataset strategy, as axolotl v0.18.0 writes it (git 2f5cb9d,
// src/axolotl/prompt_strategies/chat_template.py: ChatTemplateStrategy, StrategyLoader; the options'
// meanings from docs/dataset-formats/conversation.qmd and src/axolotl/utils/schemas/datasets.py; the
// sequence_len handling from src/axolotl/utils/data/utils.py handle_long_seq_in_dataset and
// utils/trainer.py filter_sequences_by_length). The tokenizer's own template (chat_template:
// tokenizer_default, axolotl's default) renders every sequence.
//
// Sequence: apply_chat_template(turns, tokenize=True, add_generation_prompt=False, tools) — the
// rendering tokenized with no BOS/EOS added. Labels start all -100.
//
// For each message i, in order:
//   should_train = the message's message_field_training value when it has one (Python truthiness),
//                  else bool(its message_field_training_detail) when it has one,
//                  else train_on_inputs or role in roles_to_train (roles mapped human→user, gpt→assistant).
//   A message that does not train is skipped, unless train_on_eos or train_on_eot is 'all'.
//   find_turn: render messages[:i] + [{role, content: "[[dummy_message]]"}] and messages[:i+1]
//     (both cut after message i, the dummy without any other field), tokenize both, and take the
//     first differing token from the front as start and the last differing one from the back + 1
//     as end (indices of the CUT rendering). Equal renderings or end ≤ start: no span (-1, -1).
//   Training messages get labels[start:end] = ids[start:end] — or, with a training_detail, the
//     content's own tokens (tokenized alone) whose character offsets lie in a train: true range,
//     laid from start on. The indices are used on the FULL rendering as they are: a template that
//     writes an earlier message differently once later ones follow (Qwen3's empty think block)
//     puts the span tokens off (axolotl's examples/qwen3/README.md: "masking … off by a few tokens").
//   End tokens: the first EOT id (eot_tokens; default [eos_token]) and the first EOS id
//     (eos_token_id) at or after end, each kept only within 3 tokens of end. 'all' trains it, 'turn'
//     trains it when the message trains; the last one found is remembered for 'last'; 'none' never.
// train_on_eot unset follows train_on_eos. Raises at setup: an eot_tokens entry that is several
// tokens; eos_token inside eot_tokens with train_on_eos ≠ train_on_eot (only checked when eot_tokens
// is not exactly [eos_token]). eot_tokens absent from the template text are dropped with a warning.
//
// sequence_len (input.maxLength), excess_length_strategy: 'drop' (default) removes a sample longer
// than sequence_len (and one shorter than min_sample_len 2), 'truncate' cuts it to sequence_len,
// 'raise' raises. A sample whose labels are all -100 stays unless sample_packing is on.
// Not modelled: the legacy path (no roles_to_train and no train_on_eos at all; unreachable from a
// config, whose loader defaults them to ["assistant"] and "turn"), content given as a list of parts,
// split_thinking, drop_system_message, field_system, real_last_index (read only by axolotl's own
// templates), mistral-common tokenizers.
import { IGNORE_INDEX, raised, textSpans, truncateRight } from './common';
import { reason, said } from './reasons';
import type { ChatMessage, ChatTokenizer, Conversation, TokenRole, ToolList } from '../types';
import type { OptionSpec, Strategy, StrategyInput, StrategyOptions, StrategyOutput } from './types';
import { msg, worded, type Message } from '../../spec/message';

const DUMMY = '[[dummy_message]]';
/** How far after a message's span end its EOS / EOT token may sit ("some template padding"). */
const END_SLACK = 3;
const MIN_SAMPLE_LEN = 2;
const THINKING_KEY = 'reasoning_content';

const EOS_CHOICES = ['turn', 'all', 'last', 'none'] as const;
const EOT_CHOICES = ['unset', ...EOS_CHOICES] as const;
const EXCESS_CHOICES = ['drop', 'truncate', 'raise'] as const;
type EosChoice = (typeof EOS_CHOICES)[number];
type Excess = (typeof EXCESS_CHOICES)[number];

/** axolotl's default `roles` mapping (dataset role → template role). */
const ROLE_MAP: ReadonlyMap<string, string> = new Map([
  ['human', 'user'],
  ['user', 'user'],
  ['assistant', 'assistant'],
  ['gpt', 'assistant'],
  ['system', 'system'],
  ['tool', 'tool'],
]);

const TOKEN_ROLE: Record<ChatMessage['role'], TokenRole> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant', tool: 'tool' };

const OPTIONS: readonly OptionSpec[] = [
  { key: 'roles_to_train', label: 'roles_to_train', kind: 'list', help: 'Roles whose messages train (default ["assistant"]); human/gpt map to user/assistant.' },
  { key: 'train_on_inputs', label: 'train_on_inputs', kind: 'flag', help: 'Every message trains, whatever its role (markup still masked).' },
  { key: 'train_on_eos', label: 'train_on_eos', kind: 'choice', choices: EOS_CHOICES, help: 'Which EOS tokens train: turn (after each trained message), all, last (the last one found), none.' },
  { key: 'train_on_eot', label: 'train_on_eot', kind: 'choice', choices: EOT_CHOICES, help: 'Which EOT tokens (eot_tokens) train; unset follows train_on_eos.' },
  { key: 'eot_tokens', label: 'eot_tokens', kind: 'list', help: 'End-of-turn token strings (a top-level key); empty means [eos_token].' },
  { key: 'message_field_training', label: 'message_field_training', kind: 'text', help: 'Message key whose boolean says whether the message trains (unset: no key is read).' },
  { key: 'message_field_training_detail', label: 'message_field_training_detail', kind: 'text', help: 'Message key with [{begin_offset, end_offset, train}] character ranges of the content.' },
  { key: 'excess_length_strategy', label: 'excess_length_strategy', kind: 'choice', choices: EXCESS_CHOICES, help: 'A sample longer than sequence_len: drop (default), truncate or raise.' },
];

interface Config {
  rolesToTrain: ReadonlySet<string>;
  trainOnInputs: boolean;
  trainOnEos: EosChoice;
  trainOnEot: EosChoice;
  eosId: number;
  eotIds: ReadonlySet<number>;
  fieldTraining: string | null;
  fieldDetail: string | null;
  excess: Excess;
  /** Setup warnings (eos / eot tokens not in the template). */
  notes: string[];
}

type Configured = { config: Config } | { key: string; message: string; msg?: Message };

function listOption(options: StrategyOptions, key: string, fallback: string[]): string[] {
  const v = options[key];
  if (Array.isArray(v)) return v.map((s) => s.trim()).filter((s) => s !== '');
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return fallback;
}

function choiceOption<T extends string>(options: StrategyOptions, key: string, choices: readonly T[], fallback: T): T | null {
  const v = options[key] ?? fallback;
  return typeof v === 'string' && (choices as readonly string[]).includes(v) ? (v as T) : null;
}

function textOption(options: StrategyOptions, key: string): string | null {
  const v = options[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/** The token text tokenizer.eos_token names. */
function eosText(tok: ChatTokenizer): string {
  return tok.addedTokenContent(tok.eosTokenId) ?? tok.tokenString(tok.eosTokenId);
}

/** StrategyLoader + ChatTemplateStrategy.__init__ (with _validate_eot_and_eos_tokens). */
function configure(options: StrategyOptions, tok: ChatTokenizer): Configured {
  const trainOnEos = choiceOption(options, 'train_on_eos', EOS_CHOICES, 'turn');
  if (!trainOnEos) return { key: 'train_on_eos', ...worded(msg('strategy.oneOf', { key: 'train_on_eos', choices: EOS_CHOICES.join(', ') })) };
  const eot = choiceOption(options, 'train_on_eot', EOT_CHOICES, 'unset');
  if (!eot) return { key: 'train_on_eot', ...worded(msg('strategy.oneOf', { key: 'train_on_eot', choices: EOT_CHOICES.join(', ') })) };
  const excess = choiceOption(options, 'excess_length_strategy', EXCESS_CHOICES, 'drop');
  if (!excess) return { key: 'excess_length_strategy', ...worded(msg('strategy.oneOf', { key: 'excess_length_strategy', choices: EXCESS_CHOICES.join(', ') })) };
  const trainOnEot = eot === 'unset' ? trainOnEos : eot;
  const roles = listOption(options, 'roles_to_train', ['assistant']).map((r) => ROLE_MAP.get(r) ?? r);

  const eos = eosText(tok);
  const template = tok.chatTemplate;
  const notes: string[] = [];
  let eotTokens = listOption(options, 'eot_tokens', []);
  if (eotTokens.length === 0) eotTokens = [eos];
  if (eotTokens.length === 1 && eotTokens[0] === eos) {
    if (!template.includes(eos) && !template.includes('eos_token')) {
      notes.push(said(msg('lab.note.eosNotInTemplate', { eos })));
    }
  } else {
    eotTokens = eotTokens.filter((t) => {
      if (template.includes(t)) return true;
      notes.push(said(msg('lab.note.eotNotInTemplate', { t })));
      return false;
    });
    for (const t of eotTokens) {
      const ids = tok.encode(t);
      if (ids.length === 0) return { key: 'eot_tokens', message: 'EOT token encoding failed. Please check if the token is valid and can be encoded.' };
      if (ids.length > 1) {
        return { key: 'eot_tokens', message: `EOT token '${t}' is encoded as multiple tokens: [${ids.join(', ')}]. Please add it under \`tokens: \` in the config or (recommended) override unused added_tokens via \`added_tokens_overrides: \`.` };
      }
    }
    if (eotTokens.includes(eos) && trainOnEos !== trainOnEot) {
      return { key: 'train_on_eot', message: `Conflict between train_on_eos and train_on_eot: eos_token '${eos}' is in eot_tokens and train_on_eos (${trainOnEos}) != train_on_eot (${trainOnEot}).` };
    }
  }
  const eotIds = new Set<number>();
  for (const t of eotTokens) {
    const ids = tok.encode(t);
    if (ids.length === 1) eotIds.add(ids[0]);
  }
  return {
    config: {
      rolesToTrain: new Set(roles),
      trainOnInputs: options.train_on_inputs === true,
      trainOnEos,
      trainOnEot,
      eosId: tok.eosTokenId,
      eotIds,
      fieldTraining: textOption(options, 'message_field_training'),
      fieldDetail: textOption(options, 'message_field_training_detail'),
      excess,
      notes,
    },
  };
}

/** message.get(field): a key of the message other than role and content; null reads as absent
 *  (tokenize_prompt removes None values first). */
function messageField(m: ChatMessage, field: string | null): unknown {
  if (field === null || !m.fields || !Object.hasOwn(m.fields, field)) return undefined;
  const v = m.fields[field];
  return v === null ? undefined : v;
}

/** Python's bool(v) for a JSON value. */
function pyTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && v !== null) return Object.keys(v).length > 0;
  return Boolean(v);
}

interface Detail {
  begin: number;
  end: number;
  train: boolean;
}

function parseDetail(v: unknown, i: number, field: string): Detail[] {
  if (!Array.isArray(v)) throw new Error(`message ${i}: ${field} must be a list of {begin_offset, end_offset, train}`);
  return v.map((d, k) => {
    const o = d as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null || typeof o.begin_offset !== 'number' || typeof o.end_offset !== 'number') {
      throw new Error(`message ${i}: ${field}[${k}] needs numeric begin_offset and end_offset (KeyError in axolotl)`);
    }
    return { begin: o.begin_offset, end: o.end_offset, train: pyTruthy(o.train) };
  });
}

interface Turn {
  message: ChatMessage;
  /** The role axolotl compares with roles_to_train. */
  role: string;
  training: unknown;
  detail: Detail[] | undefined;
  shouldTrain: boolean;
}

/** get_conversation_thread + the should_train rule. */
function turnsOf(conversation: Conversation, config: Config): Turn[] {
  return conversation.map((message, i) => {
    const role = ROLE_MAP.get(message.role) ?? message.role;
    const training = messageField(message, config.fieldTraining);
    const rawDetail = messageField(message, config.fieldDetail);
    const detail = rawDetail === undefined ? undefined : parseDetail(rawDetail, i, config.fieldDetail ?? '');
    const shouldTrain =
      training !== undefined ? pyTruthy(training) : detail !== undefined ? detail.length > 0 : config.trainOnInputs || config.rolesToTrain.has(role);
    return { message, role, training, detail, shouldTrain };
  });
}

type Span = { start: number; end: number } | { start: -1; end: -1; warning: string };

/** The first and last differing tokens of two tokenizations, as find_turn compares them. */
function diffSpan(dummy: readonly number[], full: readonly number[], i: number): Span {
  if (dummy.length === 0 || full.length === 0) return { start: -1, end: -1, warning: `Empty template generated for turn ${i}` };
  const minLen = Math.min(dummy.length, full.length);
  let start = -1;
  for (let k = 0; k < minLen; k++) {
    if (dummy[k] !== full[k]) {
      start = k;
      break;
    }
  }
  if (start === -1) return { start: -1, end: -1, warning: `Could not find content start boundary for turn ${i}` };
  let end = -1;
  for (let k = 0; k < minLen; k++) {
    const fullPos = full.length - 1 - k;
    if (dummy[dummy.length - 1 - k] !== full[fullPos]) {
      end = fullPos + 1;
      break;
    }
  }
  if (end === -1) return { start: -1, end: -1, warning: `Could not find content end boundary for turn ${i}` };
  if (end < start) return { start: -1, end: -1, warning: `Content end boundary is before start boundary for turn ${i}` };
  if (end === start) return { start: -1, end: -1, warning: `Content end boundary is the same as start boundary for turn ${i}. This is likely an empty turn.` };
  return { start, end };
}

/** find_turn's empty_turn: role and dummy content only (the reasoning kept when content_only). */
function dummyOf(m: ChatMessage, keepReasoning: boolean): ChatMessage {
  const out: ChatMessage = { role: m.role, content: DUMMY };
  if (m.templateRole !== undefined) out.templateRole = m.templateRole;
  const r = messageField(m, THINKING_KEY);
  if (keepReasoning && r !== undefined) out.fields = { [THINKING_KEY]: r };
  return out;
}

/** Python's `for i in range(start, len(ids))`, where start may be -1 (ids[-1] is the last id). */
function findFrom(ids: readonly number[], start: number, match: (id: number) => boolean): number {
  if (ids.length === 0) return -1;
  for (let i = start; i < ids.length; i++) {
    if (match(i < 0 ? ids[ids.length + i] : ids[i])) return i;
  }
  return -1;
}

/** Code-point index of every UTF-16 offset (Python's str offsets count code points). */
function codePointIndex(text: string): Int32Array {
  const at = new Int32Array(text.length + 1);
  let cp = 0;
  for (let u = 0; u < text.length; u++) {
    at[u] = cp;
    const c = text.charCodeAt(u);
    if (!(c >= 0xd800 && c <= 0xdbff && u + 1 < text.length)) cp++;
  }
  at[text.length] = cp;
  return at;
}

/** get_offsets_for_train_detail: per token of the content tokenized alone, whether it trains. */
function detailMask(tok: ChatTokenizer, content: string, details: readonly Detail[], notes: string[], i: number): boolean[] {
  const ids = tok.encode(content);
  if (ids.length === 0) return [];
  const spans = textSpans(tok, content, ids);
  const cp = codePointIndex(spans.text);
  const starts = Array.from(spans.starts, (s) => cp[s]);
  // Each token's end is made the next token's start - 1 (inclusive), the last one's len(text) - 1.
  const offsets = starts.map((s, k) => [s, k + 1 < starts.length ? starts[k + 1] - 1 : cp[spans.text.length] - 1] as const);
  const result = ids.map(() => false);
  for (const d of details) {
    let b = offsets.findIndex(([s]) => s >= d.begin);
    if (b === -1) b = offsets.length;
    if (b > 0 && offsets[b - 1][1] > d.begin) b--;
    let e = -1;
    for (let k = offsets.length - 1; k >= 0; k--) {
      if (offsets[k][1] <= d.end) {
        e = k;
        break;
      }
    }
    if (e < offsets.length - 1 && offsets[e + 1][0] < d.end) e++;
    if (b > e) {
      notes.push(said(msg('lab.note.detailOffsets', { i, begin: d.begin, end: d.end })));
      continue;
    }
    const lo = offsets[b][0];
    const hi = offsets[e][1];
    offsets.forEach(([s, t], k) => {
      if (s >= lo && t <= hi && d.train) result[k] = true;
    });
  }
  return result;
}

function run(input: StrategyInput, options: StrategyOptions): StrategyOutput {
  const { tok, conversation, maxLength } = input;
  const tools: ToolList | null = input.tools && input.tools.length > 0 ? input.tools : null;
  const configured = configure(options, tok);
  if (!('config' in configured)) return raised('', [], configured.message);
  const config = configured.config;
  const notes = [...config.notes];
  if (conversation.length === 0) return raised('', [], said(msg('lab.error.noMessages')));

  let turns: Turn[];
  let text: string;
  let ids: number[];
  const encodeConv = (conv: Conversation) => tok.encode(tok.render(conv, false, tools));
  try {
    turns = turnsOf(conversation, config);
    text = tok.render(conversation, false, tools);
    ids = tok.encode(text);
  } catch (e) {
    return raised('', [], e instanceof Error ? e.message : String(e));
  }
  const T = ids.length;
  const labels = ids.map(() => IGNORE_INDEX);
  const why: (string | null)[] = ids.map(() => null); // the reason of a trained position

  const isEos = (id: number) => id === config.eosId;
  const isEot = (id: number) => config.eotIds.has(id);
  const ends = [
    { name: 'train_on_eot', option: config.trainOnEot, match: isEot, last: -1 },
    { name: 'train_on_eos', option: config.trainOnEos, match: isEos, last: -1 },
  ];
  const anyAll = config.trainOnEos === 'all' || config.trainOnEot === 'all';
  /** The span find_turn gave each processed message (prefix-rendering indices). */
  const found = new Map<number, Span>();

  try {
    turns.forEach((turn, i) => {
      if (!turn.shouldTrain && !anyAll) {
        if (i === turns.length - 1) notes.push(said(msg('lab.note.lastTurnNotTrainable')));
        return;
      }
      const hasReasoning = messageField(turn.message, THINKING_KEY) !== undefined;
      const contentOnly = turn.detail !== undefined && turn.detail.length > 0 && hasReasoning;
      const span = diffSpan(encodeConv([...conversation.slice(0, i), dummyOf(turn.message, contentOnly)]), encodeConv(conversation.slice(0, i + 1)), i);
      found.set(i, span);
      if ('warning' in span) notes.push(said(msg('lab.note.axolotlWarns', { text: `${span.warning}.` })));
      if (turn.shouldTrain && span.start !== -1) {
        if (turn.detail && turn.detail.length > 0) {
          detailMask(tok, turn.message.content, turn.detail, notes, i).forEach((on, k) => {
            const p = span.start + k;
            if (on && p < T) {
              labels[p] = ids[p];
              why[p] ??= `span:${i}`;
            }
          });
        } else {
          for (let p = span.start; p < span.end && p < T; p++) {
            labels[p] = ids[p];
            why[p] ??= `span:${i}`;
          }
        }
      }
      for (const end of ends) {
        const p = findFrom(ids, span.end, end.match);
        if (p === -1 || Math.abs(p - span.end) > END_SLACK) continue;
        end.last = p;
        if (end.option === 'all' || (end.option === 'turn' && turn.shouldTrain)) {
          labels[p] = ids[p];
          why[p] ??= reason.endOfTurn(true, `${end.name}: ${end.option}`);
        }
      }
    });
  } catch (e) {
    return raised(text, ids, e instanceof Error ? e.message : String(e));
  }
  for (const end of ends) {
    if (end.option === 'last' && end.last !== -1) {
      labels[end.last] = ids[end.last];
      why[end.last] ??= reason.endOfTurn(true, `${end.name}: last`);
    }
  }

  const reasons = explain({ tok, conversation, turns, ids, labels, why, found, config, notes, encodeConv });
  if (config.fieldTraining === null && conversation.some((m) => m.fields && (Object.hasOwn(m.fields, 'training') || Object.hasOwn(m.fields, 'train')))) {
    notes.push(said(msg('lab.note.fieldTrainingUnset')));
  }
  if (labels.every((l) => l === IGNORE_INDEX)) {
    notes.push(said(msg('lab.note.axolotlAllMasked')));
  }
  const out: StrategyOutput = { text, ids, labels, reasons, notes, error: null };
  return lengthRule(out, config.excess, maxLength);
}

/** handle_long_seq_in_dataset: drop (and min_sample_len), truncate or raise. */
function lengthRule(out: StrategyOutput, excess: Excess, maxLength: number): StrategyOutput {
  const n = out.ids.length;
  if (n > maxLength && excess === 'raise') {
    return raised(out.text, out.ids, `Sequence encountered with ${n} tokens, which exceeds the maximum ${maxLength}.`, out.notes);
  }
  const drop = (why: Message, note: string): StrategyOutput => ({
    ...out,
    labels: out.ids.map(() => IGNORE_INDEX),
    reasons: out.ids.map(() => reason.dropped(why)),
    notes: [...out.notes, note],
  });
  if (n < MIN_SAMPLE_LEN) return drop(msg('lab.why.belowMinLen', { n, min: MIN_SAMPLE_LEN }), said(msg('lab.note.belowMinLen', { n, min: MIN_SAMPLE_LEN })));
  if (n <= maxLength) return out;
  if (excess === 'truncate') return truncateRight(out, maxLength);
  return drop(msg('lab.why.overSequenceLen', { n, max: maxLength }), said(msg('lab.note.overSequenceLen', { n, max: maxLength })));
}

interface Explained {
  tok: ChatTokenizer;
  conversation: Conversation;
  turns: Turn[];
  ids: number[];
  labels: number[];
  why: (string | null)[];
  found: ReadonlyMap<number, Span>;
  config: Config;
  notes: string[];
  encodeConv: (conv: Conversation) => number[];
}

/** The reason of every label. Labels come from axolotl's rule alone; to word them, each message's
 *  place in the FULL rendering is found the same way (its content swapped for the dummy in the whole
 *  conversation), which also shows where find_turn's prefix-rendering span is off. */
function explain(x: Explained): string[] {
  const { tok, conversation, turns, ids, labels, why, found, config, notes } = x;
  const T = ids.length;
  const fullIds = ids;
  const place = turns.map((t, i): Span => {
    const conv = conversation.slice();
    conv[i] = dummyOf(t.message, false);
    try {
      return diffSpan(x.encodeConv(conv), fullIds, i);
    } catch {
      return found.get(i) ?? { start: -1, end: -1, warning: 'the template rejects the dummy message' };
    }
  });
  const owner = new Int32Array(T).fill(-1);
  place.forEach((s, i) => {
    for (let p = Math.max(s.start, 0); p < s.end && p < T; p++) if (owner[p] === -1) owner[p] = i;
  });
  const shiftOf = (i: number): number | null => {
    const f = found.get(i);
    const s = place[i];
    if (!f || f.start === -1 || s.start === -1) return null;
    return f.start - s.start;
  };
  turns.forEach((_, i) => {
    const d = shiftOf(i);
    if (d !== null && d !== 0) {
      notes.push(d > 0 ? said(msg('lab.note.shiftedLater', { i, d: Math.abs(d) })) : said(msg('lab.note.shiftedEarlier', { i, d: Math.abs(d) })));
    }
  });
  // The end token closing each message in the full rendering, as axolotl would look for it.
  const closes = new Map<number, number>();
  const isEnd = (id: number) => id === config.eosId || config.eotIds.has(id);
  place.forEach((s, i) => {
    if (s.start === -1) return;
    const p = findFrom(ids, s.end, isEnd);
    if (p !== -1 && p - s.end <= END_SLACK && !closes.has(p)) closes.set(p, i);
  });
  const eosName = (id: number) => {
    const eos = id === config.eosId;
    const eot = config.eotIds.has(id);
    if (eos && eot && config.trainOnEos !== config.trainOnEot) return `train_on_eos: ${config.trainOnEos}, train_on_eot: ${config.trainOnEot}`;
    return eos ? `train_on_eos: ${config.trainOnEos}` : `train_on_eot: ${config.trainOnEot}`;
  };
  const optionOf = (id: number): EosChoice => (id === config.eosId ? config.trainOnEos : config.trainOnEot);
  const tokenRole = (i: number) => TOKEN_ROLE[turns[i].message.role];
  const causeOf = (i: number, trained: boolean): string => {
    const t = turns[i];
    if (t.training !== undefined) return reason.messageField(config.fieldTraining ?? '', JSON.stringify(t.training), trained);
    if (t.detail !== undefined) return reason.charRange(config.fieldDetail ?? '', trained);
    if (config.rolesToTrain.has(t.role)) return reason.role(tokenRole(i), trained);
    if (config.trainOnInputs) return reason.prompt(trained, 'train_on_inputs');
    return reason.role(tokenRole(i), trained);
  };

  return ids.map((id, p) => {
    const w = why[p];
    const inMessage = owner[p];
    if (labels[p] !== IGNORE_INDEX) {
      if (w && !w.startsWith('span:')) return w;
      const j = Number((w ?? 'span:-1').slice(5));
      const d = shiftOf(j);
      return inMessage === j || !d ? causeOf(j, true) : reason.spanShifted(j, Math.abs(d), true);
    }
    if (isEnd(id)) {
      const j = closes.get(p);
      const option = optionOf(id);
      const name = eosName(id);
      if (j === undefined) return reason.endOfTurn(false, msg('lab.why.closesNone', { name, n: END_SLACK }));
      if (option === 'none') return reason.endOfTurn(false, name);
      if (!turns[j].shouldTrain && option !== 'all') return reason.endOfTurn(false, msg('lab.why.messageNotTrained', { name, j }));
      if (option === 'last') return reason.endOfTurn(false, msg('lab.why.notLastFound', { name }));
      const f = found.get(j);
      if (!f || f.start === -1) return reason.endOfTurn(false, msg('lab.why.noSpanFor', { name, j }));
      return reason.endOfTurn(false, msg('lab.why.notWithin', { name, n: END_SLACK, j, end: f.end }));
    }
    if (tok.endOfTurnTokenIds.includes(id)) {
      const t = tok.addedTokenContent(id) ?? tok.tokenString(id);
      return reason.endOfTurn(false, msg('lab.why.neitherEos', { t }));
    }
    if (inMessage !== -1) {
      const t = turns[inMessage];
      if (!t.shouldTrain) return causeOf(inMessage, false);
      if (t.detail !== undefined) return reason.charRange(config.fieldDetail ?? '', false);
      const f = found.get(inMessage);
      if (!f || f.start === -1) return reason.turnNotSelected(msg('lab.why.findTurnNone', { m: inMessage }));
      const d = shiftOf(inMessage);
      return d ? reason.spanShifted(inMessage, Math.abs(d), false) : reason.turnNotSelected(msg('lab.why.outsideSpan', { m: inMessage }));
    }
    return reason.markup();
  });
}

export const axolotlChatTemplate: Strategy = {
  id: 'axolotl-chat-template',
  label: 'axolotl chat_template',
  source: 'axolotl v0.18.0, src/axolotl/prompt_strategies/chat_template.py (ChatTemplateStrategy, find_turn)',
  options: OPTIONS,
  defaults: () => ({
    roles_to_train: ['assistant'],
    train_on_inputs: false,
    train_on_eos: 'turn',
    train_on_eot: 'unset',
    eot_tokens: [],
    message_field_training: '',
    message_field_training_detail: '',
    excess_length_strategy: 'drop',
  }),
  validate(options, input) {
    const c = configure(options, input.tok);
    return 'config' in c ? null : c;
  },
  run,
};
