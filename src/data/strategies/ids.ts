// The strategy ids and the lab's row limit, without the strategies' code (the store validates
// saved state with them; the strategies themselves run in the data worker).
import type { StrategyId } from './types';

export const STRATEGY_IDS: readonly StrategyId[] = [
  'template-spans',
  'trl-assistant-only',
  'trl-completion-only',
  'unsloth-responses-only',
  'trl-completion-collator',
  'axolotl-chat-template',
  'llamafactory',
  'torchtune',
  'llmbook',
];

export const MAX_LAB_ROWS = 6;
