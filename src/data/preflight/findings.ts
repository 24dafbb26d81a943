// One sample's preflight: the chosen strategy's row (and the compared ones), read against our own
// attribution of the same conversation (attribution.ts), gives the sample's findings.
//
// Contract:
// - Positions are the strategy's own: token i of its row, the row's labels as the framework writes
//   them. A strategy that builds its own ids (LLaMA-Factory, torchtune, LLMBook) is aligned to our
//   attribution on token texts (align.ts); a row with the template's ids maps one to one.
// - "Response" is the ruler's: response-only, every assistant turn's content, reasoning, tool calls
//   and end-of-turn token (RULER_POLICY of the trainer, re-stated here from DEFAULT_POLICY).
// - A token is lost to truncation when its row index is ≥ maxLength or the row gives it the
//   truncation reason (LLaMA-Factory's infer_seqlen cuts inside the sequence).
// - The sequence handed to a trainer (keptSequence) is the row without its truncated tokens, cut to
//   maxLength: for every strategy but LLaMA-Factory that is the row's first maxLength tokens.
import { tokenizeConversation } from '../attribution';
import { computeLabels, DEFAULT_POLICY, IGNORE_INDEX } from '../labels';
import { alignRows } from '../strategies/align';
import { reason } from '../strategies/reasons';
import { runStrategy, type ChatFamily, type LabRow, type StrategyInput } from '../strategies';
import type { ChatTokenizer, Conversation, MaskPolicy, TokenizedSample, ToolList } from '../types';
import { FINDING_IDS, type Finding, type FindingId, type PreflightSettings, type SampleReport } from './types';
import { msg, uncoded, worded } from '../../spec/message';

/** The trainer's ruler (src/worker/trainPlan.ts RULER_POLICY): what counts as response. */
export const RESPONSE_POLICY: MaskPolicy = {
  ...DEFAULT_POLICY,
  mode: 'response-only',
  assistantTurns: 'all',
  trainEndOfTurn: true,
  trainReasoning: true,
  trainToolCalls: true,
  trainToolResults: false,
  promptLossWeight: 0,
  overrides: {},
};

/** An empty reasoning scaffold and the whitespace after it (Qwen3's "<think>\n\n</think>\n\n"). */
const EMPTY_THINK = /<think>\s*<\/think>\s*/g;

export interface LintArgs {
  tok: ChatTokenizer;
  family: ChatFamily;
  conversation: Conversation;
  tools: ToolList | null;
  /** 0-based among the parsed samples. */
  index: number;
  /** 1-based line of the sample in the text. */
  line: number;
  settings: PreflightSettings;
}

export interface LintResult {
  report: SampleReport;
  /** The chosen strategy's row. */
  row: LabRow;
  /** One row per settings.compare entry, in that order. */
  compared: LabRow[];
}

/** Token texts of a row, token i = text.slice(starts[i], ends[i]). */
export function rowTexts(row: LabRow): string[] {
  const out = new Array<string>(row.ids.length);
  for (let i = 0; i < out.length; i++) out[i] = row.text.slice(row.starts[i], row.ends[i]);
  return out;
}

