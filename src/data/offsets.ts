// Token ↔ character offsets for a rendered chat (transformers.js gives no offsets).
// The token ids are split into runs: each added token (<|im_start|>, <think>, …) is matched
// verbatim in the text; the model tokens between two added tokens must reproduce, byte for byte,
// the UTF-8 of the tokenizer-normalized text between them. We check that, then walk both byte
// streams together. The unit of text is a normalization cluster (a code point, or a base char with
// the combining marks that NFC may merge into it), because normalization can change a cluster's
// bytes but never moves bytes between clusters.
// SentencePiece tokenizers (Gemma, Llama 2, Mistral) normalize a space to "▁" (tok.normalize does
// too) and may insert a "▁" at the start of a run (Prepend, Metaspace: tok.insertedPrefix), e.g.
// after every special token: such inserted bytes belong to no character. A token made only of them
// has empty text and covers the character after it. Non-special added tokens made of normalized
// spaces (Gemma's "▁▁") come out of the model for runs of spaces, so they map like model tokens.
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
/** Characters below U+0300 are the same in every Unicode normal form (other steps, such as a
 *  space → "▁", rewrite them one by one: see lowByteTable). */
const NORMAL_BELOW = 0x300;

/** One table per tokenizer (its normalize function), built on first use. */
const lowByteTables = new WeakMap<(t: string) => string, Int32Array>();

/** Normalized UTF-8 length of each character below NORMAL_BELOW; -1 where normalizing it alone
 *  may differ from normalizing it in context (then it is normalized with its neighbours). */
