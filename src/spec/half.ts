/**
 * 16-bit storage of f32 values, bit for bit as the GPU holds them: two halves per u32 word,
 * element 2i in the low half (WGSL's pack2x16float layout, matmul.wgsl B_F16 / B_BF16).
 *   f16   IEEE binary16, round to nearest even, clamped to ±65504 first (as pack_f16.wgsl does).
 *   bf16  bfloat16: the top 16 bits of the f32, round to nearest even (f32's range, 8 mantissa bits).
 * A frozen LoRA base is converted here once, on the CPU, and uploaded as words.
 */
export type HalfDtype = 'f16' | 'bf16';

const F16_MAX = 65504;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f16 bit pattern of v (round to nearest even, clamped to ±65504). */
export function f16Bits(v: number): number {
  f32[0] = Number.isNaN(v) ? v : Math.min(F16_MAX, Math.max(-F16_MAX, v));
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const e32 = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (e32 === 0xff) return sign | 0x7e00; // NaN (infinities were clamped)
  const e = e32 - 127 + 15;
  if (e <= 0) {
    // Subnormal (or zero): shift the mantissa with its implicit bit down to 2^-24 units.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    const half = 2 ** (shift - 1);
    let m = Math.floor(full / 2 ** shift);
    const rem = full - m * 2 ** shift;
    if (rem > half || (rem === half && (m & 1) === 1)) m++;
    return sign | m; // a carry into bit 10 is the smallest normal, correctly encoded
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry rounds up the exponent
  return h;
}

/** The value of an f16 bit pattern. */
export function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** The bf16 bit pattern of v (round to nearest even). */
export function bf16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40; // quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The value of a bf16 bit pattern. */
export function bf16Value(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** x as packed halves: ceil(n / 2) words. */
export function toHalfWords(x: ArrayLike<number>, dtype: HalfDtype): Uint32Array {
  const bits = dtype === 'f16' ? f16Bits : bf16Bits;
  const out = new Uint32Array(Math.ceil(x.length / 2));
  for (let i = 0; i < x.length; i += 2) out[i >> 1] = (bits(x[i]) | ((i + 1 < x.length ? bits(x[i + 1]) : 0) << 16)) >>> 0;
  return out;
}

/** The n values packed in `words` (toHalfWords' inverse, exactly the rounded values). */
export function fromHalfWords(words: Uint32Array, n: number, dtype: HalfDtype): Float32Array {
  const value = dtype === 'f16' ? f16Value : bf16Value;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = value((words[i >> 1] >>> ((i & 1) * 16)) & 0xffff);
  return out;
}