function sameIds(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** aIndex → bIndex (-1: b has no such token) and back, by ids when equal, else by token text. */
function matchTokens(aIds: ArrayLike<number>, aTexts: () => string[], bIds: ArrayLike<number>, bTexts: () => string[]): { aToB: Int32Array; bToA: Int32Array } {
  if (sameIds(aIds, bIds)) {
    const id = Int32Array.from({ length: aIds.length }, (_, i) => i);
    return { aToB: id, bToA: id };
  }
  const aToB = new Int32Array(aIds.length).fill(-1);
  const bToA = new Int32Array(bIds.length).fill(-1);
  const { C, cells } = alignRows([aTexts(), bTexts()]);
  for (let c = 0; c < C; c++) {
    const a = cells[2 * c];
    const b = cells[2 * c + 1];
    if (a >= 0 && b >= 0) {
      aToB[a] = b;
      bToA[b] = a;
    }
  }
  return { aToB, bToA };
}

/** Row index i is cut by the context length (past it, or given the truncation reason in place). */
function lostMask(row: LabRow, maxLength: number): Uint8Array {
  const cut = reason.truncated(maxLength);
  const lost = new Uint8Array(row.ids.length);
  const k = row.reasons.indexOf(cut);
  for (let i = 0; i < lost.length; i++) lost[i] = i >= maxLength || row.reasonIndex[i] === k ? 1 : 0;
  return lost;
}

/** Row index → its index in keptSequence(row, maxLength), or -1 where the framework does not keep it. */
export function keptIndices(row: LabRow, maxLength: number): Int32Array {
  const cut = row.reasons.indexOf(reason.truncated(maxLength));
  const out = new Int32Array(row.ids.length).fill(-1);
  for (let i = 0, n = 0; i < row.ids.length && n < maxLength; i++) if (row.reasonIndex[i] !== cut) out[i] = n++;
  return out;
}

/** The tokens a trainer gets: the row without its truncated tokens, the first maxLength of them. */
export function keptSequence(row: LabRow, maxLength: number): { ids: Int32Array; labels: Int32Array } {
  const at = keptIndices(row, maxLength);
  const ids: number[] = [];
  const labels: number[] = [];
  at.forEach((k, i) => {
    if (k < 0) return;
    ids.push(row.ids[i]);
    labels.push(row.labels[i]);
  });
  return { ids: Int32Array.from(ids), labels: Int32Array.from(labels) };
}

function tokenName(tok: ChatTokenizer, id: number): string {
  return tok.addedTokenContent(id) ?? tok.tokenString(id);
}

/** The tokenizer-level finding (the same for every sample), or null. */
export function padIsEos(tok: ChatTokenizer): Finding | null {
  const pad = tok.padTokenId;
  if (pad === null) return null;
  const code = pad === tok.eosTokenId ? 'finding.padIsEos' : tok.endOfTurnTokenIds.includes(pad) ? 'finding.padIsEot' : null;
  if (code === null) return null;
  return { id: 'pad-is-eos', ...worded(msg(code, { name: tokenName(tok, pad), id: pad })), count: 1 };
}

function nothingToTrain(row: LabRow, responseTokens: number | null): Finding {
  const label = row.label;
  const note = row.notes.length > 0 ? row.notes[row.notes.length - 1] : null;
  const m = row.error
    ? msg('finding.nothing.raises', { label, detail: uncoded(row.error.replace(/\.$/, '')) })
    : responseTokens === 0
      ? msg('finding.nothing.noResponse', { label })
      : note !== null
        ? msg('finding.nothing.note', { label, note: uncoded(note) })
        : msg('finding.nothing.allMasked', { label: label.replace(/\.$/, '') });
  return { id: 'nothing-to-train', ...worded(m), count: 1 };
}

function responseTruncated(row: LabRow, lost: Uint8Array, rowToAttr: Int32Array, response: Int32Array, maxLength: number): Finding | null {
  let n = 0;
  for (let i = 0; i < row.ids.length; i++) {
    const a = rowToAttr[i];
    if (lost[i] === 1 && a >= 0 && response[a] !== IGNORE_INDEX) n++;
  }
  if (n === 0) return null;
  return { id: 'response-truncated', ...worded(msg('finding.responseTruncated', { count: n, max: maxLength, tokens: row.ids.length })), count: n };
}

function eotNeverTrained(tok: ChatTokenizer, row: LabRow, lost: Uint8Array, sample: TokenizedSample, attrToRow: Int32Array): Finding | null {
  const stops = new Set([tok.eosTokenId, ...tok.endOfTurnTokenIds]);
  let turns = 0;
  let untrained = 0;
  const names = new Set<string>();
  sample.tokens.forEach((t, a) => {
    if (!t.isEndOfTurn || t.turnIndex === null) return;
    turns++;
    const r = attrToRow[a];
    if (r >= 0) {
      if (lost[r] === 0 && row.labels[r] === IGNORE_INDEX) {
        untrained++;
        names.add(t.text);
      }
      return;
    }
    // The strategy's own sequence has no such token: look for a stop token it trains instead,
    // between the row tokens aligned before and after this one.
    let p = -1;
    for (let b = a - 1; b >= 0 && p < 0; b--) p = attrToRow[b];
    let q = row.ids.length;
    for (let b = a + 1; b < attrToRow.length && q === row.ids.length; b++) if (attrToRow[b] >= 0) q = attrToRow[b];
    if (p + 1 < row.ids.length && lost[p + 1] === 1) return;
    for (let r2 = p + 1; r2 < q; r2++) if (stops.has(row.ids[r2]) && row.labels[r2] !== IGNORE_INDEX) return;
    untrained++;
    names.add(t.text);
  });
  if (untrained === 0) return null;
  const m = msg('finding.eotNeverTrained', { count: untrained, turns: msg('finding.turns', { count: turns }), names: [...names].join(', '), label: row.label });
  return { id: 'eot-never-trained', ...worded(m), count: untrained };
}

function emptyThinkTrained(row: LabRow): Finding | null {
  let n = 0;
  let blocks = 0;
  for (const m of row.text.matchAll(EMPTY_THINK)) {
    const a = m.index;
    const b = a + m[0].length;
    let trainedHere = 0;
    for (let i = 0; i < row.ids.length; i++) {
      if (row.starts[i] >= a && row.ends[i] <= b && row.ends[i] > row.starts[i] && row.labels[i] !== IGNORE_INDEX) trainedHere++;
    }
    if (trainedHere > 0) blocks++;
    n += trainedHere;
  }
  if (n === 0) return null;
  const m = msg('finding.emptyThinkTrained', { count: n, blocks: msg('finding.thinkBlocks', { count: blocks }), label: row.label });
  return { id: 'empty-think-trained', ...worded(m), count: n };
}

function typedSpecialTokens(sample: TokenizedSample): Finding | null {
  const typed = sample.tokens.filter((t) => t.typedSpecial);
  if (typed.length === 0) return null;
  const n = typed.length;
  const texts = [...new Set(typed.map((t) => t.text))];
  return { id: 'typed-special-tokens', ...worded(msg('finding.typedSpecial', { count: n, texts: texts.join(', ') })), count: n };
}

/** Tokens whose trained-ness differs between two rows (a token only one row has counts when it trains there). */
function disagreement(base: LabRow, other: LabRow, baseTexts: () => string[]): number {
  const trained = (row: LabRow, i: number) => row.labels[i] !== IGNORE_INDEX;
  if (sameIds(base.ids, other.ids)) {
    let n = 0;
    for (let i = 0; i < base.ids.length; i++) if (trained(base, i) !== trained(other, i)) n++;
    return n;
  }
  const { C, cells } = alignRows([baseTexts(), rowTexts(other)]);
  let n = 0;
  for (let c = 0; c < C; c++) {
    const a = cells[2 * c];
    const b = cells[2 * c + 1];
    const ta = a >= 0 && trained(base, a);
    const tb = b >= 0 && trained(other, b);
    if (ta !== tb) n++;
  }
  return n;
}

function strategiesDisagree(row: LabRow, compared: LabRow[]): Finding | null {
  let texts: string[] | null = null;
  const baseTexts = () => (texts ??= rowTexts(row));
  const counts = compared.map((c) => ({ label: c.label, n: disagreement(row, c, baseTexts) }));
  const max = counts.reduce((m, c) => Math.max(m, c.n), 0);
  if (max === 0) return null;
  const parts = counts.filter((c) => c.n > 0).map((c) => `${c.label}: ${c.n}`);
  return { id: 'strategies-disagree', ...worded(msg('finding.strategiesDisagree', { count: max, label: row.label, parts: parts.join('; ') })), count: max };
}

/** The findings of one sample under settings.strategy, in FINDING_IDS order. */
export function lintSample(args: LintArgs): LintResult {
  const { tok, family, conversation, tools, index, line, settings } = args;
  const input: StrategyInput = { tok, family, conversation, tools, maxLength: settings.maxLength, policy: settings.policy ?? DEFAULT_POLICY, splitSpecialTokens: settings.splitSpecialTokens };
  // split_special_tokens is template-spans' only: under any other strategy typed text becomes special tokens.
  const split = settings.splitSpecialTokens === true && settings.strategy.id === 'template-spans';
  // Our attribution; a conversation the template rejects has none (the row then carries the error),
  // and the findings that need it are left out. Template-spans rows reuse it (one tokenization a sample).
  let sample: TokenizedSample | null = null;
  try {
    sample = tokenizeConversation(tok, conversation, { tools, splitSpecialTokens: split });
  } catch {
    sample = null;
  }
  if (sample !== null && split === (settings.splitSpecialTokens === true)) input.tokenized = sample;
  const row = runStrategy(settings.strategy, input);
  const compared = settings.compare.map((c) => runStrategy(c, input));

  const found = new Map<FindingId, Finding | null>();
  const lost = lostMask(row, settings.maxLength);
  let responseTokens: number | null = null;
  if (sample !== null) {
    const s = sample;
    const response = computeLabels(s, RESPONSE_POLICY);
    responseTokens = response.trained;
    const { aToB: attrToRow, bToA: rowToAttr } = matchTokens(
      Int32Array.from(s.tokens, (t) => t.id),
      () => s.tokens.map((t) => t.text),
      row.ids,
      () => rowTexts(row),
    );
    found.set('response-truncated', responseTruncated(row, lost, rowToAttr, response.labels, settings.maxLength));
    found.set('eot-never-trained', row.trained === 0 ? null : eotNeverTrained(tok, row, lost, s, attrToRow));
    found.set('typed-special-tokens', typedSpecialTokens(s));
  }
  if (row.trained === 0 || row.error) found.set('nothing-to-train', nothingToTrain(row, responseTokens));
  found.set('pad-is-eos', padIsEos(tok));
  found.set('empty-think-trained', emptyThinkTrained(row));
  if (compared.length > 0) found.set('strategies-disagree', strategiesDisagree(row, compared));

  const findings: Finding[] = [];
  for (const id of FINDING_IDS) {
    const f = found.get(id);
    if (f) findings.push(f);
  }
  const tokens = row.ids.length;
  return { report: { index, line, tokens, trained: row.trained, share: tokens > 0 ? row.trained / tokens : 0, findings }, row, compared };
}