function lowByteTable(normalize: (t: string) => string): Int32Array {
  const cached = lowByteTables.get(normalize);
  if (cached) return cached;
  const table = new Int32Array(NORMAL_BELOW);
  lowByteTables.set(normalize, table);
  for (let cp = 0; cp < NORMAL_BELOW; cp++) {
    const ch = String.fromCharCode(cp);
    const n = normalize(ch);
    table[cp] = n === ch || normalize(`a${ch}a`) === `${normalize('a')}${n}${normalize('a')}` ? utf8LengthOf(n) : -1;
  }
  return table;
}

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
function units(s: string, normalize: (t: string) => string, identity: boolean, lowBytes: Int32Array | null): { starts: number[]; bytes: number[] } {
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
    if (e === i + 1 && cp < NORMAL_BELOW && lowBytes !== null && lowBytes[cp] >= 0) {
      joined += lowBytes[cp] === utf8Length(cp) ? s[i] : normalize(s[i]);
      starts.push(i);
      bytes.push(lowBytes[cp]);
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

/** Text that every supported normalizer changes (a space, NFC/NFD pairs, case). */
const NORMALIZER_PROBE = '\u00e9e\u0301\u1100\u1161 A';

function startsWithBytes(a: Uint8Array, at: number, b: Uint8Array): boolean {
  if (at + b.length > a.length) return false;
  for (let i = 0; i < b.length; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

/**
 * Align a run's token bytes (`have`) with the normalized text's bytes (`want`), where `have` may
 * hold whole copies of `prefix` that the tokenizer inserted: first at the start of the run (where
 * Prepend and Metaspace write it), then wherever the text does not go on with it (a run encoded
 * in pieces, as encodeChat does, gets one per piece). Returns, per byte of `have`, whether it was
 * inserted; null when the two cannot be aligned that way.
 */
function alignRun(want: Uint8Array, have: Uint8Array, prefix: Uint8Array): Uint8Array | null {
  const extra = have.length - want.length;
  if (extra < 0 || (extra > 0 && (prefix.length === 0 || extra % prefix.length !== 0))) return null;
  const attempt = (insertAtStart: boolean): Uint8Array | null => {
    const inserted = new Uint8Array(have.length);
    let left = prefix.length === 0 ? 0 : extra / prefix.length;
    let h = 0;
    let w = 0;
    if (insertAtStart) {
      if (left === 0 || !startsWithBytes(have, 0, prefix)) return null;
      inserted.fill(1, 0, prefix.length);
      h = prefix.length;
      left--;
    }
    while (h < have.length) {
      if (left > 0 && startsWithBytes(have, h, prefix) && !startsWithBytes(want, w, prefix)) {
        inserted.fill(1, h, h + prefix.length);
        h += prefix.length;
        left--;
      } else if (w < want.length && have[h] === want[w]) {
        h++;
        w++;
      } else return null;
    }
    return w === want.length && left === 0 ? inserted : null;
  };
  return attempt(true) ?? attempt(false);
}

export function tokenSpans(tok: ChatTokenizer, rendered: string, ids: number[]): TokenSpan[] {
  const spans: TokenSpan[] = new Array(ids.length);
  const identity = tok.normalize(NORMALIZER_PROBE) === NORMALIZER_PROBE;
  const normalized = (text: string) => (identity ? text : tok.normalize(text));
  const lowBytes = identity ? null : lowByteTable(tok.normalize);
  const prefix = utf8.encode(tok.insertedPrefix);
  const space = tok.normalize(' ');
  const literal = (id: number): string | null => {
    const c = tok.addedTokenContent(id);
    return c !== null && (tok.isSpecial(id) || space === ' ' || !c.includes(space)) ? c : null;
  };
  let r = 0; // UTF-16 position in rendered
  let i = 0;
  while (i < ids.length) {
    const addedText = literal(ids[i]);
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
    while (j < ids.length && literal(ids[j]) === null) j++;
    const got: Uint8Array[] = [];
    for (let t = i; t < j; t++) got.push(tok.tokenBytes(ids[t]));
    const have = concat(got);

    // The run ends where the next added token's text starts, at the first such place whose
    // normalized text the run's bytes reproduce: the same text may come earlier as plain
    // characters (encodePlain).
    const next = j < ids.length ? (literal(ids[j]) as string) : null;
    let runEnd = next === null ? rendered.length : rendered.indexOf(next, r);
    let want: Uint8Array | null = null;
    let inserted: Uint8Array | null = null;
    let closest: { want: Uint8Array; end: number } | null = null;
    while (runEnd >= 0) {
      const w = utf8.encode(normalized(rendered.slice(r, runEnd)));
      if (w.length > have.length) break;
      closest = { want: w, end: runEnd };
      inserted = alignRun(w, have, prefix);
      if (inserted) {
        want = w;
        break;
      }
      runEnd = next === null ? -1 : rendered.indexOf(next, runEnd + 1);
    }
    if (want === null || inserted === null) {
      const text = rendered.slice(r, closest?.end ?? (next === null ? rendered.length : r));
      const at = closest ? firstDifference(closest.want, have) : 0;
      throw new Error(
        `${tok.label}: tokens ${i}–${j - 1} do not reassemble the rendered text ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)} ` +
          `at char ${r} (first differing byte ${at}; the tokens decode to ${JSON.stringify(new TextDecoder().decode(have.slice(0, 60)))}). ` +
          `Attribution models this tokenizer as: ${tok.pipeline}${tok.insertedPrefix ? `, inserting ${JSON.stringify(tok.insertedPrefix)} at the start of a run` : ''}. ` +
          'A step that drops, moves or rewrites text otherwise (or an unknown-token <unk>) cannot be mapped back to characters.',
      );
    }
    const text = rendered.slice(r, runEnd);

    // Unit byte ends (cumulative, over normalized bytes) and token byte ends in the same
    // coordinates (inserted bytes skipped).
    const { starts, bytes } = units(text, tok.normalize, identity, lowBytes);
    const nC = starts.length - 1;
    const clusterByteEnd = new Float64Array(nC);
    let acc = 0;
    for (let c = 0; c < nC; c++) clusterByteEnd[c] = acc += bytes[c];
    if (acc !== want.length) {
      throw new Error(`${tok.label}: the normalized text at char ${r} has ${want.length} bytes but its characters ${acc} (${tok.pipeline}); attribution cannot split it by character.`);
    }
    const tokenByteEnd = new Float64Array(j - i);
    let h = 0;
    let tacc = 0;
    for (let t = 0; t < j - i; t++) {
      for (let e = h + got[t].length; h < e; h++) if (!inserted[h]) tacc++;
      tokenByteEnd[t] = tacc;
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
