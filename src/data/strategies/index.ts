// The masking lab's strategies, and the runner the data worker calls: one row per chosen strategy,
// each with its own ids, its labels, the reason for each label, its notes or the error it raises.
import type { StrategyId, Strategy, StrategyInput, StrategyOptions, StrategyOutput } from './types';
import { templateSpans } from './templateSpans';
import { trlAssistantOnly } from './trlAssistantOnly';
import { trlCompletionOnly } from './trlCompletionOnly';
import { unslothResponsesOnly } from './unslothResponsesOnly';
import { trlCompletionCollator } from './trlCompletionCollator';
import { axolotlChatTemplate } from './axolotlChatTemplate';
import { llamaFactory } from './llamaFactory';
import { torchtune } from './torchtune';
import { llmbook } from './llmbook';
import { checkLabels, raised, textSpans } from './common';
import { UNCODED, type Message } from '../../spec/message';
import { forgetSaid, messageOfSaid } from './reasons';

export type { StrategyId, Strategy, StrategyInput, StrategyOptions, StrategyOutput, ChatFamily, OptionSpec } from './types';
export { detectFamily } from './family';

export const STRATEGIES: readonly Strategy[] = [templateSpans, trlAssistantOnly, trlCompletionOnly, unslothResponsesOnly, trlCompletionCollator, axolotlChatTemplate, llamaFactory, torchtune, llmbook];

const BY_ID: ReadonlyMap<StrategyId, Strategy> = new Map(STRATEGIES.map((s) => [s.id, s]));

export function strategyById(id: StrategyId): Strategy {
  const s = BY_ID.get(id);
  if (!s) throw new Error(`unknown masking strategy "${id}"`);
  return s;
}

export { MAX_LAB_ROWS, STRATEGY_IDS } from './ids';

export interface LabChoice {
  id: StrategyId;
  options: StrategyOptions;
}

/** One strategy's row, column-wise (T = its own token count). */
export interface LabRow {
  strategy: StrategyId;
  label: string;
  source: string;
  text: string;
  ids: Int32Array; // (T,)
  labels: Int32Array; // (T,)
  starts: Int32Array; // (T,) UTF-16 offsets into text
  ends: Int32Array; // (T,)
  /** reasons[reasonIndex[i]] is token i's reason (a few distinct phrasings per row). */
  reasons: string[];
  /** reasons[k] as a message, to show in the page's language (a framework's own words: uncoded). */
  reasonMsgs?: Message[];
  reasonIndex: Uint16Array; // (T,)
  trained: number;
  notes: string[];
  /** notes[k] as a message (the same English; a framework's own warning: uncoded). */
  noteMsgs?: Message[];
  error: string | null;
  /** `error` coded, when it is ours (a bad option, a sample the lab itself cannot run); a framework's own error stays English. */
  errorMsg?: Message;
  /** The option field a bad option belongs to (its message is `error`), or null. */
  optionError: string | null;
  /** The options the row ran with: the strategy's defaults for this tokenizer, then the user's. */
  options: StrategyOptions;
}

/** `errorMsg` for an error we worded (said()); a framework's own error text stays English only. */
function ourError(error: string | null): { errorMsg?: Message } {
  const m = error === null ? null : messageOfSaid(error);
  return m && m.code !== UNCODED ? { errorMsg: m } : {};
}

function toRow(s: Strategy, input: StrategyInput, out: StrategyOutput, optionError: string | null, options: StrategyOptions): LabRow {
  checkLabels(out.ids, out.labels);
  const { text, starts, ends } = textSpans(input.tok, out.text, out.ids);
  const table = new Map<string, number>();
  const reasonIndex = new Uint16Array(out.ids.length);
  out.reasons.forEach((r, i) => {
    let k = table.get(r);
    if (k === undefined) table.set(r, (k = table.size));
    reasonIndex[i] = k;
  });
  let trained = 0;
  for (const l of out.labels) if (l !== -100) trained++;
  return {
    strategy: s.id,
    label: s.label,
    source: s.source,
    text,
    ids: Int32Array.from(out.ids),
    labels: Int32Array.from(out.labels),
    starts,
    ends,
    reasons: [...table.keys()],
    reasonMsgs: [...table.keys()].map(messageOfSaid),
    reasonIndex,
    trained,
    notes: out.notes,
    noteMsgs: out.notes.map(messageOfSaid),
    error: out.error,
    ...ourError(out.error),
    optionError,
    options,
  };
}

/** Runs one strategy. A bad option, or an exception of ours, becomes the row's error (labels all
 *  -100, nothing else) so the other rows still show. */
export function runStrategy(choice: LabChoice, input: StrategyInput): LabRow {
  const s = strategyById(choice.id);
  forgetSaid();
  const options = { ...s.defaults(input.family, input.tok), ...choice.options };
  const bad = s.validate?.(options, input) ?? null;
  if (bad) return { ...toRow(s, input, raised('', [], bad.message), bad.key, options), ...(bad.msg ? { errorMsg: bad.msg } : {}) };
  let out: StrategyOutput;
  try {
    out = s.run(input, options);
  } catch (e) {
    out = raised('', [], e instanceof Error ? e.message : String(e));
  }
  return toRow(s, input, out, null, options);
}
