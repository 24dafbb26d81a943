// What survives a reload, and where. One table (PERSISTED) names every persisted field; all of
// them live in one IndexedDB record, because a 1 MB paste is too close to localStorage's ~5 MB
// (UTF-16) quota and localStorage writes block the main thread.
//
// Not persisted, on purpose: hand overrides (they refer to token indices of one exact
// tokenization), worker results, busy/error state.
import { openDB, type IDBPDatabase } from 'idb';

const DB_NAME = 'sft-playground';
const DB_VERSION = 1;
const STORE = 'kv';
/** Bump when the persisted shape changes incompatibly; older records are ignored. */
const RECORD_KEY = 'input-and-settings/v1';

/** Field → storage. Everything here goes to IndexedDB, debounced by WRITE_DEBOUNCE_MS. */
export const PERSISTED = {
  text: 'indexeddb',
  sampleIndex: 'indexeddb',
  settings: 'indexeddb',
} as const;
export type PersistedKey = keyof typeof PERSISTED;

export const WRITE_DEBOUNCE_MS = 300;
/** The page waits for the saved input before it renders; never longer than this. */
const READ_TIMEOUT_MS = 2000;

let dbPromise: Promise<IDBPDatabase> | null = null;
function db(): Promise<IDBPDatabase> {
  dbPromise ??= openDB(DB_NAME, DB_VERSION, {
    upgrade(d) {
      d.createObjectStore(STORE);
    },
  });
  return dbPromise;
}

/** The saved record, or null when there is none (first visit) or IndexedDB is unavailable. */
export async function loadPersisted(): Promise<Record<string, unknown> | null> {
  try {
    // openDB waits forever while another tab blocks an upgrade: give up rather than show nothing.
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer from IndexedDB within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS),
    );
    const value: unknown = await Promise.race([db().then((d) => d.get(STORE, RECORD_KEY)), timeout]);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch (err) {
    // Private windows and some embedded browsers refuse IndexedDB; the app still works, it just
    // forgets the paste on reload.
    console.warn('Could not read saved input from IndexedDB; starting fresh.', err);
    return null;
  }
}

export async function savePersisted(record: Record<PersistedKey, unknown>): Promise<void> {
  try {
    await (await db()).put(STORE, record, RECORD_KEY);
  } catch (err) {
    console.warn('Could not save the input to IndexedDB; it will not survive a reload.', err);
  }
}
