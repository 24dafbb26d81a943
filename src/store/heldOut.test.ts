// The held-out curve and the per-run loss mode in the store: live readings (NaN never kept), the
// chart's columns (step 0 for the base point, joined across the steps between), what saves and
// share links read back (absent = the old behaviour, damaged = refused).
import { describe, expect, it } from 'vitest';
import { chartData, SERIES_KINDS } from './curves';
import { getCurves, onHeldOut, resetCurves, takeWarnings } from './live';
import { defaultRuns } from './defaults';
import { validOptimizer, validRecord, validRuns } from './validate';
import { defaultOptimizer } from '../spec/optimizer';
import type { RunCurve, TrainingRecord } from './types';

const curve = (steps: number[], patch: Partial<RunCurve> = {}): RunCurve => ({
  step: steps, objective: steps.map((s) => 10 - s), response: steps.map((s) => 9 - s), prompt: steps.map(() => null),
  trainedTokens: steps.map((s) => s * 10), lr: steps.map(() => 1e-3), ...patch,
});

describe('held-out curve', () => {
  it('live readings: one point per call, non-finite stored as null', () => {
    resetCurves(2);
    const flush = () => {};
    onHeldOut(0, 0, 9.5, flush);
    onHeldOut(1, 0, 9.5, flush);
    onHeldOut(0, 2, NaN, flush);
    onHeldOut(0, 4, Infinity, flush);
    onHeldOut(0, 6, 7.25, flush);
    onHeldOut(5, 6, 1, flush); // no such run: ignored
    takeWarnings();
    const [a, b] = getCurves();
    expect(a.heldStep).toEqual([0, 2, 4, 6]);
    expect(a.heldLoss).toEqual([9.5, null, null, 7.25]);
    expect(b.heldStep).toEqual([0]);
    resetCurves(0);
  });

  it('chart: x from 0 once a base point exists, the held-out column next to each run\'s three, no smoothing, no NaN', () => {
    expect(SERIES_KINDS).toEqual(['objective', 'response', 'prompt', 'heldOut']);
    const a = curve([1, 2, 3, 4], { heldStep: [0, 2, 4], heldLoss: [9, null, 7] });
    const b = curve([1, 2, 3, 4], { heldStep: [0, 2, 4], heldLoss: [9, 8.5, Number.NaN] });
    const data = chartData([a, b], { smoothing: true, log: false });
    expect(data[0]).toEqual([0, 1, 2, 3, 4]);
    expect(data[1][0]).toBeNull(); // no step 0 objective
    expect(data[4]).toEqual([9, null, null, null, 7]);
    expect(data[8]).toEqual([9, null, 8.5, null, null]);
    for (const series of data.slice(1)) for (const v of series) expect(v === null || Number.isFinite(v)).toBe(true);
    // Without held-out points the axis starts at step 1, as before.
    expect(chartData([curve([1, 2])], { smoothing: false, log: false })[0]).toEqual([1, 2]);
    expect(chartData([curve([1, 2])], { smoothing: false, log: false })[4]).toEqual([null, null]);
  });
});

describe('saved and shared', () => {
  const record = (curves: RunCurve[]): TrainingRecord => ({
    runs: defaultRuns(), optimizer: defaultOptimizer(1), model: { name: 'm', params: 1 }, text: 'x',
    info: { samples: 40, cutSamples: 0, B: 4, T: 40, memoryBytes: 1, snapshotSteps: [], trainedPerRun: [1, 2], heldOut: [3, 9] },
    curves, reason: 'completed', finishedAt: 0, answers: null, warnings: [],
  });

  it('a record keeps its held-out curve; absent is fine, damaged refuses the record', () => {
    const ok = record([curve([1, 2], { heldStep: [0, 2], heldLoss: [9, null] }), curve([1, 2])]);
    const back = validRecord(JSON.parse(JSON.stringify(ok)));
    expect(back?.curves[0].heldStep).toEqual([0, 2]);
    expect(back?.curves[0].heldLoss).toEqual([9, null]);
    expect(back?.curves[1].heldStep).toBeUndefined();
    expect(back?.info.heldOut).toEqual([3, 9]);
    for (const bad of [{ heldStep: [0, 2], heldLoss: [9] }, { heldStep: [0, 1.5], heldLoss: [9, 8] }, { heldStep: [0], heldLoss: ['9'] }, { heldStep: [0] }, { heldLoss: [1] }]) {
      const damaged = JSON.parse(JSON.stringify(record([curve([1]), curve([1])])));
      Object.assign(damaged.curves[0], bad);
      expect(validRecord(damaged), JSON.stringify(bad)).toBeNull();
    }
  });

  it("a run's loss mode: absent in old saves = per-token mean, a known mode is kept, anything else refuses the runs", () => {
    const runs = defaultRuns().map((r, i) => ({ ...r, lossMode: i === 1 ? ('sum' as const) : r.lossMode }));
    expect(validRuns(JSON.parse(JSON.stringify(runs)))?.map((r) => r.lossMode)).toEqual(['mean_tokens', 'sum']);
    const old = defaultRuns().map(({ lossMode: _drop, ...r }) => r);
    expect(validRuns(old)?.map((r) => r.lossMode)).toEqual(['mean_tokens', 'mean_tokens']);
    expect(validRuns([{ ...runs[0], lossMode: 'mean_sequences' }])?.[0].lossMode).toBe('mean_sequences');
    expect(validRuns([{ ...runs[0], lossMode: 'median' }])).toBeNull();
    expect(validRuns([{ ...runs[0], lossMode: 'toString' }])).toBeNull();
  });

  it('the held-out share: absent in an old save = 0 (nothing was held out then), a bad one refuses the optimizer', () => {
    const { heldOut: _drop, ...old } = defaultOptimizer(1);
    expect(validOptimizer(old)?.heldOut).toBe(0);
    expect(validOptimizer({ ...old, heldOut: 0.3 })?.heldOut).toBe(0.3);
    expect(validOptimizer({ ...old, heldOut: 0.9 })).toBeNull();
    expect(validOptimizer({ ...old, heldOut: '20%' })).toBeNull();
  });
});
