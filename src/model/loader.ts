/**
 * Loads a model in Hugging Face layout for the engine: config.json → LlamaConfig (hfConfig.ts),
 * model.safetensors (or the shards named by model.safetensors.index.json) → Float32Array per HF
 * parameter name (safetensors.ts converts F32/F16/BF16), and the tokenizer / generation files
 * as parsed JSON plus their raw bytes (export writes them back unchanged).
 *
 * Source: a folder URL (default DEFAULT_MODEL, the embedded model) or a Hub repo id; see hub.ts
 * for the fetching, progress and cache. Order: config.json first (an unsupported architecture
 * fails before any weights are downloaded; `checkConfig` may refuse the model, e.g. when it will not
 * fit the GPU), then the tokenizer files, then the weights.
 *
 * Weight checks: every tensor the config implies (hfParameterShapes) must be present with exactly
 * that shape, else the error names the tensor, the expected and the found shape. A tied model
 * (tie_word_embeddings) needs no lm_head.weight; one stored anyway is ignored, as transformers does.
 * Tensors the engine does not use (e.g. rotary_emb.inv_freq buffers) are ignored and listed in
 * `notes`. Checkpoints saved from the bare decoder (names without the 'model.' prefix) are mapped.
 */
import type { LlamaConfig } from '../spec/config';
import { CodedError, msg } from '../spec/message';
import { EMBED_TOKENS, LM_HEAD } from '../spec/params';
import { hfParameterShapes, llamaConfigFromHf, type HfModelInfo } from './hfConfig';
import { parseSafetensors, type SafetensorsDtype } from './safetensors';
import { CHAT_TEMPLATE_FILES, chooseChatTemplate, type ChosenTemplate } from './chatTemplate';
import { DEFAULT_MODEL, defaultCacheFor, FileNotFoundError, fetchModelFile, resolveModelSource, type FetchOptions, type FileProgress, type ModelLocation } from './hub';

export { DEFAULT_MODEL };

type Json = Record<string, unknown>;

/** What the causal LM puts before the decoder's names; a checkpoint of the bare decoder lacks it (not the LM head). */
const BARE_PREFIX = 'model.';

/** Files besides the weights that export copies into the fine-tuned model folder (when present). */
export const SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', ...CHAT_TEMPLATE_FILES, 'generation_config.json', 'special_tokens_map.json'] as const;

export interface LoadProgress extends FileProgress {
  /** Files finished so far, and the files known so far (grows when a sharded index is read). */
  filesDone: number;
  filesKnown: number;
  /** Bytes received over all files so far. */
  bytesReceived: number;
}

export interface LoadModelOptions extends Omit<FetchOptions, 'onProgress'> {
  onProgress?: (p: LoadProgress) => void;
  /** Called with the parsed config before the weights download; throw to stop (e.g. the memory check). */
  checkConfig?: (info: HfModelInfo) => void;
}

export interface LoadedModel {
  location: ModelLocation;
  config: LlamaConfig;
  /** model_type, eos/bos/pad ids and notes from config.json. */
  info: HfModelInfo;
  /** Every parameter of paramTable(config), by HF name. */
  weights: Record<string, Float32Array>;
  /** config.json as parsed (export writes it back, so fields the engine ignores survive). */
  configJson: Json;
  /**
   * tokenizer.json, parsed on first read: the app never reads it here (the data worker is the
   * page's one tokenizer), so its megabytes are parsed once per page, there.
   */
  readonly tokenizerJson: Json;
  /** {} when the repo has no tokenizer_config.json. */
  tokenizerConfig: Json;
  /** The chat template, from chat_template.jinja, chat_template.json or tokenizer_config.json
   *  (transformers' precedence, chatTemplate.ts; the "default" one of named templates); null when
   *  the repo has none. */
  chatTemplate: ChosenTemplate | null;
  /** null when the repo has no generation_config.json. */
  generationConfig: Json | null;
  /** Raw bytes of the SIDE_FILES the source has, by file name. */
  sideFiles: Record<string, Uint8Array>;
  /**
   * Ids that end generation: generation_config.json's eos_token_id (one or a list, e.g. <|im_end|>
   * for chat models), config.json's, and the tokenizer's eos_token, without duplicates.
   */
  stopTokenIds: number[];
  /** Stored dtypes of the used tensors, e.g. { BF16: 272 }. */
  dtypes: Partial<Record<SafetensorsDtype, number>>;
  parameterCount: number;
  /** Things a person should know (ignored tensors, context cut to the sliding window, …). */
  notes: string[];
}

