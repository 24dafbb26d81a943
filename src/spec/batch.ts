/**
 * The micro-batch every layer passes around (data plan → engine or reference), and builders:
 * packBatch makes a right-padded (B, T) Batch from per-sequence arrays (padding: id `padId`,
 * label -100, weight 0, docId -1, position 0, role 0); selectSequences cuts a micro-batch out.
 */
import { IGNORE_INDEX, ROLE_NONE } from './loss';

/** One micro-batch. All arrays are (N) = (B*T), row n = b*T + t. */
export interface Batch {
  B: number;
  T: number;
  ids: Int32Array;       // token ids; padding uses a real id (e.g. the pad token)
  labels: Int32Array;    // ids, or -100 where not trained (HF, unshifted)
  weights: Float64Array; // per-label weight (1 normally; e.g. 0.1 for down-weighted prompt tokens)
  docIds: Int32Array;    // document per token; -1 = padding; distinct ids for packed documents
  positions: Int32Array; // RoPE positions (restart at 0 per packed document)
  roles?: Int32Array | Uint8Array; // per predicting position: 0 none, 1 prompt, 2 response (loss.ts ROLE_*)
}

export interface SequenceSpec {
  ids: readonly number[];
  /** Defaults to ids (everything trained). */
  labels?: readonly number[];
  /** Defaults to 1. */
  weights?: readonly number[];
  /** Document of each token; defaults to 0 for all. Packed documents use distinct ids. */
  docIds?: readonly number[];
  /** RoPE positions; default restarts at 0 whenever the docId changes. */
  positions?: readonly number[];
  /** Role of each token (0 none, 1 prompt, 2 response); shifted onto the predicting position. */
  tokenRoles?: readonly number[];
}

export function packBatch(seqs: readonly SequenceSpec[], T: number, padId = 0): Batch {
  const B = seqs.length, N = B * T;
  const roles = new Uint8Array(N).fill(ROLE_NONE);
  const batch: Batch = {
    B, T,
    ids: new Int32Array(N).fill(padId),
    labels: new Int32Array(N).fill(IGNORE_INDEX),
    weights: new Float64Array(N),
    docIds: new Int32Array(N).fill(-1),
    positions: new Int32Array(N),
    roles,
  };
  seqs.forEach((s, b) => {
    const len = s.ids.length;
    if (len > T) throw new Error(`Sequence ${b} has ${len} tokens; the batch holds T = ${T}.`);
    for (const [field, arr] of Object.entries({ labels: s.labels, weights: s.weights, docIds: s.docIds, positions: s.positions, tokenRoles: s.tokenRoles })) {
      if (arr && arr.length !== len) throw new Error(`Sequence ${b}: ${field} has ${arr.length} entries, ids has ${len}.`);
    }
    let pos = 0;
    for (let t = 0; t < len; t++) {
      const n = b * T + t;
      batch.ids[n] = s.ids[t];
      batch.labels[n] = s.labels ? s.labels[t] : s.ids[t];
      batch.weights[n] = s.weights ? s.weights[t] : 1;
      batch.docIds[n] = s.docIds ? s.docIds[t] : 0;
      if (t > 0 && batch.docIds[n] !== batch.docIds[n - 1]) pos = 0;
      batch.positions[n] = s.positions ? s.positions[t] : pos++;
      if (t > 0 && s.tokenRoles) roles[n - 1] = s.tokenRoles[t];
    }
  });
  return batch;
}

/** The given sequences of a batch, as a batch of their own (a micro-batch of an accumulated step). */
export function selectSequences(batch: Batch, rows: readonly number[]): Batch {
  const { T } = batch;
  const pick = <A extends Int32Array | Uint8Array | Float64Array>(a: A): A => {
    const out = new (a.constructor as new (n: number) => A)(rows.length * T);
    rows.forEach((b, i) => {
      if (!(b >= 0 && b < batch.B)) throw new Error(`selectSequences: sequence ${b} is outside the batch (B = ${batch.B}).`);
      out.set(a.subarray(b * T, (b + 1) * T), i * T);
    });
    return out;
  };
  return {
    B: rows.length, T,
    ids: pick(batch.ids), labels: pick(batch.labels), weights: pick(batch.weights),
    docIds: pick(batch.docIds), positions: pick(batch.positions),
    roles: batch.roles ? pick(batch.roles) : undefined,
  };
}
