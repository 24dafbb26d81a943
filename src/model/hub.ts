/**
 * Fetching model files: from a folder URL (the embedded `/models/playground-base/`, a test fixture)
 * or from the Hugging Face Hub (`owner/name` → https://huggingface.co/owner/name/resolve/main/<file>),
 * with byte progress and a persistent cache.
 *
 * - Progress: the body is read through `response.body.getReader()`; `total` is the Content-Length
 *   (null when the server sends none, or when it compresses the body: Content-Length then counts
 *   compressed bytes). `received` only grows, and the last event of a file has received === total.
 * - Cache: Hub files go to Cache Storage (`caches.open('sft-playground-models')`), keyed by URL, so
 *   a reload does not download again; a 404 is cached too (as a marker), so probing for optional
 *   files (sharded index, generation_config.json) costs nothing the second time. Folder sources are
 *   same-origin files the browser's HTTP cache already keeps and revalidates, so by default they
 *   are not copied into Cache Storage (a rebuilt embedded model is then never served stale).
 *   clearModelCache() empties the bucket (e.g. to pick up a Hub repo's new `main`). Node tests
 *   inject `fetch` and a MemoryCache. Without `caches` (insecure context, old browser) nothing is
 *   cached.
 * - Errors name the URL and say what to do (404 → wrong repo id or file; 401/403 → gated/private
 *   repo; network error → offline or CORS).
 */
import { CodedError, msg, type Message } from '../spec/message';

/** The subset of the Cache Storage `Cache` interface the loader uses. */
export interface ModelCache {
  match(url: string): Promise<Response | undefined>;
  put(url: string, response: Response): Promise<void>;
}

export type FetchLike = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

/** Progress of one file's download (or cache read). */
export interface FileProgress {
  /** File name inside the model folder, e.g. 'model.safetensors'. */
  file: string;
  /** Bytes received so far (non-decreasing). */
  received: number;
  /** Bytes expected: Content-Length, or null while unknown; set to `received` at the end. */
  total: number | null;
  /** True when the bytes came from the cache (one event, received === total). */
  cached: boolean;
  /** True on the file's last event. */
  done: boolean;
}

export interface FetchOptions {
  fetch?: FetchLike;
  /** The cache to use; `null` disables caching; default: defaultCacheFor(location). */
  cache?: ModelCache | null;
  onProgress?: (p: FileProgress) => void;
  signal?: AbortSignal;
}

/** Cache Storage bucket name of downloaded model files. */
export const MODEL_CACHE_NAME = 'sft-playground-models';

/** The folder URL of the embedded model, served from public/. */
export const DEFAULT_MODEL = '/models/playground-base/';

const HUB = 'https://huggingface.co';
const MISSING_HEADER = 'x-sft-playground-missing';

/** A model source, resolved to the folder its files are fetched from. */
export interface ModelLocation {
  /** What the user typed (trimmed). */
  source: string;
  kind: 'folder' | 'hub';
  /** Base URL ending in '/'; files are `${baseUrl}${file}`. */
  baseUrl: string;
  /** Hub repo id ('owner/name'), for 'hub'. */
  repo?: string;
  /** Hub revision (branch, tag or commit), default 'main'. */
  revision?: string;
}

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * `owner/name` or `owner/name@revision` → the Hub; a URL or a path (starting with '/', './', '../'
 * or 'http(s)://') → a folder. Throws with an example for anything else.
 */
export function resolveModelSource(source: string): ModelLocation {
  const s = source.trim();
  if (/^(https?:\/\/|\/|\.\.?\/)/.test(s)) {
    const hub = s.match(/^https:\/\/huggingface\.co\/([^/]+\/[^/@]+)\/?$/);
    if (hub) return resolveModelSource(hub[1]);
    return { source: s, kind: 'folder', baseUrl: s.endsWith('/') ? s : `${s}/` };
  }
  const [repo, revision = 'main', ...rest] = s.split('@');
  if (!rest.length && REPO_ID.test(repo) && revision && !/\s/.test(revision)) {
    return { source: s, kind: 'hub', repo, revision, baseUrl: `${HUB}/${repo}/resolve/${encodeURIComponent(revision)}/` };
  }
  throw new CodedError(msg('hub.badSource', { source, example: DEFAULT_MODEL }));
}

/** Cache Storage when available (browser, secure context), else null. */
export async function openModelCache(): Promise<ModelCache | null> {
  if (typeof caches === 'undefined') return null;
  try {
    return await caches.open(MODEL_CACHE_NAME);
  } catch {
    return null; // e.g. storage disabled in private browsing: download without caching
  }
}

/** Cache Storage for Hub sources, none for folder sources (see the top of this file). */
export async function defaultCacheFor(loc: ModelLocation): Promise<ModelCache | null> {
  return loc.kind === 'hub' ? openModelCache() : null;
}

/** Deletes every cached model file; resolves false where there is no Cache Storage. */
export async function clearModelCache(): Promise<boolean> {
  if (typeof caches === 'undefined') return false;
  return caches.delete(MODEL_CACHE_NAME);
}