/** Thrown when the checkpoint does not match its config (the message names the tensor and shapes). */
export class WeightMismatchError extends CodedError {
  override name = 'WeightMismatchError';
}

const decoder = new TextDecoder();

function parseJsonFile(bytes: Uint8Array, where: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw new CodedError(msg('loader.notJson', { where, detail: (e as Error).message }));
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CodedError(msg('loader.notObject', { where }));
  return v as Json;
}

/** Loads `source` (folder URL or Hub repo id; default the embedded model). */
export async function loadModel(source: string = DEFAULT_MODEL, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const location = resolveModelSource(source);
  const cache = opts.cache === undefined ? await defaultCacheFor(location) : opts.cache;
  const name = location.kind === 'hub' ? location.repo! : location.baseUrl;
  let filesDone = 0, filesKnown = 3, bytesReceived = 0;
  const seen = new Map<string, number>();
  const get = async (file: string): Promise<Uint8Array> => {
    const bytes = await fetchModelFile(location, file, {
      fetch: opts.fetch, cache, signal: opts.signal,
      onProgress: (p) => {
        bytesReceived += p.received - (seen.get(file) ?? 0);
        seen.set(file, p.received);
        if (p.done) filesDone++;
        opts.onProgress?.({ ...p, filesDone, filesKnown, bytesReceived });
      },
    });
    return bytes;
  };
  const optional = async (file: string): Promise<Uint8Array | null> => {
    try {
      return await get(file);
    } catch (e) {
      if (e instanceof FileNotFoundError) return null;
      throw e;
    }
  };

  const configBytes = await get('config.json');
  const configJson = parseJsonFile(configBytes, `${name}/config.json`);
  const info = llamaConfigFromHf(configJson, `${name}/config.json`);
  opts.checkConfig?.(info);
  const config = info.config;

  const sideFiles: Record<string, Uint8Array> = {};
  for (const f of SIDE_FILES) {
    const b = f === 'tokenizer.json' ? await get(f).catch((e: unknown) => {
      if (e instanceof FileNotFoundError) throw new CodedError(msg('loader.noTokenizer', { name }));
      throw e;
    }) : await optional(f);
    if (b) sideFiles[f] = b;
  }
  let tokenizerJson: Json | undefined;
  const readTokenizerJson = () => (tokenizerJson ??= parseJsonFile(sideFiles['tokenizer.json'], `${name}/tokenizer.json`));
  const tokenizerConfig = sideFiles['tokenizer_config.json'] ? parseJsonFile(sideFiles['tokenizer_config.json'], `${name}/tokenizer_config.json`) : {};
  const generationConfig = sideFiles['generation_config.json'] ? parseJsonFile(sideFiles['generation_config.json'], `${name}/generation_config.json`) : null;

  // Weights: one file, or shards listed by the index.
  let shardFiles: string[];
  let single = await optional('model.safetensors');
  if (single) {
    shardFiles = ['model.safetensors'];
  } else {
    const indexBytes = await optional('model.safetensors.index.json');
    if (!indexBytes) {
      throw new CodedError(msg('loader.noSafetensors', { name }));
    }
    const index = parseJsonFile(indexBytes, `${name}/model.safetensors.index.json`);
    const map = index.weight_map;
    if (typeof map !== 'object' || map === null) throw new CodedError(msg('loader.noWeightMap', { name }));
    shardFiles = [...new Set(Object.values(map as Record<string, unknown>).map(String))];
    filesKnown += shardFiles.length;
  }

  const want = hfParameterShapes(config);
  const weights: Record<string, Float32Array> = {};
  const dtypes: Partial<Record<SafetensorsDtype, number>> = {};
  const notes = [...info.notes];
  // A missing "default" among named templates is the data worker's to report (it renders); here it is a note.
  let chatTemplate: ChosenTemplate | null = null;
  try {
    chatTemplate = chooseChatTemplate(
      {
        jinja: sideFiles['chat_template.jinja'] ? new TextDecoder().decode(sideFiles['chat_template.jinja']) : null,
        json: sideFiles['chat_template.json'] ? parseJsonFile(sideFiles['chat_template.json'], `${name}/chat_template.json`) : null,
        config: tokenizerConfig,
      },
      name,
    );
  } catch (e) {
    notes.push(e instanceof Error ? e.message : String(e));
  }
  const found = new Map<string, { shape: number[]; file: string }>();
  const ignored: string[] = [];
  for (const file of shardFiles) {
    const bytes = single ?? (await get(file));
    single = null; // the single file's bytes are dropped after conversion, like each shard's
    const st = parseSafetensors(bytes, `${name}/${file}`);
    const bare = !st.info(EMBED_TOKENS) && Boolean(st.info(EMBED_TOKENS.slice(BARE_PREFIX.length)));
    for (const t of st.tensors) {
      const hfName = bare && t.name !== LM_HEAD ? `${BARE_PREFIX}${t.name}` : t.name;
      const shape = want.get(hfName);
      if (!shape) {
        ignored.push(t.name);
        continue;
      }
      if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) {
        throw new WeightMismatchError(msg('loader.shapeMismatch', { where: `${name}/${file}`, tensor: t.name, shape: t.shape.join(', '), want: shape.join(', ') }));
      }
      weights[hfName] = st.getFloat32(t.name);
      dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
      found.set(hfName, { shape: t.shape, file });
    }
  }
  for (const [n, shape] of want) {
    if (!found.has(n)) {
      throw new WeightMismatchError(msg(n === LM_HEAD ? 'loader.missingHead' : 'loader.missingTensor', { name, tensor: n, shape: shape.join(', '), files: shardFiles.join(', ') }));
    }
  }
  if (ignored.length) {
    const tiedHead = config.tie_word_embeddings && ignored.includes(LM_HEAD);
    notes.push(`${ignored.length} stored tensor(s) not used by the model${tiedHead ? ` (${LM_HEAD}: the head is tied to the embedding)` : ''}: ${ignored.slice(0, 4).join(', ')}${ignored.length > 4 ? ', …' : ''}`);
  }

  return {
    location, config, info, weights, configJson, tokenizerConfig, chatTemplate, generationConfig, sideFiles,
    get tokenizerJson() {
      return readTokenizerJson();
    },
    stopTokenIds: stopTokenIds(info, readTokenizerJson, tokenizerConfig, generationConfig),
    dtypes,
    parameterCount: [...want.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0),
    notes,
  };
}

