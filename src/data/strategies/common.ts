// Shared steps of the strategies: character spans for any framework's ids, truncation, checks.
import type { ChatTokenizer } from '../types';
import { tokenSpans } from '../offsets';
import { IGNORE_INDEX } from '../labels';
import { reason, said } from './reasons';
import type { StrategyOutput } from './types';
import { msg } from '../../spec/message';

export { IGNORE_INDEX };

/** Char spans of `ids` in `text`; when the ids do not map onto the text by bytes (pieces encoded
 *  apart, a SentencePiece "▁" inserted at a piece boundary), each token's own decoded bytes. */
export function textSpans(tok: ChatTokenizer, text: string, ids: readonly number[]): { text: string; starts: Int32Array; ends: Int32Array; exact: boolean } {
  const T = ids.length;
  const starts = new Int32Array(T);
  const ends = new Int32Array(T);
  try {
    const spans = tokenSpans(tok, text, ids as number[]);
    spans.forEach((s, i) => {
      starts[i] = s.start;
      ends[i] = s.end;
    });
    return { text, starts, ends, exact: true };
  } catch {
    // Decode token by token (a streaming decoder keeps a character split over tokens whole).
    const dec = new TextDecoder('utf-8', { fatal: false });
    const space = tok.normalize(' '); // SentencePiece's "▁" reads as a space
    let out = '';
    for (let i = 0; i < T; i++) {
      starts[i] = out.length;
      const piece = dec.decode(tok.tokenBytes(ids[i]), { stream: true });
      out += space === ' ' ? piece : piece.split(space).join(' ');
      ends[i] = out.length;
    }
    return { text: out, starts, ends, exact: false };
  }
}

/** Right truncation to maxLength, as HF tokenizers' truncation=True does (TRL, torchtune, LLMBook):
 *  the tokens past the cut are kept in the row, masked, with the reason. */
export function truncateRight(out: StrategyOutput, maxLength: number): StrategyOutput {
  if (out.ids.length <= maxLength) return out;
  const labels = out.labels.slice();
  const reasons = out.reasons.slice();
  for (let i = maxLength; i < labels.length; i++) {
    labels[i] = IGNORE_INDEX;
    reasons[i] = reason.truncated(maxLength);
  }
  return { ...out, labels, reasons, notes: [...out.notes, said(msg('lab.note.cut', { n: out.ids.length - maxLength, maxLength }))] };
}

/** Labels are the token id or -100, nothing else (every strategy's invariant). */
export function checkLabels(ids: readonly number[], labels: readonly number[]): void {
  if (ids.length !== labels.length) throw new Error(`labels have ${labels.length} entries for ${ids.length} tokens`);
  for (let i = 0; i < ids.length; i++) {
    if (labels[i] !== IGNORE_INDEX && labels[i] !== ids[i]) throw new Error(`label ${labels[i]} at ${i} is neither the token id ${ids[i]} nor -100`);
  }
}

/** An output where the framework raises: no ids of its own beyond `ids`, every label -100. */
export function raised(text: string, ids: number[], message: string, notes: string[] = []): StrategyOutput {
  return { text, ids, labels: ids.map(() => IGNORE_INDEX), reasons: ids.map(() => reason.error(message)), notes, error: message };
}
