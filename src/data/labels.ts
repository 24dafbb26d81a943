// Mask policy → labels and loss weights for one tokenized sample.
//
// Contract (Hugging Face): labels = input_ids, masked positions = -100; the model's loss shifts
// internally (logits at t predict labels[t+1]), so labels[0] is present for shape (T,) but never
// enters the loss. weights[t] is the per-position loss weight: 1 = trained, promptLossWeight =
// prompt kept at partial weight, 0 wherever labels[t] == -100.
//
// Which tokens are "response":
// - a token with any assistant CONTENT character (role 'assistant'), in a selected assistant turn
//   (assistantTurns 'all' or only the last assistant turn);
// - the end-of-turn token closing a selected assistant turn, only when trainEndOfTurn.
// Straddling tokens (chars from several roles, e.g. a BPE merge of "\n" markup with the first
// content char) carry role 'assistant' as soon as they contain one assistant content character,
// so they train in response-only mode: the model must produce that token to produce the answer.
// Padding is never part of a sample here; the batcher pads with -100 and never uses the pad id to
// find end-of-turn (pad == eos would mask the EOS and the model would never learn to stop).
//
// Modes:
// - 'response-only': response tokens train; every other token is prompt. `roles` is ignored
//   (only assistant is eligible).
// - 'full': a token trains when roles[token.role] is on; assistant tokens additionally need a
//   selected turn, end-of-turn tokens need trainEndOfTurn. Everything else is prompt.
// Parts of an assistant turn beside its content, and tool results, have their own switches in both
// modes: reasoning (role 'reasoning') trains when trainReasoning, the tool calls it writes ('tool_call')
// when trainToolCalls, each in a selected turn (and, in full mode, with roles.assistant); a tool
// result ('tool') trains when trainToolResults, in any turn. The end-of-turn token right after a
// tool call (closesToolCall) also needs trainToolCalls: without the call it would teach the model
// to stop with nothing said.
// Prompt tokens get weight promptLossWeight (0 → label -100). Overrides are applied last.
import type { LabelResult, MaskPolicy, RoleCount, TokenInfo, TokenRole, TokenizedSample } from './types';
import { TOKEN_ROLES } from './types';
import { IGNORE_INDEX } from '../spec/loss';
import { CodedError, msg } from '../spec/message';

// One definition of the ignore index, shared with the loss (src/spec/loss.ts).
export { IGNORE_INDEX };
export const NOTHING_TO_TRAIN = 'nothing to train: every label is -100';

export const DEFAULT_POLICY: MaskPolicy = {
  mode: 'response-only',
  assistantTurns: 'all',
  trainEndOfTurn: true,
  // The model learns to reason and to call tools; what a tool answers is input (as in TRL and Megatron's defaults).
  trainReasoning: true,
  trainToolCalls: true,
  trainToolResults: false,
  // Read only in 'full' mode, where "full sequence" means every role trains until unticked.
  roles: { system: true, user: true, assistant: true, template: true },
  promptLossWeight: 0,
  overrides: {},
};

function lastAssistantTurn(tokens: TokenInfo[]): number | null {
  let last: number | null = null;
  for (const t of tokens) if (t.turnIndex !== null && (last === null || t.turnIndex > last)) last = t.turnIndex;
  return last;
}

function emptyPerRole(): Record<TokenRole, RoleCount> {
  const r = {} as Record<TokenRole, RoleCount>;
  for (const role of TOKEN_ROLES) r[role] = { tokens: 0, trained: 0 };
  return r;
}

export function validatePolicy(policy: MaskPolicy): void {
  const w = policy.promptLossWeight;
  if (!Number.isFinite(w) || w < 0 || w > 1) {
    throw new CodedError(msg('labels.promptLossWeight', { w: String(w) }));
  }
}

/** Whether token t is trained (weight 1) by the policy before overrides. */
export function isTrainedByPolicy(t: TokenInfo, policy: MaskPolicy, lastTurn: number | null): boolean {
  const turnSelected = t.turnIndex !== null && (policy.assistantTurns === 'all' || t.turnIndex === lastTurn);
  if (t.isEndOfTurn) {
    if (!turnSelected || !policy.trainEndOfTurn) return false;
    if (t.closesToolCall && !policy.trainToolCalls) return false;
    return policy.mode === 'response-only' || policy.roles.assistant;
  }
  const assistantSide = policy.mode === 'response-only' || policy.roles.assistant;
  switch (t.role) {
    case 'tool':
      return policy.trainToolResults;
    case 'reasoning':
      return assistantSide && turnSelected && policy.trainReasoning;
    case 'tool_call':
      return assistantSide && turnSelected && policy.trainToolCalls;
    case 'assistant':
      return assistantSide && turnSelected;
    default:
      return policy.mode === 'full' && policy.roles[t.role];
  }
}

export function computeLabels(sample: TokenizedSample, policy: MaskPolicy): LabelResult {
  validatePolicy(policy);
  const { tokens } = sample;
  const T = tokens.length;
  const labels = new Int32Array(T); // (T,)
  const weights = new Float32Array(T); // (T,)
  const perRole = emptyPerRole();
  const lastTurn = lastAssistantTurn(tokens);
  let trained = 0;
  let masked = 0;
  let partial = 0;
  for (let i = 0; i < T; i++) {
    const t = tokens[i];
    let w = isTrainedByPolicy(t, policy, lastTurn) ? 1 : policy.promptLossWeight;
    const o = policy.overrides[i];
    if (o === 'train') w = 1;
    else if (o === 'mask') w = 0;
    labels[i] = w > 0 ? t.id : IGNORE_INDEX;
    weights[i] = w;
    perRole[t.role].tokens++;
    if (w === 1) {
      trained++;
      perRole[t.role].trained++;
    } else if (w > 0) partial++;
    else masked++;
  }
  const nothingToTrain = masked === T;
  return {
    labels,
    weights,
    trained,
    masked,
    partial,
    perRole,
    nothingToTrain,
    message: nothingToTrain ? NOTHING_TO_TRAIN : null,
    msg: nothingToTrain ? msg('labels.nothingToTrain') : null,
  };
}
