/**
 * What survives a reload, and where: one IndexedDB database, one object store, and one table
 * (PERSISTED) naming every persisted field, the record it lives in and the validator that reads it
 * back. A record is written RECORD_DEBOUNCE_MS after one of its fields last changed, and at once
 * when the tab is hidden. IndexedDB rather than localStorage: a 1 MB paste is too close to
 * localStorage's ~5 MB (UTF-16) quota, and localStorage writes block the main thread.
 *
 * Versions and migration: each record is stored under `<name>/v<version>`. On start-up the newest
 * key present is read and taken through MIGRATIONS one version at a time up to the current one;
 * a record from a version with no migration is dropped with a note, never half-applied.
 *
 * Not persisted here, on purpose: the view's hand overrides (they refer to token indices of one
 * exact tokenization; a training's own overrides travel in its record), worker results and
 * busy/error state. The trained weights (tens of MB per run) are saved by the training worker in
 * the Origin Private File System (src/worker/checkpoints.ts); the record names them.
 */
import { openDB, type IDBPDatabase } from 'idb';
import { validOptimizer, validRecord, validRuns, validSampleIndex, validSettings, validText } from './validate';
import type { RunSpec, Settings, TrainingRecord } from './types';
import type { OptimizerSettings } from '../spec/optimizer';
import { msg, type Message } from '../spec/message';

const DB_NAME = 'sft-playground';
const DB_VERSION = 1;
const STORE = 'kv';

/** The records, with their current versions. */
export const RECORDS = {
  'input-and-settings': 1,
  training: 1,
} as const;
export type RecordName = keyof typeof RECORDS;

/**
 * Field → the record it lives in, and its validator. `settings` is read field by field over the
 * defaults (validSettings); the others are all or nothing.
 */
export const PERSISTED = {
  text: { record: 'input-and-settings', read: validText },
  sampleIndex: { record: 'input-and-settings', read: validSampleIndex },
  settings: { record: 'input-and-settings', read: (v: unknown, defaults: Settings) => validSettings(v, defaults) },
  optimizer: { record: 'training', read: validOptimizer },
  runs: { record: 'training', read: validRuns },
  record: { record: 'training', read: validRecord },
} as const satisfies Record<string, { record: RecordName; read: (v: unknown, defaults: Settings) => unknown }>;
export type PersistedKey = keyof typeof PERSISTED;

/** version n → n+1, per record. None yet: version 1 is today's (and the first) format. */
const MIGRATIONS: Record<RecordName, ((r: Record<string, unknown>) => Record<string, unknown>)[]> = {
  'input-and-settings': [],
  training: [],
};

export const RECORD_DEBOUNCE_MS = 300;
/** The page waits for the saved state before it renders; never longer than this. */
const READ_TIMEOUT_MS = 2000;

const keyOf = (name: RecordName, version: number) => `${name}/v${version}`;

let dbPromise: Promise<IDBPDatabase> | null = null;
function db(): Promise<IDBPDatabase> {
  dbPromise ??= openDB(DB_NAME, DB_VERSION, {
    upgrade(d) {
      if (!d.objectStoreNames.contains(STORE)) d.createObjectStore(STORE);
    },
  });
  return dbPromise;
}

/** `record` at `from` taken to the current version, or null when no migration path exists. */
export function migrate(name: RecordName, from: number, record: Record<string, unknown>): Record<string, unknown> | null {
  const steps = MIGRATIONS[name];
  if (from < 1 || from > RECORDS[name] || steps.length < RECORDS[name] - 1) return null;
  let r = record;
  for (let v = from; v < RECORDS[name]; v++) r = steps[v - 1](r);
  return r;
}

export interface Loaded {
  records: Partial<Record<RecordName, Record<string, unknown>>>;
  /** For people: what could not be restored. */
  notes: Message[];
}

/** Every saved record at the current version; empty on a first visit or when IndexedDB is unavailable. */
export async function loadRecords(): Promise<Loaded> {
  const out: Loaded = { records: {}, notes: [] };
  try {
    // openDB waits forever while another tab blocks an upgrade: give up rather than show nothing.
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer from IndexedDB within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS),
    );
    const keys = await Promise.race([db().then((d) => d.getAllKeys(STORE)), timeout]);
    const d = await db();
    for (const name of Object.keys(RECORDS) as RecordName[]) {
      const versions = keys.map(String).filter((k) => k.startsWith(`${name}/v`)).map((k) => Number(k.slice(name.length + 2))).filter(Number.isInteger);
      if (versions.length === 0) continue;
      const newest = Math.max(...versions);
      const raw: unknown = await d.get(STORE, keyOf(name, newest));
      const migrated = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? migrate(name, newest, raw as Record<string, unknown>) : null;
      if (migrated) out.records[name] = migrated;
      else out.notes.push(msg(name === 'training' ? 'notice.oldTraining' : 'notice.oldInput', { version: newest }));
    }
  } catch (err) {
    // Private windows and some embedded browsers refuse IndexedDB; the app still works, it just
    // forgets everything on reload.
    console.warn('Could not read the saved state from IndexedDB; starting fresh.', err);
  }
  // A write that was pending when the page went away: newer than IndexedDB's; saved there now.
  for (const [name, record] of Object.entries(takePending()) as [RecordName, Record<string, unknown>][]) {
    out.records[name] = record;
    void saveRecord(name, record);
  }
  return out;
}

