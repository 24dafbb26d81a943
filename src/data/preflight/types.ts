// Dataset preflight: every sample of a pasted or dropped dataset through one masking strategy (and
// optionally others to compare), with the findings users of TRL, axolotl, unsloth and the others
// report as silent failures, totals, histograms, and the hand-off to the trainer that scales
// (export.ts). Pure functions over src/data: the data worker runs them for the page (with progress
// and cancel), scripts/preflight.ts runs the same code in Node.
//
// Naming: a sample is named by its 1-based line in the file (JSONL), or by its 1-based position for
// the other formats (one JSON array = one sample, line 1 of its text).
import type { LabChoice } from '../strategies';
import type { InputError, MaskPolicy } from '../types';
import type { Message } from '../../spec/message';

export type FindingId =
  /** Every label is -100 (or the framework raises on the sample). */
  | 'nothing-to-train'
  /** The context length cuts response tokens off (count = response tokens lost). */
  | 'response-truncated'
  /** An assistant turn's end-of-turn token is never trained (count = turns): the model does not learn to stop. */
  | 'eot-never-trained'
  /** The tokenizer's pad token is its eos or an end-of-turn token (a collator that masks by pad id masks them). */
  | 'pad-is-eos'
  /** An empty reasoning scaffold (<think>\n\n</think>) is trained (count = tokens). */
  | 'empty-think-trained'
  /** Text typed in a message holds the template's special-token strings (count = tokens). */
  | 'typed-special-tokens'
  /** The compared strategies train different tokens (count = tokens that differ from the first). */
  | 'strategies-disagree';

export const FINDING_IDS: readonly FindingId[] = [
  'nothing-to-train', 'response-truncated', 'eot-never-trained', 'pad-is-eos', 'empty-think-trained', 'typed-special-tokens', 'strategies-disagree',
];

export interface Finding {
  id: FindingId;
  /** For people, about this sample ("3 response tokens past max length 256 are lost"): English; msg the same, coded. */
  message: string;
  msg?: Message;
  /** How much of it (tokens, turns); 1 when there is nothing to count. */
  count: number;
}

export interface SampleReport {
  /** 0-based index among the parsed samples. */
  index: number;
  /** 1-based line of the sample in the text (JSONL), else index + 1. */
  line: number;
  tokens: number;
  trained: number;
  /** trained / tokens (0 for an empty sample). */
  share: number;
  findings: Finding[];
}

export interface PreflightSettings {
  /** The strategy whose labels the report (and the export) are about. */
  strategy: LabChoice;
  /** More strategies to compare with it (the lab's other rows): 'strategies-disagree'. */
  compare: LabChoice[];
  /** Context length: truncation and packing. */
  maxLength: number;
  /** Findings that make the run fail (the CLI's exit code; the page marks them). */
  fatal: FindingId[];
  /** The mask policy the template-spans strategy applies (the settings panel's); absent: DEFAULT_POLICY. */
  policy?: MaskPolicy;
  /** split_special_tokens, as the token view encodes (template-spans only). */
  splitSpecialTokens?: boolean;
}

export interface Histogram {
  /** Bin b covers [edges[b], edges[b + 1]) (the last bin includes its upper edge). */
  edges: number[];
  counts: number[];
}

export interface PreflightTotals {
  samples: number;
  tokens: number;
  trainedTokens: number;
  /** Samples each finding hits. */
  findings: Record<FindingId, number>;
  /** Samples with at least one fatal finding. */
  fatalSamples: number;
  /** Greedy first-fit packing of the samples (each cut to maxLength) into sequences of maxLength tokens. */
  packing: { sequences: number; samplesPerSequence: number; fill: number };
}

export interface PreflightReport {
  tokenizer: string;
  strategy: { id: string; label: string; source: string; options: Record<string, unknown> };
  compared: { id: string; label: string }[];
  maxLength: number;
  format: string;
  /** `format` coded (absent in reports from before it; reportJson leaves it out). */
  formatMsg?: Message;
  samples: SampleReport[];
  /** Lines that are not usable samples (JSONL), with line and column; the others are still linted. */
  brokenLines: InputError[];
  /** How many broken lines there are in all (brokenLines keeps the first ones). */
  brokenTotal: number;
  totals: PreflightTotals;
  histograms: { length: Histogram; share: Histogram };
  fatal: FindingId[];
  ms: number;
}

/** Limits of the page (the CLI has none): above them the page says to use `npm run preflight`. */
export const PAGE_LIMITS = { samples: 20_000, bytes: 50 * 1024 * 1024 } as const;
