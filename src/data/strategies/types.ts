// The masking lab's contract: one sample, one tokenizer, one framework's documented rule → that
// framework's own token ids and labels, and the reason for every label.
//
// A strategy is a pure function (no DOM, no store): it runs in the data worker, and in Node tests.
// It builds its sequence as the framework does: most render the tokenizer's Jinja chat template;
// LLaMA-Factory, torchtune and LLMBook build it themselves, so their ids may differ from the
// template's. Each row therefore keeps its own ids; rows are aligned on their token texts (align.ts).
//
// Labels follow the Hugging Face convention (types.ts): labels[i] = ids[i] or -100, unshifted.
import type { ChatTokenizer, Conversation, MaskPolicy, TokenizedSample, ToolList } from '../types';
import type { Message } from '../../spec/message';

export type StrategyId =
  | 'template-spans'
  | 'trl-assistant-only'
  | 'trl-completion-only'
  | 'unsloth-responses-only'
  | 'trl-completion-collator'
  | 'axolotl-chat-template'
  | 'llamafactory'
  | 'torchtune'
  | 'llmbook';

/** The chat format a tokenizer's template writes, for frameworks that keep their own per-family
 *  strings (LLaMA-Factory templates, torchtune tokenizers, default markers). */
export type ChatFamily = 'chatml' | 'qwen3' | 'llama3' | 'gemma' | 'deepseek' | 'unknown';

export interface StrategyInput {
  tok: ChatTokenizer;
  /** detectFamily(tok). */
  family: ChatFamily;
  conversation: Conversation;
  tools: ToolList | null;
  /** Truncation length (the framework's max_length / sequence_len / cutoff_len). */
  maxLength: number;
  /** Our mask policy, hand overrides included (template-spans only). */
  policy: MaskPolicy;
  /** The settings panel's split_special_tokens (template-spans only: it is the token view's row). */
  splitSpecialTokens?: boolean;
  /** This playground's attribution of `conversation` with these tools and splitSpecialTokens, when the
   *  caller has it already (the preflight does): template-spans uses it instead of tokenizing again. */
  tokenized?: TokenizedSample;
}

/** Options of one strategy: plain JSON (they travel to the worker and into saved state). */
export type StrategyOptions = Record<string, string | boolean | number | string[]>;

/** What a strategy computed for the sample. */
export interface StrategyOutput {
  /** The framework's text for the sequence (ids decode to it); token i is text.slice(starts[i], ends[i]). */
  text: string;
  ids: number[];
  /** (T,) ids[i] or -100. */
  labels: number[];
  /** (T,) why labels[i] is what it is, in the framework's words (reasons.ts). */
  reasons: string[];
  /** The framework's warnings for this sample, in its words where it has them. */
  notes: string[];
  /** Set when the framework raises on this sample (then every label is -100 and the row says it). */
  error: string | null;
}

export interface OptionSpec {
  key: string;
  label: string;
  /** 'choice': one of choices; 'text': a string (markers); 'flag': boolean; 'list': comma-separated roles. */
  kind: 'choice' | 'text' | 'flag' | 'list';
  choices?: readonly string[];
  /** The framework's documentation for the option, one line. */
  help: string;
}

export interface Strategy {
  id: StrategyId;
  /** Short name for the picker and the row ("axolotl chat_template"). */
  label: string;
  /** Framework and version the algorithm follows ("axolotl 0.9, src/axolotl/prompt_strategies/chat_template.py"). */
  source: string;
  options: readonly OptionSpec[];
  /** The options a new row starts with, for this tokenizer family (unsloth's markers depend on it). */
  defaults(family: ChatFamily, tok: ChatTokenizer): StrategyOptions;
  /** Checks the options before running; a message for the option's field, or null. */
  validate?(options: StrategyOptions, input: StrategyInput): { key: string; message: string; msg?: Message } | null;
  run(input: StrategyInput, options: StrategyOptions): StrategyOutput;
}
