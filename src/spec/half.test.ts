import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bf16Bits, bf16Value, f16Bits, f16Value, fromHalfWords, toHalfWords } from './half';
import { roundF16 } from '../reference/ops';

describe('16-bit storage', () => {
  it('f16: known bit patterns, ties to even, clamp, subnormals', () => {
    expect(f16Bits(1)).toBe(0x3c00);
    expect(f16Bits(-2)).toBe(0xc000);
    expect(f16Bits(65504)).toBe(0x7bff);
    expect(f16Bits(1e9)).toBe(0x7bff);
    expect(f16Bits(2 ** -24)).toBe(1);
    expect(f16Bits(2 ** -25)).toBe(0); // a tie, to even (0)
    expect(f16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10: to even
    expect(f16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f16Value(f16Bits(0.1))).toBeCloseTo(0.0999755859375, 12);
  });

  it('f16 agrees with the reference rounding (roundF16) on any f32', () => {
    fc.assert(fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (v) => {
      expect(f16Value(f16Bits(v)) + 0).toBe(roundF16(Math.fround(v)) + 0); // +0: -0 and 0 alike
    }), { numRuns: 3000 });
  });

  it('bf16: the top 16 bits, rounded to nearest even', () => {
    expect(bf16Bits(1)).toBe(0x3f80);
    expect(bf16Value(bf16Bits(3.140625))).toBe(3.140625);
    fc.assert(fc.property(fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e30), max: Math.fround(1e30) }), (v) => {
      const r = bf16Value(bf16Bits(v));
      // Within half a unit in the last of 8 mantissa bits.
      expect(Math.abs(r - Math.fround(v))).toBeLessThanOrEqual(Math.abs(Math.fround(v)) * 2 ** -8 + 2 ** -134); // 2^-134: half of bf16's subnormal step
    }), { numRuns: 3000 });
  });

  it('packs two per word, low half first, odd lengths padded', () => {
    const x = Float32Array.of(1, -2, 0.5);
    const w = toHalfWords(x, 'f16');
    expect(Array.from(w)).toEqual([(0x3c00 | (0xc000 << 16)) >>> 0, 0x3800]);
    expect(Array.from(fromHalfWords(w, 3, 'f16'))).toEqual([1, -2, 0.5]);
    expect(Array.from(fromHalfWords(toHalfWords(x, 'bf16'), 3, 'bf16'))).toEqual([1, -2, 0.5]);
  });
});