/** An in-memory ModelCache (Node tests; also usable where Cache Storage is unavailable). */
export class MemoryCache implements ModelCache {
  readonly entries = new Map<string, { status: number; headers: [string, string][]; body: ArrayBuffer }>();

  async match(url: string): Promise<Response | undefined> {
    const e = this.entries.get(url);
    return e ? new Response(e.status === 200 ? e.body.slice(0) : null, { status: e.status, headers: e.headers }) : undefined;
  }

  async put(url: string, response: Response): Promise<void> {
    this.entries.set(url, { status: response.status, headers: [...response.headers.entries()], body: await response.arrayBuffer() });
  }
}

/** Thrown for a file that does not exist at the source (HTTP 404). */
export class FileNotFoundError extends CodedError {
  override name = 'FileNotFoundError';
  constructor(readonly url: string, m: Message) {
    super(m);
  }
}

/**
 * The bytes of `file` under `loc`, from the cache or downloaded (then cached). Throws
 * FileNotFoundError for a 404 (cached as missing), an Error saying what to do otherwise.
 */
export async function fetchModelFile(loc: ModelLocation, file: string, opts: FetchOptions = {}): Promise<Uint8Array> {
  const url = `${loc.baseUrl}${file}`;
  const cache = opts.cache === undefined ? await defaultCacheFor(loc) : opts.cache;
  const hit = cache ? await cache.match(url) : undefined;
  if (hit) {
    if (hit.status === 404 || hit.headers.get(MISSING_HEADER)) throw notFound(loc, file, url);
    const bytes = new Uint8Array(await hit.arrayBuffer());
    opts.onProgress?.({ file, received: bytes.byteLength, total: bytes.byteLength, cached: true, done: true });
    return bytes;
  }
  const doFetch = opts.fetch ?? ((u: string, init?: { signal?: AbortSignal }) => fetch(u, init));
  let res: Response;
  try {
    res = await doFetch(url, { signal: opts.signal });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new CodedError(msg(loc.kind === 'hub' ? 'hub.downloadFailedHub' : 'hub.downloadFailedFolder', { url, why }));
  }
  // Single-page-app servers (Vite's dev server among them) answer a missing file with index.html
  // and status 200. No model file is HTML, so such an answer means the file is not there.
  const isHtml = (res.headers.get('content-type') ?? '').startsWith('text/html');
  if (res.status === 404 || (res.ok && isHtml)) {
    // Cached as missing: probing optional files costs nothing on the next load.
    await cache?.put(url, new Response(null, { status: 404, headers: { [MISSING_HEADER]: '1' } }));
    throw notFound(loc, file, url);
  }
  if (!res.ok) {
    const hint = res.status === 401 || res.status === 403 ? msg('hub.gated') : res.status === 429 ? msg('hub.rateLimited') : msg('hub.tryLater');
    throw new CodedError(msg('hub.httpFailed', { url, status: res.status, statusText: res.statusText, hint }));
  }
  const bytes = await readWithProgress(res, file, opts.onProgress);
  if (cache) {
    try {
      await cache.put(url, new Response(bytes, { status: 200, headers: { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream', 'content-length': String(bytes.byteLength) } }));
    } catch {
      // Quota exceeded: the model still loads, it is just downloaded again next time.
    }
  }
  return bytes;
}

function notFound(loc: ModelLocation, file: string, url: string): FileNotFoundError {
  const what = loc.kind === 'hub' ? msg('hub.noFileHub', { repo: String(loc.repo), revision: String(loc.revision), file }) : msg('hub.noFileFolder', { file, folder: loc.baseUrl });
  return new FileNotFoundError(url, msg('hub.answered404', { what, url }));
}

/** Reads the body chunk by chunk, reporting progress; falls back to arrayBuffer() without a stream. */
async function readWithProgress(res: Response, file: string, onProgress?: (p: FileProgress) => void): Promise<Uint8Array<ArrayBuffer>> {
  const length = Number(res.headers.get('content-length'));
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const total = Number.isFinite(length) && length > 0 && !encoded ? length : null;
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ file, received: bytes.byteLength, total: bytes.byteLength, cached: false, done: true });
    return bytes;
  }
  const reader = res.body.getReader();
  // One preallocated buffer when the size is known (a 1 GB checkpoint is not held twice).
  let buf: Uint8Array<ArrayBuffer> = new Uint8Array(total ?? 1 << 20);
  let received = 0;
  onProgress?.({ file, received: 0, total, cached: false, done: false });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.byteLength > buf.byteLength) {
      const grown = new Uint8Array(Math.max(buf.byteLength * 2, received + value.byteLength));
      grown.set(buf.subarray(0, received));
      buf = grown;
    }
    buf.set(value, received);
    received += value.byteLength;
    // A server may send more than it announced; the total never reads below what arrived.
    onProgress?.({ file, received, total: total === null ? null : Math.max(total, received), cached: false, done: false });
  }
  if (total !== null && received < total) {
    throw new CodedError(msg('hub.truncated', { file, received, total }));
  }
  onProgress?.({ file, received, total: received, cached: false, done: true });
  return received === buf.byteLength ? buf : buf.slice(0, received);
}
