/**
 * The playground's one store, in slices (the zustand slices pattern): each slice is a function
 * (set, get) => state and actions, in slices/<name>.ts; the store combines them once here. Per-step
 * numbers bypass React (live.ts); persistence is one table (persist.ts); the workers are reached
 * through their typed clients (clients.ts) and protocols only.
 */
import { create, type StateCreator } from 'zustand';
import { createInputSlice, type InputSlice } from './slices/input';
import { createMaskSlice, type MaskSlice } from './slices/mask';
import { createRunsSlice, type RunsSlice } from './slices/runs';
import { createModelSlice, type ModelSlice } from './slices/model';
import { createResultsSlice, type ResultsSlice } from './slices/results';
import { createShareSlice, type ShareSlice } from './slices/share';
import { createLabSlice, type LabSlice } from './slices/lab';
import { createPreflightSlice, type PreflightSlice } from './slices/preflight';
import { createTokenizerOnlySlice, type TokenizerOnlySlice } from './slices/tokenizerOnly';
import { createLessonSlice, type LessonSlice } from './slices/lesson';

export type State = InputSlice & MaskSlice & RunsSlice & ModelSlice & ResultsSlice & ShareSlice & LabSlice & PreflightSlice & TokenizerOnlySlice & LessonSlice;
export type Slice<T> = StateCreator<State, [], [], T>;

export const useStore = create<State>()((...a) => ({
  ...createInputSlice(...a),
  ...createMaskSlice(...a),
  ...createRunsSlice(...a),
  ...createModelSlice(...a),
  ...createResultsSlice(...a),
  ...createShareSlice(...a),
  ...createLabSlice(...a),
  ...createPreflightSlice(...a),
  ...createTokenizerOnlySlice(...a),
  ...createLessonSlice(...a),
}));

export { getCurves } from './live';
export { hydrate } from './startup';
export type * from './types';
