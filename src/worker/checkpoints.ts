/**
 * Saved training state in the Origin Private File System, written by the training worker: each
 * run's weights, AdamW moments and step state (Engine.getTrainingState) at checkpoints and at the
 * end, so a reload, a closed tab or a lost GPU device loses at most one checkpoint interval.
 *
 * Layout: checkpoints/<training id>/s<step>-r<run>.bin, one file per run and step, then meta.json
 * naming the step they hold, written last (a file's writes land atomically on close, so a crash
 * between the two leaves the previous checkpoint whole). The checkpoint before the newest is kept
 * too: the page's record names a step only after its files are written, so a tab closed in
 * between still finds the step its record names.
 *
 * File format (little-endian): u32 header length, UTF-8 JSON header { names, lengths, stepState },
 * then for each of parameters, adam_m, adam_v the f32 tensors in header order.
 */
import type { TrainingState } from '../engine/trainer';
import { CodedError, messageOfError, msg } from '../spec/message';

export interface CheckpointMeta {
  id: string;
  /** The newest checkpoint, and the one before it (kept until the next), if any. */
  step: number;
  previous: number | null;
  runs: number;
  /** Runs whose saved weights the user forgot. */
  forgotten: number[];
  bytes: number;
  savedAt: number;
}

const ROOT = 'checkpoints';

async function root(): Promise<FileSystemDirectoryHandle> {
  if (!navigator.storage?.getDirectory) throw new CodedError(msg('checkpoint.noOpfs'));
  return (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT, { create: true });
}

async function dir(id: string, create = false): Promise<FileSystemDirectoryHandle> {
  return (await root()).getDirectoryHandle(id, { create });
}

export function encodeState(s: TrainingState): Uint8Array {
  const names = Object.keys(s.parameters);
  const lengths = names.map((n) => s.parameters[n].length);
  const header = new TextEncoder().encode(JSON.stringify({ names, lengths, stepState: Array.from(s.stepState) }));
  const floats = 3 * lengths.reduce((a, b) => a + b, 0);
  const pad = (4 - ((4 + header.length) % 4)) % 4;
  const out = new Uint8Array(4 + header.length + pad + floats * 4);
  new DataView(out.buffer).setUint32(0, header.length + pad, true);
  out.set(header, 4);
  out.fill(0x20, 4 + header.length, 4 + header.length + pad); // JSON tolerates trailing spaces
  const f = new Float32Array(out.buffer, 4 + header.length + pad, floats);
  let at = 0;
  for (const group of [s.parameters, s.adamM, s.adamV]) {
    for (const n of names) {
      f.set(group[n], at);
      at += group[n].length;
    }
  }
  return out;
}

export function decodeState(bytes: ArrayBuffer): TrainingState {
  const hlen = new DataView(bytes).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 4, hlen))) as { names: string[]; lengths: number[]; stepState: number[] };
  const f = new Float32Array(bytes, 4 + hlen);
  let at = 0;
  const group = () => Object.fromEntries(header.names.map((n, i) => {
    const t = f.slice(at, at + header.lengths[i]);
    at += header.lengths[i];
    return [n, t];
  }));
  const parameters = group(), adamM = group(), adamV = group();
  if (at !== f.length) throw new CodedError(msg('checkpoint.damaged', { n: f.length, want: at }));
  return { parameters, adamM, adamV, stepState: Uint32Array.from(header.stepState) };
}

/** Entry names of a directory (TypeScript's DOM lib lacks the async iteration Chromium has). */
async function names(d: FileSystemDirectoryHandle): Promise<string[]> {
  const out: string[] = [];
  for await (const n of (d as unknown as { keys(): AsyncIterable<string> }).keys()) out.push(n);
  return out;
}

async function writeFile(d: FileSystemDirectoryHandle, name: string, data: Uint8Array | string): Promise<void> {
  const w = await (await d.getFileHandle(name, { create: true })).createWritable();
  try {
    await w.write(data as FileSystemWriteChunkType);
    await w.close();
  } catch (err) {
    await w.abort().catch(() => undefined);
    throw err;
  }
}

async function readMeta(d: FileSystemDirectoryHandle): Promise<CheckpointMeta | null> {
  try {
    const text = await (await (await d.getFileHandle('meta.json')).getFile()).text();
    return JSON.parse(text) as CheckpointMeta;
  } catch {
    return null;
  }
}

