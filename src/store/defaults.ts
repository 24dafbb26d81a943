/** What a first visit starts with: the settings, and the two runs the page is about. */
import { DEFAULT_POLICY } from '../data/labels';
import type { PolicyRole } from '../data/types';
import { RUN_COLORS } from './validate';
import type { PolicySettings, RunSpec, Settings } from './types';

const ALL_ROLES: Record<PolicyRole, boolean> = { system: true, user: true, assistant: true, template: true };

export const DEFAULT_SETTINGS: Settings = {
  tokenizerId: 'default',
  contextLengths: { default: null, llama3: null, qwen3: null, gemma3: null, llama3_1: null, deepseek_v3: null, custom: null },
  policy: {
    mode: DEFAULT_POLICY.mode,
    assistantTurns: DEFAULT_POLICY.assistantTurns,
    trainEndOfTurn: DEFAULT_POLICY.trainEndOfTurn,
    trainReasoning: DEFAULT_POLICY.trainReasoning,
    trainToolCalls: DEFAULT_POLICY.trainToolCalls,
    trainToolResults: DEFAULT_POLICY.trainToolResults,
    // "Full sequence" means every role trains until the user unticks one. (DEFAULT_POLICY.roles
    // has only assistant on, which would make full mode look identical to response-only.)
    roles: { ...ALL_ROLES },
    promptLossWeight: DEFAULT_POLICY.promptLossWeight,
  },
  // As transformers encodes by default: typed special-token text is the special token (and is flagged).
  splitSpecialTokens: false,
  // The lab starts with this playground's own row; the user adds frameworks to compare with it.
  lab: { choices: [{ key: 'spans', id: 'template-spans', options: {} }], diffOnly: false },
  ownTemplate: null,
  customTokenizer: null,
};

export const RESPONSE_ONLY: PolicySettings = {
  mode: 'response-only', assistantTurns: 'all', trainEndOfTurn: true,
  // Reasoning and tool calls train, tool results do not, in every run unless edited (RunsEditor).
  trainReasoning: true, trainToolCalls: true, trainToolResults: false,
  roles: { ...ALL_ROLES }, promptLossWeight: 0,
};
const FULL: PolicySettings = { ...RESPONSE_ONLY, mode: 'full', roles: { ...ALL_ROLES } };

export const runName = (i: number) => `Run ${String.fromCharCode(65 + i)}`;

/**
 * Run A response-only, run B full sequence: the comparison the page is about. (Names are hyphenated:
 * they appear in accessible names, which must not collide with the first screen's "Full sequence".)
 */
export function defaultRuns(): RunSpec[] {
  return [
    { id: 'a', name: `${runName(0)} · response-only`, color: RUN_COLORS[0], policy: { ...RESPONSE_ONLY, roles: { ...ALL_ROLES } }, lossMode: 'mean_tokens' },
    { id: 'b', name: `${runName(1)} · full-sequence`, color: RUN_COLORS[1], policy: { ...FULL, roles: { ...ALL_ROLES } }, lossMode: 'mean_tokens' },
  ];
}

/** The run addRun() appends as run `i`. */
export function extraRun(i: number, used: ReadonlySet<string>): RunSpec {
  const color = RUN_COLORS.find((c) => !used.has(c)) ?? RUN_COLORS[i % RUN_COLORS.length];
  return { id: `r${Date.now().toString(36)}${i}`, name: `${runName(i)} · prompt weight 0.1`, color, policy: { ...RESPONSE_ONLY, roles: { ...ALL_ROLES }, promptLossWeight: 0.1 }, lossMode: 'mean_tokens' };
}
