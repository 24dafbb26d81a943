// Requests to data.worker.ts (convention: protocol.ts), and what they answer.
//
// The worker owns the expensive steps (parse → chat template → tokenize → attribute roles →
// labels), for the token view and for training alike: the labels training receives are computed
// here, by the same code, at the same context length as those the view shows. Results travel as
// columns (typed arrays + one string) rather than one object per token, so a 250k-token sample is
// transferred without cloning 250k objects.
//
// The store ignores any label reply but its latest request's, and the worker only works on the
// newest label request it has: older ones fail as superseded (protocol.ts SUPERSEDED).
import type { HandOverrides, PackedSamples } from './trainPlan';
import type { ContextCheck, InputError, InputFormat, LineErrors, MaskPolicy, LabelResult, TokenRole, TokenizerId } from '../data';
import type { Alignment } from '../data/strategies/align';
import type { ChatFamily, LabChoice, LabRow } from '../data/strategies';
import type { FindingId, PreflightReport } from '../data/preflight/types';
import type { Message } from '../spec/message';

/**
 * The loaded model's own tokenizer. 'default' in the tokenizer menu means "the model's tokenizer":
 * the embedded model's files until another model is loaded, then that model's, so the token view
 * shows the tokens training uses (and hand overrides index the same tokens).
 */
export interface ModelTokenizer {
  /** The model's source (folder URL or Hub repo id, src/model/hub.ts): its tokenizer.json and tokenizer_config.json. */
  source: string;
  label: string;
  /** The model's max_position_embeddings: the context length when the user has set none. */
  contextLength: number;
  /** Which of the model's named chat templates to render with (src/model/chatTemplate.ts);
   *  absent: "default", as transformers picks. */
  chatTemplateName?: string;
}

/**
 * Context length used when the user has not set one and the tokenizer states no real
 * model_max_length. 256 = the embedded playground model's max_position_embeddings (always used
 * for it: its limit is the position table, not the tokenizer file). Llama 3's tokenizer config
 * writes 1e30 ("no limit"); its models were trained at 8192.
 */
// Gemma 3 (1B) was trained at 32k, Llama 3.1 at 128k, DeepSeek-V3 at 160k.
// A tokenizer loaded on its own that states no limit: 4096, the context most of today's small chat models train at.
export const FALLBACK_CONTEXT: Record<TokenizerId, number> = { default: 256, llama3: 8192, qwen3: 40960, gemma3: 32768, llama3_1: 131072, deepseek_v3: 163840, custom: 4096 };

/**
 * The most positions a sample may keep: for the model's own tokenizer ('default'), the model's
 * position table, which training cannot exceed; null for the other tokenizers (no model behind them).
 */
export function contextLimit(id: TokenizerId, model: ModelTokenizer | null): number | null {
  return id === 'default' ? (model?.contextLength ?? FALLBACK_CONTEXT.default) : null;
}

/** The context length the view and training cut at: the user's (capped at contextLimit), else the tokenizer's own. */
export function resolveContextLength(id: TokenizerId, own: number | null, modelMaxLength: number | null, model: ModelTokenizer | null = null): number {
  const limit = contextLimit(id, model);
  if (own !== null) return limit === null ? own : Math.min(own, limit);
  if (id === 'default' && model) return model.contextLength;
  if (id !== 'default' && modelMaxLength !== null) return modelMaxLength;
  return FALLBACK_CONTEXT[id];
}

/** Role codes used in `TokenColumns.roles` (index into ROLE_CODES). */
export const ROLE_CODES: readonly TokenRole[] = ['system', 'user', 'assistant', 'template', 'reasoning', 'tool_call', 'tool'];

/** Bit flags in `TokenColumns.flags`. */
export const FLAG_STRADDLES = 1;
export const FLAG_END_OF_TURN = 2;
/** A special token whose text was typed in a message (TokenInfo.typedSpecial). */
export const FLAG_TYPED_SPECIAL = 4;

/** One tokenized sample, column-wise. T = number of tokens. */
export interface TokenColumns {
  /** Identifies this tokenization (text + sample + tokenizer); labels refer to it. */
  key: string;
  /** The chat template's output; token i covers rendered.slice(starts[i], ends[i]). */
  rendered: string;
  ids: Int32Array; // (T,)
  starts: Int32Array; // (T,) UTF-16 offsets into rendered
  ends: Int32Array; // (T,)
  roles: Uint8Array; // (T,) index into ROLE_CODES
  /** (T,) bitmask over ROLE_CODES of every role the token's characters come from. */
  roleMasks: Uint8Array;
  flags: Uint8Array; // (T,) FLAG_* bits
  /** (T,) message index the token belongs to, -1 for template markup. */
  messages: Int32Array;
  attribution: string;
  notes: string[];
  /** `notes` as messages (shown in the page's language); absent in a reply from before them. */
  noteMsgs?: Message[];
  /** Concatenated token texts === rendered (decode round-trips). */
  roundTrip: boolean;
  tokenizerLabel: string;
  /** The tokenizer's own model_max_length when it states a real one, else null. */
  modelMaxLength: number | null;
  /** The Jinja template this tokenization rendered with (the user's own, or the tokenizer's). */
  chatTemplate: string;
}

