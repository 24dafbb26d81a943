import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, parseSafetensors, SafetensorsError, serializeSafetensors,
} from './safetensors';
import { hfParameterShapes, llamaConfigFromHf } from './hfConfig';

const f32 = (xs: number[]) => new Float32Array(xs);
const bitsEqual = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && new Uint32Array(a.buffer, a.byteOffset, a.length).every((x, i) => x === new Uint32Array(b.buffer, b.byteOffset, b.length)[i]);

/** A header + data built by hand, so the reader is tested against the format, not against our writer. */
function handmade(header: object, data: Uint8Array, pad = 0): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('half-precision conversion', () => {
  it('F16: exact for representable values, subnormals, ±0, ±Inf, NaN', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff],
      [2 ** -14, 0x0400], [2 ** -24, 0x0001], [1023 * 2 ** -24, 0x03ff], [-(2 ** -24), 0x8001],
      [Infinity, 0x7c00], [-Infinity, 0xfc00], [1 + 2 ** -10, 0x3c01],
    ];
    for (const [x, bits] of cases) {
      expect(f32ToF16Bits(x)).toBe(bits);
      expect(Object.is(f16BitsToF32(bits), x)).toBe(true);
    }
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
  });

  it('F16: rounds to nearest even, overflows to Inf, underflows to 0', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, even mantissa stays
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd mantissa rounds up
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // halfway to the next binade: ties to even = Inf
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 subnormal units: tie to even
    expect(f32ToF16Bits(-(2 ** -30))).toBe(0x8000);
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the first normal
  });

  it('F16: every one of the 65536 bit patterns survives f16 → f32 → f16 (NaNs stay NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const x = f16BitsToF32(h);
      if (Number.isNaN(x)) expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(x)))).toBe(true);
      else expect(f32ToF16Bits(x)).toBe(h);
    }
  });

  it('BF16: every one of the 65536 bit patterns survives bf16 → f32 → bf16, and rounding is to nearest even', () => {
    for (let h = 0; h < 65536; h++) {
      const x = bf16BitsToF32(h);
      if (Number.isNaN(x)) expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(x)))).toBe(true);
      else expect(f32ToBf16Bits(x)).toBe(h);
    }
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie → even (up)
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // max float32 rounds to Inf
    expect(bf16BitsToF32(0x0001)).toBe(2 ** -133); // float32 subnormal, exact
  });
});

describe('safetensors round trip', () => {
  it('F32/F16/BF16 tensors and __metadata__ survive serialise → parse', () => {
    const special = [0, -0, 1, -1.5, Infinity, -Infinity, NaN, 2 ** -24, 65504, 3.140625];
    const a = f32([1.5, -2.25, 3.4028234663852886e38, 1e-45, -0, NaN, Infinity, 0.1]);
    const h = f32(special);
    const bf = f32([...special.slice(0, 8), 2 ** -133, -(2 ** 127)]);
    const bytes = serializeSafetensors([
      { name: 'a', shape: [2, 4], data: a },
      { name: 'half', shape: [10], data: h, dtype: 'F16' },
      { name: 'brain', shape: [5, 2], data: bf, dtype: 'BF16' },
      { name: 'scalar', shape: [], data: f32([7]) },
      { name: 'empty', shape: [0, 3], data: f32([]) },
    ], { format: 'pt', note: 'ünïcode ✓' });
    const hdrLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + hdrLen) % 8).toBe(0);
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect(file.tensors.map((t) => t.name)).toEqual(['a', 'half', 'brain', 'scalar', 'empty']);
    expect(bitsEqual(file.getFloat32('a'), a)).toBe(true); // bit-exact including -0 and NaN
    expect(Array.from(file.getFloat32('half'))).toEqual(special); // all representable in F16
    expect(Array.from(file.getFloat32('brain'))).toEqual(Array.from(bf));
    expect(file.info('brain')).toMatchObject({ dtype: 'BF16', shape: [5, 2] });
    expect(Array.from(file.getFloat32('scalar'))).toEqual([7]);
    expect(file.getFloat32('empty').length).toBe(0);
  });

  it('random F32 data is bit-exact; F16/BF16 data equals per-value rounding', () => {
    fc.assert(fc.property(fc.array(fc.float({ noNaN: false }), { minLength: 1, maxLength: 40 }), (xs) => {
      const data = f32(xs);
      const file = parseSafetensors(serializeSafetensors([
        { name: 'x', shape: [xs.length], data },
        { name: 'h', shape: [xs.length], data, dtype: 'F16' },
        { name: 'b', shape: [xs.length], data, dtype: 'BF16' },
      ]));
      expect(bitsEqual(file.getFloat32('x'), data)).toBe(true);
      const h = file.getFloat32('h');
      const b = file.getFloat32('b');
      for (let i = 0; i < xs.length; i++) {
        expect(Object.is(h[i], f16BitsToF32(f32ToF16Bits(data[i])))).toBe(true);
        expect(Object.is(b[i], bf16BitsToF32(f32ToBf16Bits(data[i])))).toBe(true);
      }
    }));
  });

  it('reads a hand-made file with __metadata__, unaligned data and header padding', () => {
    // F16 first (2 bytes) so the F32 tensor starts at an offset that is not a multiple of 4.
    const data = new Uint8Array(2 + 8);
    const dv = new DataView(data.buffer);
    dv.setUint16(0, 0x3c00, true); // 1.0 in F16
    dv.setFloat32(2, -3.5, true);
    dv.setFloat32(6, 0.25, true);
    const bytes = handmade({
      w: { dtype: 'F32', shape: [2], data_offsets: [2, 10] },
      __metadata__: { format: 'pt' },
      one: { dtype: 'F16', shape: [1], data_offsets: [0, 2] },
    }, data, 3);
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(file.getFloat32('w'))).toEqual([-3.5, 0.25]);
    expect(Array.from(file.getFloat32('one'))).toEqual([1]);
    // The same bytes inside a larger buffer at an odd offset.
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(Array.from(parseSafetensors(shifted.subarray(3)).getFloat32('w'))).toEqual([-3.5, 0.25]);
  });
});

