// Token ↔ character offsets for a rendered chat (transformers.js gives no offsets).
// The token ids are split into runs: each added token (<|im_start|>, <think>, …) is matched
// verbatim in the text; the model tokens between two added tokens must reproduce, byte for byte,
// the UTF-8 of the tokenizer-normalized text between them. We check that, then walk both byte
// streams together. The unit of text is a normalization cluster (a code point, or a base char with
// the combining marks that NFC may merge into it), because normalization can change a cluster's
// bytes but never moves bytes between clusters.
// Byte-level BPE may split one character's bytes over several tokens. A cluster's text goes to
// the token holding its LAST byte, so token texts concatenate exactly to the rendered text and a
// token holding only leading bytes of a character has empty text (start === end). Every token
// also records all clusters it touches (coverStart..coverEnd), which is what roles are read from.
import type { ChatTokenizer } from './types';

export interface TokenSpan {
  /** rendered.slice(start, end) is the token's text. */
  start: number;
  end: number;
  /** UTF-16 range of every cluster the token has at least one byte of (⊇ [start, end)). */
  coverStart: number;
  coverEnd: number;
}

const utf8 = new TextEncoder();

/** Combining marks and Hangul medial/final jamo can compose with the character before them. */
const JOINS_PREVIOUS = /[\p{M}\u1160-\u11FF]/u;
/** Characters below U+0300 are the same in every Unicode normal form. */
const NORMAL_BELOW = 0x300;

function utf8Length(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

function utf8LengthOf(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i) as number;
    if (cp > 0xffff) i++;
    n += utf8Length(cp);
  }
  return n;
}

/**
 * Split s into units whose normalized forms concatenate to normalize(s), with each unit's
 * normalized UTF-8 length. Units start as a character plus the marks that may compose with it;
 * such a cluster is split back into code points when normalizing them one by one gives the same
 * result (e.g. "\n" + U+0301 never composes, so the mark is not glued to template markup). One unit
 * for the whole text if even that is not exact.
 */
