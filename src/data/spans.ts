// Character-level attribution: which characters of a rendered chat were copied from which
// message's content. Method ("content diff"): render the FULL conversation once (R), then for
// each message k render it again with only message k's content replaced by one private-use
// character that occurs nowhere in R or in any message. Every character of R that depends on
// message k's content lies between the longest common prefix and the longest common suffix of
// the two renderings: the content window [p, e). The template may transform content (Llama-3
// trims it; Qwen3 splits "<think>…</think>" and re-emits the parts around inserted markup), so
// inside the window we keep only characters that align, in order, with the message's own content
// (substring check, else a Myers diff over code points). Characters never attributed to a message
// are template markup.
// Because every rendering is of the whole conversation, templates that render a turn
// differently depending on what follows it (Qwen3's empty think block on the final assistant
// turn) are handled: the empty block does not change when the content changes, so it stays outside
// the window and is template. No marker strings are searched for.
//
// Cost: one extra rendering per message. For long chats a faster equivalent is tried first: ONE
// rendering with every message's content replaced by its own probe character gives the template
// skeleton; R must then be skeleton pieces with each message's content (as is, or trimmed) in place
// of its probe. If any message does not fit that exactly and unambiguously (content printed
// twice, content-dependent template branches such as Qwen3's "</think>" split), the per-message
// method is used for the whole chat.
import type { Conversation } from './types';

export type Render = (conv: Conversation) => string;

export interface ContentWindow {
  /** [start, end) in R: first/last characters that change when the content changes. */
  start: number;
  end: number;
  /** Characters in the window attributed to the message. */
  matched: number;
  /** The window's text is the content itself, or a substring of it (trimmed / split). */
  verbatim: boolean;
}

export interface CharAttribution {
  /** (R.length,) message index per UTF-16 unit, -1 = template. */
  charMessage: Int32Array;
  windows: ContentWindow[];
  method: 'skeleton' | 'per-message';
}

/** `count` private-use characters (BMP, then plane 15) that occur in none of the given strings;
 *  null when there are not enough. */
export function unusedPrivateChars(texts: string[], count: number): string[] | null {
  const used = new Set<number>();
  for (const t of texts) {
    for (let i = 0; i < t.length; i++) {
      const c = t.codePointAt(i) as number;
      if (c > 0xffff) i++;
      if ((c >= 0xe000 && c <= 0xf8ff) || (c >= 0xf0000 && c <= 0xffffd)) used.add(c);
    }
  }
  const out: string[] = [];
  for (let c = 0xe000; c <= 0xffffd && out.length < count; c = c === 0xf8ff ? 0xf0000 : c + 1) {
    if (!used.has(c)) out.push(String.fromCodePoint(c));
  }
  return out.length === count ? out : null;
}

export function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Longest common suffix, never overlapping a prefix of length `notBefore` in either string. */
export function commonSuffix(a: string, b: string, notBefore: number): number {
  const n = Math.min(a.length, b.length) - notBefore;
  let i = 0;
  while (i < n && a.charCodeAt(a.length - 1 - i) === b.charCodeAt(b.length - 1 - i)) i++;
  return i;
}

/**
 * Myers O(ND) diff of code-point arrays a and b; returns a mask over a (1 = a[i] is matched to a
 * character of b in a longest common subsequence), or null when the edit distance exceeds maxD.
 */
