/**
 * safetensors in and out (https://github.com/huggingface/safetensors, "Format").
 *
 * File layout:
 *   bytes [0, 8)          N: unsigned 64-bit little-endian, the header length
 *   bytes [8, 8+N)        UTF-8 JSON object, may be padded with trailing spaces:
 *                           { "__metadata__"?: { string: string },
 *                             <name>: { "dtype": "F32"|"F16"|"BF16"|..., "shape": [d0, d1, ...],
 *                                       "data_offsets": [begin, end] } }
 *   bytes [8+N, EOF)      tensor data, little-endian, row-major; offsets are relative to 8+N.
 *                         Tensors must tile this region exactly: no gaps, no overlaps.
 *
 * Reading: the header is validated in full up front (so a truncated or foreign file fails before
 * any weights are used); tensor data is converted to Float32Array on request, one tensor at a
 * time, so a bf16 checkpoint is never held twice in full. F32, F16 and BF16 are converted exactly
 * (every F16/BF16 value is representable in F32).
 * Writing: F32 as is; F16/BF16 rounded to nearest, ties to even, NaN stays NaN.
 */
import { CodedError, msg } from '../spec/message';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
/** dtypes the format defines that this reader refuses (named in the error). */
const OTHER_DTYPES = ['F64', 'F8_E4M3', 'F8_E5M2', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL'];
/** safetensors itself rejects headers above 100 MB; a bigger length means the file is not safetensors. */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  /** Row-major shape; [] is a scalar (one element). */
  shape: number[];
  /** Byte range inside the data region (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  /** `__metadata__` (string → string); {} when absent. */
  metadata: Record<string, string>;
  /** Tensors in file order (ascending data offset). */
  tensors: SafetensorsTensorInfo[];
  /** Header entry by name, undefined when absent. */
  info(name: string): SafetensorsTensorInfo | undefined;
  /** The tensor's values as a new Float32Array (length = product of shape). Throws for an unknown name. */
  getFloat32(name: string): Float32Array;
}

export interface SafetensorsInput {
  name: string;
  shape: readonly number[];
  data: Float32Array;
  /** Stored dtype, default F32. */
  dtype?: SafetensorsDtype;
}

// ---------------------------------------------------------------- half-precision conversion

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
let f16Table: Float32Array | null = null;

/** IEEE binary16 bits → number (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** number → IEEE binary16 bits, via float32, round to nearest even; overflow → ±Inf, NaN → quiet NaN. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // biased half exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Half subnormal: value = M * 2^(E-23) with M the 24-bit significand, in units of 2^-24 is M >> (14 - e).
    if (e < -10) return sign; // below half the smallest subnormal (2^-25): rounds to ±0
    const m = mant | 0x800000;
    const shift = 14 - e;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r; // r may reach 0x400: the smallest normal, encoded correctly by the carry
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent can give Inf, correctly
  return sign | h;
}

/** bfloat16 bits → number (exact: the upper half of a float32). */
export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** number → bfloat16 bits, via float32, round to nearest even; NaN → quiet NaN. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

// ---------------------------------------------------------------- reading

/** Thrown for a file that is not a valid safetensors file; the message names the file and the fault. */
export class SafetensorsError extends CodedError {
  override name = 'SafetensorsError';
}

/** The file's format problem stays English (offsets, dtypes); the frame naming the file is coded. */
function fail(source: string, detail: string): never {
  throw new SafetensorsError(msg('safetensors.problem', { source, detail }));
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Validate the header of a safetensors file and return lazy access to its tensors.
 * `source` names the file in error messages (a path or URL).
 */
export function parseSafetensors(bytes: ArrayBuffer | Uint8Array, source = 'safetensors file'): SafetensorsFile {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (buf.byteLength < 8) {
    fail(source, `file is ${buf.byteLength} bytes; a safetensors file starts with an 8-byte header length. The download is truncated or this is not a safetensors file.`);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    fail(source, `header length field says ${n64} bytes (the format allows at most ${MAX_HEADER_BYTES}); this is not a safetensors file (first bytes: ${hexPrefix(buf)}).`);
  }
  const n = Number(n64);
  if (8 + n > buf.byteLength) {
    fail(source, `header length field says ${n} bytes but only ${buf.byteLength - 8} bytes follow it; the file is truncated (got ${buf.byteLength} bytes in all) or is not a safetensors file.`);
  }
  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    fail(source, `header (bytes 8..${8 + n}) is not valid UTF-8; this is not a safetensors file.`);
  }
  if (!headerText.trimStart().startsWith('{')) {
    fail(source, `header (bytes 8..${8 + n}) does not start with '{' (starts ${JSON.stringify(headerText.slice(0, 20))}); this is not a safetensors file.`);
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    fail(source, `header JSON does not parse (${(e as Error).message}); the file is damaged.`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(source, 'header JSON is not an object.');

  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(raw, source);
      continue;
    }
    tensors.push(parseEntry(name, raw, dataLen, source));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // Tensors must tile [0, dataLen): a gap or overlap means a damaged file (safetensors refuses it too).
  let at = 0;
  for (const t of tensors) {
    if (t.begin < at) fail(source, `tensor "${t.name}" (bytes ${t.begin}..${t.end}) overlaps the previous tensor, which ends at ${at}.`);
    if (t.begin > at) fail(source, `bytes ${at}..${t.begin} of the data region belong to no tensor (before "${t.name}"); the header is inconsistent.`);
    at = t.end;
  }
  if (at !== dataLen) {
    fail(source, at > dataLen
      ? `tensor data needs ${at} bytes but the file has ${dataLen} after the header; the file is truncated.`
      : `the file has ${dataLen - at} bytes after the last tensor; the header is inconsistent with the data.`);
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));

  return {
    metadata,
    tensors,
    info: (name) => byName.get(name),
    getFloat32(name: string): Float32Array {
      const t = byName.get(name);
      if (!t) {
        const some = tensors.slice(0, 5).map((x) => x.name).join(', ');
        throw new SafetensorsError(msg('safetensors.noTensor', { source, name, count: tensors.length, some: `${some}${tensors.length > 5 ? ', ...' : ''}` }));
      }
      return decode(buf, dataStart + t.begin, t);
    },
  };
}

