// unsloth's train_on_responses_only, as unsloth_zoo 2026.8.13 writes it (git ce232d6c,
// unsloth_zoo/dataset_utils.py; `from unsloth.chat_templates import train_on_responses_only` is the
// same function).
//
// Sequence: the chat template rendered (what the notebooks' formatting function writes), tokenized
// without an extra BOS (sft_prepare_dataset drops add_special_tokens when the template writes the
// BOS), truncated on the right to max_seq_length. The search runs on the truncated ids.
//
// Markers: `instruction_part` and `response_part` are tokenized alone (tokenizer(part,
// add_special_tokens=False)). With force_match=True, the default and the only mode here,
// _find_common_token_ids returns that tokenization itself as the core, with no optional tokens
// around it; so a marker whose characters tokenize differently inside the sample is not found.
//
// Search (one pass, left to right): at each position j, if the response core starts there, the
// tokens after it are trained up to the next instruction core (exclusive) or, when none comes, up
// to the end of the sequence: reaching the last position ends the span with the last token
// included. The next response search starts one token after the instruction core. A response core
// that ends the sequence opens no span. Labels are input_ids inside spans, -100 elsewhere.
// last_response_only=True keeps only the last span.
//
// A sample with every label -100 is dropped from the dataset; when no sample is left unsloth
// raises (this one sample is the whole dataset here): "…masked every label to -100 in
// train_dataset… The response marker … was not found in any sample…", or, when the sample sits at
// max_length, the truncation message. An empty marker raises before any search.
//
// train_on_responses_only then swaps the collator to DataCollatorForSeq2Seq, which pads labels
// with -100 and keeps the dataset's labels as they are: a pad id equal to the EOS masks nothing.
import { IGNORE_INDEX, raised, truncateRight } from './common';
import { FAMILY_MARKERS, markerNote, matchAt, renderSample, textOption, validateMarkers } from './markers';
import { reason, said } from './reasons';
import type { Strategy, StrategyInput, StrategyOptions, StrategyOutput } from './types';
import { msg } from '../../spec/message';

const emptyCore = (part: string) =>
  `Unsloth: ${part} could not be resolved to a stable token sequence, so it cannot be matched against your dataset - it tokenizes to nothing, or no stable core could be recovered from it. Pass a different marker, pass neither to auto-detect both.`;

const noSignal = (response: string) =>
  `Unsloth: train_on_responses_only masked every label to -100 in train_dataset, so there is nothing to train on. The response marker ${pyRepr(response)} was not found in any sample - check that instruction_part and response_part match your chat template.`;

const truncatedAway = (maxLength: number, response: string) =>
  `Unsloth: train_on_responses_only masked all/most labels to -100. The most likely cause is truncation: max_length=${maxLength} cut off the response marker ${pyRepr(response)} before masking could find it. Increase max_length to fit your responses, for example SFTConfig(max_length = max_seq_length). If your sequences are genuinely longer, raise max_seq_length when loading the model.`;

/** Python's repr of a str, as unsloth's messages print the marker ('…\n'). */
function pyRepr(s: string): string {
  const body = JSON.stringify(s).slice(1, -1).replace(/\\"/g, '"');
  return s.includes("'") && !s.includes('"') ? `"${body}"` : `'${body.replace(/'/g, "\\'")}'`;
}

function run(input: StrategyInput, options: StrategyOptions): StrategyOutput {
  const { tok, maxLength } = input;
  const instructionPart = textOption(options, 'instruction_part');
  const responsePart = textOption(options, 'response_part');
  const lastOnly = options.last_response_only === true;
  const sample = renderSample(input);
  const { text, ids } = sample;
  const Q = tok.encode(instructionPart);
  const A = tok.encode(responsePart);
  if (Q.length === 0) return raised(text, ids, emptyCore('instruction_part'));
  if (A.length === 0) return raised(text, ids, emptyCore('response_part'));

  const n = Math.min(ids.length, maxLength);
  const seq = ids.slice(0, n);
  const labels = ids.map(() => IGNORE_INDEX);
  const reasons = ids.map(() => reason.beforeMarker('response'));
  // (marker start, first trained, end exclusive) per span found
  const spans: [number, number, number][] = [];
  let covered = 0; // tokens before this are a marker or a span
  let j = 0;
  while (j < n) {
    if (matchAt(seq, j, A)) {
      const aStart = j;
      const assistantK = j + A.length;
      for (let t = aStart; t < assistantK; t++) reasons[t] = reason.markerFound('response', aStart, false);
      covered = assistantK;
      j = assistantK;
      while (j < n) {
        if (j === n - 1) {
          spans.push([aStart, assistantK, n]);
          covered = n;
          break;
        }
        if (matchAt(seq, j, Q)) {
          spans.push([aStart, assistantK, j]);
          for (let t = j; t < j + Q.length; t++) reasons[t] = reason.markerFound('instruction', j, false);
          j += Q.length;
          covered = j;
          break;
        }
        j++;
      }
    }
    j++;
  }

  const notes = [markerNote(tok, 'response', responsePart, A, sample, seq), markerNote(tok, 'instruction', instructionPart, Q, sample, seq)];
  if (covered === 0) {
    for (let t = 0; t < n; t++) reasons[t] = reason.markerNotFound('response');
  } else {
    for (let t = covered; t < n; t++) reasons[t] = reason.noMarkerAfter('response');
  }
  spans.forEach(([aStart, from, to], k) => {
    const kept = !lastOnly || k === spans.length - 1;
    for (let t = from; t < to; t++) {
      if (kept) labels[t] = ids[t];
      reasons[t] = kept ? reason.markerFound('response', aStart, true) : reason.turnNotSelected('last_response_only=True');
    }
  });
  if (lastOnly && spans.length > 1) notes.push(said(msg('lab.note.lastResponseOnly', { count: spans.length - 1 })));

  let error: string | null = null;
  if (!labels.some((l) => l !== IGNORE_INDEX)) {
    error = ids.length >= maxLength ? truncatedAway(maxLength, responsePart) : noSignal(responsePart);
    notes.push(said(msg('lab.note.unslothAllMasked')));
  }
  return truncateRight({ text, ids, labels, reasons, notes, error }, maxLength);
}

export const unslothResponsesOnly: Strategy = {
  id: 'unsloth-responses-only',
  label: 'unsloth train_on_responses_only',
  source: 'unsloth_zoo 2026.8.13 (git ce232d6c), unsloth_zoo/dataset_utils.py: train_on_responses_only, force_match=True',
  options: [
    { key: 'instruction_part', label: 'instruction_part', kind: 'text', help: 'Text that opens a user turn; training stops where its tokens start.' },
    { key: 'response_part', label: 'response_part', kind: 'text', help: 'Text that opens an assistant turn; the tokens after it train, up to the next instruction_part.' },
    { key: 'last_response_only', label: 'last_response_only', kind: 'flag', help: 'Train only the last assistant turn; earlier ones stay -100.' },
  ],
  defaults: (family) => ({ instruction_part: FAMILY_MARKERS[family].user, response_part: FAMILY_MARKERS[family].assistant, last_response_only: false }),
  validate(options, input) {
    const m = FAMILY_MARKERS[input.family];
    return validateMarkers(options, input, [
      { key: 'instruction_part', optional: false, whenEmpty: 'unsloth raises "instruction_part could not be resolved to a stable token sequence"', example: m.user },
      { key: 'response_part', optional: false, whenEmpty: 'unsloth raises "response_part could not be resolved to a stable token sequence"', example: m.assistant },
    ]);
  },
  run,
};
