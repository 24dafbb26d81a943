/**
 * One validator per persisted shape: IndexedDB restore (persist.ts) and share links (share.ts) read
 * through the same functions. Each takes an unknown value and returns it typed, or null when it is
 * not that shape (the caller then keeps its default and says so); none throws.
 */
import { PROJECTIONS, type LayerParam } from '../spec/params';
import type { RunTraining } from '../spec/lora';
import { DEFAULT_POLICY } from '../data/labels';
import { POLICY_ROLES, type PolicyRole, type TokenizerId } from '../data/types';
import { checkOptimizer, defaultOptimizer, type OptimizerSettings } from '../spec/optimizer';
import { isMessage, msg, worded, type Message } from '../spec/message';
import type { LossMode } from '../spec/loss';
import type { LabChoiceSpec, LabSettings, PolicySettings, RunSpec, Settings, TrainingRecord } from './types';
import type { ModelTokenizer } from '../worker/dataProtocol';
import { MAX_LAB_ROWS, STRATEGY_IDS } from '../data/strategies/ids';
import type { StrategyId, StrategyOptions } from '../data/strategies/types';

/** Runs a comparison holds at most (one colour each). */
export const RUN_COLORS = ['#4f46e5', '#d97706', '#059669', '#db2777', '#0891b2'];
export const MAX_RUNS = RUN_COLORS.length;
export const TOKENIZER_IDS: readonly TokenizerId[] = ['default', 'llama3', 'qwen3', 'gemma3', 'llama3_1', 'deepseek_v3', 'custom'];
/** A chat template longer than this is not one (real ones are a few kB; gpt-oss's is 15 kB). */
export const MAX_TEMPLATE = 256 * 1024;
/** The context-length field's ceiling for tokenizers with no model behind them. */
export const MAX_CONTEXT = 1_048_576;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

export function validText(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export function validSampleIndex(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
}

/** Switches added after the first saves: absent in those, so absent means the default. */
const LATER_SWITCHES = ['trainReasoning', 'trainToolCalls', 'trainToolResults'] as const;

export function validPolicy(v: unknown): PolicySettings | null {
  if (!isObject(v)) return null;
  const roles = own(v, 'roles');
  const ok =
    (v.mode === 'full' || v.mode === 'response-only') && (v.assistantTurns === 'all' || v.assistantTurns === 'last') &&
    typeof v.trainEndOfTurn === 'boolean' && typeof v.promptLossWeight === 'number' && v.promptLossWeight >= 0 && v.promptLossWeight <= 1 &&
    isObject(roles) && POLICY_ROLES.every((r) => typeof own(roles, r) === 'boolean') &&
    LATER_SWITCHES.every((k) => own(v, k) === undefined || typeof own(v, k) === 'boolean');
  if (!ok) return null;
  const later = (k: (typeof LATER_SWITCHES)[number]): boolean => (own(v, k) as boolean | undefined) ?? DEFAULT_POLICY[k];
  // Fields in the order the page writes them: a restored policy serialises as the original did
  // (the exported weights' metadata quotes it).
  return {
    mode: v.mode as PolicySettings['mode'], assistantTurns: v.assistantTurns as PolicySettings['assistantTurns'],
    trainEndOfTurn: v.trainEndOfTurn as boolean,
    trainReasoning: later('trainReasoning'), trainToolCalls: later('trainToolCalls'), trainToolResults: later('trainToolResults'),
    roles: Object.fromEntries(POLICY_ROLES.map((r) => [r, own(roles as Record<string, unknown>, r)])) as Record<PolicyRole, boolean>,
    promptLossWeight: v.promptLossWeight as number,
  };
}

/**
 * Settings field by field over `defaults`: a malformed field keeps its default (and `bad` counts
 * it), so one damaged value does not cost the rest.
 */
export function validSettings(v: unknown, defaults: Settings): { settings: Settings; bad: number } | null {
  if (!isObject(v)) return null;
  let bad = 0;
  const id = own(v, 'tokenizerId');
  const tokenizerId = TOKENIZER_IDS.find((t) => t === id) ?? (bad++, defaults.tokenizerId);
  const contextLengths = { ...defaults.contextLengths };
  const saved = own(v, 'contextLengths');
  for (const t of TOKENIZER_IDS) {
    const n = isObject(saved) ? own(saved, t) : undefined;
    if (n === null || n === undefined) continue;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_CONTEXT) contextLengths[t] = n;
    else bad++;
  }
  const policy = validPolicy(own(v, 'policy')) ?? (bad++, defaults.policy);
  // Absent in settings saved before the option existed: the default, and not counted as damage.
  const split = own(v, 'splitSpecialTokens');
  const splitSpecialTokens = typeof split === 'boolean' ? split : split === undefined ? defaults.splitSpecialTokens : (bad++, defaults.splitSpecialTokens);
  // Absent before the masking lab existed: the default, not damage.
  const savedLab = own(v, 'lab');
  const lab = savedLab === undefined ? defaults.lab : (validLab(savedLab) ?? (bad++, defaults.lab));
  const savedTemplate = own(v, 'ownTemplate');
  const ownTemplate =
    savedTemplate === undefined || savedTemplate === null ? defaults.ownTemplate : typeof savedTemplate === 'string' && savedTemplate.length <= MAX_TEMPLATE ? savedTemplate : (bad++, defaults.ownTemplate);
  const savedCustom = own(v, 'customTokenizer');
  const customTokenizer = savedCustom === undefined || savedCustom === null ? null : (validModelTokenizer(savedCustom) ?? (bad++, null));
  // 'custom' without its tokenizer is nothing to read: the default.
  const id2 = tokenizerId === 'custom' && customTokenizer === null ? defaults.tokenizerId : tokenizerId;
  return { settings: { tokenizerId: id2, contextLengths, policy, splitSpecialTokens, lab, ownTemplate, customTokenizer }, bad };
}

