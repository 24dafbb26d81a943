// Rows of different frameworks have their own token ids (LLaMA-Factory, torchtune and LLMBook build
// the sequence themselves), so they are aligned on their token texts, not by index: row 0 is the
// base, every other row is diffed against it (Myers diff, jsdiff's diffArrays). A token that a row
// has and the base lacks gets a column of its own (inserted); a base token the row lacks is a
// missing cell. Never forced onto the other row's ids.
import { diffArrays } from 'diff';

/** Columns × rows: cells[c * R + r] = token index of row r in column c, or -1 (no token there). */
export interface Alignment {
  R: number;
  C: number;
  cells: Int32Array; // (C, R)
  /** Rows that were too different to diff within the budget: aligned by position instead. */
  positional: number[];
}

/** Edits beyond this fall back to positional alignment (a diff of two unrelated 4k-token rows). */
const MAX_EDITS = 4000;

/** Base index → row index (or -1), and, before each base index j (0..n0), the row's inserted tokens. */
function matchRow(base: readonly string[], row: readonly string[]): { match: Int32Array; inserted: number[][] } | null {
  const n0 = base.length;
  const match = new Int32Array(n0).fill(-1);
  const inserted: number[][] = Array.from({ length: n0 + 1 }, () => []);
  // Common prefix and suffix first: rows of one tokenizer mostly agree, and the diff stays small.
  let pre = 0;
  while (pre < n0 && pre < row.length && base[pre] === row[pre]) match[pre] = pre++;
  let suf = 0;
  while (suf < n0 - pre && suf < row.length - pre && base[n0 - 1 - suf] === row[row.length - 1 - suf]) {
    match[n0 - 1 - suf] = row.length - 1 - suf;
    suf++;
  }
  const a = base.slice(pre, n0 - suf);
  const b = row.slice(pre, row.length - suf);
  if (a.length === 0 && b.length === 0) return { match, inserted };
  const parts = diffArrays(a, b, { maxEditLength: MAX_EDITS });
  if (!parts) return null;
  let i = pre;
  let k = pre;
  for (const p of parts) {
    const n = p.count ?? p.value.length;
    if (p.added) for (let q = 0; q < n; q++) inserted[i].push(k++);
    else if (p.removed) i += n;
    else for (let q = 0; q < n; q++) match[i++] = k++;
  }
  return { match, inserted };
}

export function alignRows(rows: readonly (readonly string[])[]): Alignment {
  const R = rows.length;
  if (R === 0) return { R, C: 0, cells: new Int32Array(0), positional: [] };
  const base = rows[0];
  const positional: number[] = [];
  const matched = rows.map((row, r) => {
    if (r === 0) return { match: Int32Array.from(base, (_, i) => i), inserted: Array.from({ length: base.length + 1 }, () => [] as number[]) };
    const m = matchRow(base, row);
    if (m) return m;
    positional.push(r);
    const match = Int32Array.from(base, (_, i) => (i < row.length ? i : -1));
    const inserted = Array.from({ length: base.length + 1 }, () => [] as number[]);
    for (let k = base.length; k < row.length; k++) inserted[base.length].push(k);
    return { match, inserted };
  });
  const cols: number[] = [];
  for (let j = 0; j <= base.length; j++) {
    for (let r = 1; r < R; r++) {
      for (const k of matched[r].inserted[j]) {
        for (let q = 0; q < R; q++) cols.push(q === r ? k : -1);
      }
    }
    if (j < base.length) for (let r = 0; r < R; r++) cols.push(matched[r].match[j]);
  }
  return { R, C: cols.length / R, cells: Int32Array.from(cols), positional };
}