/** computeLabels' result (labels, weights, counts), plus what the view needs to place it. */
export interface LabelColumns extends LabelResult {
  /** TokenColumns.key these labels were computed for. */
  key: string;
  /** The context length the check used (the user's, or the tokenizer's own). */
  contextLength: number;
  /** Whether contextLength came from the user (false: the tokenizer's own / fallback). */
  contextLengthIsOwn: boolean;
  context: ContextCheck;
}

export interface ParseInfo {
  format: InputFormat;
  formatLabel: string;
  formatMsg: Message;
  sampleCount: number;
  /** The sample actually shown (the request's index clamped to the sample count). */
  sampleIndex: number;
  /** 1-based line of the shown sample when it is not sampleIndex + 1 (JSONL with blank or broken lines); else null. */
  sampleLine: number | null;
  /** Broken JSONL lines left out of the samples (not fatal: the good lines are the dataset); null when none. */
  lineErrors: LineErrors | null;
}

/** Which step failed: shown to the user so they know whether to fix the text or the settings. */
export type FailStage = 'parse' | 'sample' | 'tokenizer' | 'template' | 'labels';

/** Label the shown sample of the pasted text for the token view. */
export interface LabelRequest {
  text: string;
  sampleIndex: number;
  tokenizerId: TokenizerId;
  policy: MaskPolicy;
  /** The user's context length; null = the tokenizer's own limit (see resolveContextLength). */
  contextLength: number | null;
  /** What tokenizerId 'default' reads when the loaded model is not the embedded one; null = the embedded model's files. */
  modelTokenizer: ModelTokenizer | null;
  /** Special-token text in message content is encoded as plain characters (Settings.splitSpecialTokens). */
  splitSpecialTokens: boolean;
  /** The user's own chat template instead of the tokenizer's (Settings.ownTemplate). */
  ownTemplate?: string | null;
  /** What tokenizerId 'custom' reads (Settings.customTokenizer). */
  customTokenizer?: ModelTokenizer | null;
}

/** Load a tokenizer on its own (tokenizer.json, tokenizer_config.json, chat_template.jinja / .json; no weights). */
export interface TokenizerInfoRequest {
  tokenizer: ModelTokenizer;
}
export interface TokenizerInfo {
  label: string;
  vocabSize: number;
  /** Named chat templates the files hold (default, tool_use…); [] for a single template. */
  templateNames: string[];
  /** The one rendering now ("default" when the files hold several and none was asked for). */
  templateName: string | null;
  /** Which file the template came from. */
  templateFile: string;
  modelMaxLength: number | null;
  warnings: string[];
}

export interface LabelReply {
  parse: ParseInfo;
  /** Omitted when the tokenization did not change since the last reply (only labels did). */
  tokens: TokenColumns | null;
  labels: LabelColumns;
  ms: number;
}

/** A failed label request's WorkerError.detail. */
export interface LabelFailure {
  stage: FailStage;
  error: InputError;
  parse: ParseInfo | null;
  /** When no JSONL line was usable: every broken line (parse is null then). */
  lineErrors?: LineErrors;
  /** The user's own chat template failed: where in it (1-based line and column). */
  templateAt?: { line: number; column: number };
}

/**
 * Everything a training needs from the text, computed here once and handed to the training
 * worker: every sample with the model's tokenizer, each run's labels and weights (its policy, the
 * hand overrides on their sample), cut at the same context length the token view uses.
 */
export interface PrepareRequest {
  text: string;
  modelTokenizer: ModelTokenizer | null;
  /** The user's context length (null: the model's); resolved and capped as for the view. */
  contextLength: number | null;
  policies: MaskPolicy[];
  /** Per run: the masking-lab strategy its labels come from instead of its policy (null: the policy). */
  strategies?: (LabChoice | null)[];
  hand: HandOverrides | null;
  /** The model's vocab_size: a tokenizer with more ids does not belong to it. */
  vocabSize: number;
  /** As in the label request: training encodes special-token text the way the view does. */
  splitSpecialTokens: boolean;
  /** As in the label request: the user's own template (null: the model's). */
  ownTemplate?: string | null;
}