/** A tokenizer's source as the worker reads it (dataProtocol ModelTokenizer). */
export function validModelTokenizer(v: unknown): ModelTokenizer | null {
  if (!isObject(v)) return null;
  const { source, label, contextLength, chatTemplateName } = v as Record<string, unknown>;
  if (typeof source !== 'string' || source === '' || typeof label !== 'string' || !(typeof contextLength === 'number' && Number.isInteger(contextLength) && contextLength >= 1)) return null;
  if (chatTemplateName !== undefined && typeof chatTemplateName !== 'string') return null;
  return { source, label, contextLength, ...(typeof chatTemplateName === 'string' ? { chatTemplateName } : {}) };
}

/** A strategy's options: plain JSON values of the kinds OptionSpec allows. */
export function validStrategyOptions(v: unknown): StrategyOptions | null {
  if (!isObject(v)) return null;
  const entries: [string, StrategyOptions[string]][] = [];
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x))) entries.push([k, x]);
    else if (Array.isArray(x) && x.every((e) => typeof e === 'string')) entries.push([k, x.slice()]);
    else return null;
  }
  // fromEntries defines own properties: a saved key "__proto__" stays data, never the prototype.
  return Object.fromEntries(entries);
}

export function validLabChoice(v: unknown): { id: StrategyId; options: StrategyOptions } | null {
  if (!isObject(v)) return null;
  const id = STRATEGY_IDS.find((s) => s === own(v, 'id'));
  const options = validStrategyOptions(own(v, 'options'));
  return id && options ? { id, options } : null;
}

