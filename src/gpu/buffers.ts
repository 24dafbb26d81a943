/**
 * GPU buffers and tensor views. Memory is laid out by src/engine/layout.ts; this file only turns a
 * laid-out arena into a GPUBuffer and hands out views (buffer, byte offset, byte size, shape).
 */

/** A tensor inside a GPUBuffer. offset/size in bytes; elements are 4-byte f32/i32/u32. */
export interface GpuTensor {
  name: string;
  shape: readonly number[];
  buffer: GPUBuffer;
  offset: number;
  size: number;
  /**
   * Absent: 4-byte elements (f32, or i32 inputs). 'f16': two halves per u32 word (WGSL's
   * pack2x16float layout; element 2i in the low half); 'bf16': the same layout with bfloat16
   * halves (the top 16 bits of the f32). Only ops that say so read them (matmul's b).
   */
  dtype?: 'f16' | 'bf16';
}

/** Storage buffers are also copy source/destination: uploads, readback, clears. */
export function storageUsage(): number {
  return GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
}

export function createStorageBuffer(device: GPUDevice, label: string, bytes: number): GPUBuffer {
  return device.createBuffer({ label, size: Math.max(16, align(bytes, 16)), usage: storageUsage() });
}

/** Elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function align(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** A standalone tensor with its own buffer (tests, small engine-side buffers). */
export function createTensor(device: GPUDevice, name: string, shape: readonly number[]): GpuTensor {
  // A binding of size 0 is invalid; empty tensors still get 4 bytes.
  const size = Math.max(4, numel(shape) * 4);
  return { name, shape, buffer: createStorageBuffer(device, name, size), offset: 0, size };
}

/** Writes host data into a tensor (queue-ordered: lands before the next submit). */
export function writeTensor(device: GPUDevice, t: GpuTensor, data: Float32Array | Int32Array | Uint32Array): void {
  // 16-bit tensors are written as their packed words (src/spec/half.ts toHalfWords).
  const n = t.dtype ? Math.ceil(numel(t.shape) / 2) : numel(t.shape);
  if (data.length !== n) throw new Error(`Cannot write ${data.length} values into ${t.name} of shape (${t.shape.join(', ')}) = ${n} ${t.dtype ? `${t.dtype} words` : 'elements'}.`);
  if (n === 0) return;
  device.queue.writeBuffer(t.buffer, t.offset, data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Reads tensors back (one submission, one map). For tests, weights export and evaluation, not for
 * the training-step path (that uses ReadbackRing, which never waits on the step it just submitted).
 */
export async function readTensors(device: GPUDevice, ts: readonly GpuTensor[]): Promise<ArrayBuffer[]> {
  // f16 tensors come back as their raw u32 words (two halves each).
  const sizes = ts.map((t) => (t.dtype ? Math.ceil(numel(t.shape) / 2) * 4 : numel(t.shape) * 4));
  const total = Math.max(16, sizes.reduce((a, b) => a + b, 0));
  const staging = device.createBuffer({ label: 'readTensors.staging', size: total, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder({ label: 'readTensors.encoder' });
  let off = 0;
  ts.forEach((t, i) => {
    if (sizes[i] > 0) enc.copyBufferToBuffer(t.buffer, t.offset, staging, off, sizes[i]);
    off += sizes[i];
  });
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const all = staging.getMappedRange().slice(0);
  staging.unmap();
  staging.destroy();
  off = 0;
  return sizes.map((s) => {
    const out = all.slice(off, off + s);
    off += s;
    return out;
  });
}

export async function readF32(device: GPUDevice, t: GpuTensor): Promise<Float32Array> {
  return new Float32Array((await readTensors(device, [t]))[0]);
}
