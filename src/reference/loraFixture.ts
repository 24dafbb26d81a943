/**
 * The PyTorch LoRA fixture (fixtures/lora.json, written by scripts/make_lora_fixture.py) as typed
 * values, for the CPU reference (loraFixture.test.ts) and the GPU engine.
 *
 * LoRA as src/spec/lora.ts (PEFT): y = x W^T + b + (alpha/r)·(x A^T) B^T, applied in torch by hand.
 * The adapter is trained-looking: A is PEFT's init U(±1/√I), B ~ N(0, 0.1²) (not 0), so the adapter
 * changes the logits and dA is non-zero from step 0. Only the adapter trains; the base parameters
 * are bit-identical after the 10 steps (sha256 in `base`, asserted in torch).
 *
 * Layout: row-major flat arrays; batch arrays are (B*T) with n = b*T + t; logits (B*T, V); params
 * keyed by Hugging Face name (nn.Linear weights (out, in)); adapter tensors keyed by
 * `<module>.lora_A.weight` (r, I) and `<module>.lora_B.weight` (O, r), in loraTable order.
 * Base parameters are multiples of 1e-4 (exact in JSON); everything computed is full float64.
 */
import type { LlamaConfig } from '../spec/config';
import type { Batch } from '../spec/batch';
import { fixtureBatch, fixtureMicroBatches, fixtureTrainSettings } from './fixture';
import type { TrainSettings } from '../spec/step';
import type { LossMode } from '../spec/loss';
import type { LoraConfig } from '../spec/lora';
import type { LayerParam } from '../spec/params';
import fixtureJson from './fixtures/lora.json';

export type LoraFixtureName = 'micro_lora' | 'tied_attn_lora';

export interface LoraFixtureCase {
  name: LoraFixtureName;
  config: LlamaConfig;
  lora: {
    r: number; alpha: number; scale: number;
    /** Short keys in PROJECTIONS order ('q', 'v', ...). */
    targets: LayerParam[];
    /** PEFT target_modules ('q_proj', ...). */
    targetModules: string[];
    /** Adapter tensor names in loraTable order. */
    tensors: string[];
    init: string;
  };
  batch: { B: number; T: number; ids: number[]; labels: number[]; weights: number[]; docIds: number[]; positions: number[] };
  /** Base model parameters (frozen). */
  params: Record<string, number[]>;
  /** Initial adapter tensors. */
  adapter: Record<string, number[]>;
  logits: number[];           // (B*T, V), with the initial adapter
  lossMode: LossMode;         // 'mean_tokens'
  loss: number;
  trainedWeight: number;
  /** d(mean_tokens loss)/d(adapter tensor), initial adapter. */
  adapterGrads: Record<string, number[]>;
  optimizer: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; maxGradNorm: number; decay: string };
  microBatches: number[][];
  /** Losses before each update; grad norms (pre-clip) and clip factors over the adapter gradients. */
  steps: { losses: number[]; gradNorms: number[]; clipFactors: number[]; clippedSteps: number[]; note: string };
  /** The adapter after the 10 steps. */
  finalAdapter: Record<string, number[]>;
  base: { unchanged: boolean; sha256Before: string; sha256After: string; note: string };
}

export interface LoraFixture {
  generatedBy: string;
  torch: string;
  dtype: 'float64';
  layout: string;
  cases: LoraFixtureCase[];
}

/** The whole fixture file. */
export function loadLoraFixture(): LoraFixture {
  return fixtureJson as LoraFixture;
}

/** One case: 'micro_lora' (MICRO_CONFIG, all 7 targets, r 4, alpha 8) or 'tied_attn_lora' (tiny_tied, q and v, r 2, alpha 4). */
export function loraFixtureCase(name: LoraFixtureName): LoraFixtureCase {
  const c = loadLoraFixture().cases.find((x) => x.name === name);
  if (!c) throw new Error(`Fixture case "${name}" is missing from src/reference/fixtures/lora.json; regenerate it with /usr/bin/python3 scripts/make_lora_fixture.py.`);
  return c;
}

/** The case's adapter settings as a LoraConfig. */
export function loraFixtureConfig(c: LoraFixtureCase): LoraConfig {
  return { r: c.lora.r, alpha: c.lora.alpha, targets: c.lora.targets };
}

/** The case's batch, micro-batches and optimizer settings: the same shapes as the micro fixture's (fixture.ts). */
export const loraFixtureBatch = (c: LoraFixtureCase): Batch => fixtureBatch(c);
export const loraFixtureMicroBatches = (c: LoraFixtureCase): Batch[] => fixtureMicroBatches(c);
export const loraFixtureTrainSettings = (c: LoraFixtureCase): TrainSettings => fixtureTrainSettings(c);

