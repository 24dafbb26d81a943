/**
 * Matmul tile autotune: on the first engine start on an adapter, time every candidate tile shape
 * (ops/matmul.ts MATMUL_TILE_CANDIDATES) on the model's own MLP product (forward, dx and dw of
 * (N, C) @ (C, F)) and keep the fastest. Cached per adapter in memory and, where the platform has
 * one, in persistent storage (localStorage on a page, IndexedDB in a worker), so later starts pay
 * nothing. Every candidate computes the same result (tested in ops.test.ts); only speed differs.
 */
import type { Gpu } from '../gpu/device';
import { createTensor } from '../gpu/buffers';
import { encode, Kernels, type Dispatch } from '../gpu/kernel';
import { DispatchTimer } from '../gpu/timing';
import { DEFAULT_MATMUL_TILES, MATMUL_TILE_CANDIDATES, matmulBackward, matmulForward, matmulNaiveBackward, matmulNaiveForward, type MatmulTiles } from './ops/matmul';
import type { OpContext } from './ops/context';

/**
 * Bump when the candidates or the kernel change in a way that makes stored choices stale.
 * 2: matmul_direct4 hoists its address arithmetic out of the K loop (bench/matmul-study.md), so
 * the no-workgroup-memory candidates got faster against the tiled ones.
 * 3: matmul_direct4 computes 8 x 8 outputs per invocation (bench/matmul-study.md, part 2).
 * 4: dW's product takes matmul_direct4_16, 16 x 16 outputs per invocation (part 3).
 * 5: matmul_direct4 computes 16 x 16 outputs per invocation in every orientation (part 3).
 */
const TUNING_VERSION = 5;
const STORE_PREFIX = 'sft-playground.matmulTiles';

export interface MatmulTiming {
  /** 'naive' is the oracle kernel, timed for reference (never chosen). */
  tiles: MatmulTiles | 'naive';
  /** GPU time of forward + dx + dw, ms (median of the repeats). */
  ms: number;
  gflops: number;
}

export interface MatmulTuning {
  tiles: MatmulTiles;
  /** Adapter key the choice is stored under. */
  key: string;
  /** Where the choice came from this time. */
  source: 'tuned' | 'memory' | 'storage';
  /** The measurements (only when source is 'tuned'). */
  timings: MatmulTiming[];
  /** Shape tuned on: (N, C) @ (C, F), N possibly below the model's B*T (see tuneMatmul). */
  shape: { N: number; I: number; O: number };
  /** Wall time of tuning (pipelines + runs), ms; 0 when cached. */
  ms: number;
}

/** Stored choices: a string store (localStorage-like). */
export interface TuningStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

const memory = new Map<string, MatmulTuning>();

export function adapterKey(gpu: Gpu): string {
  const a = gpu.adapter;
  return `${STORE_PREFIX}.v${TUNING_VERSION}:${[a.vendor, a.architecture, a.device, a.description].join('|')}`;
}

/**
 * The tile shape for this adapter: from memory, storage, or a fresh tune on `shape` (capped at
 * N = 1024 so tuning stays short).
 */
export async function matmulTilesFor(gpu: Gpu, shape: { N: number; I: number; O: number }, store: TuningStore | null = defaultStore()): Promise<MatmulTuning> {
  const key = adapterKey(gpu);
  const hit = memory.get(key);
  if (hit) return { ...hit, source: 'memory', timings: [], ms: 0 };
  const stored = store ? parseTiles(await store.get(key).catch(() => null)) : null;
  if (stored) {
    const t: MatmulTuning = { tiles: stored, key, source: 'storage', timings: [], shape, ms: 0 };
    memory.set(key, t);
    return t;
  }
  const t = await tuneMatmul(gpu, shape);
  memory.set(key, t);
  await store?.set(key, JSON.stringify(t.tiles)).catch(() => undefined);
  return t;
}

/** Tuning rows start here and grow 4x while one run stays under PROBE_MS (up to the model's N, at most 1024). */
const MIN_ROWS = 32;
const MAX_ROWS = 1024;
const PROBE_MS = 5;

/**
 * Times every candidate (and the naive kernel, for reference) on forward + dx + dw of
 * (n, I) @ (I, O) and returns the fastest candidate. n grows from MIN_ROWS while the default tile
 * shape runs in under PROBE_MS, so a fast GPU tunes on the model's real row count and a CPU
 * adapter (SwiftShader, ~0.3 GFLOP/s) on a small one and is done in seconds.
 */