function hexPrefix(buf: Uint8Array): string {
  return Array.from(buf.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function parseMetadata(raw: unknown, source: string): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(source, '"__metadata__" must be an object of strings.');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(source, `"__metadata__"."${k}" must be a string (got ${JSON.stringify(v)}).`);
    out[k] = v;
  }
  return out;
}

function parseEntry(name: string, raw: unknown, dataLen: number, source: string): SafetensorsTensorInfo {
  const where = `tensor "${name}"`;
  if (typeof raw !== 'object' || raw === null) fail(source, `${where}: header entry is not an object.`);
  const r = raw as Record<string, unknown>;
  const dtype = r.dtype;
  if (typeof dtype !== 'string') fail(source, `${where}: missing "dtype".`);
  if (!(dtype in BYTES_PER_ELEMENT)) {
    const known = OTHER_DTYPES.includes(dtype) ? 'a dtype this playground does not load' : 'an unknown dtype';
    fail(source, `${where}: dtype ${dtype} is ${known}; supported: F32, F16, BF16. Convert the checkpoint to one of those.`);
  }
  const shape = r.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    fail(source, `${where}: "shape" must be an array of non-negative integers (got ${JSON.stringify(shape)}).`);
  }
  const offs = r.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[1] < offs[0]) {
    fail(source, `${where}: "data_offsets" must be [begin, end] with 0 <= begin <= end (got ${JSON.stringify(offs)}).`);
  }
  const [begin, end] = offs as [number, number];
  const d = dtype as SafetensorsDtype;
  const want = numel(shape as number[]) * BYTES_PER_ELEMENT[d];
  if (end - begin !== want) {
    fail(source, `${where}: shape [${(shape as number[]).join(', ')}] of ${d} needs ${want} bytes but data_offsets span ${end - begin}.`);
  }
  if (end > dataLen) {
    fail(source, `${where}: data ends at byte ${end} of the data region but the file has only ${dataLen} bytes there; the file is truncated.`);
  }
  return { name, dtype: d, shape: shape as number[], begin, end };
}

function decode(buf: Uint8Array, at: number, t: SafetensorsTensorInfo): Float32Array {
  const count = numel(t.shape);
  const out = new Float32Array(count);
  const abs = buf.byteOffset + at;
  if (t.dtype === 'F32') {
    if (LITTLE_ENDIAN && abs % 4 === 0) {
      out.set(new Float32Array(buf.buffer, abs, count));
    } else {
      const dv = new DataView(buf.buffer, abs, count * 4);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
    }
    return out;
  }
  const halves = LITTLE_ENDIAN && abs % 2 === 0 ? new Uint16Array(buf.buffer, abs, count) : readU16(buf, at, count);
  if (t.dtype === 'F16') {
    const table = f16ToF32Table();
    for (let i = 0; i < count; i++) out[i] = table[halves[i]];
  } else {
    // BF16 is the top half of a float32: widen the bits directly.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = halves[i] << 16;
  }
  return out;
}

function readU16(buf: Uint8Array, at: number, count: number): Uint16Array {
  const dv = new DataView(buf.buffer, buf.byteOffset + at, count * 2);
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) out[i] = dv.getUint16(i * 2, true);
  return out;
}

// ---------------------------------------------------------------- writing

/**
 * Serialise tensors (in the given order) with optional `__metadata__`. The header is padded with
 * spaces so the data region starts at a multiple of 8 bytes, as the Python library does.
 */
export function serializeSafetensors(tensors: readonly SafetensorsInput[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name === '') throw new Error(`serializeSafetensors: "${t.name}" cannot be a tensor name.`);
    if (seen.has(t.name)) throw new Error(`serializeSafetensors: tensor "${t.name}" appears twice.`);
    seen.add(t.name);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`serializeSafetensors: tensor "${t.name}" has an invalid shape [${t.shape.join(', ')}].`);
    }
    const count = numel(t.shape);
    if (count !== t.data.length) {
      throw new Error(`serializeSafetensors: tensor "${t.name}" has shape [${t.shape.join(', ')}] (${count} values) but ${t.data.length} values.`);
    }
    const dtype = t.dtype ?? 'F32';
    const bytes = count * BYTES_PER_ELEMENT[dtype];
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.byteLength + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.byteLength + off);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F32';
    const count = t.data.length;
    if (dtype === 'F32') {
      if (LITTLE_ENDIAN && at % 4 === 0) new Float32Array(out.buffer, at, count).set(t.data);
      else for (let i = 0; i < count; i++) dv.setFloat32(at + i * 4, t.data[i], true);
    } else {
      const conv = dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
      for (let i = 0; i < count; i++) dv.setUint16(at + i * 2, conv(t.data[i]), true);
    }
    at += count * BYTES_PER_ELEMENT[dtype];
  }
  return out;
}
