/**
 * The mask slice: the token view's mask policy and the hand overrides on the shown tokens. Hand
 * overrides are an edit of the data (they reach every training run, on the sample they were made
 * on), so changing one asks before discarding runs, like editing the text.
 */
import type { PolicyRole } from '../../data/types';
import type { HandOverrides } from '../../worker/trainProtocol';
import type { PolicySettings } from '../types';
import type { Slice } from '../index';

export interface MaskSlice {
  /** Hand overrides by token index of the current tokenization; cleared when it changes. */
  overrides: Record<number, 'train' | 'mask'>;
  setPolicy(patch: Partial<PolicySettings>): void;
  setRoleTrained(role: PolicyRole, on: boolean): void;
  /** Flip one token between trained and masked; a second click removes the override. */
  toggleOverride(index: number): void;
  clearOverrides(): void;
  /** The overrides as training applies them (null: none). */
  handOverrides(): HandOverrides | null;
}

export const createMaskSlice: Slice<MaskSlice> = (set, get) => ({
  overrides: {},

  setPolicy(patch) {
    if (!get().guard(() => get().setPolicy(patch))) return;
    set((s) => ({ settings: { ...s.settings, policy: { ...s.settings.policy, ...patch } } }));
    get().relabel();
  },
  setRoleTrained(role, on) {
    const roles = { ...get().settings.policy.roles, [role]: on };
    get().setPolicy({ roles });
  },
  toggleOverride(index) {
    const { overrides, labels, stale } = get();
    // Indices refer to the shown tokenization: not while it is stale or an edit is about to replace it.
    if (!labels || stale || get().editPending() || index < 0 || index >= labels.labels.length) return;
    if (!get().guard(() => get().toggleOverride(index))) return;
    const next = { ...overrides };
    if (index in next) delete next[index];
    else next[index] = labels.weights[index] > 0 ? 'mask' : 'train';
    set({ overrides: next });
    get().relabel();
  },
  clearOverrides() {
    if (Object.keys(get().overrides).length === 0) return;
    if (!get().guard(() => get().clearOverrides())) return;
    set({ overrides: {} });
    get().relabel();
  },
  handOverrides() {
    const s = get();
    if (!s.tokens || Object.keys(s.overrides).length === 0) return null;
    return { sample: s.sampleIndex, tokens: { ...s.overrides }, ids: s.tokens.ids.slice() };
  },
});
