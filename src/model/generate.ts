/**
 * Text generation over a next-token model (the GPU Decoder of src/engine/generation.ts, which keeps a
 * KV cache): greedy, or temperature / top-k / top-p sampling from a seeded PRNG (the same seed and
 * weights give the same tokens), streaming each token as it is chosen.
 *
 * The prompt is token ids the caller rendered: the conversation up to the last assistant turn with
 * the chat template's add_generation_prompt. Generation stops after the first stop id (end of turn:
 * generation_config.json's eos_token_id, e.g. <|im_end|>; see loader.ts stopTokenIds), which is
 * included in the result so a UI can show it, or after maxNewTokens, or when the context is full,
 * or when the signal aborts.
 */
import { makeRng, type Rng } from '../spec/rng';
import { CodedError, msg } from '../spec/message';

/** What generation needs from a model: src/engine/generation.ts's Decoder implements it. */
export interface NextTokenModel {
  /** Tokens the model can hold (prompt + generated). */
  readonly maxContext: number;
  /** Starts over with `ids`; resolves with the logits (V) for the token after them. */
  prefill(ids: ArrayLike<number>): Promise<Float32Array>;
  /** Appends `id`; resolves with the logits (V) for the token after it. */
  step(id: number): Promise<Float32Array>;
}

export interface GenerateOptions {
  /** Most tokens to generate (the stop token counts). Default 128. */
  maxNewTokens?: number;
  /** 0 or absent: greedy (argmax, lowest id on ties). > 0: sample from softmax(logits / temperature). */
  temperature?: number;
  /** Sample among the k most likely tokens only; 0 or absent: all. */
  topK?: number;
  /** Sample among the most likely tokens whose probabilities sum to at least topP; 1 or absent: all. */
  topP?: number;
  /** PRNG seed for sampling. Default 0. */
  seed?: number;
  /** Ids that end the turn (kept as the last token). */
  stopTokenIds?: readonly number[];
}

export type StopReason = 'end_of_turn' | 'max_new_tokens' | 'context_full' | 'aborted';

export interface GeneratedToken {
  id: number;
  /** 0-based index among the new tokens. */
  index: number;
  /** log p(id) under the model's softmax (temperature 1), for display. */
  logprob: number;
}

export interface GenerationResult {
  tokens: number[];
  reason: StopReason;
  promptTokens: number;
  /** Time to feed the prompt and get the first logits. */
  prefillMs: number;
  /** Mean time per generated token after the first (NaN for fewer than 2 tokens). */
  msPerToken: number;
}

export const DEFAULT_MAX_NEW_TOKENS = 128;

/** Tokens each answer in the app may add: the default, and the most (the memory checks size the decoder for it). */
export const ANSWER_TOKENS = 48;
export const MAX_ANSWER_TOKENS = 64;

/** Checks the options and fills in defaults; throws a message naming the bad field. */
export function resolveOptions(o: GenerateOptions): Required<GenerateOptions> {
  const r = {
    maxNewTokens: o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
    temperature: o.temperature ?? 0,
    topK: o.topK ?? 0,
    topP: o.topP ?? 1,
    seed: o.seed ?? 0,
    stopTokenIds: o.stopTokenIds ?? [],
  };
  const problems: string[] = [];
  if (!(Number.isInteger(r.maxNewTokens) && r.maxNewTokens >= 1)) problems.push(`maxNewTokens must be a whole number ≥ 1 (got ${r.maxNewTokens})`);
  if (!(Number.isFinite(r.temperature) && r.temperature >= 0)) problems.push(`temperature must be ≥ 0 (got ${r.temperature}; 0 = greedy)`);
  if (!(Number.isInteger(r.topK) && r.topK >= 0)) problems.push(`topK must be a whole number ≥ 0 (got ${r.topK}; 0 = all tokens)`);
  if (!(r.topP > 0 && r.topP <= 1)) problems.push(`topP must be in (0, 1] (got ${r.topP})`);
  if (!Number.isInteger(r.seed)) problems.push(`seed must be a whole number (got ${r.seed})`);
  if (problems.length) throw new CodedError(msg('generate.settings', { detail: problems.join('; ') }));
  return r;
}

/**
 * Options from a Hugging Face generation_config.json (do_sample, temperature, top_k, top_p,
 * max_new_tokens, eos_token_id), so "generate like the model card says" is one call.
 */