export function lcsMaskMyers(a: number[], b: number[], maxD: number): Uint8Array | null {
  const N = a.length;
  const M = b.length;
  const off = maxD + 1;
  const V = new Int32Array(2 * maxD + 3); // furthest x on diagonal k = x - y, at V[off + k]
  const trace: Int32Array[] = []; // trace[d] = V before step d
  let found = -1;
  for (let d = 0; d <= maxD && found < 0; d++) {
    trace.push(V.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && V[off + k - 1] < V[off + k + 1]) ? V[off + k + 1] : V[off + k - 1] + 1;
      let y = x - k;
      while (x < N && y < M && a[x] === b[y]) {
        x++;
        y++;
      }
      V[off + k] = x;
      if (x >= N && y >= M) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return null;
  const mask = new Uint8Array(N);
  let x = N;
  let y = M;
  for (let d = found; d > 0; d--) {
    const v = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? k + 1 : k - 1;
    const prevX = v[off + prevK];
    const prevY = prevX - prevK;
    // Diagonal moves are matches.
    while (x > prevX && y > prevY) {
      mask[--x] = 1;
      y--;
    }
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    mask[--x] = 1;
    y--;
  }
  return mask;
}

/** Mask over the UTF-16 units of `w` of characters aligned with `content`. */
export function alignWindow(w: string, content: string): { mask: Uint8Array; verbatim: boolean } {
  const mask = new Uint8Array(w.length);
  if (w.length === 0) return { mask, verbatim: true };
  if (content.includes(w)) {
    mask.fill(1);
    return { mask, verbatim: true };
  }
  // Common prefix/suffix first (cheap), Myers on the middle (small for template edits).
  const p = commonPrefix(w, content);
  const s = commonSuffix(w, content, p);
  mask.fill(1, 0, p);
  mask.fill(1, w.length - s);
  const midW = w.slice(p, w.length - s);
  const midC = content.slice(p, content.length - s);
  const aCps = Array.from(midW, (c) => c.codePointAt(0) as number);
  const bCps = Array.from(midC, (c) => c.codePointAt(0) as number);
  const cpMask = lcsMaskMyers(aCps, bCps, Math.min(4096, aCps.length + bCps.length));
  if (cpMask) {
    let u = p;
    aCps.forEach((cp, i) => {
      const len = cp > 0xffff ? 2 : 1;
      if (cpMask[i]) mask.fill(1, u, u + len);
      u += len;
    });
  }
  return { mask, verbatim: false };
}

function claim(charMessage: Int32Array, start: number, mask: Uint8Array, k: number): number {
  let matched = 0;
  for (let i = 0; i < mask.length; i++) {
    // A window can only overlap another message's characters if the template's output elsewhere
    // depends on this content; the first claim wins (the overlap shows up as unmatched content).
    if (mask[i] && charMessage[start + i] === -1) {
      charMessage[start + i] = k;
      matched++;
    }
  }
  return matched;
}

/** Per-message content diff: one rendering per message. Always applicable. */
function perMessage(render: Render, conv: Conversation, R: string): CharAttribution {
  const charMessage = new Int32Array(R.length).fill(-1);
  const probes = unusedPrivateChars([R, ...conv.map((m) => m.content)], 1);
  if (!probes) throw new Error('Every private-use character occurs in this conversation; cannot attribute roles.');
  let prevEnd = 0;
  const windows = conv.map((msg, k): ContentWindow => {
    // The message keeps its other fields: only the content changes. A message with no content (a
    // tool call alone) gets an empty window where a content would go; when the template refuses
    // one there (gpt-oss: content and thinking beside a tool call), where the previous window ended.
    let Rk: string;
    try {
      Rk = render(conv.map((m, j) => (j === k ? { ...m, noContent: undefined, content: probes[0] } : m)));
    } catch (e) {
      if (msg.content !== '') throw e;
      return { start: prevEnd, end: prevEnd, matched: 0, verbatim: true };
    }
    const p = commonPrefix(R, Rk);
    const s = commonSuffix(R, Rk, p);
    const end = Math.max(p, R.length - s);
    const { mask, verbatim } = alignWindow(R.slice(p, end), msg.content);
    prevEnd = end;
    return { start: p, end, matched: claim(charMessage, p, mask, k), verbatim };
  });
  return { charMessage, windows, method: 'per-message' };
}

/** Skeleton method: one rendering with every content replaced by its own probe; null when the
 *  chat does not fit the skeleton exactly and unambiguously. */
function skeleton(render: Render, conv: Conversation, R: string): CharAttribution | null {
  if (conv.some((m) => m.content === '')) return null;
  const probes = unusedPrivateChars([R, ...conv.map((m) => m.content)], conv.length);
  if (!probes) return null;
  const S = render(conv.map((m, k) => ({ ...m, content: probes[k] })));
  const at = probes.map((p) => S.indexOf(p));
  if (at.some((x, k) => x < 0 || S.indexOf(probes[k], x + 1) >= 0)) return null;
  const order = conv.map((_, k) => k).sort((a, b) => at[a] - at[b]);
  const charMessage = new Int32Array(R.length).fill(-1);
  const windows: ContentWindow[] = new Array(conv.length);
  let sPos = 0; // position in S
  let rPos = 0; // position in R
  for (let o = 0; o < order.length; o++) {
    const k = order[o];
    const piece = S.slice(sPos, at[k]);
    if (!R.startsWith(piece, rPos)) return null;
    rPos += piece.length;
    sPos = at[k] + probes[k].length;
    const next = o + 1 < order.length ? S.slice(sPos, at[order[o + 1]]) : S.slice(sPos);
    const isLast = o + 1 === order.length;
    const c = conv[k].content;
    const fits = [...new Set([c, c.trim(), c.trimStart(), c.trimEnd()])].filter(
      (w) => R.startsWith(w, rPos) && (isLast ? R.length === rPos + w.length + next.length && R.endsWith(next) : R.startsWith(next, rPos + w.length)),
    );
    if (fits.length !== 1) return null;
    const w = fits[0];
    charMessage.fill(k, rPos, rPos + w.length);
    windows[k] = { start: rPos, end: rPos + w.length, matched: w.length, verbatim: true };
    rPos += w.length;
  }
  return { charMessage, windows, method: 'skeleton' };
}

/** Attribute every character of R = render(conv) to a message or to the template. */
export function attributeChars(render: Render, conv: Conversation, R: string, method: 'auto' | 'per-message' = 'auto'): CharAttribution {
  return (method === 'auto' ? skeleton(render, conv, R) : null) ?? perMessage(render, conv, R);
}