describe('safetensors errors', () => {
  const good = serializeSafetensors([{ name: 'w', shape: [4], data: f32([1, 2, 3, 4]) }], { format: 'pt' });

  const err = (bytes: Uint8Array) => {
    try {
      parseSafetensors(bytes, 'model.safetensors');
    } catch (e) {
      expect(e).toBeInstanceOf(SafetensorsError);
      return (e as Error).message;
    }
    throw new Error('expected parseSafetensors to throw');
  };

  it('truncated files say so', () => {
    expect(err(good.subarray(0, 5))).toMatch(/model\.safetensors: file is 5 bytes.*truncated/);
    expect(err(good.subarray(0, 20))).toMatch(/header length field says \d+ bytes but only 12 bytes follow.*truncated/);
    expect(err(good.subarray(0, good.length - 1))).toMatch(/tensor "w".*data ends at byte 16.*only 15.*truncated/);
  });

  it('garbage is named as not a safetensors file', () => {
    const html = new TextEncoder().encode('<!DOCTYPE html><html><body>Not found</body></html>');
    expect(err(html)).toMatch(/header length field says \d+ bytes.*not a safetensors file.*3c 21 44 4f/);
    const zeros = new Uint8Array(64);
    new DataView(zeros.buffer).setBigUint64(0, 16n, true);
    expect(err(zeros)).toMatch(/does not start with '\{'/);
    expect(err(handmade({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)).map((b, i) => (i === 9 ? 0x7b : b)))).toMatch(/JSON does not parse/);
  });

  it('inconsistent headers name the tensor', () => {
    expect(err(handmade({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)))).toMatch(/tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets span 8/);
    expect(err(handmade({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)))).toMatch(/tensor "w": dtype I64 is a dtype this playground does not load; supported: F32, F16, BF16/);
    expect(err(handmade({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)))).toMatch(/unknown dtype/);
    expect(err(handmade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)))).toMatch(/"b".*overlaps/);
    expect(err(handmade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)))).toMatch(/bytes 0\.\.4 of the data region belong to no tensor/);
    expect(err(handmade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)))).toMatch(/4 bytes after the last tensor/);
    expect(err(handmade({ __metadata__: { n: 3 } }, new Uint8Array(0)))).toMatch(/"__metadata__"\."n" must be a string/);
    expect(err(handmade({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, new Uint8Array(0)))).toMatch(/"shape" must be an array of non-negative integers/);
  });

  it('asking for a missing tensor lists what the file has', () => {
    expect(() => parseSafetensors(good, 'x.safetensors').getFloat32('lm_head.weight')).toThrow(/x\.safetensors: no tensor named "lm_head\.weight" \(file has 1: w\)/);
  });

  it('the writer refuses data that does not match its shape, and duplicate names', () => {
    expect(() => serializeSafetensors([{ name: 'w', shape: [2, 2], data: f32([1, 2, 3]) }])).toThrow(/shape \[2, 2\] \(4 values\) but 3 values/);
    expect(() => serializeSafetensors([{ name: 'w', shape: [1], data: f32([1]) }, { name: 'w', shape: [1], data: f32([1]) }])).toThrow(/appears twice/);
  });
});

describe('embedded base model (public/models/playground-base)', () => {
  const dir = new URL('../../public/models/playground-base/', import.meta.url);

  it('model.safetensors parses, is all F32, and its names/shapes are exactly those config.json implies', () => {
    const info = llamaConfigFromHf(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')), 'playground-base/config.json');
    expect(info.modelType).toBe('llama');
    expect(info.torchDtype).toBe('float32');
    const file = parseSafetensors(readFileSync(new URL('model.safetensors', dir)), 'playground-base/model.safetensors');
    const want = hfParameterShapes(info.config);
    const got = new Map(file.tensors.map((t) => [t.name, t.shape]));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [name, shape] of want) expect(got.get(name), name).toEqual(shape);
    expect(file.tensors.every((t) => t.dtype === 'F32')).toBe(true);
    expect(file.metadata.format).toBe('pt');
    // Weights are trained values: finite, not all equal, norms near 1 (not the init's ones).
    const emb = file.getFloat32('model.embed_tokens.weight');
    expect(emb.every(Number.isFinite)).toBe(true);
    const norm = file.getFloat32('model.norm.weight');
    expect(norm.some((x) => Math.abs(x - 1) > 1e-3)).toBe(true);
    const params = file.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    console.log(`playground-base: ${file.tensors.length} tensors, ${params} parameters`);
  });
});
