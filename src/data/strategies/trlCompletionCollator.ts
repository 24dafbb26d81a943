// TRL's DataCollatorForCompletionOnlyLM(response_template, instruction_template), as TRL v0.19.1
// writes it (trl/trainer/utils.py, tag v0.19.1 = git accf7383). v0.19.1 is the last release that has
// it: v0.20.0 removed it (PR #3704, "Remove deprecated"); SFTConfig(completion_only_loss) replaces it.
//
// Sequence: SFTTrainer applies the chat template to "messages" (tokenized, no BOS added beyond the
// template's own) and truncates input_ids on the right to max_length; the collator sees that.
//
// Labels, in order:
// 1. The parent, transformers' DataCollatorForLanguageModeling(mlm=False), copies input_ids to
//    labels and sets every position whose id equals pad_token_id to -100. With pad == eos (a common
//    fix for tokenizers without a pad token) every EOS of the sample is masked: the model never
//    learns to stop. The marker search below runs on these labels, not on input_ids.
// 2. Markers are tokenized alone (tokenizer.encode(template, add_special_tokens=False)) and searched
//    as id sequences: a marker whose characters tokenize differently in context is not found.
// 3. Without instruction_template: the LAST occurrence of the response ids wins; everything up to
//    its end is -100, everything after it trains (on a multi-turn chat only the last reply trains,
//    and what follows it, user turns included).
//    With instruction_template: every response-ids end and every instruction-ids start is found;
//    when the first instruction comes after the first response, position 0 is taken as an
//    instruction start; the two lists are zipped in order: the first pair masks [0, first response
//    end), each next pair masks [instruction start, response end); when there are fewer responses
//    than instructions, everything from the last instruction start on is masked.
// 4. No response ids (or, with instruction_template, no instruction ids): a UserWarning "Could not
//    find response key `…` in the following instance: … This instance will be ignored in loss
//    calculation." and every label -100 (PyTorch's mean cross-entropy over it is 0/0 = NaN). TRL
//    does not raise, so the row has no error, only the warning.
// The sample is a batch of one: the collator adds no padding, so only the sample's own tokens with
// the pad id are masked. padding_free is not modelled. An empty instruction_template here means
// none was passed (None).
import { IGNORE_INDEX, raised, truncateRight } from './common';
import { FAMILY_MARKERS, findAll, markerNote, renderSample, textOption, validateMarkers } from './markers';
import { reason, said } from './reasons';
import type { Strategy, StrategyInput, StrategyOptions, StrategyOutput } from './types';
import { msg } from '../../spec/message';

const DEPRECATED =
  'This class is deprecated and will be removed in version 0.20.0. To train on completion only, please use the parameter `completion_only_loss` of `SFTConfig` instead.';
const PAD_IS_EOS =
  'The pad_token_id and eos_token_id values of this tokenizer are identical. If you are planning for multi-turn training, it can result in the model continuously generating questions and answers without eos token. To avoid this, set the pad_token_id to a different value.';
/** The instance in the warning is the decoded sample; the note shows this many characters of it. */
const INSTANCE_CHARS = 400;

function couldNotFind(what: 'response' | 'instruction', template: string, instance: string): string {
  const shown = instance.length > INSTANCE_CHARS ? `${instance.slice(0, INSTANCE_CHARS)}… (${instance.length - INSTANCE_CHARS} more characters)` : instance;
  return `UserWarning: Could not find ${what} key \`${template}\` in the following instance: ${shown}. This instance will be ignored in loss calculation. Note, if this happens often, consider increasing the \`max_length\`.`;
}

