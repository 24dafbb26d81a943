/**
 * Per-dispatch GPU timings with `timestamp-query` (benchmark only; training never pays for it).
 * Each dispatch gets its own compute pass whose `timestampWrites` record when it began and ended,
 * so a step's time splits by kernel. Passes add a little overhead per dispatch, and Chrome quantises
 * timestamps to 100 µs unless started with --enable-webgpu-developer-features: compare the sum of a
 * profile with the step's wall time.
 */
import { encode, type Dispatch } from './kernel';

/** WebGPU's largest query set. */
const MAX_QUERIES = 4096;

export interface TimedDispatch {
  label: string;
  /** GPU time between the pass's beginning and end timestamps, ms. */
  ms: number;
  flops?: number;
}

export class DispatchTimer {
  private readonly sets: GPUQuerySet[];
  private readonly resolve: GPUBuffer;
  private readonly read: GPUBuffer;
  private recorded: Dispatch[] = [];

  /** `capacity`: the most dispatches one `encode`…`results` round times. */
  constructor(
    device: GPUDevice,
    readonly capacity: number,
  ) {
    if (!device.features.has('timestamp-query')) {
      throw new Error('This GPU device was created without the "timestamp-query" feature, so per-kernel timings are unavailable. Use a browser/adapter that offers it (Chrome: chrome://gpu lists it).');
    }
    const queries = 2 * capacity;
    this.sets = Array.from({ length: Math.ceil(queries / MAX_QUERIES) }, (_, i) =>
      device.createQuerySet({ label: `DispatchTimer.querySet${i}`, type: 'timestamp', count: Math.min(MAX_QUERIES, queries - i * MAX_QUERIES) }));
    this.resolve = device.createBuffer({ label: 'DispatchTimer.resolve', size: queries * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.read = device.createBuffer({ label: 'DispatchTimer.read', size: queries * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Encodes `dispatches`, each in its own timed pass (same order and effect as one pass). */
  encode(enc: GPUCommandEncoder, dispatches: readonly Dispatch[]): void {
    for (const d of dispatches) {
      if (d.workgroups.some((n) => n === 0)) continue;
      const q = 2 * this.recorded.length;
      if (q >= 2 * this.capacity) throw new Error(`DispatchTimer: more than ${this.capacity} dispatches in one profile; construct it with a larger capacity.`);
      const set = this.sets[Math.floor(q / MAX_QUERIES)];
      const at = q % MAX_QUERIES;
      const pass = enc.beginComputePass({ label: `${d.label}.timed`, timestampWrites: { querySet: set, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 } });
      encode(pass, [d]);
      pass.end();
      this.recorded.push(d);
    }
  }

  /** Resolves the timestamps into the read buffer (call once, after the last `encode`, in the same encoder). */
  finish(enc: GPUCommandEncoder): void {
    const queries = 2 * this.recorded.length;
    for (let i = 0; i * MAX_QUERIES < queries; i++) {
      enc.resolveQuerySet(this.sets[i], 0, Math.min(MAX_QUERIES, queries - i * MAX_QUERIES), this.resolve, i * MAX_QUERIES * 8);
    }
    if (queries) enc.copyBufferToBuffer(this.resolve, 0, this.read, 0, queries * 8);
  }

  /** After the submit: each recorded dispatch's time, in encoding order; then ready for a new round. */
  async results(): Promise<TimedDispatch[]> {
    const n = this.recorded.length;
    if (n === 0) return [];
    await this.read.mapAsync(GPUMapMode.READ, 0, n * 16);
    const ts = new BigUint64Array(this.read.getMappedRange(0, n * 16).slice(0));
    this.read.unmap();
    // An end before its beginning (a reordered or quantised counter) counts as 0.
    const out = this.recorded.map((d, i) => ({ label: d.label, ms: Math.max(0, Number(ts[2 * i + 1] - ts[2 * i])) / 1e6, flops: d.flops }));
    this.recorded = [];
    return out;
  }

  destroy(): void {
    for (const s of this.sets) s.destroy();
    this.resolve.destroy();
    this.read.destroy();
  }
}