export function optionsFromGenerationConfig(gc: Record<string, unknown> | null, stopTokenIds: readonly number[]): GenerateOptions {
  const num = (k: string) => (typeof gc?.[k] === 'number' ? (gc[k] as number) : undefined);
  const sample = gc?.do_sample === true;
  return {
    maxNewTokens: num('max_new_tokens'),
    temperature: sample ? num('temperature') ?? 1 : 0,
    topK: sample ? num('top_k') ?? 50 : 0, // transformers' default top_k is 50
    topP: sample ? num('top_p') ?? 1 : 1,
    stopTokenIds,
  };
}

/** log-softmax of `logits` at `id`, in float64. */
export function logprobOf(logits: ArrayLike<number>, id: number): number {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > m) m = logits[i];
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp(logits[i] - m);
  return logits[id] - m - Math.log(z);
}

/** Index of the largest logit (lowest index on ties; NaN never wins). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best] || Number.isNaN(logits[best])) best = i;
  return best;
}

/** Chooses the next token: greedy at temperature 0, else one draw from the filtered softmax. */
export function sampleToken(logits: ArrayLike<number>, o: Pick<Required<GenerateOptions>, 'temperature' | 'topK' | 'topP'>, rng: Rng): number {
  if (o.temperature === 0) return argmax(logits);
  const V = logits.length;
  // Candidates by descending logit (ties: lower id first), cut to top-k.
  let order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  if (o.topK > 0 && o.topK < V) order = order.slice(0, o.topK);
  const m = logits[order[0]];
  const p = order.map((i) => Math.exp((logits[i] - m) / o.temperature));
  const z = p.reduce((a, b) => a + b, 0);
  // Top-p (nucleus): the shortest prefix whose probability reaches topP.
  let n = p.length;
  if (o.topP < 1) {
    let acc = 0;
    for (n = 0; n < p.length; ) {
      acc += p[n++] / z;
      if (acc >= o.topP) break;
    }
  }
  const total = p.slice(0, n).reduce((a, b) => a + b, 0);
  let u = rng.uniform() * total;
  for (let j = 0; j < n; j++) {
    u -= p[j];
    if (u < 0) return order[j];
  }
  return order[n - 1]; // rounding left u ≥ 0 after the last candidate
}

/**
 * Streams new tokens as an async iterator; its return value (from the final `next()`) is the
 * GenerationResult. Throws before feeding anything when the options or the prompt are unusable.
 */
export async function* generateStream(model: NextTokenModel, prompt: readonly number[], options: GenerateOptions = {}, signal?: AbortSignal): AsyncGenerator<GeneratedToken, GenerationResult, void> {
  const o = resolveOptions(options);
  if (prompt.length === 0) throw new CodedError(msg('generate.noPrompt'));
  if (prompt.length >= model.maxContext) {
    throw new CodedError(msg('generate.noRoom', { n: prompt.length, ctx: model.maxContext }));
  }
  const stop = new Set(o.stopTokenIds);
  const rng = makeRng(o.seed);
  const tokens: number[] = [];
  const t0 = performance.now();
  let logits = await model.prefill(prompt);
  const prefillMs = performance.now() - t0;
  let t1 = performance.now();
  let reason: StopReason = 'max_new_tokens';
  for (;;) {
    if (signal?.aborted) {
      reason = 'aborted';
      break;
    }
    const id = sampleToken(logits, o, rng);
    tokens.push(id);
    if (tokens.length === 1) t1 = performance.now();
    yield { id, index: tokens.length - 1, logprob: logprobOf(logits, id) };
    if (stop.has(id)) {
      reason = 'end_of_turn';
      break;
    }
    if (tokens.length >= o.maxNewTokens) break;
    if (prompt.length + tokens.length >= model.maxContext) {
      reason = 'context_full';
      break;
    }
    logits = await model.step(id);
  }
  const msPerToken = tokens.length > 1 ? (performance.now() - t1) / (tokens.length - 1) : NaN;
  return { tokens, reason, promptTokens: prompt.length, prefillMs, msPerToken };
}

/** generateStream with a callback per token; resolves with the result. */
export async function generate(model: NextTokenModel, prompt: readonly number[], options: GenerateOptions = {}, onToken?: (t: GeneratedToken) => void, signal?: AbortSignal): Promise<GenerationResult> {
  const it = generateStream(model, prompt, options, signal);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
    onToken?.(r.value);
  }
}
