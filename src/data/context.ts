// Truncation check: a sample longer than the context window is cut at maxLen (tokens
// [maxLen, T) are dropped, the HF "right truncation" default). Long prompts + short answers are the
// classic case where the cut silently removes the whole response and the sample trains nothing.
import type { ContextCheck, LabelResult, TokenizedSample } from './types';
import { IGNORE_INDEX } from './labels';

export function checkContext(sample: TokenizedSample, labels: LabelResult, maxLen: number): ContextCheck {
  if (!Number.isInteger(maxLen) || maxLen < 1) {
    throw new RangeError(`max length must be a positive whole number of tokens (got ${maxLen}).`);
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
  let message = `Sample is ${T} tokens; max length ${maxLen} cuts it at token ${maxLen} (${T - maxLen} tokens dropped).`;
  if (removesResponse && trainedKept === 0) {
    message += ` The cut removes all ${trainedRemoved} trained tokens: nothing left to train. Shorten the prompt or raise max length.`;
  } else if (removesResponse) {
    message += ` The cut removes ${trainedRemoved} of ${trainedRemoved + trainedKept} trained tokens.`;
  }
  return { cutAt: maxLen, removesResponse, trainedRemoved, message };
}
