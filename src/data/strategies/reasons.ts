// The reason behind one label, in a few fixed phrasings, so every strategy words the same rule the
// same way (the token view's tooltip and the chips' data-reason show them).
import type { TokenRole } from '../types';

const ROLE_WORDS: Record<TokenRole, string> = {
  system: 'system',
  user: 'user',
  assistant: 'assistant',
  reasoning: 'assistant reasoning',
  tool_call: 'assistant tool call',
  tool: 'tool result',
  template: 'template markup',
};

export const reason = {
  /** The token's role decided it (trained or not, per the strategy's role rule). */
  role: (role: TokenRole, trained: boolean) => `role: ${ROLE_WORDS[role]} → ${trained ? 'trained' : 'masked'}`,
  markup: () => 'template markup → masked',
  endOfTurn: (trained: boolean, why = '') => `end-of-turn → ${trained ? 'trained' : 'masked'}${why ? ` (${why})` : ''}`,
  turnNotSelected: (what: string) => `turn not selected (${what}) → masked`,
  inGeneration: () => 'inside a {% generation %} block → trained',
  outsideGeneration: () => 'outside every {% generation %} block → masked',
  /** p = token position where the marker starts. */
  markerFound: (marker: string, p: number, trained: boolean) => `${trained ? 'after' : 'up to the end of'} ${marker} marker found at position ${p} → ${trained ? 'trained' : 'masked'}`,
  markerNotFound: (marker: string) => `${marker} marker not found → masked`,
  /** Before the first response marker / between an instruction marker and a response marker. */
  beforeMarker: (marker: string) => `before the ${marker} marker → masked`,
  insideSource: (n: number) => `inside the source length (${n} tokens) → masked`,
  afterSource: (n: number) => `after the source length (${n} tokens) → trained`,
  prompt: (trained: boolean, why: string) => `prompt (${why}) → ${trained ? 'trained' : 'masked'}`,
  completion: () => 'completion → trained',
  truncated: (maxLength: number) => `cut by truncation (max length ${maxLength}) → dropped`,
  padding: (why: string) => `padding → masked (${why})`,
  override: (to: 'train' | 'mask') => `hand override → ${to === 'train' ? 'trained' : 'masked'}`,
  trainAll: () => 'every token trains → trained',
  error: (message: string) => `the framework raises: ${message}`,
};
