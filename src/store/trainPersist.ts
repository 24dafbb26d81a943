/**
 * What of the training survives a reload, and where: one IndexedDB record in the same database and
 * object store as the first screen's input (persist.ts), under its own key.
 *
 *   field        what                                           written
 *   optimizer    the optimizer settings                         300 ms after a change
 *   runs         the run list with each run's mask settings     300 ms after a change
 *   record       the last finished (or stopped) training:       when it finishes / is discarded
 *                its runs, settings, data text, curves, answers
 *
 * Not persisted, on purpose: the trained weights (tens of MB per run; a reload frees the GPU),
 * hence heatmaps and answers of a restored record are the ones stored with it, not new ones.
 */
import { openDB, type IDBPDatabase } from 'idb';

const DB_NAME = 'sft-playground';
const DB_VERSION = 1;
const STORE = 'kv';
/** Bump when the record's shape changes incompatibly; older records are ignored. */
const KEY = 'training/v1';

export const TRAIN_PERSISTED = {
  optimizer: 'indexeddb',
  runs: 'indexeddb',
  record: 'indexeddb',
} as const;
export type TrainPersistedKey = keyof typeof TRAIN_PERSISTED;

export const TRAIN_WRITE_DEBOUNCE_MS = 300;
const READ_TIMEOUT_MS = 2000;

let dbPromise: Promise<IDBPDatabase> | null = null;
function db(): Promise<IDBPDatabase> {
  dbPromise ??= openDB(DB_NAME, DB_VERSION, {
    // Whichever module opens the database first creates the shared store.
    upgrade(d) {
      if (!d.objectStoreNames.contains(STORE)) d.createObjectStore(STORE);
    },
  });
  return dbPromise;
}

export async function loadTraining(): Promise<Record<string, unknown> | null> {
  try {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer from IndexedDB within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS),
    );
    const value: unknown = await Promise.race([db().then((d) => d.get(STORE, KEY)), timeout]);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch (err) {
    console.warn('Could not read saved training runs from IndexedDB; starting without them.', err);
    return null;
  }
}

export async function saveTraining(record: Record<TrainPersistedKey, unknown>): Promise<void> {
  try {
    await (await db()).put(STORE, record, KEY);
  } catch (err) {
    console.warn('Could not save the training runs to IndexedDB; they will not survive a reload.', err);
  }
}