/**
 * generation_config eos ids, then config.json's, unique, in that order; the tokenizer's eos_token
 * (looked up in tokenizer.json, read only then) when neither file names one.
 */
export function stopTokenIds(info: HfModelInfo, tokenizerJson: () => Json, tokenizerConfig: Json, generationConfig: Json | null): number[] {
  const ids: number[] = [];
  const add = (v: unknown) => {
    for (const x of Array.isArray(v) ? v : [v]) if (Number.isInteger(x) && !ids.includes(x as number)) ids.push(x as number);
  };
  add(generationConfig?.eos_token_id);
  add(info.eosTokenIds);
  const eos = tokenizerConfig.eos_token;
  const content = typeof eos === 'string' ? eos : typeof eos === 'object' && eos !== null ? (eos as Json).content : undefined;
  if (typeof content === 'string' && ids.length === 0) {
    const tj = tokenizerJson();
    const added = Array.isArray(tj.added_tokens) ? (tj.added_tokens as Json[]) : [];
    const hit = added.find((t) => t.content === content);
    const vocab = (tj.model as Json | undefined)?.vocab;
    add(hit ? hit.id : typeof vocab === 'object' && vocab !== null && !Array.isArray(vocab) ? (vocab as Record<string, unknown>)[content] : undefined);
  }
  return ids;
}
