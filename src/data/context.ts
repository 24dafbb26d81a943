// Truncation check: a sample longer than the context window is cut at maxLen (tokens
// [maxLen, T) are dropped, the HF "right truncation" default). Long prompts + short answers are the
// classic case where the cut silently removes the whole response and the sample trains nothing.
import type { ContextCheck, LabelResult, TokenizedSample } from './types';
import { IGNORE_INDEX } from './labels';
import { CodedError, msg, worded } from '../spec/message';

export function checkContext(sample: TokenizedSample, labels: LabelResult, maxLen: number): ContextCheck {
  if (!Number.isInteger(maxLen) || maxLen < 1) {
    throw new CodedError(msg('context.badMaxLength', { n: String(maxLen) }));
  }
  const T = sample.tokens.length;
  if (T <= maxLen) return { cutAt: null, removesResponse: false, trainedRemoved: 0, message: null };
  let trainedRemoved = 0;
  let trainedKept = 0;
  for (let i = 0; i < T; i++) {
    if (labels.labels[i] === IGNORE_INDEX || labels.weights[i] < 1) continue;
    if (i >= maxLen) trainedRemoved++;
    else trainedKept++;
  }
  const removesResponse = trainedRemoved > 0;
  const params = { T, maxLen, dropped: T - maxLen, removed: trainedRemoved, trained: trainedRemoved + trainedKept };
  const m = msg(removesResponse && trainedKept === 0 ? 'context.cutAll' : removesResponse ? 'context.cutSome' : 'context.cut', params);
  return { cutAt: maxLen, removesResponse, trainedRemoved, ...worded(m) };
}