/** Write every run's state at `step`; throws a message for people when the storage is full. */
export async function saveCheckpoint(id: string, step: number, states: TrainingState[], forgotten: readonly number[] = []): Promise<CheckpointMeta> {
  try {
    const d = await dir(id, true);
    let bytes = 0;
    for (let r = 0; r < states.length; r++) {
      if (forgotten.includes(r)) continue;
      const data = encodeState(states[r]);
      bytes += data.length;
      await writeFile(d, `s${step}-r${r}.bin`, data);
    }
    const before = await readMeta(d);
    // The previous checkpoint stays until the next one: the page's record may still name it (it is
    // written after this file, and a closed tab can come in between).
    const previous = before && before.step !== step ? before.step : null;
    const meta: CheckpointMeta = { id, step, previous, runs: states.length, forgotten: [...forgotten], bytes, savedAt: Date.now() };
    await writeFile(d, 'meta.json', JSON.stringify(meta));
    const keep = [`s${step}-`, ...(previous !== null ? [`s${previous}-`] : [])];
    for (const name of await names(d)) if (name.endsWith('.bin') && !keep.some((k) => name.startsWith(k))) await d.removeEntry(name);
    return meta;
  } catch (err) {
    const quota = err instanceof DOMException && err.name === 'QuotaExceededError';
    const est = quota ? await navigator.storage.estimate().catch(() => null) : null;
    const why = quota
      ? est?.usage !== undefined && est.quota !== undefined
        ? msg('checkpoint.fullUsed', { used: (est.usage / 2 ** 20).toFixed(0), quota: (est.quota / 2 ** 20).toFixed(0) })
        : msg('checkpoint.full')
      : messageOfError(err);
    throw new CodedError(msg('checkpoint.saveFailed', { step, why }));
  }
}

/** Training `id`'s checkpoint at `step` (the newest or the one before): its meta and every run's state (null for forgotten runs). */
export async function loadCheckpoint(id: string, step: number): Promise<{ meta: CheckpointMeta; states: (TrainingState | null)[] }> {
  const d = await dir(id).catch(() => null);
  const meta = d ? await readMeta(d) : null;
  if (!d || !meta) throw new CodedError(msg('checkpoint.none'));
  if (step !== meta.step && step !== meta.previous) {
    throw new CodedError(meta.previous !== null ? msg('checkpoint.otherSteps', { step: meta.step, previous: meta.previous, want: step }) : msg('checkpoint.otherStep', { step: meta.step, want: step }));
  }
  const states: (TrainingState | null)[] = [];
  for (let r = 0; r < meta.runs; r++) {
    if (meta.forgotten.includes(r)) {
      states.push(null);
      continue;
    }
    const file = await (await d.getFileHandle(`s${step}-r${r}.bin`)).getFile();
    states.push(decodeState(await file.arrayBuffer()));
  }
  return { meta: { ...meta, step }, states };
}

/** Forget run `run`'s saved weights (or all of training `id` when run is null). */
export async function forgetCheckpoint(id: string, run: number | null): Promise<CheckpointMeta | null> {
  const r = await root();
  if (run === null) {
    await r.removeEntry(id, { recursive: true }).catch(() => undefined);
    return null;
  }
  const d = await dir(id).catch(() => null);
  const meta = d ? await readMeta(d) : null;
  if (!d || !meta) return null;
  for (const k of [meta.step, meta.previous]) if (k !== null) await d.removeEntry(`s${k}-r${run}.bin`).catch(() => undefined);
  const next: CheckpointMeta = { ...meta, forgotten: [...new Set([...meta.forgotten, run])] };
  let bytes = 0;
  for (let k = 0; k < meta.runs; k++) {
    if (next.forgotten.includes(k)) continue;
    bytes += (await (await d.getFileHandle(`s${meta.step}-r${k}.bin`)).getFile()).size;
  }
  next.bytes = bytes;
  await writeFile(d, 'meta.json', JSON.stringify(next));
  return next;
}

/** Remove every saved training but `keep`. */
export async function forgetOthers(keep: string | null): Promise<void> {
  const r = await root();
  for (const name of await names(r)) if (name !== keep) await r.removeEntry(name, { recursive: true }).catch(() => undefined);
}
