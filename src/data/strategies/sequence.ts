// A sequence that a framework builds piece by piece (LLaMA-Factory, torchtune, LLMBook encode
// each piece of their own strings apart and concatenate the ids): every piece adds its text, its
// ids, a label rule and a reason, so the row's text is exactly what its ids decode to.
import { IGNORE_INDEX } from './common';
import type { StrategyOutput } from './types';

export interface Sequence {
  text: string;
  ids: number[];
  labels: number[]; // (T,) ids[i] or -100
  reasons: string[]; // (T,)
}

export const newSequence = (): Sequence => ({ text: '', ids: [], labels: [], reasons: [] });

/** Appends a piece: `trained(k)` and `why(k)` get the token's index k inside the piece. */
export function append(seq: Sequence, text: string, ids: readonly number[], trained: boolean | ((k: number) => boolean), why: string | ((k: number) => string)): void {
  seq.text += text;
  ids.forEach((id, k) => {
    seq.ids.push(id);
    seq.labels.push((typeof trained === 'function' ? trained(k) : trained) ? id : IGNORE_INDEX);
    seq.reasons.push(typeof why === 'function' ? why(k) : why);
  });
}

export const finish = (seq: Sequence, notes: string[]): StrategyOutput => ({ ...seq, notes, error: null });