export async function saveRecord(name: RecordName, record: Record<string, unknown>): Promise<void> {
  try {
    await (await db()).put(STORE, record, keyOf(name, RECORDS[name]));
  } catch (err) {
    console.warn(`Could not save the ${name} record to IndexedDB; it will not survive a reload.`, err);
  }
}

/**
 * Write each record when one of its PERSISTED fields changes (debounced), reading the fields with
 * `get` and watching them with `subscribe` (the store's).
 */
export function startAutosave<S extends Record<PersistedKey, unknown>>(get: () => S, subscribe: (f: (s: S, prev: S) => void) => () => void): void {
  const timers = new Map<RecordName, ReturnType<typeof setTimeout>>();
  const fields = (name: RecordName) => (Object.keys(PERSISTED) as PersistedKey[]).filter((k) => PERSISTED[k].record === name);
  const write = (name: RecordName) => {
    clearTimeout(timers.get(name));
    timers.delete(name);
    const s = get();
    void saveRecord(name, Object.fromEntries(fields(name).map((k) => [k, s[k]])));
  };
  subscribe((s, prev) => {
    for (const name of Object.keys(RECORDS) as RecordName[]) {
      if (fields(name).some((k) => s[k] !== prev[k])) {
        clearTimeout(timers.get(name));
        // The training record changes at checkpoints and at the end: written at once, so a reload
        // right after a stop does not find the record of the checkpoint before.
        timers.set(name, setTimeout(() => write(name), name === 'training' ? 0 : RECORD_DEBOUNCE_MS));
      }
    }
  });
  // Leaving the tab: write now rather than lose the last 300 ms of typing. An IndexedDB write
  // started while the page unloads (a reload) may never commit, so a write still pending then is
  // also kept synchronously in localStorage, which the next load prefers (takePending).
  const flush = () => {
    for (const name of [...timers.keys()]) {
      const s = get();
      keepPending(name, Object.fromEntries(fields(name).map((k) => [k, s[k]])));
      write(name);
    }
  };
  addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flush();
  });
  addEventListener('pagehide', flush);
}

const PENDING_PREFIX = 'sft-playground-pending/';

/** A record whose IndexedDB write may not commit (the page is going away): kept in localStorage. */
function keepPending(name: RecordName, record: Record<string, unknown>): void {
  try {
    localStorage.setItem(`${PENDING_PREFIX}${keyOf(name, RECORDS[name])}`, JSON.stringify(record));
  } catch {
    // Over the quota (a large paste) or storage refused: IndexedDB's write is all there is.
  }
}

/**
 * The records kept at the last page hide, by name (at the current version), removed from
 * localStorage; they are newer than IndexedDB's copy, which the caller then overwrites.
 */
export function takePending(): Partial<Record<RecordName, Record<string, unknown>>> {
  const out: Partial<Record<RecordName, Record<string, unknown>>> = {};
  try {
    for (const name of Object.keys(RECORDS) as RecordName[]) {
      const key = `${PENDING_PREFIX}${keyOf(name, RECORDS[name])}`;
      const raw = localStorage.getItem(key);
      if (raw === null) continue;
      localStorage.removeItem(key);
      const v: unknown = JSON.parse(raw);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) out[name] = v as Record<string, unknown>;
    }
  } catch {
    // No localStorage, or a damaged entry: IndexedDB's records stand.
  }
  return out;
}

/** What the saved records give the store: each field through its validator. */
export interface Restored {
  patch: Partial<{ text: string; sampleIndex: number; settings: Settings; optimizer: OptimizerSettings; optimizerFor: null; runs: RunSpec[] }>;
  record: TrainingRecord | null;
  /** Fields (or settings fields) that were there but could not be read: they keep their defaults. */
  bad: number;
}

export function readPersisted(records: Loaded['records'], defaults: Settings): Restored {
  const out: Restored = { patch: {}, record: null, bad: 0 };
  for (const key of Object.keys(PERSISTED) as PersistedKey[]) {
    const saved = records[PERSISTED[key].record];
    if (!saved || !Object.hasOwn(saved, key) || saved[key] === null || saved[key] === undefined) continue;
    const v = PERSISTED[key].read(saved[key], defaults);
    if (v === null) {
      out.bad++;
      continue;
    }
    if (key === 'settings') {
      const r = v as { settings: Settings; bad: number };
      out.patch.settings = r.settings;
      out.bad += r.bad;
    } else if (key === 'record') out.record = v as TrainingRecord;
    else if (key === 'optimizer') Object.assign(out.patch, { optimizer: v, optimizerFor: null });
    else Object.assign(out.patch, { [key]: v });
  }
  return out;
}