export async function tuneMatmul(gpu: Gpu, shape: { N: number; I: number; O: number }, opts: { repeats?: number; includeNaive?: boolean } = {}): Promise<MatmulTuning> {
  const repeats = opts.repeats ?? 2;
  const start = performance.now();
  const { device } = gpu;
  const { I, O } = shape;
  const maxRows = Math.max(1, Math.min(shape.N, MAX_ROWS));
  const x = createTensor(device, 'autotune.x', [maxRows, I]), w = createTensor(device, 'autotune.w', [O, I]);
  const out = createTensor(device, 'autotune.out', [maxRows, O]), dout = createTensor(device, 'autotune.dout', [maxRows, O]);
  const dx = createTensor(device, 'autotune.dx', [maxRows, I]), dw = createTensor(device, 'autotune.dw', [O, I]);
  const kernels = Kernels.for(device);
  const base: OpContext = { device, kernels, wg: 64, where: 'autotune', rope: null, scratch: () => { throw new Error('autotune: no scratch'); } };
  // Views of the first n rows.
  const rows = (t: typeof x, n: number, cols: number) => ({ ...t, shape: [n, cols], size: n * cols * 4 });
  const products = (tiles: MatmulTiles | 'naive', n: number): Dispatch[] => {
    const [xs, outs, douts, dxs] = [rows(x, n, I), rows(out, n, O), rows(dout, n, O), rows(dx, n, I)];
    if (tiles === 'naive') return [...matmulNaiveForward(base, outs, xs, w, null, n, I, O), ...matmulNaiveBackward(base, dxs, dw, douts, xs, w, n, I, O, false)];
    const ctx = { ...base, matmulTiles: tiles };
    return [...matmulForward(ctx, outs, xs, w, null, n, I, O), ...matmulBackward(ctx, dxs, dw, null, douts, xs, w, n, I, O, false)];
  };
  const timer = device.features.has('timestamp-query') ? new DispatchTimer(device, 3) : null;
  const all: (MatmulTiles | 'naive')[] = [...candidatesFor(gpu), ...(opts.includeNaive ? ['naive' as const] : [])];
  let N = Math.min(MIN_ROWS, maxRows);
  const samples = all.map(() => [] as number[]);
  try {
    await timeOnce(device, products(DEFAULT_MATMUL_TILES, N), timer); // compiles
    await kernels.checkCompilation();
    while (N < maxRows && (await timeOnce(device, products(DEFAULT_MATMUL_TILES, N), timer)) < PROBE_MS) N = Math.min(maxRows, 4 * N);
    const runs = all.map((t) => products(t, N));
    // Round 0 compiles (browsers may defer compilation to first use) and is not counted.
    for (let round = 0; round <= repeats; round++) {
      for (const [i, ds] of runs.entries()) {
        const ms = await timeOnce(device, ds, timer);
        if (round > 0) samples[i].push(ms);
      }
    }
  } finally {
    timer?.destroy();
    for (const t of [x, w, out, dout, dx, dw]) t.buffer.destroy();
  }
  const flops = 3 * 2 * N * I * O;
  const runs = all.map((tiles) => ({ tiles }));
  const timings: MatmulTiming[] = runs.map((r, i) => {
    const ms = median(samples[i]);
    return { tiles: r.tiles, ms, gflops: flops / (ms * 1e6) };
  });
  let best: MatmulTiming | null = null;
  for (const t of timings) if (t.tiles !== 'naive' && (!best || t.ms < best.ms)) best = t;
  const tiles = best && best.tiles !== 'naive' ? best.tiles : DEFAULT_MATMUL_TILES;
  return { tiles, key: adapterKey(gpu), source: 'tuned', timings, shape: { N, I, O }, ms: performance.now() - start };
}

/**
 * The candidates worth compiling here. A CPU adapter (SwiftShader) compiles a pipeline in about
 * 0.4 s, so it tries only the two that measured fastest there (small tiles, with and without
 * workgroup memory); GPUs try all.
 */
export function candidatesFor(gpu: Gpu): readonly MatmulTiles[] {
  if (!gpu.adapter.isFallbackAdapter) return MATMUL_TILE_CANDIDATES;
  return MATMUL_TILE_CANDIDATES.filter((t) => t.wgx === 8 && t.wgy === 8 && (t.bk === 8 || t.bk === 0));
}

/** GPU time of one submission of `ds`: timestamp queries where available, else wall time to completion. */
async function timeOnce(device: GPUDevice, ds: readonly Dispatch[], timer: DispatchTimer | null): Promise<number> {
  const enc = device.createCommandEncoder({ label: 'autotune.encoder' });
  const t0 = performance.now();
  if (timer) {
    timer.encode(enc, ds);
    timer.finish(enc);
  } else {
    const pass = enc.beginComputePass({ label: 'autotune.pass' });
    encode(pass, ds);
    pass.end();
  }
  device.queue.submit([enc.finish()]);
  if (timer) return (await timer.results()).reduce((a, d) => a + d.ms, 0);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** A stored choice, if it is still one of the candidates. */
function parseTiles(s: string | null): MatmulTiles | null {
  if (!s) return null;
  try {
    const t = JSON.parse(s) as MatmulTiles;
    return MATMUL_TILE_CANDIDATES.find((c) => c.wgx === t.wgx && c.wgy === t.wgy && c.bk === t.bk) ?? null;
  } catch {
    return null;
  }
}

/** localStorage on a page; IndexedDB in a worker (no localStorage there); nothing in Node. */
function defaultStore(): TuningStore | null {
  const g = globalThis as { localStorage?: Storage; indexedDB?: IDBFactory };
  if (g.localStorage) {
    const ls = g.localStorage;
    return { get: async (k) => ls.getItem(k), set: async (k, v) => ls.setItem(k, v) };
  }
  if (g.indexedDB) return indexedDbStore(g.indexedDB);
  return null;
}

function indexedDbStore(idb: IDBFactory): TuningStore {
  const STORE = 'tuning';
  const open = () => new Promise<IDBDatabase>((resolve, reject) => {
    const req = idb.open('sft-playground-engine', 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const tx = async <R>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<R>) => {
    const db = await open();
    try {
      return await new Promise<R>((resolve, reject) => {
        const req = f(db.transaction(STORE, mode).objectStore(STORE));
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    } finally {
      db.close();
    }
  };
  return {
    get: async (k) => ((await tx('readonly', (s) => s.get(k))) as string | undefined) ?? null,
    set: async (k, v) => { await tx('readwrite', (s) => s.put(v, k)); },
  };
}
