/**
 * Will a model picked in the UI train on this GPU at all? Asked by the training worker when the
 * model's config.json has arrived, before its weights download (src/model/loader.ts checkConfig),
 * so a 2 GB checkpoint that cannot run is refused in a second instead of after the download.
 *
 * The shape checked is one sequence of LOAD_CHECK_TOKENS tokens (or the model's whole context when
 * shorter), plus the answer decoder: what a first training of a short chat needs. The real batch
 * and context are checked again when training starts (train.worker.ts start()).
 *   - fits                          → nothing to say
 *   - fits only smaller (shorter T) → the model loads, with the memory check's numbers and
 *                                     suggestions as a note
 *   - does not fit even at B = 1, T = 16 → refused, with the numbers (checkMemory's message)
 */
import type { LlamaConfig } from '../spec/config';
import { checkMemory, type MemoryLimits } from '../model/memoryCheck';
import { MAX_ANSWER_TOKENS } from '../worker/trainProtocol';

/** Tokens of the one sequence the load-time check sizes for. */
export const LOAD_CHECK_TOKENS = 256;

export interface LoadFit {
  /** Why the model cannot train here (it is not loaded); null when it can. */
  refuse: string | null;
  /** What a person should know although it loads (a shorter context is needed); null when it fits. */
  note: string | null;
}

export function loadFit(name: string, config: LlamaConfig, limits: MemoryLimits): LoadFit {
  const T = Math.min(config.max_position_embeddings, LOAD_CHECK_TOKENS);
  const generationContext = Math.min(config.max_position_embeddings, T + MAX_ANSWER_TOKENS);
  const fit = checkMemory(config, 1, T, 1, limits, { generationContext });
  if (fit.ok) return { refuse: null, note: null };
  if (fit.suggestions.length === 0) return { refuse: `${name} cannot train on this GPU, so its weights were not downloaded. ${fit.message}`, note: null };
  return { refuse: null, note: `${name} at ${T} tokens per sequence: ${fit.message} Set the context length in the settings before training.` };
}
