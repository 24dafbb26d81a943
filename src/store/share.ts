/**
 * Share links: the sample and every setting, as deflate-raw-compressed JSON in base64url, carried in
 * the URL's hash (#share=…) so it never reaches a server. Versioned: a link from an older shape is
 * refused with a message rather than half-applied. Read through the same validators as the saved
 * state (validate.ts): a damaged field is refused here, never applied.
 */
import type { OptimizerSettings } from '../spec/optimizer';
import type { RunSpec, Settings } from './types';
import { DEFAULT_SETTINGS } from './defaults';
import { validOptimizer, validRuns, validSampleIndex, validSettings, validText } from './validate';
import { CodedError, msg } from '../spec/message';

export const SHARE_PARAM = 'share';
const VERSION = 1;

export interface SharedState {
  text: string;
  sampleIndex: number;
  settings: Settings;
  optimizer: OptimizerSettings;
  runs: RunSpec[];
}

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

function toBase64Url(bytes: Uint8Array): string {
  let bin = '';
  const CHUNK = 0x8000; // String.fromCharCode's argument count limit
  for (let i = 0; i < bytes.length; i += CHUNK) bin += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(s: string): Uint8Array {
  const b64 = s.replaceAll('-', '+').replaceAll('_', '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export async function encodeShare(state: SharedState): Promise<string> {
  const json = JSON.stringify({ v: VERSION, ...state });
  return toBase64Url(await pipe(new TextEncoder().encode(json), new CompressionStream('deflate-raw')));
}

/** The state in a share string; throws a message for people when it is damaged or from another version. */
export async function decodeShare(s: string, defaults: Settings = DEFAULT_SETTINGS): Promise<SharedState> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(await pipe(fromBase64Url(s), new DecompressionStream('deflate-raw'))));
  } catch {
    throw new CodedError(msg('share.damaged'));
  }
  const o = (parsed ?? {}) as Record<string, unknown>;
  if (o.v !== VERSION) throw new CodedError(msg('share.version', { v: String(o.v), version: VERSION }));
  const text = validText(o.text);
  const sampleIndex = validSampleIndex(o.sampleIndex);
  const settings = validSettings(o.settings, defaults);
  const optimizer = validOptimizer(o.optimizer);
  const runs = validRuns(o.runs);
  if (text === null || sampleIndex === null || !settings || !optimizer || !runs) {
    throw new CodedError(msg('share.incomplete'));
  }
  return { text, sampleIndex, settings: settings.settings, optimizer, runs };
}

/** The page URL with `state` in its hash. */
export async function shareUrl(state: SharedState, base: string = location.href): Promise<string> {
  const u = new URL(base);
  u.hash = `${SHARE_PARAM}=${await encodeShare(state)}`;
  return u.href;
}

/** The share string in a hash like "#share=…", or null. */
export function shareInHash(hash: string): string | null {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  return p.get(SHARE_PARAM);
}
