// Which chat format a tokenizer's template writes: frameworks that keep their own per-family strings
// (LLaMA-Factory's templates, torchtune's tokenizers, unsloth's default markers) pick theirs by it.
import type { ChatTokenizer } from '../types';
import type { ChatFamily } from './types';

export function detectFamily(tok: ChatTokenizer): ChatFamily {
  const has = (s: string) => tok.specialTexts.includes(s);
  if (has('<|start_header_id|>') && has('<|eot_id|>')) return 'llama3';
  if (has('<start_of_turn>') || tok.chatTemplate.includes('<start_of_turn>')) return 'gemma';
  if (tok.chatTemplate.includes('<｜Assistant｜>')) return 'deepseek';
  if (tok.chatTemplate.includes('<|im_start|>')) return tok.chatTemplate.includes('<think>') ? 'qwen3' : 'chatml';
  return 'unknown';
}