function run(input: StrategyInput, options: StrategyOptions): StrategyOutput {
  const { tok, maxLength } = input;
  const responseTemplate = textOption(options, 'response_template');
  const instructionTemplate = textOption(options, 'instruction_template');
  const sample = renderSample(input);
  const { text, ids } = sample;
  const R = tok.encode(responseTemplate);
  if (R.length === 0) return raised(text, ids, 'IndexError: list index out of range (response_template tokenizes to no ids; the collator reads its first id)');
  const Q = instructionTemplate === '' ? null : tok.encode(instructionTemplate);

  const n = Math.min(ids.length, maxLength);
  const pad = tok.padTokenId;
  // (n,) step 1: the parent collator's labels; the search runs on them
  const base = ids.slice(0, n).map((id) => (pad !== null && id === pad ? IGNORE_INDEX : id));
  const masked = new Array<boolean>(n).fill(false);
  const labels = ids.map(() => IGNORE_INDEX);
  const reasons = ids.map(() => reason.completion());
  const notes = [`DeprecationWarning: ${DEPRECATED}`, markerNote(tok, 'response', responseTemplate, R, sample, base)];
  if (Q !== null) notes.push(markerNote(tok, 'instruction', instructionTemplate, Q, sample, base));
  if (Q !== null && pad !== null && pad === tok.eosTokenId) notes.push(`UserWarning: ${PAD_IS_EOS}`);
  const instance = n > 0 ? text.slice(0, sample.ends[n - 1]) : '';

  const responseStarts = findAll(base, R);
  const humanStarts = Q === null ? [] : findAll(base, Q);
  const mask = (from: number, to: number, why: (t: number) => string) => {
    for (let t = from; t < Math.min(to, n); t++) {
      masked[t] = true;
      reasons[t] = why(t);
    }
  };
  /** A masked token's reason inside a masked stretch: the marker it belongs to, or "before the response marker". */
  const inStretch = (t: number): string => {
    const r = responseStarts.find((s) => s <= t && t < s + R.length);
    if (r !== undefined) return reason.markerFound('response', r, false);
    const h = Q === null ? undefined : humanStarts.find((s) => s <= t && t < s + Q.length);
    if (h !== undefined) return reason.markerFound('instruction', h, false);
    return reason.beforeMarker('response');
  };

  if (responseStarts.length === 0 || (Q !== null && humanStarts.length === 0)) {
    const missing = responseStarts.length === 0 ? 'response' : 'instruction';
    if (responseStarts.length === 0) notes.push(couldNotFind('response', responseTemplate, instance));
    if (Q !== null && humanStarts.length === 0) notes.push(couldNotFind('instruction', instructionTemplate, instance));
    mask(0, n, () => reason.markerNotFound(missing));
  } else if (Q === null) {
    const p = responseStarts[responseStarts.length - 1];
    mask(0, p + R.length, (t) => (t >= p ? reason.markerFound('response', p, false) : reason.beforeMarker(msg('lab.why.lastResponse'))));
    if (responseStarts.length > 1) notes.push(said(msg('lab.note.lastOfMatches', { n: responseStarts.length, p })));
    if (p + R.length === n) notes.push(n < ids.length ? said(msg('lab.note.matchEndsKept')) : said(msg('lab.note.matchEnds')));
  } else {
    const responseEnds = responseStarts.map((s) => s + R.length);
    const starts = humanStarts[0] > responseEnds[0] ? [0, ...humanStarts] : humanStarts;
    const pairs = Math.min(starts.length, responseEnds.length);
    if (starts.length !== responseEnds.length) {
      notes.push(said(starts !== humanStarts ? msg('lab.note.zippedAdded', { starts: starts.length, ends: responseEnds.length, pairs }) : msg('lab.note.zipped', { starts: starts.length, ends: responseEnds.length, pairs })));
    }
    for (let k = 0; k < pairs; k++) mask(k === 0 ? 0 : starts[k], responseEnds[k], inStretch);
    if (responseEnds.length < starts.length) {
      const h = starts[starts.length - 1];
      mask(h, n, () => reason.unpairedInstruction(h));
    }
  }

  let lastResponse = -1;
  let padMasked = 0;
  for (let t = 0; t < n; t++) {
    if (responseStarts.includes(t - R.length)) lastResponse = t - R.length;
    if (masked[t]) continue;
    if (pad !== null && ids[t] === pad) {
      reasons[t] = reason.sharesPadId(pad);
      padMasked++;
      continue;
    }
    labels[t] = ids[t];
    reasons[t] = reason.markerFound('response', lastResponse, true);
  }
  if (pad !== null && padMasked > 0) {
    const eos = pad === tok.eosTokenId || tok.endOfTurnTokenIds.includes(pad);
    notes.push(eos ? said(msg('lab.note.padMaskedEos', { count: padMasked, pad })) : said(msg('lab.note.padMasked', { count: padMasked, pad })));
  }
  if (n > 0 && !labels.some((l) => l !== IGNORE_INDEX)) {
    notes.push(said(msg('lab.note.collatorNaN')));
  }
  return truncateRight({ text, ids, labels, reasons, notes, error: null }, maxLength);
}

export const trlCompletionCollator: Strategy = {
  id: 'trl-completion-collator',
  label: 'TRL DataCollatorForCompletionOnlyLM (≤ 0.19)',
  source: 'TRL v0.19.1 (git accf7383), trl/trainer/utils.py: DataCollatorForCompletionOnlyLM over transformers DataCollatorForLanguageModeling(mlm=False)',
  options: [
    { key: 'response_template', label: 'response_template', kind: 'text', help: 'The template form that indicates the start of the response; its tokens are searched in the labels.' },
    {
      key: 'instruction_template',
      label: 'instruction_template',
      kind: 'text',
      help: 'The template form that indicates the start of the human instruction; empty: none (then only the last response trains).',
    },
  ],
  defaults: (family) => ({ response_template: FAMILY_MARKERS[family].assistant, instruction_template: FAMILY_MARKERS[family].user }),
  validate(options, input) {
    const m = FAMILY_MARKERS[input.family];
    return validateMarkers(options, input, [
      { key: 'response_template', optional: false, whenEmpty: 'TRL reads the first of its token ids and fails with IndexError', example: m.assistant },
      { key: 'instruction_template', optional: true, whenEmpty: '', example: m.user },
    ]);
  },
  run,
};
