// Messages between the store (main thread) and data.worker.ts.
//
// The worker owns the expensive steps (parse → chat template → tokenize → attribute roles →
// labels). Results travel as columns (typed arrays + one string) rather than one object per
// token, so a 250k-token sample is transferred without cloning 250k objects.
//
// Every request carries a `seq`; the store drops any reply whose seq is not the latest one it
// sent, and the worker only ever works on the newest request it has received.
import type { ContextCheck, InputError, InputFormat, MaskPolicy, LabelResult, TokenRole, TokenizerId } from '../data';

export interface RunRequest {
  kind: 'run';
  seq: number;
  text: string;
  sampleIndex: number;
  tokenizerId: TokenizerId;
  policy: MaskPolicy;
  /** The user's context length; null = the tokenizer's own limit (see resolveContextLength). */
  contextLength: number | null;
  /** What tokenizerId 'default' reads when the loaded model is not the embedded one; null = the embedded model's files. */
  modelTokenizer: ModelTokenizer | null;
}

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
}

/**
 * Context length used when the user has not set one and the tokenizer states no real
 * model_max_length. 256 = the embedded playground model's max_position_embeddings (always used
 * for it: its limit is the position table, not the tokenizer file). Llama 3's tokenizer config
 * writes 1e30 ("no limit"); its models were trained at 8192.
 */
export const FALLBACK_CONTEXT: Record<TokenizerId, number> = { default: 256, llama3: 8192, qwen3: 40960 };

export function resolveContextLength(id: TokenizerId, own: number | null, modelMaxLength: number | null, model: ModelTokenizer | null = null): number {
  if (own !== null) return own;
  if (id === 'default' && model) return model.contextLength;
  if (id !== 'default' && modelMaxLength !== null) return modelMaxLength;
  return FALLBACK_CONTEXT[id];
}

/** Role codes used in `TokenColumns.roles` (index into ROLE_CODES). */
export const ROLE_CODES: readonly TokenRole[] = ['system', 'user', 'assistant', 'template'];

/** Bit flags in `TokenColumns.flags`. */
export const FLAG_STRADDLES = 1;
export const FLAG_END_OF_TURN = 2;

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
  /** Concatenated token texts === rendered (decode round-trips). */
  roundTrip: boolean;
  tokenizerLabel: string;
  /** The tokenizer's own model_max_length when it states a real one, else null. */
  modelMaxLength: number | null;
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
  sampleCount: number;
  /** The sample actually shown (the request's index clamped to the sample count). */
  sampleIndex: number;
}

/** Which step failed: shown to the user so they know whether to fix the text or the settings. */
export type FailStage = 'parse' | 'sample' | 'tokenizer' | 'template' | 'labels';

export type WorkerReply =
  | { kind: 'status'; seq: number; message: string }
  | {
      kind: 'result';
      seq: number;
      parse: ParseInfo;
      /** Omitted when the tokenization did not change since the last reply (only labels did). */
      tokens: TokenColumns | null;
      labels: LabelColumns;
      ms: number;
    }
  | { kind: 'error'; seq: number; stage: FailStage; error: InputError; parse: ParseInfo | null };
