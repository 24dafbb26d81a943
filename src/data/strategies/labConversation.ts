// The fixed conversation every strategy's unit test labels by hand: a system prompt and two
// assistant turns (so "last turn only" rules and per-turn end tokens differ from "all turns").
import type { Conversation } from '../types';

export const LAB_CONV: Conversation = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: 'Four.' },
  { role: 'user', content: 'And 3+3?' },
  { role: 'assistant', content: 'Six.' },
];