export function validLab(v: unknown): LabSettings | null {
  if (!isObject(v) || typeof own(v, 'diffOnly') !== 'boolean') return null;
  const list = own(v, 'choices');
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_LAB_ROWS) return null;
  const choices: LabChoiceSpec[] = [];
  for (const c of list) {
    const choice = validLabChoice(c);
    const key = isObject(c) ? own(c, 'key') : undefined;
    if (!choice || typeof key !== 'string' || choices.some((x) => x.key === key)) return null;
    choices.push({ key, ...choice });
  }
  return { choices, diffOnly: own(v, 'diffOnly') as boolean };
}

export function validRuns(v: unknown): RunSpec[] | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_RUNS) return null;
  const runs: RunSpec[] = [];
  for (const r of v) {
    if (!isObject(r) || typeof r.id !== 'string' || typeof r.name !== 'string' || typeof r.color !== 'string') return null;
    const policy = validPolicy(own(r, 'policy'));
    if (!policy) return null;
    const strategy = own(r, 'strategy') === undefined ? undefined : validLabChoice(own(r, 'strategy'));
    if (strategy === null) return null;
    // Absent in runs saved before the option: the mode they were trained with.
    const lossMode = own(r, 'lossMode') === undefined ? 'mean_tokens' : LOSS_MODES.find((m) => m === own(r, 'lossMode'));
    if (!lossMode) return null;
    const training = own(r, 'training') === undefined ? undefined : validTraining(own(r, 'training'));
    if (training === null) return null;
    runs.push({ id: r.id, name: r.name, color: r.color, policy, ...(strategy ? { strategy } : {}), lossMode, ...(training ? { training } : {}) });
  }
  return runs;
}

export const LOSS_MODES: readonly LossMode[] = ['mean_tokens', 'mean_sequences', 'sum'];

/** Largest LoRA rank the settings accept (the model width may limit it further: validateLora). */
export const MAX_LORA_RANK = 256;
const BASE_DTYPES = ['f32', 'f16', 'bf16'] as const;

/** A run's training mode, or null when any field is wrong. */
export function validTraining(v: unknown): RunTraining | null {
  if (!isObject(v)) return null;
  const mode = own(v, 'mode'), r = own(v, 'r'), alpha = own(v, 'alpha'), targets = own(v, 'targets'), baseDtype = own(v, 'baseDtype'), lr = own(v, 'lr');
  if (mode !== 'full' && mode !== 'lora') return null;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > MAX_LORA_RANK) return null;
  if (typeof alpha !== 'number' || !(alpha > 0) || !Number.isFinite(alpha)) return null;
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => PROJECTIONS.includes(t as LayerParam))) return null;
  const dtype = BASE_DTYPES.find((d) => d === baseDtype);
  if (!dtype) return null;
  if (lr !== null && !(typeof lr === 'number' && lr > 0 && lr < 1)) return null;
  return { mode, r, alpha, targets: [...new Set(targets as LayerParam[])], baseDtype: dtype, lr: lr as number | null };
}

/** What is wrong with a run's training settings, for the field it came from ([] when fine). */
export function trainingProblems(t: RunTraining): { field: 'r' | 'alpha' | 'targets' | 'lr'; message: string; msg: Message }[] {
  const out: { field: 'r' | 'alpha' | 'targets' | 'lr'; message: string; msg: Message }[] = [];
  if (!(Number.isInteger(t.r) && t.r >= 1 && t.r <= MAX_LORA_RANK)) out.push({ field: 'r', ...worded(msg('lora.rank', { max: MAX_LORA_RANK })) });
  if (!(Number.isFinite(t.alpha) && t.alpha > 0)) out.push({ field: 'alpha', ...worded(msg('lora.alpha')) });
  if (t.targets.length === 0) out.push({ field: 'targets', ...worded(msg('lora.targets')) });
  if (t.lr !== null && !(t.lr > 0 && t.lr < 1)) out.push({ field: 'lr', ...worded(msg('lora.lr')) });
  return out;
}

const SCHEDULES: readonly string[] = ['constant', 'cosine', 'linear'];

