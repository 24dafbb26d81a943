/**
 * Loading a model for training: the loader's files and weights, plus a summary for the page
 * (loadForTraining), and the load-time fit check.
 *
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
import { checkMemory, type MemoryLimits } from './memoryCheck';
import { CodedError, englishOf, msg, uncoded, type Message } from '../spec/message';
import { loadModel, type LoadedModel } from './loader';
import { resolveModelSource } from './hub';

import { MAX_ANSWER_TOKENS } from './generate';

/** Tokens of the one sequence the load-time check sizes for. */
export const LOAD_CHECK_TOKENS = 256;

export interface LoadFit {
  /** Why the model cannot train here (it is not loaded); null when it can. English; refuseMsg coded. */
  refuse: string | null;
  refuseMsg: Message | null;
  /** What a person should know although it loads (a shorter context is needed); null when it fits. English; noteMsg coded. */
  note: string | null;
  noteMsg: Message | null;
}

export function loadFit(name: string, config: LlamaConfig, limits: MemoryLimits): LoadFit {
  const T = Math.min(config.max_position_embeddings, LOAD_CHECK_TOKENS);
  const generationContext = Math.min(config.max_position_embeddings, T + MAX_ANSWER_TOKENS);
  const fit = checkMemory(config, 1, T, 1, limits, { generationContext });
  if (fit.ok) return { refuse: null, refuseMsg: null, note: null, noteMsg: null };
  const detail = fit.msg ?? uncoded(fit.message ?? '');
  if (fit.suggestions.length === 0) {
    const refuse = msg('load.refuse', { name, detail });
    return { refuse: englishOf(refuse), refuseMsg: refuse, note: null, noteMsg: null };
  }
  // Only as a LoRA run (memoryCheck suggests it when no full fine-tuning size fits): say where to switch.
  const next = fit.suggestions.every((s) => s.lora) ? msg('load.switchLora') : msg('load.setContext');
  const note = msg('load.note', { name, T, detail, next });
  return { refuse: null, refuseMsg: null, note: englishOf(note), noteMsg: note };
}

/** What the page shows of a loaded model. */
export interface ModelSummary {
  name: string;
  /** What was asked for (folder URL or Hub repo id): `?model=` takes the same string. */
  source: string;
  kind: 'folder' | 'hub';
  /** Folder the files came from (ends in '/'). */
  url: string;
  config: LlamaConfig;
  params: number;
  /** Bytes of the weights as float32. */
  bytes: number;
  /** Ids that end an answer from the model's own files (generation_config, config.json); the data worker adds the tokenizer's eos and end-of-turn ids. */
  stopIds: number[];
  tokenizerLabel: string;
  /** What the loader noticed (ignored tensors, a context cut to the sliding window, …). */
  notes: string[];
  /** The load-time memory check's numbers and suggestions when a shorter context is needed; null when it fits. */
  /** English; memoryNoteMsg the same, coded. */
  memoryNote: string | null;
  memoryNoteMsg?: Message | null;
}

/** Download progress: the file being read (`loaded` of `total` bytes; total null while unknown), and the bytes of every file so far. */
export interface LoadProgress {
  file: string;
  loaded: number;
  total: number | null;
  bytesReceived: number;
  cached: boolean;
}

/**
 * The model through loader.ts (folder URL or Hub id, Cache Storage, progress), refused before its
 * weights download when it cannot train on a GPU with `limits` (null: no GPU, no check; the token
 * view still uses the model's tokenizer). Progress is reported at most every 100 ms, and at each
 * file's end.
 */
export async function loadForTraining(
  source: string,
  limits: MemoryLimits | null,
  signal: AbortSignal,
  onProgress: (p: LoadProgress) => void,
): Promise<{ lm: LoadedModel; summary: ModelSummary }> {
  const loc = resolveModelSource(source);
  const name = loc.kind === 'hub' ? loc.repo ?? loc.source : decodeURIComponent(loc.baseUrl.replace(/\/$/, '').split('/').pop() || loc.baseUrl);
  let lastPost = 0;
  let fitNote: Message | null = null;
  const lm = await loadModel(source, {
    signal,
    checkConfig: (info) => {
      if (!limits) return;
      const fit = loadFit(name, info.config, limits);
      if (fit.refuseMsg) throw new CodedError(fit.refuseMsg);
      fitNote = fit.noteMsg;
    },
    onProgress: (p) => {
      const now = performance.now();
      if (p.done || now - lastPost > 100) {
        lastPost = now;
        onProgress({ file: p.file, loaded: p.received, total: p.total, bytesReceived: p.bytesReceived, cached: p.cached });
      }
    },
  });
  return {
    lm,
    summary: {
      name, source: loc.source, kind: loc.kind, url: lm.location.baseUrl, config: lm.config, params: lm.parameterCount, bytes: lm.parameterCount * 4,
      stopIds: lm.stopTokenIds, tokenizerLabel: name, notes: lm.notes, memoryNote: fitNote && englishOf(fitNote), memoryNoteMsg: fitNote,
    },
  };
}