export interface PreparedData {
  /** Every sample, packed (trainPlan.ts packSamples / unpackSamples). */
  samples: PackedSamples;
  /** The context length the samples were cut at. */
  contextLength: number;
  padId: number;
  /** The tokenizer's eos and end-of-turn ids (generation stops at them). */
  stopIds: number[];
  /** Every token's bytes, so the training worker can decode answers without a tokenizer. */
  vocab: TokenTable;
  tokenizerLabel: string;
  /** The stop meter: sample 0's end-of-turn tokens closing an assistant turn, per run (token index
   *  in that run's sequence, within the context); null when it has none. */
  stopMeter: { sample: number; positions: Int32Array[] } | null;
}

/** Token id → bytes: token i is bytes.subarray(offsets[i], offsets[i + 1]). V = vocabulary size. */
export interface TokenTable {
  bytes: Uint8Array;
  offsets: Int32Array; // (V + 1,)
}

/** The prompt an answer continues: sample `sample` up to its last assistant turn, with the generation prompt. */
export interface PromptRequest {
  text: string;
  sample: number;
  modelTokenizer: ModelTokenizer | null;
  /** As the training data was prepared: typed special-token text encoded as plain characters. */
  splitSpecialTokens: boolean;
  ownTemplate?: string | null;
}

export interface PromptReply {
  ids: Int32Array;
  text: string;
  /** The last assistant turn's content in the data, null when the sample has none. */
  reference: string | null;
}

/** The masking lab: the shown sample under each chosen strategy (src/data/strategies). */
export interface LabRequest {
  text: string;
  sampleIndex: number;
  tokenizerId: TokenizerId;
  modelTokenizer: ModelTokenizer | null;
  contextLength: number | null;
  /** The settings panel's policy, hand overrides included: the template-spans row. */
  policy: MaskPolicy;
  splitSpecialTokens: boolean;
  ownTemplate?: string | null;
  customTokenizer?: ModelTokenizer | null;
  choices: LabChoice[];
}

export interface LabReply {
  rows: LabRow[];
  /** Rows aligned on their token texts (align.ts). */
  alignment: Alignment;
  /** Per row, (T,) each token's role (index into ROLE_CODES), read from this playground's attribution
   *  of the template's rendering through the same text alignment; 'template' for a token only that framework writes. */
  roles: Uint8Array[];
  family: ChatFamily;
  tokenizerLabel: string;
  contextLength: number;
  ms: number;
}

/** Where a preflight's dataset comes from: the paste box, or a file the user dropped (read in the worker). */
export type PreflightSource = { kind: 'text'; text: string } | { kind: 'file'; file: File };

export interface PreflightRequest {
  source: PreflightSource;
  tokenizerId: TokenizerId;
  modelTokenizer: ModelTokenizer | null;
  contextLength: number | null;
  /** The settings panel's policy (the template-spans strategy), no hand overrides (they belong to one sample). */
  policy: MaskPolicy;
  splitSpecialTokens: boolean;
  ownTemplate?: string | null;
  customTokenizer?: ModelTokenizer | null;
  strategy: LabChoice;
  compare: LabChoice[];
  fatal: FindingId[];
}

export interface PreflightReply {
  report: PreflightReport;
  /** The worker keeps the dataset under this number, for exports and for opening one sample. */
  handle: number;
}

/** The mask an export reproduces: the settings panel's policy, or a masking-lab strategy. */
export type ExportMask = { kind: 'policy'; policy: MaskPolicy } | { kind: 'strategy'; id: LabChoice['id']; options: LabChoice['options'] };
export type ExportWhat = 'pretokenized' | 'parquet' | 'report-json' | 'report-md' | 'trl' | 'axolotl' | 'llamafactory' | 'torchtune';

export interface PreflightExportRequest {
  handle: number;
  what: ExportWhat;
  mask: ExportMask;
}

export interface PreflightExportReply {
  files: { name: string; type: string; bytes: Uint8Array }[];
  /** Parts of the mask the tool cannot express (its export then falls back to the pre-tokenized dataset). */
  cannotExpress: string[];
  notes: string[];
  /** `cannotExpress` and `notes` as messages (the page shows them in its language). */
  cannotExpressMsgs?: Message[];
  noteMsgs?: Message[];
}

export type DataProtocol = {
  tokenizerInfo: { req: TokenizerInfoRequest; res: TokenizerInfo; event: { status: Message } };
  preflight: { req: PreflightRequest; res: PreflightReply; event: { done: number; total: number; status?: Message } };
  preflightCancel: { req: { handle?: number }; res: boolean };
  preflightExport: { req: PreflightExportRequest; res: PreflightExportReply };
  /** One sample of a preflighted dataset as its own text (a dropped file's line), to open it in the paste box. */
  preflightSample: { req: { handle: number; index: number }; res: { text: string; line: number } };
  lab: { req: LabRequest; res: LabReply; event: { status: Message } };
  label: { req: LabelRequest; res: LabelReply; event: { status: Message } };
  prepare: { req: PrepareRequest; res: PreparedData; event: { status: Message } };
  prompt: { req: PromptRequest; res: PromptReply };
};