function units(s: string, normalize: (t: string) => string, identity: boolean): { starts: number[]; bytes: number[] } {
  const starts: number[] = [];
  const bytes: number[] = [];
  if (identity) {
    for (let i = 0; i < s.length; i++) {
      const cp = s.codePointAt(i) as number;
      starts.push(i);
      bytes.push(utf8Length(cp));
      if (cp > 0xffff) i++;
    }
    starts.push(s.length);
    return { starts, bytes };
  }
  let joined = '';
  let i = 0;
  while (i < s.length) {
    const cp = s.codePointAt(i) as number;
    let e = i + (cp > 0xffff ? 2 : 1);
    while (e < s.length) {
      const next = s.codePointAt(e) as number;
      if (next < NORMAL_BELOW || !JOINS_PREVIOUS.test(String.fromCodePoint(next))) break;
      e += next > 0xffff ? 2 : 1;
    }
    if (e === i + 1 && cp < NORMAL_BELOW) {
      joined += s[i];
      starts.push(i);
      bytes.push(utf8Length(cp));
      i = e;
      continue;
    }
    const whole = normalize(s.slice(i, e));
    joined += whole;
    const cps: number[] = [];
    let separately = '';
    for (let k = i; k < e; k += (s.codePointAt(k) as number) > 0xffff ? 2 : 1) {
      cps.push(k);
      separately += normalize(String.fromCodePoint(s.codePointAt(k) as number));
    }
    if (cps.length > 1 && separately === whole) {
      for (const k of cps) {
        starts.push(k);
        bytes.push(utf8LengthOf(normalize(String.fromCodePoint(s.codePointAt(k) as number))));
      }
    } else {
      starts.push(i);
      bytes.push(utf8LengthOf(whole));
    }
    i = e;
  }
  starts.push(s.length);
  if (joined === normalize(s)) return { starts, bytes };
  return { starts: [0, s.length], bytes: [utf8LengthOf(normalize(s))] };
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

export function tokenSpans(tok: ChatTokenizer, rendered: string, ids: number[]): TokenSpan[] {
  const spans: TokenSpan[] = new Array(ids.length);
  const identity = tok.normalize('\u00e9e\u0301\u1100\u1161') === '\u00e9e\u0301\u1100\u1161';
  let r = 0; // UTF-16 position in rendered
  let i = 0;
  while (i < ids.length) {
    const addedText = tok.addedTokenContent(ids[i]);
    if (addedText !== null) {
      if (!rendered.startsWith(addedText, r)) {
        throw new Error(`${tok.label}: token ${i} (${JSON.stringify(addedText)}) does not match the rendered text at char ${r}.`);
      }
      spans[i] = { start: r, end: r + addedText.length, coverStart: r, coverEnd: r + addedText.length };
      r += addedText.length;
      i++;
      continue;
    }
    let j = i;
    while (j < ids.length && tok.addedTokenContent(ids[j]) === null) j++;
    // The run ends where the next added token's text starts, at the first such place the run's
    // bytes reach: the same text may come earlier as plain characters (encodePlain).
    let runBytes = 0;
    for (let t = i; t < j; t++) runBytes += tok.tokenBytes(ids[t]).length;
    let runEnd = rendered.length;
    if (j < ids.length) {
      const next = tok.addedTokenContent(ids[j]) as string;
      runEnd = rendered.indexOf(next, r);
      while (runEnd >= 0 && utf8LengthOf(identity ? rendered.slice(r, runEnd) : tok.normalize(rendered.slice(r, runEnd))) < runBytes) {
        runEnd = rendered.indexOf(next, runEnd + 1);
      }
    }
    if (runEnd < 0) throw new Error(`${tok.label}: token ${j} is not found in the rendered text after char ${r}.`);
    const text = rendered.slice(r, runEnd);

    // Unit byte ends (cumulative, over normalized bytes) and token byte ends.
    const { starts, bytes } = units(text, tok.normalize, identity);
    const nC = starts.length - 1;
    const clusterByteEnd = new Float64Array(nC);
    let acc = 0;
    for (let c = 0; c < nC; c++) clusterByteEnd[c] = acc += bytes[c];
    const tokenByteEnd = new Float64Array(j - i);
    const got: Uint8Array[] = [];
    let tacc = 0;
    for (let t = i; t < j; t++) {
      const b = tok.tokenBytes(ids[t]);
      got.push(b);
      tokenByteEnd[t - i] = tacc += b.length;
    }
    const want = utf8.encode(identity ? text : tok.normalize(text));
    const have = concat(got);
    if (want.length !== acc || want.length !== have.length || firstDifference(want, have) !== want.length) {
      const at = firstDifference(want, have);
      throw new Error(
        `${tok.label}: tokens ${i}–${j - 1} do not reassemble the rendered text (first differing byte ${at} of the run starting at char ${r}). ` +
          'Attribution needs byte-level BPE or byte-fallback tokens and a Unicode-normalization-only normalizer.',
      );
    }

    // Cluster c goes to the token holding its last byte: the first t with tokenByteEnd[t] ≥ clusterByteEnd[c].
    const nT = j - i;
    let c = 0;
    let pos = 0; // UTF-16 offset in `text` where the next token's text starts
    let touch = 0; // first cluster that may be touched by the current token
    for (let t = 0; t < nT; t++) {
      const tStartByte = t === 0 ? 0 : tokenByteEnd[t - 1];
      const tEndByte = tokenByteEnd[t];
      const ownedFrom = c;
      while (c < nC && clusterByteEnd[c] <= tEndByte) c++;
      const start = ownedFrom < c ? starts[ownedFrom] : pos;
      const end = ownedFrom < c ? starts[c] : pos;
      pos = end;
      // Touched: clusters with bytes in [tStartByte, tEndByte), i.e. end after tStartByte and
      // start before tEndByte.
      while (touch < nC && clusterByteEnd[touch] <= tStartByte) touch++;
      let last = touch;
      while (last + 1 < nC && clusterByteEnd[last] < tEndByte) last++;
      spans[i + t] = { start: r + start, end: r + end, coverStart: r + starts[touch], coverEnd: r + starts[Math.min(last + 1, nC)] };
    }
    r = runEnd;
    i = j;
  }
  if (r !== rendered.length) {
    throw new Error(`${tok.label}: the tokens cover ${r} of ${rendered.length} rendered characters; the rest was lost in tokenization.`);
  }
  return spans;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
