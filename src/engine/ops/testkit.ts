/**
 * Helpers for the GPU-vs-reference tests (Node, Dawn): a device and op context, tensors from host
 * arrays, running recorded dispatches, and the |a-b| <= atol + rtol*|b| comparison that prints its
 * max errors.
 */
import { createStorageBuffer, createTensor, readTensors, writeTensor, type GpuTensor } from '../../gpu/buffers';
import { decodeF16 } from '../../reference/ops';
import { acquireNodeDevice } from '../../gpu/node-device';
import { encode, hasSubgroups, Kernels, type Dispatch } from '../../gpu/kernel';
import type { Gpu } from '../../gpu/device';
import type { OpContext } from './context';
import { ropeTableData } from './rope';

export interface TestGpu {
  gpu: Gpu;
  ctx: OpContext;
  /** A tensor holding `data` (float32, or int32 for Int32Array). */
  tensor(name: string, shape: readonly number[], data?: Float64Array | Float32Array | Int32Array): GpuTensor;
  run(dispatches: readonly Dispatch[]): Promise<void>;
  read(t: GpuTensor): Promise<Float32Array>;
  /** An empty f16 tensor (dtype 'f16', ceil(n/2) u32 words), e.g. for packF16Forward's output. */
  tensorF16(name: string, shape: readonly number[]): GpuTensor;
  /** An f16 tensor's values, decoded (two per word, low half first). */
  readF16(t: GpuTensor): Promise<Float64Array>;
  /** Installs a RoPE table for (hs, theta) covering positions [0, P). */
  setRope(hs: number, theta: number, P: number): void;
}

/**
 * `subgroups`: row reductions with subgroup operations (default where the device has them); false
 * forces the workgroup-memory fallback, so tests can check both paths on one adapter.
 */
export async function testGpu(wg = 64, subgroups?: boolean): Promise<TestGpu> {
  const gpu = await acquireNodeDevice();
  const { device } = gpu;
  const kernels = new Kernels(device, subgroups ?? hasSubgroups(device));
  const scratch = new Map<string, GpuTensor>();
  const ctx: OpContext = {
    device,
    kernels,
    wg,
    where: 'test',
    rope: null,
    scratch: (name, shape) => {
      const key = `${name}:${shape.join('x')}`;
      let t = scratch.get(key);
      if (!t) {
        t = createTensor(device, name, shape);
        scratch.set(key, t);
      }
      return t;
    },
  };
  const tensor: TestGpu['tensor'] = (name, shape, data) => {
    const t = createTensor(device, name, shape);
    if (data) writeTensor(device, t, data instanceof Int32Array ? data : Float32Array.from(data));
    return t;
  };
  return {
    gpu,
    ctx,
    tensor,
    async run(dispatches) {
      device.pushErrorScope('validation');
      const enc = device.createCommandEncoder({ label: 'test.encoder' });
      const pass = enc.beginComputePass({ label: 'test.pass' });
      encode(pass, dispatches);
      pass.end();
      device.queue.submit([enc.finish()]);
      await kernels.checkCompilation();
      const err = await device.popErrorScope();
      if (err) throw new Error(`GPU validation error: ${err.message}`);
      await device.queue.onSubmittedWorkDone();
    },
    async read(t) {
      return new Float32Array((await readTensors(device, [t]))[0]);
    },
    tensorF16(name, shape) {
      const n = shape.reduce((a, b) => a * b, 1);
      const size = Math.max(4, Math.ceil(n / 2) * 4);
      return { name, shape, buffer: createStorageBuffer(device, name, size), offset: 0, size, dtype: 'f16' };
    },
    async readF16(t) {
      const words = new Uint32Array((await readTensors(device, [t]))[0]);
      const n = t.shape.reduce((a, b) => a * b, 1);
      return Float64Array.from({ length: n }, (_, i) => decodeF16(i % 2 ? words[i >> 1] >>> 16 : words[i >> 1] & 0xffff));
    },
    setRope(hs, theta, P) {
      ctx.rope = { tensor: tensor('rope.table', [P, hs / 2, 2], ropeTableData(hs, theta, P)), hs, theta, P };
    },
  };
}

export interface Compared {
  name: string;
  maxAbs: number;
  maxRel: number;
  /** Elements outside atol + rtol*|ref|. */
  bad: number;
  /** First offending index, -1 if none. */
  firstBad: number;
}

/** Compares GPU output `a` to reference `b` with |a-b| <= atol + rtol*|b| and logs the max errors. */
export function compare(name: string, a: ArrayLike<number>, b: ArrayLike<number>, atol = 1e-5, rtol = 1e-3): Compared {
  if (a.length < b.length) throw new Error(`${name}: GPU result has ${a.length} values, reference ${b.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let bad = 0;
  let firstBad = -1;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    const ok = d <= atol + rtol * Math.abs(b[i]);
    if (!ok || Number.isNaN(a[i])) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? NaN : d;
    if (b[i] !== 0) maxRel = Math.max(maxRel, d / Math.abs(b[i]));
  }
  const r = { name, maxAbs, maxRel, bad, firstBad };
  console.log(`${name.padEnd(34)} n=${String(b.length).padStart(6)}  max|a-b|=${maxAbs.toExponential(2)}  max rel=${maxRel.toExponential(2)}${bad ? `  BAD=${bad} first@${firstBad}: gpu ${a[firstBad]} ref ${b[firstBad]}` : ''}`);
  return r;
}
