// Shared steps of the marker-search strategies (unsloth's train_on_responses_only, TRL's
// DataCollatorForCompletionOnlyLM): the sample as those tools see it (the tokenizer's chat template
// rendered, then tokenized), each marker tokenized alone, and the note that puts the marker's
// tokens alone next to the tokens that cover the same characters in the sample. The two can differ
// (a space or newline before "### Assistant:" merges into its first token), and then the id search
// silently misses the marker.
import type { ChatTokenizer } from '../types';
import { textSpans } from './common';
import { said } from './reasons';
import type { ChatFamily, StrategyInput, StrategyOptions } from './types';
import { msg, uncoded, worded, type Message } from '../../spec/message';

/** The rendered sample, its ids (no BOS added: templates write their own) and each token's chars. */
export interface MarkerSample {
  text: string;
  ids: number[]; // (T,)
  starts: Int32Array; // (T,) UTF-16 offsets into text
  ends: Int32Array; // (T,)
}

export function renderSample({ tok, conversation, tools }: StrategyInput): MarkerSample {
  const rendered = tok.render(conversation, false, tools);
  const ids = tok.encode(rendered);
  const { text, starts, ends } = textSpans(tok, rendered, ids);
  return { text, ids, starts, ends };
}

/** The user-turn and assistant-turn openers unsloth's notebooks pass (train_on_responses_only's
 *  instruction_part / response_part) and TRL's docs pass as instruction_template /
 *  response_template. DeepSeek: the template's own role tokens (no notebook documents them). */
export const FAMILY_MARKERS: Record<ChatFamily, { user: string; assistant: string }> = {
  chatml: { user: '<|im_start|>user\n', assistant: '<|im_start|>assistant\n' },
  qwen3: { user: '<|im_start|>user\n', assistant: '<|im_start|>assistant\n' },
  llama3: { user: '<|start_header_id|>user<|end_header_id|>\n\n', assistant: '<|start_header_id|>assistant<|end_header_id|>\n\n' },
  gemma: { user: '<start_of_turn>user\n', assistant: '<start_of_turn>model\n' },
  deepseek: { user: '<｜User｜>', assistant: '<｜Assistant｜>' },
  unknown: { user: '', assistant: '' },
};

/** A text option, '' when it is absent or not text (validate reports that). */
export const textOption = (options: StrategyOptions, key: string): string => {
  const v = options[key];
  return typeof v === 'string' ? v : '';
};

/** Does `marker` occur in `seq` at position j (whole, inside seq)? */
export function matchAt(seq: readonly number[], j: number, marker: readonly number[]): boolean {
  if (marker.length === 0 || j + marker.length > seq.length) return false;
  for (let t = 0; t < marker.length; t++) if (seq[j + t] !== marker[t]) return false;
  return true;
}

/** Every start position of `marker` in `seq`, overlapping ones included (numpy's where on the first id, then a slice compare). */
export function findAll(seq: readonly number[], marker: readonly number[]): number[] {
  const out: number[] = [];
  for (let j = 0; j < seq.length; j++) if (matchAt(seq, j, marker)) out.push(j);
  return out;
}

function pieces(tok: ChatTokenizer, ids: readonly number[]): string {
  const dec = new TextDecoder('utf-8', { fatal: false });
  return ids.map((id) => JSON.stringify(dec.decode(tok.tokenBytes(id)))).join(' ');
}

/**
 * "response marker "…" alone: [ids] pieces; in context at char c: [ids] pieces (same tokens |
 * different tokens …); found k× as tokens". The context tokens are the sample's tokens that
 * overlap the marker's first occurrence as characters.
 */
export function markerNote(tok: ChatTokenizer, what: string, marker: string, markerIds: readonly number[], sample: MarkerSample, searched: readonly number[]): string {
  const alone = msg('lab.note.marker.alone', { what, marker: JSON.stringify(marker), ids: markerIds.join(', '), pieces: pieces(tok, markerIds) });
  const found = msg('lab.note.marker.found', { count: findAll(searched, markerIds).length });
  const c = sample.text.indexOf(marker);
  if (c < 0) return said(msg('lab.note.marker.absent', { alone, found }));
  const end = c + marker.length;
  const cover: number[] = [];
  for (let i = 0; i < sample.ids.length; i++) if (sample.starts[i] < end && sample.ends[i] > c) cover.push(i);
  const ctxIds = cover.map((i) => sample.ids[i]);
  const aligned = cover.length > 0 && sample.starts[cover[0]] === c && sample.ends[cover[cover.length - 1]] === end;
  const same = aligned && ctxIds.length === markerIds.length && ctxIds.every((id, t) => id === markerIds[t]);
  const verdict = same ? msg('lab.note.marker.same') : msg('lab.note.marker.different', { from: sample.starts[cover[0]], to: sample.ends[cover[cover.length - 1]] });
  return said(msg('lab.note.marker.inContext', { alone, c, first: cover[0], last: cover[cover.length - 1], ids: ctxIds.join(', '), pieces: pieces(tok, ctxIds), verdict, found }));
}

/** The sample, or null when the template rejects the conversation (run reports that). */
function trySample(input: StrategyInput): MarkerSample | null {
  try {
    return renderSample(input);
  } catch {
    return null;
  }
}

export interface MarkerField {
  key: string;
  /** Empty is allowed (TRL's instruction_template: empty = not passed). */
  optional: boolean;
  /** What an empty value makes the framework do, for the message. */
  whenEmpty: string;
  /** A value that works for this tokenizer, for the message. */
  example: string;
}

/** The first bad marker field: not text, empty where required, or longer than the whole sample
 *  (more tokens or characters), which no search can find. */
export function validateMarkers(options: StrategyOptions, input: StrategyInput, fields: readonly MarkerField[]): { key: string; message: string; msg?: Message } | null {
  let sample: MarkerSample | null | undefined;
  for (const f of fields) {
    const v = options[f.key];
    if (v !== undefined && typeof v !== 'string') return { key: f.key, ...worded(msg('strategy.markerText', { key: f.key, got: typeof v })) };
    const marker = v ?? '';
    const example = f.example ? JSON.stringify(f.example) : null;
    if (marker === '') {
      if (f.optional) continue;
      const why = uncoded(f.whenEmpty);
      return { key: f.key, ...worded(example ? msg('strategy.markerEmptyHint', { key: f.key, why, example }) : msg('strategy.markerEmpty', { key: f.key, why })) };
    }
    if (sample === undefined) sample = trySample(input);
    if (sample === null) continue;
    const T = input.tok.encode(marker).length;
    if (T > sample.ids.length || marker.length > sample.text.length) {
      const params = { key: f.key, T, chars: marker.length, sampleT: sample.ids.length, sampleChars: sample.text.length };
      return { key: f.key, ...worded(example ? msg('strategy.markerLongHint', { ...params, example }) : msg('strategy.markerLong', params)) };
    }
  }
  return null;
}
