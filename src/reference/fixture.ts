/**
 * The PyTorch fixture (fixtures/micro.json, written by scripts/make_fixture.py) as typed values,
 * plus the per-tensor comparison both the CPU reference and the GPU engine report with.
 *
 * Fixture layout: row-major flat arrays; batch arrays are (B*T) with n = b*T + t; logits and
 * dlogits (B*T, V); params and grads keyed by Hugging Face name (nn.Linear weights are (out, in)).
 * dlogits is d(mean_tokens loss)/d(logits). Step losses are measured before each update.
 */
import type { LlamaConfig } from '../spec/config';
import { selectSequences, type Batch } from '../spec/batch';
import type { TrainSettings } from '../spec/step';
import type { LossMode } from '../spec/loss';
import fixtureJson from './fixtures/micro.json';

export interface FixtureCase {
  name: 'micro' | 'tiny_tied';
  config: LlamaConfig;
  batch: { B: number; T: number; ids: number[]; labels: number[]; weights: number[]; docIds: number[]; positions: number[] };
  params: Record<string, number[]>;
  logits: number[];           // (B*T, V)
  dlogits: number[];          // (B*T, V), of the mean_tokens loss
  rulerLosses: number[];      // (B*T): -log p(ids[t+1]) for t < T-1, 0 at t = T-1
  lossMode: LossMode;         // 'mean_tokens': loss, grads and dlogits use it
  loss: number;
  trainedWeight: number;
  lossByMode: Record<LossMode, number>;
  grads: Record<string, number[]>;
  optimizer: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; maxGradNorm: number; decay: string };
  microBatches: number[][];   // sequence indices of each micro-batch of a training step
  steps: { losses: number[]; gradNorms: number[]; clipFactors: number[]; clippedSteps: number[]; note: string };
}

export interface MicroFixture {
  generatedBy: string;
  torch: string;
  dtype: 'float64';
  layout: string;
  cases: FixtureCase[];
}

/** The whole fixture file. */
export function loadMicroFixture(): MicroFixture {
  return fixtureJson as MicroFixture;
}

/** One case by name: 'micro' (MICRO_CONFIG: untied, qkv bias, GQA) or 'tiny_tied'. */
export function fixtureCase(name: FixtureCase['name']): FixtureCase {
  const c = loadMicroFixture().cases.find((x) => x.name === name);
  if (!c) throw new Error(`Fixture case "${name}" is missing from src/reference/fixtures/micro.json; regenerate it with /usr/bin/python3 scripts/make_fixture.py.`);
  return c;
}

/** The case's batch as typed arrays. */
export function fixtureBatch(c: Pick<FixtureCase, 'batch'>): Batch {
  const b = c.batch;
  return {
    B: b.B, T: b.T,
    ids: Int32Array.from(b.ids), labels: Int32Array.from(b.labels), weights: Float64Array.from(b.weights),
    docIds: Int32Array.from(b.docIds), positions: Int32Array.from(b.positions),
  };
}

/** The micro-batches the fixture's training steps accumulate over. */
export function fixtureMicroBatches(c: Pick<FixtureCase, 'batch' | 'microBatches'>): Batch[] {
  const batch = fixtureBatch(c);
  return c.microBatches.map((rows) => selectSequences(batch, rows));
}

/** The fixture's optimizer settings as TrainSettings. */
export function fixtureTrainSettings(c: Pick<FixtureCase, 'optimizer' | 'lossMode'>): TrainSettings {
  const o = c.optimizer;
  return { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm, lossMode: c.lossMode };
}

export interface TensorComparison {
  name: string;
  count: number;
  maxAbs: number;
  /** max |got − want| / |want| over elements with |want| > 1e-12 (0 if none). */
  maxRel: number;
  /** Elements with |got − want| > atol + rtol·|want| (NaN counts as a failure). */
  failures: number;
  /** First failing index, or -1. */
  firstFailure: number;
}

/** |got − want| ≤ atol + rtol·|want| elementwise. */
export function compareTensor(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): TensorComparison {
  if (got.length !== want.length) throw new Error(`${name}: got ${got.length} values, the fixture has ${want.length}.`);
  const r: TensorComparison = { name, count: want.length, maxAbs: 0, maxRel: 0, failures: 0, firstFailure: -1 };
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (err > r.maxAbs || Number.isNaN(err)) r.maxAbs = Number.isNaN(err) ? NaN : Math.max(r.maxAbs, err);
    if (Math.abs(want[i]) > 1e-12) r.maxRel = Math.max(r.maxRel, err / Math.abs(want[i]));
    if (!(err <= atol + rtol * Math.abs(want[i]))) {
      r.failures++;
      if (r.firstFailure < 0) r.firstFailure = i;
    }
  }
  return r;
}

/** One line per tensor, for test logs. */
export function formatComparison(r: TensorComparison): string {
  const fail = r.failures ? `  FAILURES=${r.failures} (first at ${r.firstFailure})` : '';
  return `${r.name.padEnd(52)} n=${String(r.count).padStart(5)}  max|Δ|=${r.maxAbs.toExponential(2)}  max rel=${r.maxRel.toExponential(2)}${fail}`;
}
