// End of turn, per assistant turn, from the full rendering: the token that closes assistant turn k
// is the first special token the template writes after that turn's content (before the next
// message's content). It differs between turns in some templates: gpt-oss (harmony) closes an
// earlier turn with <|end|> and the final one with <|return|>, so a one-turn probe would see only
// <|return|>. The token that opens every turn (the first special token before the first message,
// BOS aside) is not a closer: finding it after an answer means the template wrote no closer.
import type { Conversation } from './types';
import type { ContentWindow } from './spans';

export interface TurnCloser {
  /** [start, end) of the closing special token's text in the rendering. */
  start: number;
  end: number;
  text: string;
}

/** The special text starting earliest in rendered[from, limit) (the longest one at that place). */
function firstSpecial(rendered: string, from: number, limit: number, specialTexts: readonly string[]): TurnCloser | null {
  const span = rendered.slice(from, limit);
  let best: TurnCloser | null = null;
  for (const text of specialTexts) {
    const at = span.indexOf(text);
    if (at < 0) continue;
    if (best === null || from + at < best.start || (from + at === best.start && text.length > best.text.length)) {
      best = { start: from + at, end: from + at + text.length, text };
    }
  }
  return best;
}

/** Per message: the closer of an assistant turn, null for other messages and for a turn the
 *  template closes with no special token. The search starts after the turn's content window, and
 *  after any later character already attributed to the turn (charMessage: a reasoning or tool-call
 *  field the template writes after the content). */
export function findTurnClosers(
  rendered: string,
  conv: Conversation,
  windows: readonly ContentWindow[],
  specialTexts: readonly string[],
  bosText: string | null,
  charMessage: Int32Array | null = null,
): (TurnCloser | null)[] {
  const texts = specialTexts.filter((t) => t !== '' && t !== bosText);
  const opener = conv.length > 0 ? firstSpecial(rendered, 0, windows[0].start, texts) : null;
  return conv.map((m, k) => {
    if (m.role !== 'assistant') return null;
    let from = windows[k].end;
    const next = k + 1 < conv.length ? windows[k + 1].start : rendered.length;
    if (charMessage) for (let i = from; i < next; i++) if (charMessage[i] === k) from = i + 1;
    const closer = firstSpecial(rendered, from, next >= from ? next : rendered.length, texts);
    return closer !== null && closer.text !== opener?.text ? closer : null;
  });
}
