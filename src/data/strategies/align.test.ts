import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { alignRows } from './align';

const grid = (rows: string[][]) => {
  const a = alignRows(rows);
  const out: (string | null)[][] = [];
  for (let c = 0; c < a.C; c++) out.push(rows.map((row, r) => (a.cells[c * a.R + r] < 0 ? null : row[a.cells[c * a.R + r]])));
  return out;
};

describe('alignRows', () => {
  it('lines identical rows up column by column', () => {
    expect(grid([['a', 'b'], ['a', 'b']])).toEqual([['a', 'a'], ['b', 'b']]);
  });
  it('gives a token only one row has a column of its own, and a missing cell where a row lacks one', () => {
    // Row 1 adds a BOS and lacks the trailing newline.
    expect(grid([['x', 'y', '\n'], ['<s>', 'x', 'y']])).toEqual([[null, '<s>'], ['x', 'x'], ['y', 'y'], ['\n', null]]);
  });
  it('never pairs different texts: a changed token is one missing and one inserted cell', () => {
    expect(grid([['a', 'b', 'c'], ['a', 'B', 'c']])).toEqual([['a', 'a'], ['b', null], [null, 'B'], ['c', 'c']]);
  });
  it('keeps every token of every row exactly once, in order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.constantFrom('a', 'b', 'c', '\n'), { maxLength: 12 }), { minLength: 1, maxLength: 4 }), (rows) => {
        const a = alignRows(rows);
        rows.forEach((row, r) => {
          const seen: number[] = [];
          for (let c = 0; c < a.C; c++) if (a.cells[c * a.R + r] >= 0) seen.push(a.cells[c * a.R + r]);
          expect(seen).toEqual(row.map((_, i) => i));
        });
        for (let c = 0; c < a.C; c++) {
          const b = a.cells[c * a.R];
          for (let r = 1; r < a.R; r++) {
            const k = a.cells[c * a.R + r];
            if (b >= 0 && k >= 0) expect(rows[r][k]).toBe(rows[0][b]);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