/** Missing fields take the defaults (older saves lack newer fields); a wrong value rejects the whole. */
export function validOptimizer(v: unknown): OptimizerSettings | null {
  if (!isObject(v)) return null;
  // heldOut came later: a save without it held nothing out (its trainings, resumed, must not either).
  const o = { ...defaultOptimizer(1), heldOut: 0, ...(v as Partial<OptimizerSettings>) };
  return checkOptimizer(o).length === 0 && SCHEDULES.includes(o.schedule) ? o : null;
}

const numberArray = (v: unknown): boolean => Array.isArray(v) && v.every((x) => x === null || typeof x === 'number');

export function validRecord(v: unknown): TrainingRecord | null {
  if (!isObject(v)) return null;
  const runs = validRuns(own(v, 'runs'));
  const optimizer = validOptimizer(own(v, 'optimizer'));
  const curves = own(v, 'curves');
  const info = own(v, 'info');
  if (!runs || !optimizer || !Array.isArray(curves) || curves.length !== runs.length || !isObject(info)) return null;
  // The stop meter's fields came later: absent is fine, damaged drops the whole record like any curve.
  const meterOk = (c: Record<string, unknown>) =>
    (own(c, 'stopStep') === undefined && own(c, 'stopP') === undefined) ||
    (numberArray(own(c, 'stopStep')) && Array.isArray(own(c, 'stopP')) && (own(c, 'stopP') as unknown[]).every((row) => numberArray(row)) &&
      (own(c, 'stopP') as unknown[]).length === (own(c, 'stopStep') as unknown[]).length);
  // So did the held-out loss's: absent is fine; present, both arrays of one length, steps numbers.
  const heldOk = (c: Record<string, unknown>) =>
    (own(c, 'heldStep') === undefined && own(c, 'heldLoss') === undefined) ||
    (Array.isArray(own(c, 'heldStep')) && (own(c, 'heldStep') as unknown[]).every((s) => Number.isInteger(s) && (s as number) >= 0) &&
      numberArray(own(c, 'heldLoss')) && (own(c, 'heldLoss') as unknown[]).length === (own(c, 'heldStep') as unknown[]).length &&
      (own(c, 'heldLoss') as unknown[]).every((x) => x === null || Number.isFinite(x)));
  const curvesOk = curves.every((c) => isObject(c) && ['step', 'objective', 'response', 'prompt', 'trainedTokens', 'lr'].every((k) => numberArray(own(c, k))) && meterOk(c) && heldOk(c));
  if (!curvesOk || typeof v.text !== 'string' || !['completed', 'stopped', 'error', 'running'].includes(v.reason as string)) return null;
  const saved = own(v, 'saved');
  const savedOk =
    isObject(saved) && typeof saved.id === 'string' && Number.isInteger(saved.step) && (saved.step as number) >= 0 &&
    typeof saved.bytes === 'number' && Array.isArray(saved.forgotten) && saved.forgotten.every((r) => Number.isInteger(r));
  const prepared = own(v, 'prepared');
  const preparedOk =
    isObject(prepared) && (prepared.contextLength === null || Number.isInteger(prepared.contextLength)) && (prepared.hand === null || isObject(prepared.hand)) &&
    (prepared.splitSpecialTokens === undefined || typeof prepared.splitSpecialTokens === 'boolean') &&
    (prepared.ownTemplate === undefined || prepared.ownTemplate === null || typeof prepared.ownTemplate === 'string');
  return {
    ...(v as unknown as TrainingRecord), runs, optimizer, warnings: Array.isArray(v.warnings) ? v.warnings.filter((w): w is string | Message => typeof w === 'string' || isMessage(w)) : [],
    // Without a readable place and preparation the weights cannot be used: the curves still are.
    saved: savedOk && preparedOk ? (saved as unknown as TrainingRecord['saved']) : null,
    prepared: preparedOk ? (prepared as unknown as TrainingRecord['prepared']) : undefined,
  };
}
